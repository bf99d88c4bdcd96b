"""The shared test vectors under tests/vectors/ and the device result samples beside them.

The demo apps' XCTest and JUnit tests read the same files; these tests keep the files equal to what
the Python code computes today, and check that the facts the apps rely on hold in them.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from sf_mobile import vectors
from sf_mobile.bench.devices import protocol
from sf_mobile.cli import vectors as vectors_cli
from sf_mobile.presets import PRESETS, get_preset
from sf_mobile.tokenizer import load_tokenizer

VECTORS = Path(__file__).parent / "vectors"
FIX = "run `python -m sf_mobile.vectors` and commit tests/vectors (the apps' tests read them)"


@pytest.fixture(scope="module")
def generated() -> dict[str, bytes]:
    return vectors.generate()


def load(generated: dict[str, bytes], name: str) -> dict:
    return json.loads(generated[name].decode("utf-8"))


# --- freshness and the command -------------------------------------------------------------
def test_committed_vectors_are_what_the_code_generates(generated):
    stale = vectors.stale(VECTORS, generated)
    assert not stale, f"stale vectors in tests/vectors: {', '.join(stale)}; {FIX}"


def test_generation_is_deterministic(generated):
    again = vectors.generate()
    differing = [name for name in generated if again[name] != generated[name]]
    assert not differing, f"two generations differ in {differing}: a vector depends on something unseeded"


def test_check_names_every_stale_file_and_the_fix(tmp_path, capsys):
    folder = tmp_path / "vectors"
    shutil.copytree(VECTORS, folder)
    layout = json.loads((folder / "prompt_layout.json").read_text(encoding="utf-8"))
    layout["visual_tokens"] += 1  # a deliberately wrong vector, still valid JSON
    (folder / "prompt_layout.json").write_text(json.dumps(layout), encoding="utf-8")
    (folder / "tokenizer.json").unlink()

    assert vectors_cli.main(["--check", "--dir", str(folder)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"{folder / 'prompt_layout.json'} is stale (not what the code generates); rewrite it with `python -m sf_mobile.vectors`",
        f"{folder / 'tokenizer.json'} is missing; rewrite it with `python -m sf_mobile.vectors`",
    ]


def test_write_repairs_a_folder_and_check_then_passes(tmp_path, generated):
    folder = tmp_path / "vectors"
    assert vectors_cli.main(["--dir", str(folder)]) == 0
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == generated  # no temp files left behind
    (folder / "visual_tokens.json").write_text("{}\n")
    assert vectors.write(folder) == ["visual_tokens.json"]  # only what changed is rewritten
    # the module entry point, as a developer types it
    run = subprocess.run([sys.executable, "-m", "sf_mobile.vectors", "--check", "--dir", str(folder)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_json_vectors_share_one_canonical_format(generated):
    for name, data in generated.items():
        if name == "tokenizer.json":
            continue  # the export's file, byte for byte (see below), not ours to format
        text = data.decode("utf-8")
        document = json.loads(text)
        assert (document["version"], document["generated_by"]) == (1, "python -m sf_mobile.vectors"), name
        assert text == json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n", name
    assert len(generated["frame_sampling.json"]) < 1_000_000, "frame_sampling.json grew past 1 MB: trim long cases"


# --- frame sampling --------------------------------------------------------------------------
def test_frame_indices_are_the_frame_on_screen_at_each_target(generated):
    for case in load(generated, "frame_sampling.json")["cases"]:
        times, targets, indices = case["frame_times_s"], case["target_times_s"], case["indices"]
        assert times == sorted(times) and times[0] == 0.0, case["name"]
        assert len(indices) == len(targets) <= case["max_frames"], case["name"]
        for target, index in zip(targets, indices):
            # shown from its own time until the next frame's; a target before frame 0 takes frame 0
            starts = index == 0 or times[index] <= target
            ends = index == len(times) - 1 or target < times[index + 1]
            assert starts and ends, f"{case['name']}: target {target} s -> frame {index}"


def test_frame_sampling_targets_follow_the_strategy(generated):
    for case in load(generated, "frame_sampling.json")["cases"]:
        targets, duration, budget = case["target_times_s"], case["duration_s"], case["max_frames"]
        uniform = [(i + 0.5) * duration / budget for i in range(budget)]
        if case["strategy"] == "fps":
            fps_times = [(k + 0.5) / case["fps"] for k in range(len(targets))]
            # FPS midpoints, or the uniform fallback when they would be none or over budget
            assert targets == pytest.approx(fps_times) or targets == pytest.approx(uniform), case["name"]
        else:
            assert case["fps"] is None and targets == pytest.approx(uniform), case["name"]


def test_frame_sampling_covers_what_the_apps_must_get_right(generated):
    cases = load(generated, "frame_sampling.json")["cases"]
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names), "frame sampling case names repeat: the apps report failures by name"
    configs = {(c["strategy"], c["fps"], c["max_frames"]) for c in cases}
    for name, preset in PRESETS.items():
        s = preset.sampling
        key = (s.strategy.value, s.fps if s.strategy.value == "fps" else None, s.max_frames)
        assert key in configs, f"no frame sampling case for preset {name}'s sampling {key}"
    intervals = {round(c["frame_times_s"][1] - c["frame_times_s"][0], 6) for c in cases if len(c["frame_times_s"]) > 1}
    for rate in (24, 25, 30000 / 1001, 30, 60):
        assert round(1 / rate, 6) in intervals, f"no case at {rate:.2f} fps"

    def fps_fallback(c):
        return c["strategy"] == "fps" and len(c["target_times_s"]) == c["max_frames"] and c["target_times_s"][0] != 0.5 / c["fps"]

    def variable_rate(c):
        steps = {round(b - a, 6) for a, b in zip(c["frame_times_s"], c["frame_times_s"][1:])}
        return len(steps) > 2

    kinds = {
        "an FPS fallback on a clip shorter than half a period": any(fps_fallback(c) and c["duration_s"] < 0.5 / c["fps"] for c in cases),
        "an FPS fallback for too many targets": any(fps_fallback(c) and c["duration_s"] > (c["max_frames"] + 0.5) / c["fps"] for c in cases),
        "repeated indices (fewer frames than targets)": any(len(set(c["indices"])) < len(c["indices"]) for c in cases),
        "a single-frame video": any(len(c["frame_times_s"]) == 1 for c in cases),
        "a variable frame rate": any(variable_rate(c) for c in cases),
        "a 2-minute video": any(c["duration_s"] >= 120 for c in cases),
        "a target exactly on a frame's time": any(t in c["frame_times_s"] for c in cases for t in c["target_times_s"]),
    }
    assert all(kinds.values()), f"frame_sampling.json lacks {[k for k, v in kinds.items() if not v]}"


# --- visual tokens ---------------------------------------------------------------------------
def test_visual_tokens_cover_every_preset_and_add_up(generated):
    table = load(generated, "visual_tokens.json")["presets"]
    assert sorted(table) == sorted(PRESETS)
    for name, rows in table.items():
        frames = [row["frames"] for row in rows]
        assert {1, 2, 8, 16, 32, 64, 128, PRESETS[name].sampling.max_frames} <= set(frames), name
        for row in rows:
            assert row["total"] == row["slow_tokens"] + row["fast_tokens"], f"{name} at {row['frames']} frames"
    at = {name: {row["frames"]: row for row in rows} for name, rows in table.items()}
    # the numbers DESIGN.md states for the two SlowFast generations
    assert (at["v1-7b"][50]["slow_tokens"], at["v1-7b"][50]["fast_tokens"], at["v1-7b"][50]["total"]) == (2880, 800, 3680)
    assert at["1b"][128]["total"] == 9216 and at["1b"][128]["slow_frames"] == 32


# --- prompt layout and tokenizer -------------------------------------------------------------
@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(VECTORS / "tokenizer.json")


def test_prompt_layout_rows_and_ids_rebuild_the_rendered_prompt(generated, tokenizer):
    layout = load(generated, "prompt_layout.json")
    tiny = get_preset("tiny")
    assert layout["visual_tokens"] == tiny.visual_tokens().total == 96  # 4 slow x 4x4 + 8 fast x 2x2
    assert layout["bos_id"] is None  # ChatML: no BOS
    assert layout["eos_ids"] == [tokenizer.token_to_id(t) for t in tiny.prompt.stop_tokens]
    assert any(not c["question"].isascii() for c in layout["cases"]), "no non-ASCII question"
    for case in layout["cases"]:
        assert case["rows"] == len(case["prefix_ids"]) + layout["visual_tokens"] + len(case["suffix_ids"])
        before = tokenizer.decode(case["prefix_ids"], skip_special_tokens=False)
        after = tokenizer.decode(case["suffix_ids"], skip_special_tokens=False)
        assert before + "<video>" + after == case["rendered"], case["question"]
        assert case["question"] in case["rendered"]


def test_tokenizer_vector_is_the_file_the_tiny_export_writes(tmp_path):
    from sf_mobile.checkpoints import build_random
    from sf_mobile.export.common import write_prompt_files

    write_prompt_files(tmp_path, build_random("tiny"))
    assert (tmp_path / "tokenizer.json").read_bytes() == (VECTORS / "tokenizer.json").read_bytes()


def test_tokenizer_roundtrip_decodes_to_the_text(generated, tokenizer):
    roundtrip = load(generated, "tokenizer_roundtrip.json")
    assert roundtrip["tokenizer"] == "tokenizer.json"
    for case in roundtrip["cases"]:
        assert tokenizer.encode(case["text"], add_special_tokens=False).ids == case["ids"], case["text"]
        assert case["decoded"] == case["text"]
    im_start = tokenizer.token_to_id("<|im_start|>")
    special = next(c for c in roundtrip["cases"] if "<|im_start|>" in c["text"])
    assert special["ids"][0] == im_start, "a special token written in the text must encode as its single id"


# --- device result samples -------------------------------------------------------------------
APP_METRICS = {
    "vision_ms", "vision_ms_per_frame", "embedding_ms", "prefill_ms", "time_to_first_token_ms", "prefill_tok_s", "decode_tok_s",
}  # fmt: skip
SAMPLES = [
    ("bench_result_android.json", protocol.ANDROID_BACKEND, "abi", "arm64-v8a", "VmHWM from /proc/self/status"),
    ("bench_result_ios.json", protocol.IOS_BACKEND, "soc", "Apple A17 Pro", "task_info phys_footprint high-water mark"),
]


@pytest.mark.parametrize("name, backend, extra, value, method", SAMPLES)
def test_device_sample_is_read_by_the_host(name, backend, extra, value, method):
    entry = protocol.read_result(VECTORS / name, backend)
    host = {"serial": "SERIAL", "model": "host model", "os": "host os"}
    assert protocol.with_device(entry, host)["device"] == {**host, extra: value}  # the app's extra key survives
    assert (entry["status"], entry["reason"], entry["stats"], entry["roofline"]) == ("ok", None, None, None)
    assert entry["memory"]["method"] == method and entry["memory"]["peak_rss_mib"] > 0


@pytest.mark.parametrize("name, backend, extra, value, method", SAMPLES)
def test_device_sample_parity_and_latency_are_complete(name, backend, extra, value, method):
    from sf_mobile.bench.latency import nearest_rank

    entry = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    (report,) = entry["parity"]
    assert report["backend"] == backend and report["passed"] and report["failed"] == []
    assert sorted(report["components"]) == ["decode_logits", "greedy", "prefill_logits", "vision"]
    for component, result in report["components"].items():
        assert result["component"] == component and result["passed"] and result["failures"] == []
        assert set(result["tolerance"]) == {"max_rel_l2", "min_cosine", "min_top1", "min_greedy_prefix", "reason"}
    latency = entry["latency"]
    assert (latency["repeats"], latency["warmup"]) == (3, 1)
    assert set(latency["metrics"]) == APP_METRICS  # no frame_decode_ms: benchmark mode decodes no video file
    for metric, summary in latency["metrics"].items():
        samples = summary["samples"]
        assert len(samples) == latency["repeats"], metric
        assert (summary["median"], summary["p90"]) == (statistics.median(samples), nearest_rank(samples, 0.9)), metric
