"""The token-budget arithmetic (sf_mobile.cost), its benchmark (benchmarks/token_budget.py) and the
README's performance summary (benchmarks/summary.py) regenerated from benchmarks/results/."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from sf_mobile import cost
from sf_mobile.benchmarks import record, summary, token_budget
from sf_mobile.presets import get_preset

REPO = Path(__file__).resolve().parents[1]
ONE_B = get_preset("1b")
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def report() -> dict:
    return token_budget.measure()


def _row(report: dict, preset: str, seconds: int) -> dict:
    [row] = [r for r in report["rows"] if r["preset"] == preset and r["video_seconds"] == seconds]
    return row


# --- the arithmetic -----------------------------------------------------------------------------


def test_1b_at_128_frames_is_9216_tokens_as_config_says():
    budget = ONE_B.visual_tokens(128)
    assert (budget.slow_tokens, budget.fast_tokens, budget.total) == (32 * 12 * 12, 128 * 6 * 6, 9216)
    assert cost.prompt_rows(ONE_B, 128) == 9216 + cost.TEXT_ROWS == 9280
    assert cost.dense_tokens(ONE_B, 128) == 128 * 24 * 24 == 73728
    assert cost.pooled_2x2_tokens(ONE_B, 128) == 128 * 12 * 12 == 18432


@pytest.mark.parametrize(
    "preset, seconds, frames, mode",
    [
        ("1b", 10, 10, "fps"),  # 1 fps midpoints 0.5 .. 9.5 s
        ("1b", 128, 128, "fps"),  # exactly the 128-frame budget at 1 fps
        ("1b", 129, 128, "uniform"),  # 129 FPS frames > 128: the uniform fallback
        ("1b", 3600, 128, "uniform"),
        ("v1-7b", 10, 50, "uniform"),  # v1 samples 50 frames uniformly, whatever the length
    ],
)
def test_frames_follow_the_presets_sampler(preset, seconds, frames, mode):
    assert cost.frames_sampled(get_preset(preset), seconds) == cost.Sampling(frames, mode)


def test_llm_block_parameters_match_the_qwen25_15b_shape():
    # 28 layers x (q, o: D^2; k, v: D x 256; MLP 3 x D x 8960; q/k/v biases; 2 norms) + the final norm
    per_layer = 2 * 1536**2 + 2 * 1536 * 256 + 3 * 1536 * 8960 + (1536 + 256 + 256) + 2 * 1536
    assert cost.parameter_counts(ONE_B)["llm_blocks"] == 28 * per_layer + 1536 == 1_310_340_608


def test_prefill_flops_of_1b_at_9280_rows():
    flops = cost.prefill_flops(ONE_B, 1_310_340_608, 9280)
    assert flops == {
        "linear": 2 * 1_310_340_608 * 9280,
        "attention": 4 * 28 * 12 * 128 * (9280 * 9281 // 2),  # causal: row i sees i + 1 positions
        "lm_head": 2 * 151936 * 1536,  # the last row's logits only
        "total": 2 * 1_310_340_608 * 9280 + 4 * 28 * 12 * 128 * (9280 * 9281 // 2) + 2 * 151936 * 1536,
    }


def test_whole_cache_attention_scores_every_slot_per_call():
    assert cost.whole_cache_attention_flops(ONE_B, calls=3, chunk=64, context=1024) == 4 * 28 * 12 * 128 * 64 * 1024 * 3


def test_vision_flops_per_1b_frame():
    # patch embedding + 27 SigLIP layers (q/k/v/o + MLP 4304) on 576 patches + bidirectional attention
    assert cost.vision_flops_per_frame(ONE_B) == {
        "patch_embedding": 2 * 3 * 16 * 16 * 1152 * 576,
        "linear": 27 * 2 * (4 * 1152**2 + 2 * 1152 * 4304) * 576,
        "attention": 27 * 4 * 576 * 576 * 1152,
        "total": 515_850_633_216,
    }


def test_v1_counts_the_clip_class_token_and_projects_before_pooling():
    v1 = get_preset("v1-7b")
    assert cost.patches(v1) == 577
    # 23 of 24 layers run (select_layer -2); the projector sees all 50 x 576 patches
    assert cost.vision_flops_per_frame(v1)["attention"] == 23 * 4 * 577 * 577 * 1024
    assert cost.projector_flops(v1, 50) == 2 * (1024 * 4096 + 4096 * 4096) * 50 * 576


def test_kv_cache_bytes_of_1b():
    # L x 2 x KVH x hd x rows x bytes
    assert cost.kv_cache_bytes(ONE_B, 9280, 2) == 28 * 2 * 2 * 128 * 9280 * 2 == 266_076_160
    assert {k: size for k, (size, _) in cost.KV_DTYPES.items()} == {"fp32": 4, "fp16": 2, "8-bit": 1}


# --- the benchmark ------------------------------------------------------------------------------


def test_report_rows_cover_presets_and_lengths(report):
    keys = [(r["preset"], r["video_seconds"]) for r in report["rows"]]
    assert keys == [(p, s) for p in token_budget.PRESETS for s in token_budget.VIDEO_SECONDS]
    json.dumps(report)  # the JSON record must serialise as is


def test_report_row_for_1b_on_an_hour(report):
    row = _row(report, "1b", 3600)
    assert (row["frames"], row["sampling"], row["prompt_rows"]) == (128, "uniform", 9280)
    assert row["visual_tokens"] == {"slow": 4608, "fast": 4608, "total": 9216}
    assert row["prefill_flops"] == cost.prefill_flops(ONE_B, 1_310_340_608, 9280)
    assert row["kv_cache_bytes"] == {"fp32": 532_152_320, "fp16": 266_076_160, "8-bit": 133_038_080}
    assert row["dense"]["tokens"] == 73728 and row["dense"]["prompt_rows"] == 73792
    assert row["dense"]["exceeds_llm_positions"] is True  # 73792 > Qwen2.5's 32768 positions
    assert row["pooled_2x2"]["tokens"] == 18432 and row["pooled_2x2"]["exceeds_llm_positions"] is False


def test_short_videos_repeat_slow_frames(report):
    # 10 frames still give 32 slow frames (linspace repeats them): SlowFast saves little on 10 s
    row = _row(report, "1b", 10)
    assert row["visual_tokens"] == {"slow": 4608, "fast": 360, "total": 4968}
    assert row["dense"]["tokens"] == 5760


def test_markdown_table_lines(report):
    text = token_budget.markdown(report, "python -m sf_mobile.benchmarks.token_budget --record", {"platform": "P", "cpus": 2})
    lines = text.splitlines()
    assert (
        "| 1b | 1 h | 128 (uniform) | 9,216 (4,608 + 4,608) | 9,280 | 31.7 | 508 / 254 / 127 | 73,728 * | 661.8 "
        "| 18,432 | 77.9 | 8.0x |"
    ) in lines
    assert "| v1-7b | 10 s | 50 (uniform) | 3,680 (2,880 + 800) | 3,744 | 52.2 | 3,744 / 1,872 / 936 | 28,800 * | 592.3 " \
        "| 7,200 * | 107.9 | 7.8x |" in lines
    assert "Generated by `python -m sf_mobile.benchmarks.token_budget --record`" in text
    peers = [line for line in lines if line.startswith("| SF-LLaVA-1.5 (paper) |") or line.startswith("| Qwen2-VL")]
    assert len(peers) == 2 and all("not re-checked against the paper" in line for line in peers)


def test_plot_is_svg_with_one_line_per_series(report):
    root = ET.fromstring(token_budget.plot(report))
    assert root.tag == f"{SVG}svg"
    # SlowFast 1.5 (1b, 3b, 7b coincide), SlowFast v1, dense, 2x2, two peers: polylines plus legend lines
    assert len(root.findall(f"{SVG}polyline")) == 6
    legend = [t.text for t in root.findall(f"{SVG}text")]
    for label in ("SlowFast (1b, 3b, 7b)", "SlowFast (v1-7b)", "dense, 1b sampling", "2x2-pooled, 1b sampling",
                  "SF-LLaVA-1.5 (paper) ~9K", "Qwen2-VL / InternVL2.x ~16K"):
        assert label in legend


def test_record_writes_table_plot_and_json(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(record, "RESULTS", tmp_path)
    assert token_budget.main(["--record"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir())[1:] == ["token_budget.md", "token_budget.svg"]
    [raw] = tmp_path.glob("token_budget-*.json")
    data = json.loads(raw.read_text())
    assert data["command"] == "python -m sf_mobile.benchmarks.token_budget --record"
    assert data["date"] == record.today() and data["machine"]["cpus"] >= 1
    assert data["headline"] == (
        "1b, 1 h video: 128 frames -> 9,216 SlowFast tokens vs 73,728 dense (8.0x), prefill 31.7 TFLOPs; "
        "peers SF-LLaVA-1.5 (paper) ~9K, Qwen2-VL / InternVL2.x ~16K"
    )


# --- the README summary -------------------------------------------------------------------------


def test_readme_summary_matches_the_recorded_results(capsys):
    # the README's block is what benchmarks/results/ gives today: regenerate it after recording a run
    code = summary.main(["--check"])
    assert code == 0, capsys.readouterr().err


EXPORT_TABLE = (
    "# Some export at real size (random weights)\n\n"
    "| date | command | status | wall s | peak RSS GiB | artifacts MiB | stages (s) | parity |\n"
    "|---|---|---|---|---|---|---|---|\n"
    "| 2026-01-01 | `python -m x --old` | failed | 9 | 1.0 | a.bin 1.0 | | |\n"
    "| 2026-01-02 | `python -m x --new` | ok | 120 | 3.5 | a.bin 10.5, b.bin 2.0 | s 1 | vs float |\n"
)


def _checkout(tmp_path: Path, table: str = EXPORT_TABLE) -> tuple[Path, Path]:
    results = tmp_path / "results"
    results.mkdir()
    (results / "x_export.md").write_text(table)
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n## Benchmarks\n\n{summary.START}\nold\n{summary.END}\n\n## Errors\n")
    return results, readme


def test_summary_check_fails_when_stale_and_write_fixes_it(tmp_path, capsys):
    results, readme = _checkout(tmp_path)
    argv = ["--results", str(results), "--readme", str(readme)]
    assert summary.main([*argv, "--check"]) == 1
    assert "stale" in capsys.readouterr().err
    assert summary.main(argv) == 0
    text = readme.read_text()
    assert text.startswith("# title\n\n## Benchmarks\n\n") and text.endswith(f"{summary.END}\n\n## Errors\n")
    row = ("| [Some export at real size](benchmarks/results/x_export.md) | ok in 120 s, peak RSS 3.5 GiB, artifacts 12.5 MiB "
           "| 2026-01-02 | `python -m x --new` |")
    assert row in text.splitlines()
    assert summary.main([*argv, "--check"]) == 0


def test_summary_needs_the_markers(tmp_path, capsys):
    results, readme = _checkout(tmp_path)
    readme.write_text("# no block\n")
    assert summary.main(["--results", str(results), "--readme", str(readme)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "<!-- perf-summary:start -->" in err


def test_whole_run_table_takes_the_latest_json(tmp_path):
    results, _ = _checkout(tmp_path)
    (results / "token_budget.md").write_text("# Token budget: x (arithmetic)\n\nno rows\n")
    for stamp, head in (("20260101-000000", "old"), ("20260102-000000", "new")):
        (results / f"token_budget-{stamp}.json").write_text(
            json.dumps({"headline": head, "date": stamp[:8], "command": "python -m t --record"}))
    [budget, _] = summary.collect(results)  # sorted by file name
    assert budget == summary.Line("token_budget.md", "Token budget: x", "new", "20260102", "`python -m t --record`")


@pytest.mark.parametrize(
    "row, expected",
    [
        ({"date": "d", "command": "c", "status": "ok", "wall s": "5", "peak RSS GiB": "1.5", ".pte MiB": "99.0"},
         "ok in 5 s, peak RSS 1.5 GiB, .pte 99.0 MiB"),
        ({"date": "d", "command": "c", "layers": "4", "a s": "2.0", "b s": "1.0", "ratio": "2.00x"}, "a s 2.0 vs b s 1.0: 2.00x"),
        ({"date": "d", "command": "c", "preset": "1b", "frames": "4", "visual tokens": "4752", "prefill tok/s": "26.5",
          "decode tok/s": "0.89", "TTFT s": "196.3", "peak RSS GiB": "11.0"},
         "1b, 4 frames (4752 visual tokens): TTFT 196.3 s, prefill 26.5 tok/s, decode 0.89 tok/s, peak RSS 11.0 GiB"),
        ({"date": "d", "command": "c", "tok/s": "5", "GB/s": "50", "fraction": "0.5", "extra": "x"}, "tok/s 5; GB/s 50; fraction 0.5"),
    ],
)
def test_headline_rules(row, expected):
    assert summary.headline(row) == expected
