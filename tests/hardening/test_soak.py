"""Soak: 1000 decode steps on each host runtime of a tiny export, in lockstep with the eager
reference; parity is checked every 100 steps with the per-precision tolerances, and resident
memory must not grow once the first interval has run.

One sequence, no restarts: the prompt of the export's parity bundle (151 positions on tiny) plus
1000 steps fits the default 1280-slot KV cache, which the test asserts rather than assumes. The
fed tokens are fixed (seeded), not each runtime's own picks: teacher forcing keeps the reference
and the runtime on the same sequence however a near tie falls, so a growing gap is drift, not a
different path.
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest
import torch

from sf_mobile.checkpoints import build_random
from sf_mobile.manifest import read_manifest
from sf_mobile.parity.bundle import read_bundle
from sf_mobile.parity.driver import decode_step, prefill, prompt_embeddings
from sf_mobile.parity.metrics import cosine, relative_l2, top1_agreement
from sf_mobile.parity.tolerances import tolerance
from sf_mobile.runtimes.eager import EagerBackend

STEPS = 1000
EVERY = 100
WARM_STEP = EVERY  # memory is compared from here: first-call allocations (kernel caches, arenas) are done by then
# Every runtime preallocates its KV cache, so a step only allocates and frees its logits ([V] fp32:
# 2 KiB on tiny). Measured growth from step 100 to 1000: 0 MiB (ExecuTorch, ONNX Runtime), under 1 MiB
# (MIL evaluator). 4 MiB is a leak of 4 KiB per step: two logits rows, or eight of tiny's 512-byte
# K+V positions (a cache that grew instead of being written in place), held on every step.
RSS_GROWTH_BOUND = 4 << 20
STATM = "/proc/self/statm"


def rss_bytes() -> int:
    with open(STATM) as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def soak(backend, inputs, tokens: list[int], on_check=lambda step, logits: None) -> list[torch.Tensor]:
    """Prefill the bundle's prompt, decode `tokens` one by one; the logits after every EVERY-th step."""
    visual = backend.vision_encoder(inputs.packed_frames)
    embeds = prompt_embeddings(backend, inputs.prefix_ids, inputs.suffix_ids, visual)
    assert embeds.shape[1] + len(tokens) <= backend.max_context, "the soak must fit one KV cache: export with a larger --max-context"
    backend.reset()
    prefill(backend, embeds)
    checked = []
    for step, token in enumerate(tokens, start=1):
        logits = decode_step(backend, token, embeds.shape[1] + step - 1)
        if step % EVERY == 0:
            checked.append(logits)
            on_check(step, logits)
    return checked


@pytest.fixture(scope="module")
def bundle(ws):
    inputs, _reference, _meta = read_bundle(ws.export())
    generator = torch.Generator().manual_seed(1000)
    vocab = read_manifest(ws.export())["config"]["llm"]["vocab_size"]
    return inputs, torch.randint(0, vocab, (STEPS,), generator=generator).tolist()


@pytest.fixture(scope="module")
def reference(ws, bundle):
    inputs, tokens = bundle
    manifest = read_manifest(ws.export())
    loaded = build_random(manifest["preset"], seed=manifest["weights"]["seed"])  # the exports' own weights
    context = manifest["max_context"]
    return soak(EagerBackend(loaded.model, inputs.frames.shape[0], context, context), inputs, tokens)


def _export(folder, target: str) -> None:
    """`sf-export --target TARGET --size tiny --out FOLDER` (its defaults: fp32 / fp16, context 1280)."""
    from sf_mobile.cli import export as export_cli

    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
        assert export_cli.main(["--target", target, "--size", "tiny", "--out", str(folder)]) == 0, err.getvalue()


def executorch_backend(ws, tmp):
    pytest.importorskip("executorch", reason="the executorch extra is not installed")
    from sf_mobile.runtimes.executorch import ExecuTorchBackend

    _export(tmp / "et", "executorch")
    return ExecuTorchBackend(tmp / "et" / "model.pte"), "fp32"


def onnx_backend(ws, tmp):
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from sf_mobile.runtimes.onnx import OnnxBackend

    return OnnxBackend(ws.export()), "fp32"


def coreml_mil_backend(ws, tmp):
    pytest.importorskip("coremltools", reason="the coreml extra is not installed")
    from sf_mobile.runtimes.coreml import CoreMLBackend

    _export(tmp / "coreml", "coreml")
    return CoreMLBackend(tmp / "coreml", engine="mil"), "fp16"


RUNTIMES = {"executorch-host": executorch_backend, "onnxruntime-cpu": onnx_backend, "coreml-mil-evaluator": coreml_mil_backend}


@pytest.mark.skipif(not os.path.exists(STATM), reason="resident memory is read from /proc/self/statm (Linux)")
@pytest.mark.parametrize("runtime", list(RUNTIMES))
def test_soak_1000_decode_steps(runtime, ws, bundle, reference, tmp_path, record_property):
    backend, precision = RUNTIMES[runtime](ws, tmp_path)
    limits = tolerance("decode_logits", precision)
    inputs, tokens = bundle
    rss, errors = {}, []

    def at_check(step, logits):
        expected = reference[step // EVERY - 1]
        error, cos = relative_l2(logits, expected), cosine(logits, expected)
        errors.append(error)
        assert error <= limits.max_rel_l2 and cos >= limits.min_cosine, (
            f"{runtime} step {step}: rel L2 {error:.2e} (limit {limits.max_rel_l2}), cosine {cos:.6f} (limit {limits.min_cosine})"
        )
        rss[step] = rss_bytes()

    checked = soak(backend, inputs, tokens, at_check)
    agree, rows = top1_agreement(torch.stack(checked), torch.stack(reference))
    assert agree >= limits.min_top1 * rows, f"{runtime}: top-1 {agree}/{rows} at the checkpoints"
    growth = rss[STEPS] - rss[WARM_STEP]
    record_property("max_rel_l2", max(errors))
    record_property("rel_l2_first", errors[0])
    record_property("rel_l2_last", errors[-1])
    record_property("limit", limits.max_rel_l2)
    record_property("rss_mib", f"{rss[WARM_STEP] / 2**20:.0f} MiB at step {WARM_STEP}, {rss[STEPS] / 2**20:.0f} MiB at step {STEPS}")
    assert growth <= RSS_GROWTH_BOUND, f"{runtime}: RSS grew {growth / 2**20:.1f} MiB from step {WARM_STEP} to {STEPS}"
