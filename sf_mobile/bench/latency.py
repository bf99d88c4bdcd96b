"""Latency of one backend: warm-up runs, then timed repeats of the sequence a device runs.

One run = decode and sample the video's frames, vision graph, token embedding of the text around the
video, prefill of the whole prompt, greedy decode of `decode_tokens` tokens. Each repeat is timed
stage by stage; the summary keeps every sample with its median and p90 (nearest rank), in the
metric names of `sf_mobile.reports.schema.METRICS`.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sf_mobile.parity.driver import greedy_decode, prompt_embeddings
from sf_mobile.reports.schema import METRICS
from sf_mobile.runtimes.base import GraphBackend

FrameSource = Callable[[], torch.Tensor]  # -> uint8 packed frames [3, T*S, S], decoded afresh


@dataclass(frozen=True)
class RunTimes:
    """One timed run, in ms (tokens counted alongside)."""

    frame_decode_ms: float
    vision_ms: float
    slowfast_projector_ms: float | None  # only where the backend runs SlowFast + projector apart
    embedding_ms: float
    prefill_ms: float
    prefill_tokens: int
    decode_ms: float
    decode_tokens: int  # tokens from decode steps (the first token comes from the prefill)
    frames: int

    @property
    def time_to_first_token_ms(self) -> float:
        return self.vision_ms + (self.slowfast_projector_ms or 0.0) + self.embedding_ms + self.prefill_ms

    def metrics(self) -> dict[str, float]:
        values = {
            "frame_decode_ms": self.frame_decode_ms,
            "vision_ms": self.vision_ms,
            "vision_ms_per_frame": self.vision_ms / self.frames,
            "slowfast_projector_ms": self.slowfast_projector_ms,
            "embedding_ms": self.embedding_ms,
            "prefill_ms": self.prefill_ms,
            "prefill_tok_s": _rate(self.prefill_tokens, self.prefill_ms),
            "decode_tok_s": _rate(self.decode_tokens, self.decode_ms),
            "time_to_first_token_ms": self.time_to_first_token_ms,
        }
        return {name: value for name, value in values.items() if value is not None and math.isfinite(value)}


def _rate(tokens: int, ms: float) -> float:
    return tokens / (ms / 1000.0) if ms > 0 and tokens > 0 else float("nan")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def time_once(
    backend: GraphBackend, frames: FrameSource, prefix_ids: list[int], suffix_ids: list[int], decode_tokens: int
) -> tuple[RunTimes, list[int]]:
    """One timed run; also returns the greedy tokens (a run that drifts between repeats is a bug)."""
    start = time.perf_counter()
    packed = frames()
    frame_decode_ms = _ms(start)
    split = getattr(backend, "vision_split", None)  # eager: tower and SlowFast + projector apart
    start = time.perf_counter()
    if split is not None:
        visual, vision_ms, slowfast_ms = split(packed)
    else:
        visual, slowfast_ms = backend.vision_encoder(packed), None
        vision_ms = _ms(start)
    start = time.perf_counter()
    embeds = prompt_embeddings(backend, prefix_ids, suffix_ids, visual)
    embedding_ms = _ms(start)
    tokens, prefill_ms, decode_ms = greedy_decode(backend, embeds, decode_tokens)
    frame_count = packed.shape[1] // packed.shape[2]  # [3, T*S, S]
    times = RunTimes(
        frame_decode_ms=frame_decode_ms,
        vision_ms=vision_ms,
        slowfast_projector_ms=slowfast_ms,
        embedding_ms=embedding_ms,
        prefill_ms=prefill_ms,
        prefill_tokens=embeds.shape[1],
        decode_ms=decode_ms,
        decode_tokens=max(len(tokens) - 1, 0),
        frames=frame_count,
    )
    return times, tokens


def nearest_rank(samples: list[float], q: float) -> float:
    """The q-quantile by nearest rank: a value that was measured, not interpolated."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def summarize(runs: list[RunTimes], warmup: int) -> dict:
    """The schema's `latency` object over the timed runs."""
    by_metric: dict[str, list[float]] = {}
    for run in runs:
        for name, value in run.metrics().items():
            by_metric.setdefault(name, []).append(value)
    metrics = {
        name: {
            "unit": METRICS[name][0],
            "median": round(statistics.median(samples), 3),
            "p90": round(nearest_rank(samples, 0.9), 3),
            "samples": [round(v, 3) for v in samples],
        }
        for name, samples in by_metric.items()
    }
    ordered = {name: metrics[name] for name in METRICS if name in metrics}  # the schema's order
    return {"repeats": len(runs), "warmup": warmup, "metrics": ordered}


def executorch_stats(run: RunTimes, load_ms: float) -> dict:
    """One run in the field names of ExecuTorch's runner `Stats` (timestamps in ms, load starts at 0),
    so tools that read the stock runner's stats read these too."""
    inference_start = load_ms  # frames are decoded before inference starts, as in the stock runner
    prompt_eval_end = inference_start + run.time_to_first_token_ms
    return {
        "SCALING_FACTOR_UNITS_PER_SECOND": 1000,
        "model_load_start_ms": 0,
        "model_load_end_ms": round(load_ms),
        "inference_start_ms": round(inference_start),
        "prompt_eval_end_ms": round(prompt_eval_end),
        "first_token_ms": round(prompt_eval_end),
        "inference_end_ms": round(prompt_eval_end + run.decode_ms),
        "num_prompt_tokens": run.prefill_tokens,
        "num_generated_tokens": run.decode_tokens + 1,
    }


def measure(
    backend: GraphBackend,
    frames: FrameSource,
    prefix_ids: list[int],
    suffix_ids: list[int],
    decode_tokens: int,
    repeats: int,
    warmup: int,
    report: Callable[[str], None] = lambda _m: None,
) -> tuple[list[RunTimes], list[int]]:
    """`warmup` untimed runs, then `repeats` timed ones; the greedy tokens of the last run."""
    tokens: list[int] = []
    for index in range(warmup):
        report(f"{backend.name}: warm-up {index + 1}/{warmup}")
        _, tokens = time_once(backend, frames, prefix_ids, suffix_ids, decode_tokens)
    runs = []
    for index in range(repeats):
        report(f"{backend.name}: repeat {index + 1}/{repeats}")
        run, tokens = time_once(backend, frames, prefix_ids, suffix_ids, decode_tokens)
        runs.append(run)
    return runs, tokens
