"""ONNX export of the tiny preset: graph contract (opset 21, static shapes, checker), fp32 and fp16
parity through ONNX Runtime, the backend's chunked prefill and cache writes, sf-verify's ONNX IO
check, and bad input failing before any work."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("onnxruntime", reason="ONNX export tests need the [onnx] extra (onnx, onnxruntime)")
onnx = pytest.importorskip("onnx", reason="ONNX export tests need the [onnx] extra (onnx, onnxruntime)")
pytest.importorskip("onnxscript", reason="torch.onnx.export(dynamo=True) needs onnxscript (pip install onnxscript)")

from sf_mobile.cli import export as export_cli  # noqa: E402
from sf_mobile.errors import SfError  # noqa: E402
from sf_mobile.export.common import ExportRequest  # noqa: E402
from sf_mobile.export.onnx.options import Backend, OnnxOptions, Quant  # noqa: E402
from sf_mobile.export.onnx.pipeline import export_onnx  # noqa: E402
from sf_mobile.manifest import read_manifest, verify_artifacts  # noqa: E402
from sf_mobile.parity.bundle import read_bundle  # noqa: E402
from sf_mobile.runtimes import onnx as onnx_runtime  # noqa: E402
from sf_mobile.runtimes.onnx import DECODE_NAME, GRAPH_NAMES, PREFILL_NAME, VISION_NAME, OnnxBackend, step_mask  # noqa: E402
from export_cli_helpers import assert_fails_before_any_work, heavy_modules_after_help  # noqa: E402  (tests/ is on sys.path)

CONTEXT = 1280  # the tiny preset's default: 96 visual tokens + 1024, rounded up to 256
CHUNK = 64
MASK = -1e4


def contract_files(table: str) -> list[str]:
    return sorted([
        "chat_template.json", "decode.onnx", "decoder.onnx.data", "parity", "prefill.onnx", "sf_manifest.json",
        table, "token_embedding.onnx", "tokenizer.json", "vision.onnx", "vision.onnx.data",
    ])


def _export(tmp_path_factory, quant: Quant):
    out = tmp_path_factory.mktemp("onnx") / f"tiny-{quant.value}"
    return export_onnx(ExportRequest(target="onnx", preset="tiny", out=out), OnnxOptions(quant=quant))


@pytest.fixture(scope="module")
def fp32_export(tmp_path_factory, cache_dir):
    return _export(tmp_path_factory, Quant.FP32)


@pytest.fixture(scope="module")
def fp16_export(tmp_path_factory, cache_dir):
    return _export(tmp_path_factory, Quant.FP16)


@pytest.fixture(params=["fp32", "fp16"])
def any_export(request):
    return request.getfixturevalue(f"{request.param}_export")


def _entry(result, name: str) -> dict:
    return next(a for a in result.manifest["artifacts"] if a["path"] == name)


# --- the folder and its graphs ----------------------------------------------------------------------


def test_export_writes_the_contract_files(fp32_export):
    out = fp32_export.out
    assert sorted(p.name for p in out.iterdir()) == contract_files("token_embeddings.f32")
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no staging folder left
    manifest = read_manifest(out)
    verify_artifacts(out, manifest)
    assert manifest["status"] == "ok" and manifest["target"] == "onnx" and manifest["backend"] == "cpu"
    assert manifest["quantization"]["llm"] == "fp32" and manifest["quantization"]["opset"] == 21
    assert manifest["quantization"]["prefill_chunk"] == CHUNK and manifest["max_context"] == CONTEXT
    assert manifest["quantization"]["mask_value"] == MASK
    for name in GRAPH_NAMES:
        assert _entry(fp32_export, name)["providers"] == ["CPUExecutionProvider"]
    table = np.fromfile(out / "token_embeddings.f32", dtype="<f4")
    assert table.size == 512 * 64  # vocab x hidden of the tiny preset
    assert _entry(fp32_export, "token_embeddings.f32")["shape"] == [512, 64]


def test_prefill_and_decode_read_one_copy_of_the_weights(fp32_export):
    """decoder.onnx.data holds each distinct tensor once; the tied LM head reads the table file."""
    out = fp32_export.out
    for name in (PREFILL_NAME, DECODE_NAME):
        assert _entry(fp32_export, name)["external_data"] == ["decoder.onnx.data", "token_embeddings.f32"]
    graphs = [onnx.load(str(out / name), load_external_data=False) for name in (PREFILL_NAME, DECODE_NAME)]
    placed = [
        {t.name: tuple((e.key, e.value) for e in t.external_data) for t in g.graph.initializer if t.external_data}
        for g in graphs
    ]
    assert placed[0] == placed[1]  # the same weights at the same offsets of the same files
    weights = 0
    for location in placed[0].values():
        fields = dict(location)
        if fields["location"] == "decoder.onnx.data":
            weights += int(fields["length"])
            assert int(fields["length"]) < 1 << 20 or int(fields["offset"]) % (1 << 16) == 0  # mmap-able
    data = (out / "decoder.onnx.data").stat().st_size
    assert weights <= data < 2 * weights  # once (plus alignment), not once per graph
    lm_head = dict(placed[0]["lm_head.weight"])
    assert lm_head == {"location": "token_embeddings.f32", "offset": "0", "length": str(512 * 64 * 4)}


def test_token_embedding_graph_reads_the_shipped_table_in_place(any_export):
    import onnxruntime as ort

    from sf_mobile.export.onnx.embedding import TOKEN_EMBEDDING_NAME

    path = any_export.out / TOKEN_EMBEDDING_NAME
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.load(str(path), load_external_data=False)
    assert {o.domain: o.version for o in model.opset_import}[""] == 21
    table_name = next(a["path"] for a in any_export.manifest["artifacts"] if a["path"].startswith("token_embeddings."))
    (initializer,) = model.graph.initializer
    assert {e.key: e.value for e in initializer.external_data}["location"] == table_name
    assert path.stat().st_size < 4096  # the table is not copied into the graph
    dtype = "<f2" if table_name.endswith("f16") else "<f4"
    entry = _entry(any_export, TOKEN_EMBEDDING_NAME)
    vocab, hidden = (next(a for a in any_export.manifest["artifacts"] if a["path"] == table_name))["shape"]
    table = np.fromfile(any_export.out / table_name, dtype=dtype).reshape(vocab, hidden)
    ids = np.array([[0, 5, vocab - 1, 5]], dtype=np.int64)
    (embeds,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"ids": ids})
    np.testing.assert_array_equal(embeds[0], table[ids[0]])
    assert entry["inputs"]["main"]["ids"] == {"shape": [1, "S"], "dtype": "int64"}


def test_every_graph_passes_the_checker_at_opset_21_with_static_shapes(any_export):
    dtype = "float16" if any_export.manifest["quantization"]["llm"] == "fp16" else "float32"
    for name in GRAPH_NAMES:
        path = any_export.out / name
        onnx.checker.check_model(str(path), full_check=True)
        model = onnx.load(str(path), load_external_data=False)
        assert {o.domain: o.version for o in model.opset_import}[""] == 21
        entry = _entry(any_export, name)
        for values, declared in ((model.graph.input, entry["inputs"]["main"]), (model.graph.output, entry["outputs"]["main"])):
            actual = {}
            for value in values:
                dims = value.type.tensor_type.shape.dim
                assert all(d.HasField("dim_value") and d.dim_value > 0 for d in dims), f"{name} {value.name} is not static"
                elem = onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
                actual[value.name] = {"shape": [d.dim_value for d in dims], "dtype": elem}
            assert actual == declared
    decode = _entry(any_export, DECODE_NAME)["inputs"]["main"]
    assert decode["attention_mask"] == {"shape": [1, 1, 1, CONTEXT + 1], "dtype": dtype}
    assert decode["past_keys"]["shape"] == [2, 1, 2, CONTEXT, 16]  # L, 1, KVH, ctx, head dim
    assert _entry(any_export, PREFILL_NAME)["outputs"]["main"]["new_keys"]["shape"] == [2, 1, 2, CHUNK, 16]
    assert _entry(any_export, VISION_NAME)["inputs"]["main"]["frames"] == {"shape": [8, 3, 64, 64], "dtype": "uint8"}


def test_graphs_hold_the_ops_the_npu_path_needs(fp32_export):
    def ops(name):
        return onnx.load(str(fp32_export.out / name), load_external_data=False).graph.node

    gelus = [n for n in ops(VISION_NAME) if n.op_type == "Gelu"]
    approximations = sorted(onnx.helper.get_attribute_value(a).decode() for n in gelus for a in n.attribute if a.name == "approximate")
    assert approximations == ["none", "tanh", "tanh"]  # the tower's two tanh GELUs native, the projector's exact one
    assert not [n for n in ops(VISION_NAME) if n.op_type in ("Tanh", "Pow")]  # nothing decomposed
    for name in GRAPH_NAMES:  # HTP's quantizer saturates Reciprocal (shared/notes/qnn-htp.md, trap 2)
        assert "Reciprocal" not in {n.op_type for n in ops(name)}, name
    decoder_ops = {n.op_type for n in ops(PREFILL_NAME)}
    assert not decoder_ops & {"ScatterND", "ScatterElements", "If", "Loop", "Pow"}  # no cache write, no control flow
    assert sum(n.op_type == "Gemm" for n in ops(PREFILL_NAME)) == 2 * 7 + 1  # 7 linears per layer + LM head on stored weights


def test_finish_graph_pools_large_tensors_once_and_inlines_small_ones(tmp_path):
    """Two graphs with the same 2 MiB weight and a 16-byte one, both exported to their own files."""
    from onnx import TensorProto, helper, numpy_helper

    from sf_mobile.export.onnx import convert
    from sf_mobile.export.onnx.weights import ALIGN_LARGE, DataPool

    big = numpy_helper.from_array(np.arange(512 * 1024, dtype=np.float32).reshape(512, 1024), "big")
    small = numpy_helper.from_array(np.ones(4, dtype=np.float32), "small")
    for name in ("a.onnx", "b.onnx"):
        nodes = [helper.make_node("Gemm", ["x", "big"], ["y"], transB=1)]
        graph = helper.make_graph(
            nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 512])], [big, small],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
        exported = convert.exported_path(tmp_path / name)
        onnx.save(model, str(exported), save_as_external_data=True, location=exported.name + ".data", size_threshold=0)
    with DataPool(tmp_path, "pool.data") as pool:
        pool.place(memoryview(b"y" * 100), TensorProto.UINT8)  # 100 bytes first: the big tensor starts at 64 KiB, not 100
        for name in ("a.onnx", "b.onnx"):
            convert.finish_graph(tmp_path, name, {"graph": name}, pool)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.onnx", "b.onnx", "pool.data"]  # the exporter's files are gone
    assert (pool.report.written, pool.report.reused) == (2, 1)
    for name in ("a.onnx", "b.onnx"):
        model = onnx.load(str(tmp_path / name), load_external_data=False)
        tensors = {t.name: t for t in model.graph.initializer}
        assert dict((e.key, e.value) for e in tensors["big"].external_data) == {
            "location": "pool.data", "offset": str(ALIGN_LARGE), "length": str(512 * 1024 * 4)
        }
        assert tensors["small"].data_location == TensorProto.DEFAULT and len(tensors["small"].raw_data) == 16
        assert {p.key: p.value for p in model.metadata_props} == {"sf.graph": json.dumps(name)}
        loaded = onnx.load(str(tmp_path / name))  # with the external data: the bytes are the weight's
        np.testing.assert_array_equal(numpy_helper.to_array(loaded.graph.initializer[0]), numpy_helper.to_array(big))


def test_graphs_carry_no_build_machine_paths(fp32_export):
    """The exporter's per-node stack traces are stripped: hashes do not depend on the checkout."""
    for name in GRAPH_NAMES:
        model = onnx.load(str(fp32_export.out / name), load_external_data=False)
        assert not [n for n in model.graph.node if n.metadata_props]
        assert b"modules.py" not in (fp32_export.out / name).read_bytes()


