"""One decode step's attention for one layer of the preset, two ways, side by side:

    python -m sf_mobile.benchmarks.decode_host.attention [--size 1b] [--contexts 1024,4096,9280] [--record]

(a) ExecuTorch's fused `llama::custom_sdpa` on the cache layout our .pte keeps, [1, ctx, KVH, hd]
    (the op the decode profile finds dominant at long contexts);
(b) grouped-query attention packed per KV head, two batched matmuls over a cache kept as
    K^T [KVH, hd, ctx] and V [KVH, ctx, hd]: the layout a decode-specialised graph could keep.
Both in this process on the same inputs, same threads; the outputs are checked equal. The time of
(b) excludes keeping that layout up to date (one column per step, small next to the reads). With
--record: results/decode_attention.md (this run, whole) and decode_attention-<stamp>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import torch

from sf_mobile.benchmarks import record
from sf_mobile.presets import get_preset

REPEATS = 20
FP32_REL_L2 = 1e-5  # same maths in fp32, different summation order


def _median_ms(fn, repeats: int = REPEATS) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2] * 1000


def measure(size: str, contexts: list[int], threads: int) -> list[dict]:
    from sf_mobile.runtimes.executorch import register_kernels

    register_kernels()  # llama::custom_sdpa
    torch.set_num_threads(threads)
    llm = get_preset(size).llm
    heads, kv_heads, head_dim = llm.num_heads, llm.num_kv_heads, llm.hidden_size // llm.num_heads
    group = heads // kv_heads
    rows = []
    for context in contexts:
        generator = torch.Generator().manual_seed(context)
        k = torch.randn(1, context + 1, kv_heads, head_dim, generator=generator)
        v = torch.randn(1, context + 1, kv_heads, head_dim, generator=generator)
        q = torch.randn(1, 1, heads, head_dim, generator=generator)
        k_t = k[0].permute(1, 2, 0).contiguous()  # [KVH, hd, L+1]
        v_p = v[0].permute(1, 0, 2).contiguous()  # [KVH, L+1, hd]
        q_p = q[0, 0].reshape(kv_heads, group, head_dim)  # the group's query heads share one KV head

        def fused():
            return torch.ops.llama.custom_sdpa(q, k, v, context, None, 0, True)

        def packed():
            scores = torch.bmm(q_p, k_t) * head_dim**-0.5  # [KVH, group, L+1]
            return torch.bmm(scores.softmax(-1), v_p)  # [KVH, group, hd]

        expected = fused().reshape(kv_heads, group, head_dim)
        error = ((packed() - expected).norm() / expected.norm()).item()
        if error > FP32_REL_L2:
            raise SystemExit(f"the packed attention differs from custom_sdpa at context {context}: rel L2 {error:.1e}")
        a, b = _median_ms(fused), _median_ms(packed)
        rows.append({"context": context, "custom_sdpa_ms": round(a, 3), "packed_bmm_ms": round(b, 3),
                     "ratio": round(a / b, 2), "per_step_layers_ms": [round(a * llm.num_layers, 1), round(b * llm.num_layers, 1)],
                     "rel_l2": float(f"{error:.2e}")})
    return rows


def render(data: dict) -> str:
    lines = [
        f"# Decode attention per layer: custom_sdpa vs GQA-packed matmuls ({data['size']}, one token)",
        "",
        f"Command: `{data['command']}`  ",
        f"Date: {data['date']}; machine: {data['machine']}; threads: {data['threads']}; median of {REPEATS}.",
        "",
        "| date | command | context | custom_sdpa ms | packed bmm ms | ratio | x layers (ms per step) | rel L2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in data["rows"]:
        lines.append(f"| {data['date']} | `{data['command']}` | {row['context']} | {row['custom_sdpa_ms']:.2f} | "
                     f"{row['packed_bmm_ms']:.2f} | {row['ratio']:.2f}x | {row['per_step_layers_ms'][0]:.0f} vs "
                     f"{row['per_step_layers_ms'][1]:.0f} | {row['rel_l2']:.0e} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1b")
    parser.add_argument("--contexts", default="1024,4096,9280")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)
    rows = measure(args.size, [int(c) for c in args.contexts.split(",")], args.threads)
    data = {"size": args.size, "command": record.command_line("decode_host.attention", argv), "date": record.today(),
            "machine": f"{os.cpu_count()} cores", "threads": args.threads, "rows": rows}
    text = render(data)
    print(text)
    if args.record:
        record.RESULTS.mkdir(exist_ok=True)
        (record.RESULTS / "decode_attention.md").write_text(text)
        (record.RESULTS / f"decode_attention-{record.stamp()}.json").write_text(json.dumps(data, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
