"""Calibration feeds for the QDQ quantizer, captured from the float graphs doing real work.

Vision: the sample clip's frames (the export's own T frames). Decoder: prefill and decode calls
of a few prompts about that clip, run through the float graphs on the CPU provider exactly as an
app runs them (front-padded chunks, the mask at the export's mask value, caches as they fill), so
each activation's range comes from the inputs the QDQ graph will see.

At real size the feeds cannot all be kept: at 1b a prompt of 8 frames is ~78 prefill calls and each
feed holds two whole caches ([28, 1, 2, 6144, 128] fp32: 176 MB each). So each graph keeps at most
MAX_FEEDS_PER_GRAPH calls, spread evenly over each prompt's calls (its first and last chunk always
among them), and the kept feeds go to disk (`FeedStore`), cache slots past the ones written stored
once as a length, and are read back one at a time by the quantizer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sf_mobile.parity.driver import greedy_decode, prompt_embeddings

# Beside the parity question: prompts of other lengths and wording, so the prefill chunks and the
# decode steps are not calibrated on one sentence alone.
EXTRA_QUESTIONS = (
    "What objects can you see, and how do they move?",
    "Summarize the video in one short sentence.",
)
CALIBRATION_DECODE_STEPS = 8  # decode calls per prompt: the cache fills past the prompt, logits vary
# Feeds per graph: MinMax ranges settle within a few dozen real calls (the visual chunks of one clip
# are alike), while each 1b prefill feed costs a calibration run of seconds and ~100 MB of disk.
MAX_FEEDS_PER_GRAPH = 24
CACHE_INPUTS = ("past_keys", "past_values")  # [L, 1, KVH, ctx, hd]: slots on axis 3
SLOT_AXIS = 3
UNWRITTEN = "__unwritten_slots"  # stored beside a trimmed cache: how many zero slots to put back


def spread(calls: int, budget: int) -> set[int]:
    """Which of `calls` consecutive calls to keep: all when they fit `budget`, else `budget` evenly
    spaced ones, the first and the last always among them."""
    if calls <= budget:
        return set(range(calls))
    return {int(i) for i in np.linspace(0, calls - 1, max(budget, 2)).round()}


class FeedStore:
    """One graph's calibration feeds on disk, one `.npz` each, iterated one at a time.

    A cache input keeps only the slots written before the call (every slot from the call's first
    real position on is still zero: the driver zeroes the cache at each prompt and writes in order);
    reading pads the zeros back, so the quantizer sees the very arrays the graph was run on."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def add(self, feed: dict) -> None:
        arrays = dict(feed)
        if "position_ids" in feed:
            written = int(np.min(feed["position_ids"]))
            for name in CACHE_INPUTS:
                cache = feed[name]
                tail = np.take(cache, range(written, cache.shape[SLOT_AXIS]), axis=SLOT_AXIS)
                if tail.any():
                    raise ValueError(f"{name} holds values past slot {written}, where the call writes: cannot trim it")
                arrays[name] = np.take(cache, range(written), axis=SLOT_AXIS)
                arrays[name + UNWRITTEN] = np.array(cache.shape[SLOT_AXIS] - written)
        np.savez(self.folder / f"{self.count:05d}.npz", **arrays)
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def __iter__(self):
        for index in range(self.count):
            with np.load(self.folder / f"{index:05d}.npz") as stored:
                arrays = {name: stored[name] for name in stored.files}
            for name in CACHE_INPUTS:
                if name + UNWRITTEN in arrays:
                    cache, missing = arrays.pop(name), int(arrays.pop(name + UNWRITTEN))
                    zeros = list(cache.shape)
                    zeros[SLOT_AXIS] = missing
                    arrays[name] = np.concatenate([cache, np.zeros(zeros, cache.dtype)], axis=SLOT_AXIS)
            yield arrays


class FeedRecorder:
    """Wraps an InferenceSession: stores the feeds of the calls chosen by `select` (indices counted
    from the last `select`; every call when none was given), then runs the call."""

    def __init__(self, session, store: FeedStore):
        self.session, self.store = session, store
        self.chosen: set[int] | None = None
        self.calls = 0

    def select(self, chosen: set[int] | None) -> None:
        self.chosen, self.calls = chosen, 0

    def run(self, outputs, feed):
        if self.chosen is None or self.calls in self.chosen:
            self.store.add(feed)
        self.calls += 1
        return self.session.run(outputs, feed)

    def __getattr__(self, name):  # get_inputs, get_modelmeta, ... of the wrapped session
        return getattr(self.session, name)


def calibration_questions(parity_question: str) -> list[str]:
    return [parity_question, *(q for q in EXTRA_QUESTIONS if q != parity_question)]


def capture_feeds(
    float_folder: Path,
    codec,
    frames: torch.Tensor,
    questions: list[str],
    store_folder: Path,
    decode_steps: int = CALIBRATION_DECODE_STEPS,
    max_feeds: int = MAX_FEEDS_PER_GRAPH,
) -> dict[str, FeedStore]:
    """{graph file name: its feeds} of the float graphs in `float_folder` for `frames` (uint8
    [T, 3, S, S]) and each question, stored under `store_folder`; the vision graph runs once."""
    from sf_mobile.exportable.vision import pack_frames
    from sf_mobile.runtimes.onnx import DECODE_NAME, GRAPH_NAMES, PREFILL_NAME, OnnxBackend

    backend = OnnxBackend(float_folder, prepack=False)
    stores = {name: FeedStore(Path(store_folder) / name.removesuffix(".onnx")) for name in GRAPH_NAMES}
    recorders = {name: FeedRecorder(backend.sessions[name], stores[name]) for name in GRAPH_NAMES}
    backend.sessions.update(recorders)
    visual = backend.vision_encoder(pack_frames(frames))  # [1, N_vis, D]
    per_question = max(max_feeds // len(questions), 1)
    for question in questions:
        ids = codec.encode(question)
        embeds = prompt_embeddings(backend, ids.prefix, ids.suffix, visual)
        recorders[PREFILL_NAME].select(spread(-(-embeds.shape[1] // backend.chunk), per_question))
        recorders[DECODE_NAME].select(spread(decode_steps, per_question))
        greedy_decode(backend, embeds, decode_steps + 1)  # the first token comes from prefill
    return stores