def test_graph_metadata_says_how_to_call_the_decoder(fp32_export):
    import onnxruntime as ort

    session = ort.InferenceSession(str(fp32_export.out / PREFILL_NAME), providers=["CPUExecutionProvider"])
    meta = onnx_runtime.read_graph_metadata(session)
    assert meta["prefill_chunk"] == CHUNK and meta["rows"] == CHUNK and meta["max_context"] == CONTEXT
    assert meta["mask_value"] == MASK and meta["eos_ids"] == fp32_export.manifest["eos_ids"]
    assert meta["embedding_table"] == {
        "path": "token_embeddings.f32", "dtype": "float32", "shape": [512, 64], "layout": "row-major, little-endian"
    }


# --- parity -------------------------------------------------------------------------------------------


def test_fp32_parity_reproduces_every_greedy_token(fp32_export):
    (report,) = fp32_export.reports
    assert report.passed and report.precision == "fp32" and report.backend == "onnxruntime-cpu", report.summary_lines()
    components = report.to_dict()["components"]
    assert components["greedy"]["greedy_prefix"] == [16, 16]
    assert components["decode_logits"]["top1"] == [16, 16]
    # the gate is 1e-4; tiny measured 3e-7 (vision) and 3e-7-5e-7 (logits), so a regression shows here
    for name in ("vision", "prefill_logits", "decode_logits"):
        assert components[name]["rel_l2"] < 1e-5, (name, components[name])
    assert fp32_export.manifest["parity"][0]["passed"] is True


