"""Which calls of the export's parity run go through the HTP simulator, and how they are compared.

The simulator runs HTP's kernels in x86 emulation, slowly: a 93M-parameter ViT at 224 px (~37 GFLOP)
took 37 s per image (shared/notes/qnn-htp.md), and one 1b decode step (~4.6 GFLOP with attention over
a 6144-slot cache) took 87 s here. A tiny export's whole parity run costs seconds there, so every
call runs on it (`full`). At real size the same run would take days, so the simulator shadows a
sample instead: the CPU provider drives the whole sequence on the same QDQ graphs, and the
sampled calls also run on the compiled graphs with the very same feeds (inputs, cache, mask). Each
sampled call's outputs are compared with the CPU provider's for that call; that is the gated
"same-quantization" check, on fewer rows. Decode steps are cheap and always sampled; the last prefill
chunk (the text rows, whose logits start the answer) and the vision call are added while the estimate
stays within SIMULATOR_BUDGET_S. Nothing here is a latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from sf_mobile.config import ModelConfig
from sf_mobile.runtimes.onnx import DECODE_NAME, PREFILL_NAME, VISION_NAME

# The slower of the two figures above (the 1b decode step: 4.6 GFLOP in 87 s, measured 2026-11-23 with
# onnxruntime-qnn 2.7.0, sm8650): estimates err long, so a sample never overruns its budget. The export
# records how long its sample really took.
SIMULATOR_GFLOPS = 0.05
SIMULATOR_BUDGET_S = 1800.0  # a sampled run's whole simulator time, estimated: 30 min of a real-size export
DECODE_SAMPLES = 4  # decode steps a sampled run puts through the simulator (the first ones after prefill)


def call_gflop(config: ModelConfig, graph: str, rows: int, context: int) -> float:
    """FLOPs (in G) of one call of `graph`, from sf_mobile.cost: the vision tower and projector on
    `rows` frames; a decoder call's weights times rows, attention over the whole static cache (the
    graphs mask it, they do not skip it), and the LM head on the last row."""
    from sf_mobile import cost
    from sf_mobile.info import parameter_counts

    if graph == VISION_NAME:
        return (cost.vision_flops_per_frame(config)["total"] * rows + cost.projector_flops(config, rows)) / 1e9
    llm = config.llm
    linear = 2.0 * parameter_counts(config)["llm_blocks"] * rows
    attention = cost.whole_cache_attention_flops(config, 1, rows, context + rows)
    return (linear + attention + 2.0 * llm.vocab_size * llm.hidden_size) / 1e9


@dataclass
class SimulatorPlan:
    full: bool
    sampled: dict[str, set[int]] = field(default_factory=dict)  # graph -> call indices (sampled runs)
    call_seconds: dict[str, float] = field(default_factory=dict)  # graph -> estimated seconds per call
    skipped: dict[str, str] = field(default_factory=dict)  # graph -> why none of its calls was sampled
    measured_seconds: dict[str, float] = field(default_factory=dict)  # graph -> simulator seconds the sample took

    def describe(self) -> str:
        if self.full:
            return "every call of the parity run on the simulator"
        parts = [
            f"{graph} calls {sorted(calls)} (~{self.call_seconds[graph]:.0f} s each, estimated)"
            for graph, calls in self.sampled.items()
            if calls
        ]
        parts += [f"{graph} not run ({why})" for graph, why in self.skipped.items()]
        return "sampled against the CPU provider on the same feeds: " + "; ".join(parts)

    def to_dict(self) -> dict:
        return {
            "mode": "full" if self.full else "sampled",
            "description": self.describe(),
            "sampled_calls": {graph: sorted(calls) for graph, calls in self.sampled.items()},
            "estimated_seconds_per_call": {graph: round(s, 1) for graph, s in self.call_seconds.items()},
            "simulator_gflops_assumed": SIMULATOR_GFLOPS,
            "measured_seconds": self.measured_seconds,
        }


def plan_simulator(
    config: ModelConfig, chunk: int, context: int, prompt_rows: int, decode_calls: int, budget_s: float = SIMULATOR_BUDGET_S
) -> SimulatorPlan:
    """Full when the whole parity run fits `budget_s` on the simulator, else a sample (see above).
    `decode_calls`: the run's decode-graph calls (greedy steps after the first token + forced tokens)."""
    frames = config.sampling.max_frames
    prefill_calls = math.ceil(prompt_rows / chunk)
    seconds = {
        VISION_NAME: call_gflop(config, VISION_NAME, frames, context) / SIMULATOR_GFLOPS,
        PREFILL_NAME: call_gflop(config, PREFILL_NAME, chunk, context) / SIMULATOR_GFLOPS,
        DECODE_NAME: call_gflop(config, DECODE_NAME, 1, context) / SIMULATOR_GFLOPS,
    }
    whole = seconds[VISION_NAME] + prefill_calls * seconds[PREFILL_NAME] + decode_calls * seconds[DECODE_NAME]
    if whole <= budget_s:
        return SimulatorPlan(full=True, call_seconds=seconds)
    plan = SimulatorPlan(full=False, call_seconds=seconds)
    decode = min(DECODE_SAMPLES, decode_calls)
    plan.sampled[DECODE_NAME] = set(range(decode))
    left = budget_s - decode * seconds[DECODE_NAME]
    # the last chunk first: it holds the question and gives the first token's logits
    for graph, call in ((PREFILL_NAME, prefill_calls - 1), (VISION_NAME, 0)):
        if seconds[graph] <= left:
            plan.sampled[graph] = {call}
            left -= seconds[graph]
        else:
            plan.skipped[graph] = f"~{seconds[graph] / 60:.0f} min per call on the simulator, estimated"
    return plan


class ShadowSession:
    """A CPU-provider session that also runs its chosen calls on a simulator session with the same
    feed, keeping both outputs; the CPU outputs are returned, so the sequence (and every cache) stays
    the CPU provider's whether or not a call was sampled."""

    def __init__(self, cpu, simulator, chosen: set[int]):
        self.cpu, self.simulator, self.chosen = cpu, simulator, chosen
        self.calls = 0
        self.pairs: list[tuple[list[np.ndarray], list[np.ndarray]]] = []  # (simulator, cpu) outputs
        self.simulator_seconds = 0.0

    def run(self, outputs, feed):
        import time

        expected = self.cpu.run(outputs, feed)
        if self.calls in self.chosen:
            start = time.perf_counter()
            actual = self.simulator.run(outputs, feed)
            self.simulator_seconds += time.perf_counter() - start
            self.pairs.append((actual, expected))
        self.calls += 1
        return expected

    def __getattr__(self, name):  # get_inputs, get_modelmeta, ... of the CPU session
        return getattr(self.cpu, name)


def first_outputs(session: ShadowSession) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(simulator, cpu) first outputs of the sampled calls (visual embeds or last-row logits),
    rows of all calls concatenated: [calls x rows, last dim]. None when nothing was sampled."""
    if not session.pairs:
        return None

    def rows(side: int) -> torch.Tensor:
        outputs = [np.asarray(pair[side][0], dtype=np.float32) for pair in session.pairs]
        return torch.cat([torch.from_numpy(o.reshape(-1, o.shape[-1])) for o in outputs])

    return rows(0), rows(1)
