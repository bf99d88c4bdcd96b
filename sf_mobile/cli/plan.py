"""sf-plan: the most frames a preset can take on a phone within a TTFT target, estimated on paper."""

from __future__ import annotations

import argparse
import sys

from sf_mobile.cli.common import emit, run_command

GIB = 2**30


def _device_names() -> list[str]:
    import json

    from sf_mobile.plan import profiles_text

    return list(json.loads(profiles_text())["profiles"])


def build_parser() -> argparse.ArgumentParser:
    from sf_mobile.presets import PRESETS

    parser = argparse.ArgumentParser(
        prog="sf-plan",
        description="Choose the frame budget of a preset for a phone: the most frames whose estimated time to "
        "first token and memory fit. Every figure is an estimate on paper, with its assumptions printed.",
    )
    parser.add_argument("--size", required=True, metavar="PRESET", help=f"one of: {', '.join(PRESETS)}")
    parser.add_argument("--device", required=True, metavar="NAME", help=f"one of: {', '.join(_device_names())}")
    parser.add_argument("--video-seconds", required=True, type=float, metavar="S", help="length of the video")
    parser.add_argument("--ttft-ms", required=True, type=float, metavar="MS", help="time-to-first-token target")
    parser.add_argument("--json", action="store_true", help="print one JSON object (schema sf-plan/1)")
    return parser


def _ms(value: float) -> str:
    return f"{value:,.0f} ms" if value >= 10 else f"{value:.2g} ms"  # tiny presets: keep a digit


def _gib(value: float) -> str:
    return f"{value / GIB:.2f} GiB"


def format_report(report: dict) -> str:
    device, choice = report["device"], report["choice"]
    tokens, t, m = choice["visual_tokens"], choice["ttft_ms"], choice["memory_bytes"]
    lines = [
        f"sf-plan: {report['preset']} on {device['name']} ({device['soc']}, {device['compute_unit']}), "
        f"{report['video_seconds']:g} s video, TTFT target {report['ttft_target_ms']:g} ms",
        "ESTIMATE ON PAPER: from the preset's shapes and the device profile, not measured on the phone",
        f"choice: {choice['frames']} frames ({choice['sampling']} sampling, one every "
        f"{report['video_seconds'] / choice['frames']:.1f} s; the preset would take {report['max_frames']}) -> "
        f"{tokens['total']} visual tokens = slow {tokens['slow']} + fast {tokens['fast']}; "
        f"{choice['prompt_rows']} prompt rows, context {choice['context']}",
        f"estimated TTFT {_ms(t['total'])} = vision {_ms(t['vision_compute'])} + vision weights {_ms(t['vision_weights_read'])} "
        f"+ prefill {_ms(t['prefill_compute'])} + LLM weights {_ms(t['prefill_weights_read'])} "
        f"({choice['prefill_calls']} call{'s' if choice['prefill_calls'] != 1 else ''}) + KV cache {_ms(t['kv_cache_read'])}",
        f"estimated memory {_gib(m['total'])} = LLM weights {_gib(m['llm_weights'])} + vision weights "
        f"{_gib(m['vision_weights'])} + KV cache {_gib(m['kv_cache'])} + vision features {_gib(m['vision_features'])}; "
        f"the app may use {_gib(report['memory_budget_bytes'])}",
    ]
    larger = report["next_larger"]
    if larger is None:
        lines.append(f"next larger: none ({choice['frames']} frames is all the preset samples from this video)")
    else:
        lines.append(f"next larger: {larger['frames']} frames does not fit: {larger['does_not_fit']}")
    lines.append(f"export: {report['export_command']}")
    lines.append("assumptions:")
    lines.extend(f"  - {line}" for line in report["assumptions"])
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from sf_mobile.plan import get_profile, plan
    from sf_mobile.presets import get_preset

    config = get_preset(args.size)
    profile = get_profile(args.device)
    emit(plan(config, profile, args.video_seconds, args.ttft_ms).to_dict(), args.json, format_report)
    return 0


def main(argv=None) -> int:
    return run_command("sf-plan", run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