def test_fp16_graphs_are_fp16_and_pass_the_fp16_gate(fp16_export):
    out = fp16_export.out
    assert sorted(p.name for p in out.iterdir()) == contract_files("token_embeddings.f16")
    (report,) = fp16_export.reports
    assert report.passed and report.precision == "fp16", report.summary_lines()
    components = report.to_dict()["components"]
    assert components["greedy"]["greedy_prefix"] == [16, 16]
    assert components["decode_logits"]["top1"][0] >= 15
    # tiny measured 8e-4 (vision) and 1.0e-3-1.1e-3 (logits) against gates of 2e-3 and 4e-3
    assert components["vision"]["rel_l2"] < 2e-3
    assert components["prefill_logits"]["rel_l2"] < 2e-3 and components["decode_logits"]["rel_l2"] < 2e-3
    decoder = onnx.load(str(out / PREFILL_NAME), load_external_data=False)
    weight_types = {t.data_type for t in decoder.graph.initializer if len(t.dims) == 2}
    assert weight_types == {onnx.TensorProto.FLOAT16}


def test_fp16_weights_take_half_the_bytes(fp16_export, fp32_export):
    def size(result, name):
        return _entry(result, name)["bytes"]

    for name in ("decoder.onnx.data", "vision.onnx.data"):
        assert size(fp16_export, name) < 0.6 * size(fp32_export, name)
    assert size(fp16_export, "token_embeddings.f16") * 2 == size(fp32_export, "token_embeddings.f32")


