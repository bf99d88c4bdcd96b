"""Calibration feeds for the QDQ quantizer, captured from the float graphs doing real work.

Vision: the sample clip's frames (the export's own T frames). Decoder: every prefill and decode call
of a few prompts about that clip, run through the float graphs on the CPU provider exactly as an
app runs them (front-padded chunks, the mask at the export's mask value, caches as they fill), so
each activation's range comes from the inputs the QDQ graph will see. Per graph name, a list of
{input name: array} feeds.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sf_mobile.parity.driver import greedy_decode, prompt_embeddings

# Beside the parity question: prompts of other lengths and wording, so the prefill chunks and the
# decode steps are not calibrated on one sentence alone.
EXTRA_QUESTIONS = (
    "What objects can you see, and how do they move?",
    "Summarize the video in one short sentence.",
)
CALIBRATION_DECODE_STEPS = 8  # decode calls per prompt: the cache fills past the prompt, logits vary


class FeedRecorder:
    """Wraps an InferenceSession: keeps a copy of every feed it runs (arrays are reused by the caller)."""

    def __init__(self, session, feeds: list):
        self.session, self.feeds = session, feeds

    def run(self, outputs, feed):
        self.feeds.append({name: value.copy() for name, value in feed.items()})
        return self.session.run(outputs, feed)

    def __getattr__(self, name):  # get_inputs, get_modelmeta, ... of the wrapped session
        return getattr(self.session, name)


def calibration_questions(parity_question: str) -> list[str]:
    return [parity_question, *(q for q in EXTRA_QUESTIONS if q != parity_question)]


def capture_feeds(
    float_folder: Path, codec, frames: torch.Tensor, questions: list[str], decode_steps: int = CALIBRATION_DECODE_STEPS
) -> dict[str, list[dict]]:
    """{graph file name: feeds} of the float graphs in `float_folder` for `frames` (uint8 [T, 3, S, S])
    and each question; the vision graph runs once (one clip)."""
    from sf_mobile.exportable.vision import pack_frames
    from sf_mobile.runtimes.onnx import GRAPH_NAMES, OnnxBackend

    backend = OnnxBackend(float_folder, prepack=False)
    feeds: dict[str, list[dict]] = {name: [] for name in GRAPH_NAMES}
    for name in GRAPH_NAMES:
        backend.sessions[name] = FeedRecorder(backend.sessions[name], feeds[name])
    visual = backend.vision_encoder(pack_frames(frames))  # [1, N_vis, D]
    for question in questions:
        ids = codec.encode(question)
        embeds = prompt_embeddings(backend, ids.prefix, ids.suffix, visual)
        greedy_decode(backend, embeds, decode_steps + 1)  # the first token comes from prefill
    return feeds
