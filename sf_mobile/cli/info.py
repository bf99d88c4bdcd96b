"""sf-info: what a preset costs: parameters, visual tokens, KV-cache and weight bytes."""

from __future__ import annotations

import argparse
import sys

from sf_mobile.cli.common import emit, positive, run_command


def build_parser() -> argparse.ArgumentParser:
    from sf_mobile.presets import DEFAULT_PRESET, PRESETS

    parser = argparse.ArgumentParser(
        prog="sf-info", description="Parameter counts, visual token budget, KV-cache and weight bytes of a preset."
    )
    parser.add_argument("--size", default=DEFAULT_PRESET, metavar="PRESET", help=f"one of: {', '.join(PRESETS)}")
    parser.add_argument("--frames", type=int, metavar="T", help="frame count (default: the preset's budget)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _mib(value: float) -> str:
    return f"{value / 2**20:,.1f} MiB"


def format_report(report: dict) -> str:
    params, tokens = report["parameters"], report["visual_tokens"]
    lines = [
        f"preset {report['preset']}",
        f"source: {report['config']['source']}",
        "parameters: "
        + ", ".join(f"{k} {v / 1e6:,.2f}M" for k, v in params.items() if k != "total")
        + f"; total {params['total'] / 1e6:,.2f}M",
        f"visual tokens for {tokens['frames']} frames: {tokens['total']} = slow {tokens['slow']} "
        f"({tokens['slow_frames']} frames) + fast {tokens['fast']} ({tokens['frames']} frames)",
        "KV cache by context length:",
    ]
    for dtype, by_ctx in report["kv_cache_bytes"].items():
        lines.append(f"  {dtype:5s} " + " | ".join(f"{ctx}: {_mib(b)}" for ctx, b in by_ctx.items()))
    lines.append("weights by quantization: " + " | ".join(f"{k}: {_mib(v)}" for k, v in report["weight_bytes"].items()))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from sf_mobile.info import info_report
    from sf_mobile.presets import get_preset

    positive(args.frames, "--frames")
    report = info_report(get_preset(args.size), args.frames)
    emit(report, args.json, format_report)
    return 0


def main(argv=None) -> int:
    return run_command("sf-info", run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
