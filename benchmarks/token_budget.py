"""Visual tokens, prefill FLOPs and KV-cache bytes per video length and preset, against dense
per-frame tokenisation and the published budgets of peers: arithmetic on the presets, no timing.

    python -m sf_mobile.benchmarks.token_budget [--record]

For every preset in PRESETS and video length in VIDEO_SECONDS: the frames the preset's own sampler
takes (FPS with the uniform fallback, or uniform), the SlowFast tokens (slow + fast), the prompt
rows (+ sf_mobile.cost.TEXT_ROWS), prefill FLOPs and KV-cache bytes (sf_mobile.cost states the
formulas), beside the same frames tokenised densely (every patch, as the projector would emit them
without SlowFast) and at the common 2x2-pooled density. With --record: results/token_budget.md
(this run, whole), token_budget-<stamp>.json and token_budget.svg (tokens vs length, log-log).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

from sf_mobile.benchmarks import record
from sf_mobile.benchmarks.svg_plot import Series, log_log_plot

PRESETS = ("1b", "3b", "7b", "v1-7b")
VIDEO_SECONDS = (10, 30, 60, 180, 600, 3600)
FOCUS = ("1b", 3600)  # the summary's headline row: the mobile preset on an hour of video

# Published per-video budgets of peers, with where each figure comes from. None is re-derived here.
PEERS = (
    {
        "scheme": "SF-LLaVA-1.5 (paper)",
        "tokens": 9000,
        "shown": "~9K",
        "source": "'about 9K visual tokens per video' for SF-LLaVA-1.5 (arXiv 2503.18943), as reported in "
        "shared/DESIGN.md and the 1.5 presets' source note (sf_mobile/presets.py, SOURCE_15); the paper "
        "summary in shared/seeds/001_142720c02f819fa5.txt calls the family token-efficient but states no "
        "figure, and it was not re-checked against the paper here",
    },
    {
        "scheme": "Qwen2-VL / InternVL2.x",
        "tokens": 16000,
        "shown": "~16K",
        "source": "'16K' per video, the peer budget quoted beside SF-LLaVA-1.5's 9K in this project's issue 9 "
        "(from the SF-LLaVA-1.5 paper's comparison, arXiv 2503.18943); neither summary in shared/seeds/ "
        "states it, and it was not re-checked against the paper here",
    },
)
KV_COLUMNS = ("fp32", "fp16", "8-bit")


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def measure(presets=PRESETS, lengths=VIDEO_SECONDS) -> dict:
    from sf_mobile import cost
    from sf_mobile.presets import get_preset

    rows = []
    for name in presets:
        config = get_preset(name)
        blocks = cost.parameter_counts(config)["llm_blocks"]
        for seconds in lengths:
            sampled = cost.frames_sampled(config, seconds)
            frames = sampled.frames
            budget = config.visual_tokens(frames)
            prompt = cost.prompt_rows(config, frames)

            def scheme(tokens: int) -> dict:
                rows_ = tokens + cost.TEXT_ROWS
                return {
                    "tokens": tokens,
                    "prompt_rows": rows_,
                    "prefill_flops": cost.prefill_flops(config, blocks, rows_)["total"],
                    "kv_cache_bytes_fp16": cost.kv_cache_bytes(config, rows_, 2),
                    "exceeds_llm_positions": rows_ > config.llm.max_position_embeddings,
                }

            rows.append({
                "preset": name,
                "video_seconds": seconds,
                "frames": frames,
                "sampling": sampled.mode,
                "visual_tokens": {"slow": budget.slow_tokens, "fast": budget.fast_tokens, "total": budget.total},
                "prompt_rows": prompt,
                "llm_positions": config.llm.max_position_embeddings,
                "prefill_flops": cost.prefill_flops(config, blocks, prompt),
                "vision_flops": frames * cost.vision_flops_per_frame(config)["total"] + cost.projector_flops(config, frames),
                "kv_cache_bytes": {k: cost.kv_cache_bytes(config, prompt, size) for k, (size, _) in cost.KV_DTYPES.items()},
                "dense": scheme(cost.dense_tokens(config, frames)),
                "pooled_2x2": scheme(cost.pooled_2x2_tokens(config, frames)),
            })
    return {
        "schema": "sf-token-budget/1",
        "estimate_on_paper": True,
        "text_rows": cost.TEXT_ROWS,
        "kv_dtypes": {k: {"bytes": size, "used_by": why} for k, (size, why) in cost.KV_DTYPES.items()},
        "formulas": {
            "prefill_flops": "2 x LLM decoder-layer parameters x rows + 4 x L x H x hd x rows (rows + 1) / 2 "
            "(causal attention) + 2 x V x D (last row's logits)",
            "vision_flops": "frames x (patch embedding + per layer 2 x (4 C^2 + 2 C I) x N + 4 N^2 C) + projector",
            "kv_cache_bytes": "L x 2 x KVH x hd x prompt rows x bytes per element",
            "dense": "every sampled frame at its full patch grid (what the projector emits without SlowFast)",
            "pooled_2x2": "every sampled frame pooled 2x2",
        },
        "peers": list(PEERS),
        "rows": rows,
    }


def _tflops(flops: int) -> str:
    return f"{flops / 1e12:,.1f}"


def _mib(value: int) -> str:
    return f"{value / 2**20:,.0f}"


def _flagged(scheme: dict) -> str:
    return f"{scheme['tokens']:,}" + (" *" if scheme["exceeds_llm_positions"] else "")


def markdown(report: dict, command: str, machine: dict) -> str:
    lines = [
        "# Token budget: SlowFast vs dense tokenisation, per preset and video length (arithmetic, no timing)",
        "",
        f"Generated by `{command}` on {record.today()} ({machine['platform']}, {machine['cpus']} CPUs); every figure "
        "is arithmetic on the presets' shapes (`sf_mobile/cost.py`), so it does not depend on the machine.",
        "",
        f"Frames: the preset's own sampler. Prompt rows = visual tokens + {report['text_rows']} text rows (assumed). "
        f"Prefill FLOPs = {report['formulas']['prefill_flops']}. KV cache at the prompt's rows = "
        f"{report['formulas']['kv_cache_bytes']}: fp32 (ExecuTorch caches; the ONNX/QNN graphs' float32 cache "
        "buffers), fp16 (Core ML states; QNN a16w8 on HTP), 8-bit (QNN a8w8 on HTP). Dense = every frame's "
        "full patch grid; 2x2 = every frame pooled 2x2. `*`: the prompt exceeds the LLM's positions.",
        "",
        "| preset | video | frames | SlowFast tokens (slow + fast) | prompt rows | prefill TFLOPs | KV MiB fp32 / fp16 / 8-bit "
        "| dense tokens | dense prefill TFLOPs | 2x2-pooled tokens | 2x2 prefill TFLOPs | dense / SlowFast |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["rows"]:
        tokens, kv = r["visual_tokens"], r["kv_cache_bytes"]
        lines.append(
            f"| {r['preset']} | {_duration(r['video_seconds'])} | {r['frames']} ({r['sampling']}) | "
            f"{tokens['total']:,} ({tokens['slow']:,} + {tokens['fast']:,}) | {r['prompt_rows']:,} | "
            f"{_tflops(r['prefill_flops']['total'])} | {' / '.join(_mib(kv[k]) for k in KV_COLUMNS)} | "
            f"{_flagged(r['dense'])} | {_tflops(r['dense']['prefill_flops'])} | {_flagged(r['pooled_2x2'])} | "
            f"{_tflops(r['pooled_2x2']['prefill_flops'])} | {r['dense']['tokens'] / tokens['total']:.1f}x |"
        )
    lines += ["", "Published per-video budgets of peers (cited, not re-derived):", "",
              "| scheme | visual tokens per video | source |", "|---|---|---|"]
    lines += [f"| {p['scheme']} | {p['shown']} | {p['source']} |" for p in report["peers"]]
    lines += ["", "![visual tokens per video length](token_budget.svg)", ""]
    return "\n".join(lines)


def plot(report: dict) -> str:
    """Tokens vs video length: one line per distinct SlowFast series (presets sharing vision, pooling
    and sampling coincide), dense and 2x2 for the mobile presets' sampling, peers as dashed levels."""
    by_series: dict[tuple, list[str]] = {}
    points: dict[tuple, tuple] = {}
    for name in dict.fromkeys(r["preset"] for r in report["rows"]):
        rows = [r for r in report["rows"] if r["preset"] == name]
        key = tuple(r["visual_tokens"]["total"] for r in rows)
        by_series.setdefault(key, []).append(name)
        points[key] = tuple((r["video_seconds"], r["visual_tokens"]["total"]) for r in rows)
    series = [Series(f"SlowFast ({', '.join(names)})", points[key]) for key, names in by_series.items()]
    mobile = [r for r in report["rows"] if r["preset"] == FOCUS[0]]
    series.append(Series(f"dense, {FOCUS[0]} sampling", tuple((r["video_seconds"], r["dense"]["tokens"]) for r in mobile)))
    series.append(Series(f"2x2-pooled, {FOCUS[0]} sampling", tuple((r["video_seconds"], r["pooled_2x2"]["tokens"]) for r in mobile)))
    lengths = sorted({r["video_seconds"] for r in report["rows"]})
    for peer in report["peers"]:
        series.append(Series(f"{peer['scheme']} {peer['shown']}", ((lengths[0], peer["tokens"]), (lengths[-1], peer["tokens"])), dashed=True))
    return log_log_plot(
        series,
        title="Visual tokens per video (estimate on paper)",
        x_label="video length",
        y_label="visual tokens",
        x_ticks=[(s, _duration(s)) for s in lengths],
    )