def test_parity_bundle_reproduces_through_the_saved_graphs(fp32_export):
    from sf_mobile.parity.compare import compare
    from sf_mobile.parity.driver import run_backend

    inputs, reference, meta = read_bundle(fp32_export.out)
    assert meta["engine"] == "onnxruntime-cpu" and meta["providers"] == ["CPUExecutionProvider"]
    outputs = run_backend(OnnxBackend(fp32_export.out), inputs, 16)
    assert compare(outputs, reference, "fp32", "float").passed


# --- the backend: chunks, padding, cache writes -------------------------------------------------------


class Recorder:
    """Wraps an InferenceSession; notes (graph, real positions) of every call."""

    def __init__(self, session, graph: str, calls: list):
        self.session, self.graph, self.calls = session, graph, calls

    def run(self, outputs, feed):
        self.calls.append((self.graph, feed["position_ids"].tolist(), feed["inputs_embeds"].copy()))
        return self.session.run(outputs, feed)


def _recording(backend: OnnxBackend) -> list:
    calls: list = []
    for name in (PREFILL_NAME, DECODE_NAME):
        backend.sessions[name] = Recorder(backend.sessions[name], name, calls)
    return calls


@pytest.fixture(scope="module")
def eager_decoder(cache_dir):
    from sf_mobile.checkpoints import build_random
    from sf_mobile.exportable import DecoderStep

    return DecoderStep(build_random("tiny").model, CONTEXT)  # seed 0: the weights the export has


