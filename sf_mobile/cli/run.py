"""sf-run: answer a question about a video with the PyTorch reference model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sf_mobile.cli.common import emit, add_model_arguments, positive, run_command, warn_if_random

DEFAULT_QUESTION = "Describe what happens in the video."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sf-run",
        description="Answer a question about a video with the PyTorch reference SlowFast-LLaVA. "
        "With no VIDEO, the project's own sample clip is used.",
    )
    parser.add_argument("video", nargs="?", type=Path, help="video file (default: the sample clip)")
    parser.add_argument("question", nargs="?", default=DEFAULT_QUESTION, help=f"default: {DEFAULT_QUESTION!r}")
    add_model_arguments(parser)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def run(args: argparse.Namespace) -> int:
    from sf_mobile.runner import answer

    positive(args.frames, "--frames")
    positive(args.max_new_tokens, "--max-new-tokens")
    report = answer(
        video=args.video,
        question=args.question,
        preset=args.size,
        checkpoint=args.checkpoint,
        num_frames=args.frames,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        seed=args.seed,
        on_loaded=lambda origin: warn_if_random(origin, "sf-run"),
    )
    for warning in report["warnings"]:
        print(f"sf-run: WARNING: {warning}", file=sys.stderr)
    emit(report, args.json, format_report)
    return 0


def format_report(report: dict) -> str:
    tokens, timing, video = report["visual_tokens"], report["timings_ms"], report["video"]
    return "\n".join(
        [
            f"answer: {report['answer']}",
            f"visual tokens: {tokens['total']} (slow {tokens['slow']} from {tokens['slow_frames']} frames, "
            f"fast {tokens['fast']} from {tokens['frames']} frames)",
            f"video: {video['path']} | {video['frames']} frames sampled over {video['duration_s']:.2f} s",
            f"timings: decode video {timing['frame_decode']:.1f} ms | vision {timing['vision_per_frame']:.1f} ms/frame"
            f" | projector+SlowFast {timing['projector']:.1f} ms | prefill {report['prompt_tokens']} tokens "
            f"{report['prefill_tokens_per_s']:.0f} tok/s | decode {report['decode_tokens_per_s']:.1f} tok/s"
            f" | first token {timing['time_to_first_token']:.0f} ms",
            f"weights: {report['weights']['weights']} | tokenizer: {report['weights']['tokenizer']} | preset: {report['preset']}",
        ]
    )


def main(argv=None) -> int:
    return run_command("sf-run", run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
