"""ExecuTorch export of the tiny preset: contract, delegation, parity, the stock runner, bad input."""

from __future__ import annotations

import errno
import json

import pytest
import torch

pytest.importorskip("executorch", reason="ExecuTorch export tests need the [executorch] extra (installed by .ci/run)")

from sf_mobile.checkpoints import build_random  # noqa: E402
from sf_mobile.cli import export as export_cli  # noqa: E402
from sf_mobile.errors import SfError  # noqa: E402
from sf_mobile.export.common import ExportRequest  # noqa: E402
from sf_mobile.export.executorch.options import EmbeddingQuant, ExecuTorchOptions, Quant  # noqa: E402
from sf_mobile.export.executorch.pipeline import export_executorch  # noqa: E402
from sf_mobile.manifest import read_manifest, verify_artifacts  # noqa: E402
from sf_mobile.parity.bundle import read_bundle  # noqa: E402
from sf_mobile.runtimes.executorch import ExecuTorchBackend  # noqa: E402

# Ops that must run inside XNNPACK, never on portable kernels (the expensive ones).
HEAVY_OPS = {"linear", "addmm", "mm", "bmm", "matmul", "convolution", "avg_pool2d", "max_pool2d", "_softmax", "gelu"}
# What the tiny graphs leave on portable kernels today; a new entry here is a delegation regression.
PORTABLE_ALLOWED = {
    "vision_encoder": {
        "_local_scalar_dense", "_to_dim_order_copy", "arange", "cat", "embedding", "expand_copy", "index_select",
        "lt", "native_layer_norm", "permute_copy", "scalar_tensor", "slice_copy", "squeeze_copy", "sub",
        "unsqueeze_copy", "view_copy", "where",
    },
    "token_embedding": {"embedding"},
    "text_decoder": {
        "add", "ge", "le", "_assert_scalar", "_local_scalar_dense", "_to_dim_order_copy", "auto_functionalized_v2",
        "cat", "custom_sdpa", "mean", "select_copy", "split_with_sizes_copy", "sym_size", "unsqueeze_copy",
        "view_copy",
        "slice_copy",  # the last position's hidden state [1, 1, D] before the LM head
    },
}


