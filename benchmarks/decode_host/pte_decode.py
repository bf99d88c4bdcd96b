"""Decode tokens/s of an ExecuTorch `.pte` at given context lengths, in a process of its own.

    python -m sf_mobile.benchmarks.decode_host.pte_decode --pte P --layout ours|optimum \
        --contexts 128,1024 --steps 32 --threads 2   # prints one JSON line

Both layouts run on this venv's ExecuTorch runtime (the same release the peer exported with), so
the runtime is not a variable. Decode at context L is timed with `cache_position = L, L+1, ...`:
the fused `llama::custom_sdpa` of both programs attends over slots 0..L whatever they hold, so the
work per step is that of a cache filled with L tokens without running an L-token prefill first.
The cache holds zeros then, which changes no op's cost.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time

import torch

WARMUP_STEPS = 3  # first calls allocate XNNPACK workspaces and fault in the weights


class OurLayout:
    """sf-export's methods: token_embedding ([1, S] ids) then text_decoder (embeds, positions)."""

    def __init__(self, program):
        self.embed = program.load_method("token_embedding")
        self.decode = program.load_method("text_decoder")

    def step(self, token: int, position: int) -> torch.Tensor:
        embeds = self.embed.execute([torch.tensor([[token]], dtype=torch.long)])[0]
        return self.decode.execute([embeds, torch.tensor([position], dtype=torch.long)])[0]


class OptimumLayout:
    """optimum-executorch's text-generation program: forward(input_ids [1, S], cache_position [S])."""

    def __init__(self, program):
        self.forward = program.load_method("forward")

    def step(self, token: int, position: int) -> torch.Tensor:
        return self.forward.execute([torch.tensor([[token]], dtype=torch.long), torch.tensor([position], dtype=torch.long)])[0]


LAYOUTS = {"ours": OurLayout, "optimum": OptimumLayout}


def load(pte: str, layout: str, threads: int):
    from sf_mobile.runtimes.executorch import register_kernels

    register_kernels()
    from executorch.extension.pybindings import portable_lib
    from executorch.runtime import Runtime, Verification

    portable_lib._unsafe_reset_threadpool(threads)
    program = Runtime.get().load_program(pte, verification=Verification.Minimal)
    return LAYOUTS[layout](program), portable_lib._threadpool_get_thread_count()


def time_decode(engine, contexts: list[int], steps: int, token: int = 1) -> list[dict]:
    rows = []
    for context in contexts:
        for position in range(context, context + WARMUP_STEPS):
            engine.step(token, position)
        times = []
        for position in range(context, context + steps):
            start = time.perf_counter()
            logits = engine.step(token, position)
            times.append(time.perf_counter() - start)
            if not torch.isfinite(logits).all():
                raise SystemExit(f"non-finite logits at position {position}")
        ms = statistics.median(times) * 1000
        rows.append({"context": context, "ms_per_token": round(ms, 2), "tokens_per_s": round(1000 / ms, 3),
                     "steps": steps, "spread_ms": [round(min(times) * 1000, 2), round(max(times) * 1000, 2)]})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pte", required=True)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), required=True)
    parser.add_argument("--contexts", required=True, help="comma-separated, e.g. 128,1024")
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    engine, threads = load(args.pte, args.layout, args.threads)
    load_s = time.perf_counter() - start
    rows = time_decode(engine, [int(c) for c in args.contexts.split(",")], args.steps)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"rows": rows, "threads": threads, "load_s": round(load_s, 1), "peak_rss_gib": round(peak, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
