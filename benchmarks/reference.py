"""Reference-model latency at any preset: one `sf-run` pass, stage by stage, plus peak RSS.

    python -m sf_mobile.benchmarks.reference --size 1b --frames 8 --record

With --record the figures are appended to benchmarks/results/reference.md (and the raw report
saved as JSON beside it) together with the command, the date and the machine: nothing in that
file is typed by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

from sf_mobile.benchmarks import record


def _peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # ru_maxrss is KiB on Linux


def measure(size: str, frames: int | None, max_new_tokens: int, seed: int) -> dict:
    import torch

    from sf_mobile.checkpoints import build_random
    from sf_mobile.runner import answer

    start = time.perf_counter()
    build_random(size, seed=seed, num_frames=frames)  # cost of building the random-weight model alone
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    report = answer(video=None, question="Describe the video.", preset=size, num_frames=frames,
                    max_new_tokens=max_new_tokens, seed=seed)
    report["wall_s"] = round(time.perf_counter() - start, 2)
    report["build_random_s"] = round(build_s, 2)
    report["peak_rss_gib"] = round(_peak_rss_gib(), 2)
    report["threads"] = torch.get_num_threads()
    return report


def markdown_row(report: dict, command: str) -> str:
    t = report["timings_ms"]
    return (
        f"| {record.today()} | `{command}` | {report['preset']} | {report['video']['frames']} | "
        f"{report['visual_tokens']['total']} | {report['prompt_tokens']} | {t['frame_decode']:.0f} | "
        f"{t['vision_per_frame']:.0f} | {t['projector']:.0f} | {report['prefill_tokens_per_s']:.1f} | "
        f"{report['decode_tokens_per_s']:.2f} | {t['time_to_first_token'] / 1000:.1f} | {report['build_random_s']:.0f} | "
        f"{report['wall_s']:.0f} | {report['peak_rss_gib']:.1f} | {report['threads']} |"
    )


HEADER = (
    "# Reference model (PyTorch eager, fp32, CPU): one question on the sample clip\n\n"
    "Random weights; rows are appended by `benchmarks/reference.py --record`.\n\n"
    "| date | command | preset | frames | visual tokens | prompt tokens | frame decode ms | vision ms/frame | "
    "projector ms | prefill tok/s | decode tok/s | TTFT s | model build s | wall s | peak RSS GiB | threads |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--frames", type=int)
    parser.add_argument("--max-new-tokens", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="append to benchmarks/results/reference.md")
    args = parser.parse_args(argv)
    report = measure(args.size, args.frames, args.max_new_tokens, args.seed)
    command = record.command_line("reference", argv)
    row = markdown_row(report, command)
    print(HEADER + row)
    if args.record:
        record.append_row("reference.md", HEADER, row)
        report["command"] = command
        report["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform()}
        (record.RESULTS / f"reference-{args.size}-{record.stamp()}.json").write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