def test_chunks_shorter_than_c_are_padded_in_front_and_match_eager(fp32_export, eager_decoder):
    torch.manual_seed(0)
    embeds = 0.5 * torch.randn(1, 70, 64)  # one chunk of 64 + 6 rows
    eager_decoder.reset()
    with torch.no_grad():
        expected = [eager_decoder(embeds[:, :64], torch.arange(64)), eager_decoder(embeds[:, 64:], torch.arange(64, 70))]
    backend = OnnxBackend(fp32_export.out)
    calls = _recording(backend)
    got = [backend.text_decoder(embeds[:, :64], torch.arange(64)), backend.text_decoder(embeds[:, 64:], torch.arange(64, 70))]
    (graph0, positions0, _), (graph1, positions1, fed1) = calls
    assert (graph0, positions0) == (PREFILL_NAME, list(range(64)))
    assert graph1 == PREFILL_NAME and positions1 == [64] * 58 + list(range(64, 70))  # 58 pad rows, then the real 6
    assert not fed1[0, :58].any() and np.array_equal(fed1[0, 58:], embeds[0, 64:].numpy())
    for have, want in zip(got, expected):
        torch.testing.assert_close(have, want, rtol=1e-5, atol=1e-5)  # fp32 both sides: reassociation only
    # the new rows sit at their slots, as eager's cache holds them; nothing was written past them
    torch.testing.assert_close(torch.from_numpy(backend.keys[:, :, :, :70]), eager_decoder.k_cache[:, :, :, :70], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(torch.from_numpy(backend.values[:, :, :, :70]), eager_decoder.v_cache[:, :, :, :70], rtol=1e-5, atol=1e-5)
    assert not backend.keys[:, :, :, 70:].any() and not backend.values[:, :, :, 70:].any()


def test_a_prompt_shorter_than_c_is_one_call_and_one_row_goes_through_decode(fp32_export, eager_decoder):
    torch.manual_seed(1)
    embeds = 0.5 * torch.randn(1, 11, 64)
    eager_decoder.reset()
    with torch.no_grad():
        expected = [eager_decoder(embeds[:, :10], torch.arange(10)), eager_decoder(embeds[:, 10:], torch.tensor([10]))]
    backend = OnnxBackend(fp32_export.out)
    calls = _recording(backend)
    backend.reset()
    got = [backend.text_decoder(embeds[:, :10], torch.arange(10)), backend.text_decoder(embeds[:, 10:], torch.tensor([10]))]
    assert [(graph, positions) for graph, positions, _ in calls] == [
        (PREFILL_NAME, [0] * 54 + list(range(10))),
        (DECODE_NAME, [10]),
    ]
    for have, want in zip(got, expected):
        torch.testing.assert_close(have, want, rtol=1e-5, atol=1e-5)
    # reset starts a new sequence: the same prompt gives the same logits again
    backend.reset()
    torch.testing.assert_close(backend.text_decoder(embeds[:, :10], torch.arange(10)), got[0], rtol=0, atol=0)


def test_step_mask_layout():
    mask = step_mask(start=3, count=2, rows=4, max_context=5, mask_value=-1.0, dtype=np.float32)[0, 0]
    visible = (mask == 0).astype(int)
    assert visible.tolist() == [
        # slots 0..4   own rows 0..3
        [0, 0, 0, 0, 0, 1, 0, 0, 0],  # pad row: itself only
        [0, 0, 0, 0, 0, 0, 1, 0, 0],  # pad row: itself only
        [1, 1, 1, 0, 0, 0, 0, 1, 0],  # position 3: slots < 3 and itself
        [1, 1, 1, 0, 0, 0, 0, 1, 1],  # position 4: slots < 3, row at 3 and itself
    ]
    assert set(mask[mask != 0].tolist()) == {-1.0}


def test_backend_refuses_what_the_graphs_cannot_take(fp32_export):
    backend = OnnxBackend(fp32_export.out)
    with pytest.raises(SfError, match="no rows"):
        backend.text_decoder(torch.zeros(1, 0, 64), torch.arange(0))
    with pytest.raises(SfError, match="more than the prefill chunk 64"):
        backend.text_decoder(torch.zeros(1, 65, 64), torch.arange(65))
    with pytest.raises(SfError, match="non-consecutive"):
        backend.text_decoder(torch.zeros(1, 2, 64), torch.tensor([0, 2]))
    with pytest.raises(SfError, match="do not fit the 1280-slot KV cache"):
        backend.text_decoder(torch.zeros(1, 2, 64), torch.tensor([1279, 1280]))
    with pytest.raises(SfError, match="has no vision.onnx"):
        OnnxBackend(fp32_export.out / "parity")


# --- sf-verify -----------------------------------------------------------------------------------------


def test_verify_checks_each_graph_against_the_manifest(fp32_export, tmp_path):
    from sf_mobile.verify import verify_folder

    report = verify_folder(fp32_export.out)
    assert report.passed, report.lines()
    io = {f.artifact: f for f in report.findings if f.check == "io main"}
    assert sorted(io) == sorted([*GRAPH_NAMES, "token_embedding.onnx"]) and all(f.ran and f.ok for f in io.values())

    copy = shutil.copytree(fp32_export.out, tmp_path / "copy")
    manifest = json.loads((copy / "sf_manifest.json").read_text())
    entry = next(a for a in manifest["artifacts"] if a["path"] == DECODE_NAME)
    entry["inputs"]["main"]["past_keys"]["shape"][3] = 2048
    entry["outputs"]["main"]["logits"]["dtype"] = "float16"
    (copy / "sf_manifest.json").write_text(json.dumps(manifest))
    failed = {f.artifact: f.message for f in verify_folder(copy).failures}
    assert list(failed) == [DECODE_NAME]
    assert "input past_keys has shape [2, 1, 2, 1280, 16] in the graph, declared [2, 1, 2, 2048, 16]" in failed[DECODE_NAME]
    assert "output logits has dtype float32 in the graph, declared float16" in failed[DECODE_NAME]


def test_verify_skips_the_onnx_check_without_onnx_and_says_why(fp32_export, monkeypatch):
    from sf_mobile.verify import verify_folder

    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    report = verify_folder(fp32_export.out)
    skipped = [f for f in report.findings if f.check == "io"]
    assert len(skipped) == len(GRAPH_NAMES) + 1 and report.passed  # + token_embedding.onnx
    assert all(not f.ran and "onnx not installed" in f.message and "sf-mobile[onnx]" in f.message for f in skipped)


# --- bad input: fails before any work, one line, no output ----------------------------------------------


def _cli(argv, capsys):
    code = export_cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--quant", "a8w8"], "--quant a8w8 is not available with --backend cpu"),  # more in test_export_qnn.py
        (["--backend", "npu"], "--backend 'npu' is not supported; use one of ['cpu', 'qnn']"),
        (["--quant", "int4"], "--quant 'int4' is not supported"),
        (["--prefill-chunk", "2048"], "prefill chunk 2048 does not fit a 1280-position KV cache"),
        (["--prefill-chunk", "0"], "prefill chunk 0"),
        (["--max-context", "64"], "max context 64"),
        (["--max-context", "4096"], "exceeds the 2048 positions"),
    ],
)
def test_bad_options_fail_before_any_work(tmp_path, capsys, flags, named):
    assert_fails_before_any_work(["--target", "onnx", "--size", "tiny", *flags], named, tmp_path, capsys)


