"""sf-export: turn a preset or checkpoint into on-device graphs, with parity checked at the end."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sf_mobile.cli.common import add_model_arguments, positive, run_command, warn_if_random

PARITY_FAILED_EXIT = 3
TARGET_NAMES = ("executorch", "coreml", "onnx")


def default_out(args: argparse.Namespace) -> Path:
    """$SF_MOBILE_EXPORTS (default ~/sf-mobile-exports)/<size>-<target>[-<quant>]: never the working folder."""
    root = Path(os.environ.get("SF_MOBILE_EXPORTS", Path.home() / "sf-mobile-exports"))
    quant = getattr(args, "quant", None)
    return root / "-".join(p for p in (args.size, args.target, quant) if p)


def build_parser(target: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sf-export",
        description="Export the vision encoder + SlowFast projector and the LLM with a KV cache for a phone "
        "runtime. Parity against the PyTorch reference runs at the end of every export.",
    )
    parser.add_argument("--target", required=True, metavar="TARGET", help=f"one of: {', '.join(TARGET_NAMES)}")
    add_model_arguments(parser)
    parser.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: ~/sf-mobile-exports/<size>-<target>-<quant>)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out if it exists (only once the new export is complete)")
    if target is not None:
        from sf_mobile.export import get_target

        get_target(target).add_arguments(parser)
    return parser


def _target_of(argv) -> str | None:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--target")
    known, _ = pre.parse_known_args(argv)
    return known.target


def format_summary(result) -> str:
    from sf_mobile.export.common import mib

    manifest = result.manifest
    lines = [f"export: {result.out}  [{manifest['status']}]"]
    for artifact in manifest["artifacts"]:
        lines.append(f"  {artifact['path']:<22} {mib(artifact['bytes']):>12}  sha256 {artifact['sha256'][:12]}")
    lines.append(f"  quantization: {manifest['quantization']}")
    for name, value in result.details.items():
        lines.append(f"  {name}: {value}")
    for report in result.reports:
        lines.extend("  " + line for line in report.summary_lines())
    lines.append("  stages: " + ", ".join(_stage(result, name, seconds) for name, seconds in result.timings.items()))
    if result.peak is not None:
        stage, gib = result.peak
        lines.append(f"  peak RSS: {gib:.1f} GiB (in '{stage}')")
    return "\n".join(lines)


def _stage(result, name: str, seconds: float) -> str:
    peak = result.peaks.get(name)
    return f"{name} {seconds:.1f} s" + (f" / {peak:.1f} GiB" if peak is not None else "")


def run(args: argparse.Namespace) -> int:
    from sf_mobile.export import get_target
    from sf_mobile.export.common import ExportRequest

    positive(args.frames, "--frames")
    target = get_target(args.target)
    options = target.options_from(args)
    request = ExportRequest(
        target=args.target,
        preset=args.size,
        out=args.out or default_out(args),
        checkpoint=args.checkpoint,
        frames=args.frames,
        seed=args.seed,
        overwrite=args.overwrite,
        on_loaded=lambda origin: warn_if_random(origin, "sf-export"),
    )
    result = target.run(request, options)
    print(format_summary(result))
    if not result.passed:
        failed = "; ".join(f"{r.against}: {', '.join(r.failed)}" for r in result.reports if not r.passed)
        print(f"sf-export: error: parity failed ({failed}); the output is written and marked failed in "
              f"sf_manifest.json", file=sys.stderr)
        return PARITY_FAILED_EXIT
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from sf_mobile.errors import SfError

    try:
        parser = build_parser(_target_of(argv))
    except SfError as err:
        print(f"sf-export: error: {err}", file=sys.stderr)
        return err.exit_code
    return run_command("sf-export", run, parser, argv)


if __name__ == "__main__":
    sys.exit(main())
