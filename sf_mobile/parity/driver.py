"""Drive any `GraphBackend` through the sequence a device runs, collecting outputs and latencies.

1. `vision_encoder(packed frames)`, `token_embedding(prefix)`, `token_embedding(suffix)`;
2. `[prefix | visual | suffix]`, `reset()`, chunked prefill with explicit `cache_position`;
3. teacher-forced decode of the forced tokens, one per call (logits after each);
4. `reset()`, prefill again and greedy decode (argmax, no stop tokens).
The second prefill is the timed one: the first doubles as a warm-up. Vision runs once (cold), so
its latency is an upper bound; the benchmarks warm up and repeat.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from sf_mobile.errors import SfError
from sf_mobile.parity.data import ParityInputs
from sf_mobile.runtimes.base import GraphBackend


@dataclass(frozen=True)
class StageTimings:
    vision_ms: float
    embedding_ms: float  # prefix + suffix token embedding
    prefill_ms: float  # the greedy run's prefill (warm)
    prefill_tokens: int
    decode_ms: float  # greedy decode after the first token
    decode_tokens: int  # tokens produced by decode steps (the first comes from the prefill)
    time_to_first_token_ms: float  # vision + embedding + prefill + first argmax

    @property
    def prefill_tokens_per_s(self) -> float:
        return self.prefill_tokens / (self.prefill_ms / 1000.0) if self.prefill_ms > 0 else float("nan")

    @property
    def decode_tokens_per_s(self) -> float:
        return self.decode_tokens / (self.decode_ms / 1000.0) if self.decode_ms > 0 else float("nan")

    def to_dict(self) -> dict:
        return {
            "vision_ms": round(self.vision_ms, 3),
            "embedding_ms": round(self.embedding_ms, 3),
            "prefill_ms": round(self.prefill_ms, 3),
            "prefill_tokens": self.prefill_tokens,
            "prefill_tok_s": _finite(round(self.prefill_tokens_per_s, 2)),
            "decode_ms": round(self.decode_ms, 3),
            "decode_tokens": self.decode_tokens,
            "decode_tok_s": _finite(round(self.decode_tokens_per_s, 2)),
            "time_to_first_token_ms": round(self.time_to_first_token_ms, 3),
        }


def _finite(value: float) -> float | None:
    """None for a rate with no time behind it (a report that timed nothing: JSON holds no NaN)."""
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class BackendOutputs:
    backend: str
    visual: torch.Tensor  # [1, N_vis, D]
    prefill_last_logits: torch.Tensor  # [V]
    decode_logits: torch.Tensor  # [N_forced, V]
    greedy_tokens: list[int]
    timings: StageTimings


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def _ids(ids: list[int]) -> torch.Tensor:
    return torch.tensor([ids], dtype=torch.int64)  # [1, S]


def prompt_embeddings(
    backend: GraphBackend, prefix_ids: list[int], suffix_ids: list[int], visual: torch.Tensor
) -> torch.Tensor:
    """[1, P + N_vis + Q, D]; an empty prefix or suffix is skipped (a graph may reject S = 0)."""
    prefix = [backend.token_embedding(_ids(prefix_ids))] if prefix_ids else []
    suffix = [backend.token_embedding(_ids(suffix_ids))] if suffix_ids else []
    return torch.cat([part.to(visual.dtype) for part in (*prefix, visual, *suffix)], dim=1)


Report = Callable[[str], None]  # progress messages of long runs ("prefill 640/4950 rows")


def no_report(_message: str) -> None:
    return None


def prefill(backend: GraphBackend, embeds: torch.Tensor, report: Report = no_report) -> torch.Tensor:
    """Feed embeds [1, S, D] from slot 0 in chunks of `backend.max_seq_len`; logits at the last position [V]."""
    last = None
    for start in range(0, embeds.shape[1], backend.max_seq_len):
        report(f"{backend.name}: prefill {start}/{embeds.shape[1]} rows")
        chunk = embeds[:, start : start + backend.max_seq_len]
        positions = torch.arange(start, start + chunk.shape[1], dtype=torch.int64)
        last = backend.text_decoder(chunk, positions)[0, -1]
    if last is None:
        raise SfError("the parity prompt is empty", "give the bundle a question and frames")
    return last.detach().clone()  # a copy: the full [1, S, V] chunk output is not kept alive


def decode_step(backend: GraphBackend, token: int, position: int) -> torch.Tensor:
    """Feed one token at `position`; the logits after it [V]."""
    embed = backend.token_embedding(_ids([token]))
    return backend.text_decoder(embed, torch.tensor([position], dtype=torch.int64))[0, -1].detach().clone()


def greedy_from(backend: GraphBackend, logits: torch.Tensor, position: int, num_decode: int) -> list[int]:
    """Argmax decode after a prefill whose last logits are `logits`; the first new token goes to `position`."""
    tokens = [int(torch.argmax(logits))] if num_decode > 0 else []
    while 0 < len(tokens) < num_decode:
        logits = decode_step(backend, tokens[-1], position + len(tokens) - 1)
        tokens.append(int(torch.argmax(logits)))
    return tokens


def greedy_decode(backend: GraphBackend, embeds: torch.Tensor, num_decode: int) -> tuple[list[int], float, float]:
    """reset, prefill, then argmax decode to `num_decode` tokens: (tokens, prefill ms, decode ms)."""
    backend.reset()
    start = time.perf_counter()
    logits = prefill(backend, embeds)
    prefill_ms = _ms(start)
    start = time.perf_counter()
    tokens = greedy_from(backend, logits, embeds.shape[1], num_decode)
    return tokens, prefill_ms, _ms(start)


def run_backend(backend: GraphBackend, inputs: ParityInputs, num_decode: int, report: Report = no_report) -> BackendOutputs:
    """One prefill, then greedy decode, then teacher forcing from the same cache.

    Both continuations start at slot P (the prompt length): every decode step reads only slots up to
    its own, all written by the same continuation, so the teacher-forced run may overwrite the greedy
    run's slots without a second prefill (which at real size costs minutes).
    """
    report(f"{backend.name}: vision encoder on {inputs.frames.shape[0]} frames")
    start = time.perf_counter()
    visual = backend.vision_encoder(inputs.packed_frames).detach()  # [1, N_vis, D]
    vision_ms = _ms(start)
    start = time.perf_counter()
    embeds = prompt_embeddings(backend, inputs.prefix_ids, inputs.suffix_ids, visual)
    embedding_ms = _ms(start)
    prompt_len = embeds.shape[1]

    backend.reset()
    start = time.perf_counter()
    prefill_last_logits = prefill(backend, embeds, report)
    prefill_ms = _ms(start)
    report(f"{backend.name}: greedy and teacher-forced decode, {num_decode} + {len(inputs.forced_tokens)} steps")
    start = time.perf_counter()
    tokens = greedy_from(backend, prefill_last_logits, prompt_len, num_decode)
    decode_ms = _ms(start)
    rows = [decode_step(backend, token, prompt_len + i) for i, token in enumerate(inputs.forced_tokens)]
    decode_logits = torch.stack(rows) if rows else torch.empty(0, prefill_last_logits.shape[0])

    timings = StageTimings(
        vision_ms=vision_ms,
        embedding_ms=embedding_ms,
        prefill_ms=prefill_ms,
        prefill_tokens=prompt_len,
        decode_ms=decode_ms,
        decode_tokens=max(len(tokens) - 1, 0),
        time_to_first_token_ms=vision_ms + embedding_ms + prefill_ms,
    )
    return BackendOutputs(
        backend=backend.name,
        visual=visual,
        prefill_last_logits=prefill_last_logits,
        decode_logits=decode_logits,
        greedy_tokens=tokens,
        timings=timings,
    )