def test_cpu_backend_names_its_precisions_and_points_at_qnn():
    with pytest.raises(SfError) as quant:
        OnnxOptions(quant=Quant.A8W8)
    assert "use --quant fp32 or fp16, or --backend qnn for a8w8" in str(quant.value)
    assert OnnxOptions(backend=Backend.CPU).quant is Quant.FP32


def test_interrupted_export_leaves_no_output(tmp_path, monkeypatch, cache_dir):
    from sf_mobile.export.onnx import convert

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(convert, "finish_graph", interrupted)  # after the exporter wrote its first files
    with pytest.raises(KeyboardInterrupt):
        export_onnx(ExportRequest(target="onnx", preset="tiny", out=tmp_path / "out"), OnnxOptions())
    assert list(tmp_path.iterdir()) == []


def test_parity_failure_exits_3_with_the_numbers_and_marks_the_manifest(tmp_path, monkeypatch, capsys, cache_dir):
    original = OnnxBackend.text_decoder

    def reversed_vocabulary(self, embeds, cache_position):
        return original(self, embeds, cache_position).flip(-1)

    monkeypatch.setattr(OnnxBackend, "text_decoder", reversed_vocabulary)
    out = tmp_path / "out"
    code, stdout, err = _cli(["--target", "onnx", "--size", "tiny", "--out", str(out)], capsys)
    assert code == export_cli.PARITY_FAILED_EXIT and "parity failed" in err
    assert json.loads((out / "sf_manifest.json").read_text())["status"] == "parity_failed"
    assert "prefill_logits   rel L2" in stdout and "FAIL" in stdout


