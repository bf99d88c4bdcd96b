"""sf-bench over tiny exports: every host backend runs the parity bundle and the timed repeats,
the rest are reported with their reason; parity failures, broken backends and bad input are told
apart by status and exit code; latency statistics, the ExecuTorch stats fields and the roofline
arithmetic are checked by hand."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("executorch", reason="sf-bench's host backends need the [executorch] extra (installed by .ci/run)")
pytest.importorskip("coremltools", reason="the Core ML exports need the [coreml] extra (installed by .ci/run)")

from sf_mobile.bench import latency, roofline  # noqa: E402
from sf_mobile.bench.context import Settings  # noqa: E402
from sf_mobile.bench.host import ExecuTorchHost  # noqa: E402
from sf_mobile.bench.progress import ProgressBar  # noqa: E402
from sf_mobile.bench.runner import BACKEND_NAMES, run_bench  # noqa: E402
from sf_mobile.cli import bench as bench_cli  # noqa: E402
from sf_mobile.export.common import ExportRequest  # noqa: E402
from sf_mobile.export.coreml.options import CoreMLOptions  # noqa: E402
from sf_mobile.export.coreml.pipeline import export_coreml  # noqa: E402
from sf_mobile.export.executorch.options import ExecuTorchOptions  # noqa: E402
from sf_mobile.export.executorch.pipeline import export_executorch  # noqa: E402
from sf_mobile.presets import get_preset  # noqa: E402
from sf_mobile.reports.schema import METRICS, read_result, validate  # noqa: E402

QUICK = Settings(repeats=2, warmup=0, decode_tokens=4)
HOST_ON_ET = ("pytorch-eager", "executorch-host", "executorch-runner")


@pytest.fixture(scope="module")
def et_export(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("bench") / "tiny-et"
    return export_executorch(ExportRequest(target="executorch", preset="tiny", out=out), ExecuTorchOptions()).out


@pytest.fixture(scope="module")
def coreml_export(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("bench") / "tiny-coreml"
    return export_coreml(ExportRequest(target="coreml", preset="tiny", out=out), CoreMLOptions()).out


@pytest.fixture(scope="module")
def et_result(et_export):
    return run_bench(et_export, None, QUICK, ProgressBar(0, stream=_Sink()))


class _Sink:
    def write(self, _text):
        return 0

    def flush(self):
        return None


def _backend(result, name):
    return next(b for b in result["backends"] if b["name"] == name)


def test_every_backend_is_reported_and_host_backends_run(et_result):
    validate(et_result)
    assert [b["name"] for b in et_result["backends"]] == list(BACKEND_NAMES)
    for name in HOST_ON_ET:
        backend = _backend(et_result, name)
        assert backend["status"] == "ok", (name, backend["reason"], backend["parity"])
        assert backend["parity"] and all(r["passed"] for r in backend["parity"]), (name, backend["parity"])
        metrics = backend["latency"]["metrics"]
        # the stock runner's Stats tick in whole ms: a tiny model's 4-token decode can take 0 ms,
        # and a rate from that is not reported
        # (and a rate, only from the runs where it ticked)
        runner = name == "executorch-runner"
        needed = {"time_to_first_token_ms"} | (set() if runner else {"prefill_tok_s", "decode_tok_s"})
        assert needed <= set(metrics)
        assert all(len(m["samples"]) == QUICK.repeats for n, m in metrics.items() if n in needed or not runner)
        assert all(len(m["samples"]) <= QUICK.repeats for m in metrics.values())
    for backend in et_result["backends"]:
        if backend["name"] not in HOST_ON_ET:
            assert backend["status"] == "unavailable" and backend["reason"], backend["name"]
    # the reference splits vision into tower and SlowFast + projector; exported graphs cannot
    assert "slowfast_projector_ms" in _backend(et_result, "pytorch-eager")["latency"]["metrics"]
    assert "slowfast_projector_ms" not in _backend(et_result, "executorch-host")["latency"]["metrics"]
    assert "executorch" in _backend(et_result, "coreml-mil")["reason"]  # says which export it needs


def test_graph_backends_report_the_full_latency_split_and_roofline(et_result):
    backend = _backend(et_result, "executorch-host")
    metrics = backend["latency"]["metrics"]
    for name in ("frame_decode_ms", "vision_ms", "vision_ms_per_frame", "embedding_ms", "prefill_ms"):
        assert metrics[name]["median"] > 0 and metrics[name]["unit"] == METRICS[name][0]
    frames = get_preset("tiny").sampling.max_frames
    assert metrics["vision_ms_per_frame"]["median"] == pytest.approx(metrics["vision_ms"]["median"] / frames, abs=1e-3)  # ms to 3 decimals
    roof = backend["roofline"]
    assert roof["decode_tok_s_measured"] == metrics["decode_tok_s"]["median"]
    assert roof["fraction_of_bound"] == pytest.approx(roof["decode_tok_s_measured"] / roof["decode_tok_s_bound"], rel=1e-3)
    assert backend["memory"]["peak_rss_mib"] is None or backend["memory"]["peak_rss_mib"] > 10
    assert et_result["host"]["memory_bandwidth_gb_s"] > 0


def test_stats_use_the_executorch_runner_field_names(et_result):
    from executorch.extension.llm.runner import Stats

    fields = {name for name in dir(Stats) if not name.startswith("_")}
    for name in HOST_ON_ET:
        stats = _backend(et_result, name)["stats"]
        assert set(stats) <= fields, set(stats) - fields
        assert stats["num_prompt_tokens"] > 0 and stats["inference_end_ms"] >= stats["first_token_ms"] >= stats["inference_start_ms"]


def test_coreml_export_runs_on_the_mil_evaluator_as_accuracy_only(coreml_export):
    result = run_bench(coreml_export, ["coreml-mil", "coreml", "pytorch-eager"], QUICK, ProgressBar(0, stream=_Sink()))
    mil = _backend(result, "coreml-mil")
    assert mil["status"] == "ok" and mil["accuracy_only"] and mil["latency"] is None and mil["roofline"] is None
    assert "accuracy only" in mil["reason"]
    assert [r["against"] for r in mil["parity"]] == ["float"]
    assert _backend(result, "coreml")["status"] == "unavailable" and "macOS" in _backend(result, "coreml")["reason"]
    # the float reference reproduces a float bundle: gated at fp32 tolerances
    eager = _backend(result, "pytorch-eager")
    assert eager["status"] == "ok" and eager["parity"][0]["precision"] == "fp32"


def test_onnx_export_runs_on_onnx_runtime(tmp_path_factory, cache_dir):
    pytest.importorskip("onnxruntime", reason="the ONNX backend needs the [onnx] extra (installed by .ci/run)")
    pytest.importorskip("onnxscript", reason="the ONNX export needs the [onnx] extra (installed by .ci/run)")
    from sf_mobile.export.onnx.options import OnnxOptions
    from sf_mobile.export.onnx.pipeline import export_onnx

    out = tmp_path_factory.mktemp("bench") / "tiny-onnx"
    export_onnx(ExportRequest(target="onnx", preset="tiny", out=out), OnnxOptions())
    result = run_bench(out, ["onnxruntime-cpu", "qnn-htp-simulator", "executorch-host"], QUICK, ProgressBar(0, stream=_Sink()))
    ort = _backend(result, "onnxruntime-cpu")
    assert ort["status"] == "ok", ort["reason"]
    assert ort["parity"][0]["passed"] and ort["parity"][0]["precision"] == "fp32"
    assert {"vision_ms", "prefill_tok_s", "decode_tok_s"} <= set(ort["latency"]["metrics"])
    # static graphs take the whole cache on every call: the roofline counts all of it
    config = get_preset("tiny")
    assert ort["roofline"]["kv_bytes_per_token"] == roofline.kv_bytes_per_token(config, result_context(out), 4)
    assert _backend(result, "qnn-htp-simulator")["status"] == "unavailable"
    assert "onnx" in _backend(result, "executorch-host")["reason"]


def result_context(folder) -> int:
    return json.loads((folder / "sf_manifest.json").read_text())["max_context"]


def test_the_reference_of_a_checkpoint_export_needs_that_checkpoint(tmp_path_factory, cache_dir):
    from sf_mobile.checkpoints import build_random, save_checkpoint

    root = tmp_path_factory.mktemp("bench-ckpt")
    checkpoint = save_checkpoint(build_random("tiny", seed=7), root / "ckpt")
    other = save_checkpoint(build_random("tiny", seed=8), root / "other")
    out = root / "export"
    export_coreml(ExportRequest(target="coreml", preset="tiny", out=out, checkpoint=checkpoint), CoreMLOptions())

    def eager(**settings):
        result = run_bench(out, ["pytorch-eager"], Settings(repeats=1, warmup=0, decode_tokens=2, **settings), ProgressBar(0, stream=_Sink()))
        return result["backends"][0]

    missing = eager()
    assert missing["status"] == "unavailable" and "--checkpoint" in missing["reason"]
    assert eager(checkpoint=checkpoint)["status"] == "ok"
    wrong = eager(checkpoint=other)
    assert wrong["status"] == "failed" and "not the one this folder was exported from" in wrong["reason"]


def test_a_wrong_graph_is_parity_failed_with_exit_3(et_export, tmp_path, capsys, cache_dir):
    folder = tmp_path / "tampered"
    shutil.copytree(et_export, folder)
    from safetensors.torch import load_file, save_file

    path = folder / "parity" / "reference.safetensors"
    tensors = load_file(str(path))
    tensors["decode_logits"] = -tensors["decode_logits"]  # the reference says otherwise
    save_file(tensors, str(path))
    code = bench_cli.main([str(folder), "--backend", "executorch-host", "--repeats", "1", "--warmup", "0", "--decode-tokens", "2"])
    out = capsys.readouterr().out
    assert code == bench_cli.EXIT_PARITY
    assert "executorch-host" in out and "FAILED decode_logits" in out


def test_a_broken_backend_is_failed_and_the_others_still_run(et_export, monkeypatch):
    def broken(self, ctx):
        raise RuntimeError("simulated runtime crash\nwith a traceback-like second line")

    monkeypatch.setattr(ExecuTorchHost, "open", broken)
    result = run_bench(et_export, ["executorch-host", "pytorch-eager"], QUICK, ProgressBar(0, stream=_Sink()))
    assert _backend(result, "executorch-host") == {**_backend(result, "executorch-host"), "status": "failed",
                                                   "reason": "RuntimeError: simulated runtime crash"}
    assert _backend(result, "pytorch-eager")["status"] == "ok"
    assert bench_cli.exit_code(result, None) == bench_cli.EXIT_FAILED


def test_reports_are_written_and_json_reads_back(et_export, tmp_path, capsys, cache_dir):
    code = bench_cli.main([str(et_export), "--backend", "pytorch-eager", "--repeats", "1", "--warmup", "0",
                           "--decode-tokens", "2", "--report", str(tmp_path / "r"), "--json"])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    written = read_result(tmp_path / "r" / "sf_bench.json")
    assert printed["backends"] == written["backends"]
    assert (tmp_path / "r" / "sf_bench.md").read_text().count("pytorch-eager") >= 1
    assert "<svg" in (tmp_path / "r" / "sf_bench.html").read_text()


def test_a_named_backend_that_cannot_run_exits_1(coreml_export, capsys, cache_dir):
    code = bench_cli.main([str(coreml_export), "--backend", "executorch-host", "--repeats", "1"])
    assert code == bench_cli.EXIT_FAILED
    assert "unavailable" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--backend", "tpu"], "unknown backend(s) tpu"),
        (["--repeats", "0"], "--repeats is 0"),
        (["--warmup", "-1"], "--warmup is -1"),
        (["--timeout", "0"], "--timeout is 0"),
    ],
)
def test_bad_arguments_are_one_line_errors_before_any_work(et_export, argv, message, capsys):
    code = bench_cli.main([str(et_export), *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0]


def test_timeout_reaches_the_device_runs(et_export, monkeypatch):
    """The device backends' error messages tell the user to allow more time with --timeout."""
    from sf_mobile.bench import runner

    seen = {}

    def fake_run_bench(folder, backends, settings):
        seen["timeout_s"] = settings.timeout_s
        raise SystemExit(0)

    monkeypatch.setattr(runner, "run_bench", fake_run_bench)
    with pytest.raises(SystemExit):
        bench_cli.main([str(et_export), "--backend", "android-adb", "--timeout", "90.5"])
    assert seen == {"timeout_s": 90.5}