def headline(report: dict) -> str:
    """One line for the README summary: the mobile preset on the longest video, against dense and peers."""
    preset, seconds = FOCUS
    row = next(r for r in report["rows"] if r["preset"] == preset and r["video_seconds"] == seconds)
    tokens = row["visual_tokens"]["total"]
    peers = ", ".join(f"{p['scheme']} {p['shown']}" for p in report["peers"])
    return (f"{preset}, {_duration(seconds)} video: {row['frames']} frames -> {tokens:,} SlowFast tokens vs "
            f"{row['dense']['tokens']:,} dense ({row['dense']['tokens'] / tokens:.1f}x), prefill "
            f"{_tflops(row['prefill_flops']['total'])} TFLOPs; peers {peers}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write benchmarks/results/token_budget.{md,svg} and a JSON")
    args = parser.parse_args(argv)
    command = record.command_line("token_budget", argv).rstrip()  # no arguments: no trailing space
    machine = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    report = measure()
    text = markdown(report, command, machine)
    print(text)
    if args.record:
        record.RESULTS.mkdir(exist_ok=True)
        (record.RESULTS / "token_budget.md").write_text(text)
        (record.RESULTS / "token_budget.svg").write_text(plot(report))
        report.update(command=command, date=record.today(), machine=machine, headline=headline(report))
        (record.RESULTS / f"token_budget-{record.stamp()}.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