def test_help_does_not_import_onnx_or_torch():
    assert heavy_modules_after_help("onnx", ('onnx', 'onnxruntime', 'onnxscript', 'torch')) == []


def test_export_from_a_checkpoint_carries_its_weights(tmp_path, capsys, cache_dir):
    """--checkpoint: the graphs and the embedding table hold the checkpoint's weights (not the seeded
    random ones), the manifest names them, and parity passes against that checkpoint's reference."""
    from sf_mobile.checkpoints import build_random, save_checkpoint

    trained = build_random("tiny", seed=7)
    checkpoint = save_checkpoint(trained, tmp_path / "ckpt")
    out = tmp_path / "out"
    code, _stdout, err = _cli(["--target", "onnx", "--size", "tiny", "--checkpoint", str(checkpoint), "--out", str(out)], capsys)
    assert code == 0, err
    assert "RANDOM weights" not in err
    manifest = read_manifest(out)
    assert manifest["status"] == "ok" and manifest["weights"]["weights"] == "checkpoint" and manifest["weights"]["sha256"]
    expected = trained.model.llm.get_input_embeddings().weight.detach().numpy()
    table = np.fromfile(out / "token_embeddings.f32", dtype="<f4").reshape(expected.shape)
    assert np.array_equal(table, expected)
    assert not np.array_equal(table, build_random("tiny", seed=0).model.llm.get_input_embeddings().weight.detach().numpy())
    assert read_bundle(out)[2]["against"] == "float"  # an fp32 export's bundle holds the float reference
