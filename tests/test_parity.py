"""The parity protocol: metrics, the eager backend through the device-order driver, reports, bundles."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from sf_mobile.checkpoints import build_random
from sf_mobile.errors import SfError
from sf_mobile.model.generation import generate
from sf_mobile.parity import (
    compare,
    compute_reference,
    is_gated,
    make_inputs,
    read_bundle,
    run_backend,
    tolerance,
    write_bundle,
)
from sf_mobile.parity.metrics import cosine, greedy_agreement, max_abs, relative_l2, top1_agreement
from sf_mobile.parity.tolerances import TOLERANCES
from sf_mobile.runtimes import GraphBackend
from sf_mobile.runtimes.eager import EagerBackend
from sf_mobile.tokenizer import PromptIds

FRAMES = 2  # two frames keep the tiny model fast; the slow pathway repeats them (num_slow = 4)
CONTEXT = 256
CHUNK = 32  # shorter than the ~120-token prompt, so prefill takes several chunks


# --- metrics on hand-computed values --------------------------------------------------------------


def test_relative_l2_and_cosine_and_max_abs_by_hand():
    expected = torch.tensor([3.0, 4.0])  # norm 5
    assert relative_l2(torch.tensor([3.0, 5.0]), expected) == pytest.approx(0.2, abs=1e-15)  # |[0, 1]| / 5
    assert relative_l2(expected, expected) == 0.0
    assert cosine(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])) == pytest.approx(2**-0.5, abs=1e-15)
    assert cosine(torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0])) == pytest.approx(-1.0, abs=1e-15)
    assert max_abs(torch.tensor([1.0, -3.0]), torch.zeros(2)) == 3.0
    # zero reference: exact zero is perfect, anything else infinitely wrong
    assert relative_l2(torch.zeros(3), torch.zeros(3)) == 0.0
    assert relative_l2(torch.ones(3), torch.zeros(3)) == math.inf
    assert cosine(torch.zeros(3), torch.zeros(3)) == 1.0 and cosine(torch.ones(3), torch.zeros(3)) == 0.0


def test_metrics_run_in_float64():
    # in fp32, 1 + 1e-9 == 1: the metric must still see the difference of the fp64 inputs
    expected = torch.tensor([1.0], dtype=torch.float64)
    assert relative_l2(torch.tensor([1.0 + 1e-9], dtype=torch.float64), expected) == pytest.approx(1e-9, rel=1e-6)
    half = torch.tensor([1.0, 2.0], dtype=torch.float16)
    assert relative_l2(half, half.float()) == 0.0  # mixed dtypes compare by value


def test_metrics_refuse_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        relative_l2(torch.zeros(2, 3), torch.zeros(3, 2))


def test_top1_and_greedy_agreement_small_cases():
    actual = torch.tensor([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]])  # argmax 1, 0, 1
    expected = torch.tensor([[0.0, 5.0], [0.0, 1.0], [0.0, 2.0]])  # argmax 1, 1, 1
    assert top1_agreement(actual, expected) == (2, 3)
    assert greedy_agreement([1, 2, 9, 4], [1, 2, 3, 4, 5]) == (2, 5)  # tokens after the first miss don't count
    assert greedy_agreement([1, 2, 3], [1, 2, 3]) == (3, 3)
    assert greedy_agreement([1, 2], [1, 2, 3]) == (2, 3)
    assert greedy_agreement([7], [1, 2]) == (0, 2)


# --- tolerances -----------------------------------------------------------------------------------


def test_every_tolerance_has_a_reason_and_quantized_vs_float_is_not_gated():
    assert all(t.reason for t in TOLERANCES.values())
    assert "measured" in tolerance("decode_logits", "8da4w").reason
    assert tolerance("vision", "fp32").max_rel_l2 == 1e-4
    assert is_gated("fp32", "float") and is_gated("8da4w", "same-quantization") and is_gated("fp16", "float")
    assert not is_gated("8da4w", "float")
    with pytest.raises(SfError, match="valid values"):
        tolerance("vision", "int3")


# --- the eager backend through the driver ---------------------------------------------------------


@pytest.fixture(scope="module")
def loaded():
    return build_random("tiny", seed=1, num_frames=FRAMES)


@pytest.fixture(scope="module")
def inputs(loaded):
    side = loaded.config.vision.image_size
    frames = torch.randint(0, 256, (FRAMES, 3, side, side), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    return make_inputs(loaded, frames, "What moves in the video?", num_forced=16)


def _backend(loaded) -> EagerBackend:
    return EagerBackend(loaded.model, FRAMES, max_context=CONTEXT, max_seq_len=CHUNK)


@pytest.fixture(scope="module")
def reference(loaded, inputs):
    return compute_reference(_backend(loaded), inputs, num_decode=16)


@pytest.fixture(scope="module")
def outputs(loaded, inputs):
    return run_backend(_backend(loaded), inputs, num_decode=16)


def _prompt_embeds(loaded, inputs):
    model = loaded.model
    return model.prompt_embeddings(PromptIds(inputs.prefix_ids, inputs.suffix_ids), model.encode_frames(inputs.frames))


def test_eager_backend_satisfies_the_protocol(loaded):
    assert isinstance(_backend(loaded), GraphBackend)


def test_eager_backend_against_a_second_instance_is_exact(outputs, reference):
    report = compare(outputs, reference, "fp32", "float")
    assert report.passed and report.failed == []
    by_name = {c.component: c for c in report.components}
    assert set(by_name) == {"vision", "prefill_logits", "decode_logits", "greedy"}
    for name in ("vision", "prefill_logits", "decode_logits"):
        assert by_name[name].rel_l2 == 0.0 and by_name[name].max_abs == 0.0, name
    assert by_name["decode_logits"].top1 == (16, 16)
    assert by_name["greedy"].greedy_prefix == (16, 16)
    assert outputs.greedy_tokens == reference.greedy_tokens


def test_greedy_tokens_match_the_transformers_reference(loaded, inputs, reference):
    expected = generate(loaded.model, _prompt_embeds(loaded, inputs), 16).tokens
    assert reference.greedy_tokens == expected
    assert inputs.forced_tokens == expected  # teacher forcing follows the reference's own path


def test_teacher_forced_and_prefill_logits_match_a_full_forward(loaded, inputs, reference):
    embeds = _prompt_embeds(loaded, inputs)
    forced = loaded.model.embed_tokens(torch.tensor([inputs.forced_tokens]))
    full = loaded.model.logits(torch.cat([embeds, forced], dim=1))[0]  # [P + 16, V]
    prompt_len = embeds.shape[1]
    # fp32, same ops in another association (chunked, cached): float rounding only
    torch.testing.assert_close(reference.prefill_last_logits, full[prompt_len - 1], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(reference.decode_logits, full[prompt_len:], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(reference.visual, loaded.model.encode_frames(inputs.frames)[None], rtol=0, atol=0)


class Recording:
    """Wraps a backend and records every call, to check the order a device runner uses."""

    def __init__(self, inner: EagerBackend):
        self.inner, self.calls = inner, []
        self.name, self.max_seq_len = "recording", inner.max_seq_len

    def vision_encoder(self, frames):
        self.calls.append(("vision", tuple(frames.shape), frames.dtype))
        return self.inner.vision_encoder(frames)

    def token_embedding(self, ids):
        self.calls.append(("embed", ids.shape[1]))
        return self.inner.token_embedding(ids)

    def text_decoder(self, embeds, cache_position):
        assert embeds.shape[1] == cache_position.shape[0] <= self.max_seq_len
        self.calls.append(("decode", cache_position.tolist()))
        return self.inner.text_decoder(embeds, cache_position)

    def reset(self):
        self.calls.append(("reset",))
        self.inner.reset()


def test_driver_follows_the_device_sequence(loaded, inputs):
    backend = Recording(_backend(loaded))
    out = run_backend(backend, inputs, num_decode=5)
    side = loaded.config.vision.image_size
    assert backend.calls[0] == ("vision", (3, FRAMES * side, side), torch.uint8)
    assert backend.calls[1:3] == [("embed", len(inputs.prefix_ids)), ("embed", len(inputs.suffix_ids))]
    resets = [i for i, call in enumerate(backend.calls) if call == ("reset",)]
    assert len(resets) == 1  # one prefill serves both continuations
    prompt_len = len(inputs.prefix_ids) + loaded.config.visual_tokens(FRAMES).total + len(inputs.suffix_ids)
    chunks = [call[1] for call in backend.calls[resets[0] :] if call[0] == "decode"]
    n_chunks = math.ceil(prompt_len / CHUNK)
    # prefill: contiguous positions 0 .. P-1 in chunks of max_seq_len
    assert sum(chunks[:n_chunks], []) == list(range(prompt_len))
    # then greedy from slot P (5 tokens: 1 from the prefill + 4 steps), then teacher forcing from slot P again
    greedy = [[prompt_len + i] for i in range(4)]
    forced = [[prompt_len + i] for i in range(len(inputs.forced_tokens))]
    assert chunks[n_chunks:] == greedy + forced
    assert len(out.greedy_tokens) == 5
    t = out.timings
    assert t.prefill_tokens == prompt_len and t.decode_tokens == 4
    assert t.vision_ms > 0 and t.prefill_ms > 0 and t.decode_ms > 0
    assert t.time_to_first_token_ms == pytest.approx(t.vision_ms + t.embedding_ms + t.prefill_ms)
    assert t.prefill_tokens_per_s == pytest.approx(prompt_len / t.prefill_ms * 1000)


def test_eager_prefill_rows_are_capped_without_changing_the_logits(loaded, inputs, monkeypatch):
    # The reference's memory is bounded by calls of at most EAGER_PREFILL_ROWS rows (its attention
    # spans the whole cache); the logits are those of one call, up to fp32 summation order.
    from sf_mobile.parity.driver import prefill
    from sf_mobile.runtimes import eager

    one_call = EagerBackend(loaded.model, FRAMES, max_context=CONTEXT, max_seq_len=CONTEXT)
    embeds = _prompt_embeds(loaded, inputs)
    assert one_call.max_seq_len == CONTEXT  # under the cap: the whole prompt in one call
    whole = prefill(one_call, embeds)
    monkeypatch.setattr(eager, "EAGER_PREFILL_ROWS", 7)
    capped = EagerBackend(loaded.model, FRAMES, max_context=CONTEXT, max_seq_len=CONTEXT)
    assert capped.max_seq_len == 7
    calls = []
    original = capped.text_decoder
    capped.text_decoder = lambda e, p: calls.append(e.shape[1]) or original(e, p)
    torch.testing.assert_close(prefill(capped, embeds), whole, rtol=1e-4, atol=1e-4)  # fp32, another summation order
    assert max(calls) == 7 and sum(calls) == embeds.shape[1]


def test_eager_backend_rejects_chunks_longer_than_max_seq_len(loaded):
    backend = _backend(loaded)
    with pytest.raises(SfError, match="max_seq_len"):
        backend.text_decoder(torch.zeros(1, CHUNK + 1, loaded.config.llm.hidden_size), torch.arange(CHUNK + 1))


class Perturbed(Recording):
    """A backend that is wrong in one stage: noisy vision or reversed logits."""

    def __init__(self, inner, vision_noise: float = 0.0, flip_logits: bool = False):
        super().__init__(inner)
        self.name, self.vision_noise, self.flip_logits = "perturbed", vision_noise, flip_logits

    def vision_encoder(self, frames):
        visual = self.inner.vision_encoder(frames)
        noise = torch.randn(visual.shape, generator=torch.Generator().manual_seed(0))
        return visual + noise * (self.vision_noise * visual.norm() / noise.norm())  # rel L2 = vision_noise

    def text_decoder(self, embeds, cache_position):
        logits = self.inner.text_decoder(embeds, cache_position)
        return -logits if self.flip_logits else logits


def test_noisy_vision_fails_fp32_and_the_report_names_it(loaded, inputs, reference):
    out = run_backend(Perturbed(_backend(loaded), vision_noise=1e-2), inputs, num_decode=16)
    report = compare(out, reference, "fp32", "float")
    assert not report.passed
    assert "vision" in report.failed
    vision = next(c for c in report.components if c.component == "vision")
    assert vision.rel_l2 == pytest.approx(1e-2, rel=1e-3)
    assert any(f.startswith("rel L2") for f in vision.failures)
    line = next(l for l in report.summary_lines() if l.startswith("vision"))
    assert "FAIL" in line and "rel L2 1.0e-02" in line


def test_flipped_logits_fail_decode_and_greedy_but_not_vision(loaded, inputs, reference):
    out = run_backend(Perturbed(_backend(loaded), flip_logits=True), inputs, num_decode=16)
    report = compare(out, reference, "fp32", "float")
    assert set(report.failed) == {"prefill_logits", "decode_logits", "greedy"}
    decode = next(c for c in report.components if c.component == "decode_logits")
    assert decode.top1 == (0, 16) and decode.rel_l2 == pytest.approx(2.0)  # ||-x - x|| / ||x||
    # a weight-quantized export is gated against its eager twin, only reported against float
    assert not compare(out, reference, "8da4w", "same-quantization").passed
    report_only = compare(out, reference, "8da4w", "float")
    assert report_only.passed and not any(c.gated for c in report_only.components)
    assert all("not gated" in line for line in report_only.summary_lines()[1:])


def test_report_is_plain_json_with_one_summary_line_per_component(outputs, reference):
    report = compare(outputs, reference, "fp32", "float")
    document = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert document["passed"] is True and document["precision"] == "fp32" and document["against"] == "float"
    assert document["components"]["decode_logits"]["top1"] == [16, 16]
    assert document["components"]["vision"]["tolerance"]["reason"]
    assert document["timings"]["decode_tokens"] == 15
    lines = report.summary_lines()
    assert len(lines) == 5 and lines[1].split()[0] == "vision" and lines[1].endswith("ok")


def test_shape_mismatch_is_a_failure_not_a_crash(outputs, reference):
    truncated = dataclasses.replace(outputs, visual=outputs.visual[:, :-1])
    report = compare(truncated, reference, "fp32", "float")
    assert report.failed == ["vision"]
    assert "shape" in report.components[0].failures[0]
    json.dumps(report.to_dict(), allow_nan=False)


# --- the bundle on disk -----------------------------------------------------------------------------


def test_bundle_round_trip_is_exact_and_pickle_free(tmp_path, inputs, reference):
    meta = {"preset": "tiny", "backend": "pytorch-eager"}
    folder = write_bundle(tmp_path, inputs, reference, meta, precision="fp32")
    assert sorted(p.name for p in folder.iterdir()) == ["inputs.safetensors", "parity.json", "reference.safetensors"]
    got_inputs, got_reference, got_meta = read_bundle(tmp_path)
    assert torch.equal(got_inputs.frames, inputs.frames) and got_inputs.frames.dtype == torch.uint8
    assert (got_inputs.question, got_inputs.prefix_ids, got_inputs.suffix_ids, got_inputs.forced_tokens) == (
        inputs.question,
        inputs.prefix_ids,
        inputs.suffix_ids,
        inputs.forced_tokens,
    )
    for name in ("visual", "prefill_last_logits", "decode_logits"):
        assert torch.equal(getattr(got_reference, name), getattr(reference, name)), name
    assert got_reference.greedy_tokens == reference.greedy_tokens
    assert got_meta == {**meta, "against": "float"}  # what the reference is, for device apps (protocol 4b)
    write_bundle(tmp_path / "quantized", inputs, reference, meta, precision="8da4w", against="same-quantization")
    assert read_bundle(tmp_path / "quantized")[2]["against"] == "same-quantization"
    with pytest.raises(SfError):
        write_bundle(tmp_path / "unknown", inputs, reference, meta, against="eager")

    from safetensors.torch import load_file

    stored = load_file(str(folder / "inputs.safetensors"))
    assert torch.equal(stored["frames_packed"], inputs.packed_frames) and stored["prefix_ids"].dtype == torch.int64
    document = json.loads((folder / "parity.json").read_text())
    assert document["greedy_tokens"] == reference.greedy_tokens
    assert document["tensors"]["visual"]["shape"] == list(reference.visual.shape)
    assert document["tensors"]["frames"]["dtype"] == "uint8"
    assert document["tolerances"]["vision"]["max_rel_l2"] == 1e-4


def test_read_bundle_errors_are_one_line(tmp_path, inputs, reference):
    with pytest.raises(SfError) as missing:
        read_bundle(tmp_path)
    assert "parity.json" in str(missing.value) and "\n" not in str(missing.value)
    folder = write_bundle(tmp_path, inputs, reference, {})
    document = json.loads((folder / "parity.json").read_text())
    document["forced_tokens"] = document["forced_tokens"][::-1]
    (folder / "parity.json").write_text(json.dumps(document))
    with pytest.raises(SfError, match="disagree on forced_tokens"):
        read_bundle(tmp_path)
    (folder / "reference.safetensors").write_bytes(b"not safetensors")
    (folder / "parity.json").write_text(json.dumps({**document, "forced_tokens": inputs.forced_tokens}))
    with pytest.raises(SfError, match="reference.safetensors"):
        read_bundle(tmp_path)


def test_top1_within_noise_forgives_only_near_ties():
    from sf_mobile.parity.metrics import top1_within_noise

    generator = torch.Generator().manual_seed(0)
    expected = torch.randn(2, 1000, generator=generator)
    expected[:, 0] = 6.0  # the reference's best token
    expected[0, 1] = 5.99  # row 0: a near tie with token 1
    actual = expected + 0.01 * torch.randn(2, 1000, generator=generator)  # logit noise RMS ~0.01
    actual[0, 1] = 6.1  # row 0 picks the near-tie token 1 (0.01 below the best in the reference)
    actual[1, 2] = 6.1  # row 1 picks token 2, far below the best in the reference: a real disagreement
    assert top1_agreement(actual, expected) == (0, 2)
    assert top1_within_noise(actual, expected) == (1, 2)


def test_one_pass_reference_equals_make_inputs_then_compute_reference(loaded, inputs, reference):
    """reference_run (what the exporters call) skips the second pass; it must not change a number."""
    from sf_mobile.parity.bundle import reference_run

    one_inputs, one = reference_run(_backend(loaded), loaded.codec, inputs.frames, inputs.question, 16)
    assert one_inputs.forced_tokens == inputs.forced_tokens
    assert (one_inputs.prefix_ids, one_inputs.suffix_ids) == (inputs.prefix_ids, inputs.suffix_ids)
    assert torch.equal(one_inputs.frames, inputs.frames)
    assert one.greedy_tokens == reference.greedy_tokens
    for name in ("visual", "prefill_last_logits", "decode_logits"):
        torch.testing.assert_close(getattr(one, name), getattr(reference, name), rtol=0, atol=0)  # the same ops
