"""Where a decode step of an ExecuTorch program spends its time, from an ETDump of the runtime's own
profiler (per kernel call and per XNNPACK operator), in a process of its own:

    python -m sf_mobile.benchmarks.decode_host.profile --pte P --layout ours --context 1024 --steps 8

Prints one JSON line: per decode step, in ms, the categories below and the wall time. The
categories answer the issue's questions: are the 4-bit linears (dequantization fused into
XNNPACK's QB4W GEMMs) the time, or attention over the cache (custom_sdpa), the cache writes
(update_cache), the ops left on portable kernels, or the cost of crossing into the delegate?
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import torch

from sf_mobile.benchmarks.decode_host.pte_decode import LAYOUTS, WARMUP_STEPS

LINEAR_MARK = "QB4W"  # XNNPACK's name for 4-bit blockwise weights: "Fully Connected (NC, QDU8, F32, QB4W) GEMM"


def categorize(totals: Counter) -> dict[str, float]:
    """Event-name totals (ms) -> the profile's categories (ms). Nesting: Method::execute holds
    DELEGATE_CALL and OPERATOR_CALL events; a DELEGATE_CALL holds XNNPACK operator events; an
    OPERATOR_CALL holds its kernel's scope (native_call_*, llama::*)."""
    xnnpack = {k: v for k, v in totals.items() if k not in ("DELEGATE_CALL", "OPERATOR_CALL") and "(" in k}
    linears = sum(v for k, v in xnnpack.items() if LINEAR_MARK in k)
    sdpa = sum(v for k, v in totals.items() if k.startswith("llama::custom_sdpa"))
    cache_writes = sum(v for k, v in totals.items() if k.startswith("llama::update_cache"))
    return {
        "xnnpack_4bit_linears": linears,
        "xnnpack_other_ops": sum(xnnpack.values()) - linears,
        "delegate_call_overhead": totals["DELEGATE_CALL"] - sum(xnnpack.values()),
        "custom_sdpa": sdpa,
        "update_cache": cache_writes,
        "other_portable_kernels": totals["OPERATOR_CALL"] - sdpa - cache_writes,
        "runtime_outside_calls": totals["Method::execute"] - totals["DELEGATE_CALL"] - totals["OPERATOR_CALL"],
    }


def _adapter(module, layout: str):
    """The layouts' step() over the pybindings module, which is what records an ETDump."""

    class Method:
        def __init__(self, name):
            self.name = name

        def execute(self, inputs):
            return module.run_method(self.name, tuple(inputs))

    class Program:
        def load_method(self, name):
            return Method(name)

    return LAYOUTS[layout](Program())


def profile(pte: str, layout: str, context: int, steps: int, threads: int) -> dict:
    from sf_mobile.runtimes.executorch import register_kernels

    register_kernels()
    from executorch.devtools import Inspector
    from executorch.extension.pybindings import portable_lib

    portable_lib._unsafe_reset_threadpool(threads)
    module = portable_lib._load_for_executorch(pte, enable_etdump=True)
    engine = _adapter(module, layout)
    for position in range(context - WARMUP_STEPS, context):
        engine.step(1, position)
    with tempfile.TemporaryDirectory() as scratch:
        module.write_etdump_result_to_file(str(Path(scratch) / "warmup.etdp"))  # drains the warm-up events
        start = time.perf_counter()
        for position in range(context, context + steps):
            engine.step(1, position)
        wall_ms = (time.perf_counter() - start) * 1000
        path = Path(scratch) / "decode.etdp"
        module.write_etdump_result_to_file(str(path))
        inspector = Inspector(etdump_path=str(path))
    totals: Counter = Counter()
    calls: Counter = Counter()
    for block in inspector.event_blocks:
        for event in block.events:
            if event.perf_data is not None:
                name = event.name.split(" #")[0]
                totals[name] += sum(event.perf_data.raw)
                calls[name] += len(event.perf_data.raw)
    per_step = {k: round(v / steps, 3) for k, v in categorize(totals).items()}
    return {
        "context": context, "steps": steps, "threads": threads,
        "wall_ms_per_step": round(wall_ms / steps, 3),
        "ms_per_step": per_step,
        "calls_per_step": {k: calls[k] // steps for k in ("DELEGATE_CALL", "OPERATOR_CALL")},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pte", required=True)
    parser.add_argument("--layout", choices=sorted(LAYOUTS), required=True)
    parser.add_argument("--context", type=int, required=True)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(profile(args.pte, args.layout, args.context, args.steps, args.threads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