def test_a_folder_without_a_manifest_or_a_bad_video_fails_in_one_line(et_export, tmp_path, capsys, cache_dir):
    assert bench_cli.main([str(tmp_path)]) == 2
    assert "sf_manifest.json" in capsys.readouterr().err
    video = tmp_path / "broken.mp4"
    video.write_bytes(b"\x00\x01 not a video")
    assert bench_cli.main([str(et_export), "--video", str(video), "--backend", "pytorch-eager"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.mp4" in err[0]


# --- the arithmetic, by hand -------------------------------------------------------------------


def _run(ms: float, tokens: int = 4) -> latency.RunTimes:
    return latency.RunTimes(
        frame_decode_ms=1.0, vision_ms=ms, slowfast_projector_ms=None, embedding_ms=0.5, prefill_ms=2 * ms,
        prefill_tokens=100, decode_ms=ms, decode_tokens=tokens, frames=4,
    )


def test_median_and_p90_are_measured_values():
    runs = [_run(ms) for ms in (10.0, 50.0, 20.0, 40.0, 30.0, 60.0, 70.0, 80.0, 90.0, 100.0)]
    metrics = latency.summarize(runs, warmup=1)["metrics"]
    assert metrics["vision_ms"]["median"] == 55.0
    assert metrics["vision_ms"]["p90"] == 90.0  # nearest rank: the 9th of 10, a measured value
    assert metrics["vision_ms_per_frame"]["median"] == 55.0 / 4
    assert metrics["decode_tok_s"]["samples"][0] == 4 / 0.010
    assert metrics["time_to_first_token_ms"]["samples"][0] == 10.0 + 0.5 + 20.0
    assert list(metrics) == [m for m in METRICS if m in metrics]  # the schema's order


def test_roofline_counts_weights_and_cache_by_hand():
    config = get_preset("tiny")
    llm = config.llm
    head = llm.hidden_size // llm.num_heads
    per_layer = (
        llm.hidden_size * llm.num_heads * head * 2  # q, o
        + llm.hidden_size * llm.num_kv_heads * head * 2  # k, v
        + 3 * llm.hidden_size * llm.intermediate_size  # gate, up, down
    )
    matrices = llm.num_layers * per_layer + (0 if llm.tie_word_embeddings else llm.vocab_size * llm.hidden_size)
    if llm.tie_word_embeddings:
        matrices += llm.vocab_size * llm.hidden_size
    fp32 = roofline.decode_weight_bytes(config, roofline.weight_scheme("fp32"))
    vectors = fp32 - 4 * matrices  # norms (and biases) at fp32
    assert 0 <= vectors < 4 * llm.hidden_size * (2 * llm.num_layers + 1) + 4 * llm.num_layers * (llm.num_heads + 2 * llm.num_kv_heads) * head + 1
    fp16 = roofline.decode_weight_bytes(config, roofline.weight_scheme("fp16"))
    assert fp16 - vectors == 2 * matrices
    kv = roofline.kv_bytes_per_token(config, 100, 2)
    assert kv == 2 * llm.num_layers * llm.num_kv_heads * 100 * head * 2
    roof = roofline.roofline(config, roofline.weight_scheme("fp16"), kv, 10.0, 50.0)
    assert roof["decode_tok_s_bound"] == pytest.approx(10e9 / (fp16 + kv), rel=1e-3)
    assert roof["fraction_of_bound"] == pytest.approx(50.0 / roof["decode_tok_s_bound"], rel=1e-3)
    int4 = roofline.decode_weight_bytes(config, roofline.weight_scheme("8da4w", 32))
    assert int4 < fp16 / 3  # 4-bit payload plus one fp16 scale per 32


def test_unknown_recipe_has_no_weight_storage():
    with pytest.raises(ValueError, match="fp8"):
        roofline.weight_scheme("fp8")


def test_bandwidth_is_measured():
    gb_s, method = roofline.measure_bandwidth_gb_s(mib=16, repeats=2)
    assert 0.1 < gb_s < 10_000 and "16 MiB" in method


def test_progress_bar_in_a_log_writes_lines(capsys):
    import sys

    bar = ProgressBar(2, stream=sys.stderr)
    bar.step("a: starting")
    bar.finish_one("a: ok")
    bar.finish_one("b: ok")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("[----") and lines[-1].startswith("[####################] 2/2") and "b: ok" in lines[-1]