@pytest.fixture(scope="module")
def fp32_export(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("exports") / "tiny-fp32"
    result = export_executorch(ExportRequest(target="executorch", preset="tiny", out=out), ExecuTorchOptions())
    return result


def test_export_writes_the_contract_files(fp32_export):
    out = fp32_export.out
    assert sorted(p.name for p in out.iterdir()) == [
        "chat_template.json", "model.pte", "parity", "sf_manifest.json", "tokenizer.json"
    ]
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging folder left
    manifest = read_manifest(out)
    verify_artifacts(out, manifest)
    assert manifest["status"] == "ok" and manifest["target"] == "executorch"
    assert manifest["weights"]["weights"] == "random"
    assert manifest["visual_tokens"]["total"] == 96
    assert manifest["frame_geometry"]["packed_shape"] == [3, 8 * 64, 64]
    assert manifest["quantization"]["llm"] == "fp32"


def test_constant_methods_follow_the_runner_contract(fp32_export):
    backend = ExecuTorchBackend(fp32_export.out / "model.pte")
    methods = set(backend.program.method_names)
    assert {"vision_encoder", "token_embedding", "text_decoder"} <= methods
    manifest = fp32_export.manifest
    assert backend.constant("get_max_context_len") == manifest["max_context"] == 1280
    assert backend.constant("get_max_seq_len") == 1279
    assert backend.constant("use_kv_cache") is True and backend.constant("enable_dynamic_shape") is True
    assert backend.constant("get_eos_ids") == manifest["eos_ids"]
    assert backend.constant("get_bos_id") == manifest["special_tokens"]["<|endoftext|>"]
    assert backend.constant("get_num_frames") == 8 and backend.constant("get_image_height") == 512
    assert backend.constant("get_visual_tokens") == 96


def test_parity_passed_with_fp32_numbers(fp32_export):
    (report,) = fp32_export.reports
    assert report.passed, report.summary_lines()
    components = report.to_dict()["components"]
    # fp32 graph vs fp32 eager: only kernel reassociation (tanh-GELU is spelled out, see exportable.vision)
    assert components["vision"]["rel_l2"] < 1e-5
    assert components["decode_logits"]["top1"] == [16, 16]
    assert components["greedy"]["greedy_prefix"] == [16, 16]
    assert fp32_export.manifest["parity"][0]["passed"] is True


def test_parity_bundle_reproduces_on_the_runtime(fp32_export):
    from sf_mobile.parity.compare import compare
    from sf_mobile.parity.driver import run_backend

    inputs, reference, meta = read_bundle(fp32_export.out)
    assert inputs.frames.dtype == torch.uint8 and inputs.frames.shape == (8, 3, 64, 64)
    outputs = run_backend(ExecuTorchBackend(fp32_export.out / "model.pte"), inputs, 16)
    assert compare(outputs, reference, "fp32", "float").passed


def test_heavy_ops_are_delegated_to_xnnpack(fp32_export):
    delegation = fp32_export.details["delegation"]
    assert delegation["xnnpack_delegates"]["vision_encoder"] >= 10
    assert delegation["xnnpack_delegates"]["text_decoder"] >= 10
    for method, ops in delegation["portable_ops"].items():
        assert not HEAVY_OPS & set(ops), (method, ops)
        assert set(ops) <= PORTABLE_ALLOWED[method], (method, sorted(set(ops) - PORTABLE_ALLOWED[method]))


def test_stock_multimodal_runner_reproduces_the_reference(fp32_export):
    from executorch.extension.llm.runner import GenerationConfig, MultimodalRunner, make_image_input, make_text_input

    from sf_mobile.model.generation import generate

    loaded = build_random("tiny")
    inputs, _, _ = read_bundle(fp32_export.out)
    before, after = loaded.codec.render(inputs.question).split(loaded.config.prompt.placeholder)
    runner = MultimodalRunner(str(fp32_export.out / "model.pte"), str(fp32_export.out / "tokenizer.json"))
    pieces: list[str] = []
    config = GenerationConfig(max_new_tokens=12, temperature=0.0, echo=False)
    runner.generate(
        [make_text_input(before), make_image_input(inputs.packed_frames), make_text_input(after)],
        config,
        token_callback=pieces.append,
    )
    model = loaded.model
    embeds = model.prompt_embeddings(loaded.codec.encode(inputs.question), model.encode_frames(inputs.frames))
    expected = generate(model, embeds, 12, loaded.codec.stop_ids).tokens
    assert pieces == [loaded.codec.tokenizer.decode([t]) for t in expected]


@pytest.fixture(scope="module")
def quantized_export(tmp_path_factory, cache_dir):
    out = tmp_path_factory.mktemp("exports") / "tiny-8da4w"
    options = ExecuTorchOptions(quant=Quant.A8W4, group_size=32, embedding_quant=EmbeddingQuant.W8)
    return export_executorch(ExportRequest(target="executorch", preset="tiny", out=out), options)


def test_quantized_export_reports_export_and_quantization_error_apart(quantized_export, fp32_export):
    same, floating = quantized_export.reports
    assert same.against == "same-quantization" and same.passed, same.summary_lines()
    assert floating.against == "float"
    same_l2 = same.to_dict()["components"]["decode_logits"]["rel_l2"]
    float_l2 = floating.to_dict()["components"]["decode_logits"]["rel_l2"]
    assert same_l2 < float_l2  # export error is smaller than quantization error
    manifest = quantized_export.manifest
    assert manifest["quantization"] == {
        "llm": "8da4w", "group_size": 32, "embedding": "8w", "vision": "fp32", "max_context": 1280
    }
    pte = lambda m: next(a["bytes"] for a in m["artifacts"] if a["path"] == "model.pte")  # noqa: E731
    assert pte(manifest) < pte(fp32_export.manifest) / 2
    assert quantized_export.details["delegation"]["xnnpack_delegates"]["text_decoder"] > 0
    assert "linear" not in quantized_export.details["delegation"]["portable_ops"]["text_decoder"]


# --- bad input: fails before any work, one line, no output ------------------------------------------


def _cli(argv, capsys):
    code = export_cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.startswith("sf-export: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--quant", "int3"], "--quant 'int3'"),
        (["--quant", "8da4w", "--group-size", "64"], "group size 64"),
        (["--quant", "8da4w", "--group-size", "128"], "groups of 128 do not divide the tiny LLM hidden size 64"),  # tiny's hidden size is 64
        (["--embedding-quant", "2w"], "--embedding-quant"),
        (["--max-context", "64"], "max context 64"),
        (["--max-context", "4096"], "exceeds"),
        (["--size", "nope"], "unknown preset"),
        (["--frames", "0"], "--frames"),
    ],
)
def test_bad_options_fail_before_any_work(tmp_path, capsys, flags, named):
    out = tmp_path / "out"
    code, stdout, err = _cli(["--target", "executorch", "--size", "tiny", *flags, "--out", str(out)], capsys)
    line = _assert_one_line(err)
    assert code == 2 and named in line, line
    assert "[1/" not in err  # no stage started
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_unknown_target(tmp_path, capsys):
    code, _, err = _cli(["--target", "tflite", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "unknown target 'tflite'" in _assert_one_line(err)
    assert not (tmp_path / "o").exists()


def test_existing_output_is_refused(tmp_path, capsys, cache_dir):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = _cli(["--target", "executorch", "--size", "tiny", "--out", str(out)], capsys)
    assert code == 2 and "already exists" in _assert_one_line(err)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_interrupted_export_leaves_no_output(tmp_path, monkeypatch, cache_dir):
    from sf_mobile.export.executorch import lower

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lower, "lower_to_executorch", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        export_executorch(ExportRequest(target="executorch", preset="tiny", out=out), ExecuTorchOptions())
    assert list(tmp_path.iterdir()) == []


def test_full_disk_gives_one_line_and_no_output(tmp_path, monkeypatch, capsys, cache_dir):
    from sf_mobile.export import common

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(common, "write_prompt_files", full)
    monkeypatch.setattr("sf_mobile.export.executorch.pipeline.write_prompt_files", full)
    out = tmp_path / "out"
    code, _, err = _cli(["--target", "executorch", "--size", "tiny", "--out", str(out)], capsys)
    assert code == 2 and "disk full" in _assert_one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_parity_failure_exits_non_zero_and_marks_the_manifest(tmp_path, monkeypatch, capsys, cache_dir):
    original = ExecuTorchBackend.vision_encoder

    def noisy(self, frames):
        out = original(self, frames)
        return out + 0.05 * out.abs().mean() * torch.randn(out.shape, generator=torch.Generator().manual_seed(0))

    monkeypatch.setattr(ExecuTorchBackend, "vision_encoder", noisy)
    out = tmp_path / "out"
    code, stdout, err = _cli(["--target", "executorch", "--size", "tiny", "--out", str(out)], capsys)
    assert code == export_cli.PARITY_FAILED_EXIT
    assert "parity failed" in _assert_one_line(err) and "vision" in err
    manifest = json.loads((out / "sf_manifest.json").read_text())
    assert manifest["status"] == "parity_failed"
    assert "rel L2" in stdout  # the numbers are in the summary


def test_help_does_not_import_executorch():
    import subprocess
    import sys

    code = (
        "import sys; from sf_mobile.cli import export; export.build_parser('executorch').format_help(); "
        "heavy = [m for m in ('executorch', 'torchao', 'torch') if m in sys.modules]; print(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_options_validation_messages():
    config = build_random("tiny").config
    with pytest.raises(SfError, match=r"use one of \[32, 128\]"):
        ExecuTorchOptions(group_size=16).validate(config)
    with pytest.raises(SfError, match="--group-size 32"):
        ExecuTorchOptions(quant=Quant.A8W4, group_size=128).validate(config)
