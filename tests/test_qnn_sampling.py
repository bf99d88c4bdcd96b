"""What lets a QNN export run at real size: calibration feeds kept on disk and sampled, and the HTP
simulator's parity planned within a time budget (shadowing the CPU provider's run). Pure Python and
numpy: the end-to-end sampled run is in tests/test_export_qnn.py."""

from __future__ import annotations

import numpy as np
import pytest

from sf_mobile.checkpoints import resolve_config
from sf_mobile.export.onnx.calibration import FeedRecorder, FeedStore, spread
from sf_mobile.export.onnx.htp_parity import DECODE_SAMPLES, ShadowSession, first_outputs, plan_simulator
from sf_mobile.runtimes.onnx import DECODE_NAME, PREFILL_NAME, VISION_NAME


def test_spread_keeps_every_call_that_fits_else_an_even_sample_with_both_ends():
    assert spread(5, 8) == {0, 1, 2, 3, 4}
    kept = spread(78, 8)
    assert len(kept) == 8 and {0, 77} <= kept
    assert max(np.diff(sorted(kept))) <= 12  # evenly spaced: no gap much over 77 / 7


def _feed(rng, written: int, context: int = 10) -> dict:
    cache = np.zeros((2, 1, 1, context, 3), np.float32)
    cache[:, :, :, :written] = rng.standard_normal((2, 1, 1, written, 3))
    return {
        "inputs_embeds": rng.standard_normal((1, 2, 4)).astype(np.float32),
        "position_ids": np.array([written, written + 1]),
        "past_keys": cache,
        "past_values": -cache,
    }


def test_feed_store_trims_unwritten_cache_slots_and_gives_back_the_same_arrays(tmp_path):
    rng = np.random.default_rng(0)
    feeds = [_feed(rng, 0), _feed(rng, 4), {"frames": np.arange(6, dtype=np.uint8)}]
    store = FeedStore(tmp_path / "feeds")
    for feed in feeds:
        store.add(feed)
    assert len(store) == 3
    read = list(store)
    for original, back in zip(feeds, read, strict=True):
        assert sorted(back) == sorted(original)
        for name in original:
            assert back[name].dtype == original[name].dtype and np.array_equal(back[name], original[name]), name
    with np.load(tmp_path / "feeds" / "00001.npz") as stored:
        assert stored["past_keys"].shape == (2, 1, 1, 4, 3)  # only the written slots went to disk


def test_feed_store_refuses_a_cache_written_past_the_call(tmp_path):
    feed = _feed(np.random.default_rng(1), 4)
    feed["past_keys"][..., 7, :] = 1.0  # a slot the call itself would write: trimming would lose it
    with pytest.raises(ValueError, match="past slot 4"):
        FeedStore(tmp_path).add(feed)


class _Session:
    def __init__(self, value):
        self.value, self.feeds = value, []

    def run(self, _outputs, feed):
        self.feeds.append(feed)
        return [np.full((1, 1, 3), self.value + len(self.feeds), np.float32)]


def test_feed_recorder_stores_the_selected_calls_of_each_prompt(tmp_path):
    store = FeedStore(tmp_path)
    recorder = FeedRecorder(_Session(0.0), store)
    recorder.select({0, 2})
    for i in range(4):
        recorder.run(None, {"x": np.array([i])})
    recorder.select(None)  # every call
    recorder.run(None, {"x": np.array([9])})
    assert [int(f["x"][0]) for f in store] == [0, 2, 9]
    assert len(recorder.session.feeds) == 5  # every call still ran


def test_plan_runs_everything_on_the_simulator_for_the_tiny_preset():
    config = resolve_config("tiny", None, None)
    plan = plan_simulator(config, chunk=64, context=512, prompt_rows=130, decode_calls=31)
    assert plan.full and plan.to_dict()["mode"] == "full"


def test_plan_samples_the_1b_run_and_says_what_it_left_out():
    config = resolve_config("1b", None, 8)
    plan = plan_simulator(config, chunk=64, context=6144, prompt_rows=4950, decode_calls=31)
    assert not plan.full
    assert plan.sampled[DECODE_NAME] == set(range(DECODE_SAMPLES))
    # a 64-row chunk (~236 GFLOP) and 8 frames of SigLIP at 384 px (~4.9 TFLOP) are each over an hour
    assert PREFILL_NAME not in plan.sampled and VISION_NAME not in plan.sampled
    assert "min per call" in plan.skipped[PREFILL_NAME] and "min per call" in plan.skipped[VISION_NAME]
    assert plan.call_seconds[PREFILL_NAME] > 3600 and 60 < plan.call_seconds[DECODE_NAME] < 120  # measured 87 s
    text = plan.describe()
    assert "decode.onnx calls [0, 1, 2, 3]" in text and "vision.onnx not run" in text


def test_plan_within_a_larger_budget_samples_the_last_prefill_chunk_then_vision():
    config = resolve_config("1b", None, 8)
    plan = plan_simulator(config, 64, 6144, 4950, 31, budget_s=20_000)
    assert plan.sampled[PREFILL_NAME] == {77} and VISION_NAME in plan.skipped  # the last of ceil(4950 / 64) chunks
    plan = plan_simulator(config, 64, 6144, 4950, 31, budget_s=100_000)
    assert plan.sampled[VISION_NAME] == {0} and not plan.skipped


def test_shadow_session_returns_the_cpu_outputs_and_runs_only_chosen_calls_on_the_simulator():
    cpu, simulator = _Session(0.0), _Session(100.0)
    shadow = ShadowSession(cpu, simulator, {1, 3})
    results = [shadow.run(None, {"call": np.array([i])}) for i in range(4)]
    assert [float(r[0][0, 0, 0]) for r in results] == [1.0, 2.0, 3.0, 4.0]  # the CPU's, every call
    assert [int(f["call"][0]) for f in simulator.feeds] == [1, 3]  # the very feeds of the chosen calls
    actual, expected = first_outputs(shadow)
    assert actual.shape == expected.shape == (2, 3)
    assert actual[:, 0].tolist() == [101.0, 102.0] and expected[:, 0].tolist() == [2.0, 4.0]
    assert first_outputs(ShadowSession(cpu, simulator, set())) is None
