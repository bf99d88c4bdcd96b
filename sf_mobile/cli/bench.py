"""sf-bench: run an exported folder on every backend: parity against its bundle, latency, roofline.

    sf-bench DIR [--backend NAME ...] [--repeats N] [--warmup N] [--video FILE] [--report OUTDIR]
    sf-bench compare BASE.json NEW.json [--threshold F]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sf_mobile.cli.common import positive, run_command
from sf_mobile.errors import SfError

EXIT_PARITY = 3  # as sf-export: the graphs ran and disagree with the reference
EXIT_FAILED = 1  # a backend broke, or one asked for by name could not run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sf-bench",
        description="Run an sf-export folder on every backend: parity against its parity/ bundle, latency "
        "(median and p90 over repeats), peak memory, and the decode roofline. "
        "'sf-bench compare BASE.json NEW.json' shows regressions between two runs.",
    )
    parser.add_argument("folder", type=Path, metavar="DIR", help="a folder written by sf-export")
    parser.add_argument("--backend", action="append", metavar="NAME",
                        help="run only this backend (repeatable); default: all, unavailable ones reported with the reason")
    parser.add_argument("--repeats", type=int, default=3, metavar="N", help="timed runs per backend (default 3)")
    parser.add_argument("--warmup", type=int, default=1, metavar="N", help="untimed runs first (default 1)")
    parser.add_argument("--decode-tokens", type=int, default=16, metavar="N", help="tokens decoded per timed run (default 16)")
    parser.add_argument("--video", type=Path, metavar="FILE", help="video for the timed runs (default: the sample clip)")
    parser.add_argument("--report", type=Path, metavar="OUTDIR", help="write sf_bench.json, sf_bench.md and sf_bench.html there")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR", help="the checkpoint a checkpoint export came from (eager reference)")
    parser.add_argument("--device", metavar="ID", help="device serial (adb) or identifier (devicectl) when several are attached")
    parser.add_argument("--app", type=Path, metavar="PATH", help="the macOS demo app, for the macos-app backend")
    parser.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                        help="seconds a device app may take for its run, launch to result (default 1800)")
    parser.add_argument("--json", action="store_true", help="print the result JSON instead of the summary")
    return parser


def build_compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sf-bench compare", description="Regressions between two sf-bench results.")
    parser.add_argument("base", type=Path, metavar="BASE.json")
    parser.add_argument("new", type=Path, metavar="NEW.json")
    parser.add_argument("--threshold", type=float, default=0.05, metavar="F",
                        help="relative change counted as a regression (default 0.05 = 5%%)")
    parser.add_argument("--allow-mismatch", action="store_true", help="compare results of different presets or targets")
    return parser


def summary_lines(result: dict) -> list[str]:
    export = result["export"]
    lines = [f"sf-bench {result['folder']}  [{export['target']} {export['preset']}, {export['quantization'].get('llm')}]",
             f"  host: {result['host']['cpu_count']} CPUs, {result['host']['torch_threads']} threads, "
             f"memory bandwidth {result['host']['memory_bandwidth_gb_s']} GB/s"]
    for backend in result["backends"]:
        head = f"  {backend['name']:<18} {backend['status']:<13}"
        if backend["status"] in ("unavailable", "failed"):
            lines.append(f"{head} {backend['reason']}")
            continue
        parts = [" / ".join(f"vs {r['against']}: {'passed' if r['passed'] else 'FAILED ' + ','.join(r['failed'])}" for r in backend["parity"])]
        metrics = (backend["latency"] or {}).get("metrics", {})
        if "time_to_first_token_ms" in metrics:
            parts.append(f"TTFT {metrics['time_to_first_token_ms']['median']:.1f} ms")
        if "decode_tok_s" in metrics:
            parts.append(f"decode {metrics['decode_tok_s']['median']:.1f} tok/s")
        roof = backend["roofline"]
        if roof and roof.get("fraction_of_bound") is not None:
            parts.append(f"{100 * roof['fraction_of_bound']:.0f}% of the {roof['decode_tok_s_bound']:.0f} tok/s roofline")
        if backend["accuracy_only"]:
            parts.append("accuracy only")
        lines.append(f"{head} " + "; ".join(parts))
    return lines


def exit_code(result: dict, named: list[str] | None) -> int:
    statuses = [b["status"] for b in result["backends"]]
    if "failed" in statuses or (named and "unavailable" in statuses):
        return EXIT_FAILED
    return EXIT_PARITY if "parity_failed" in statuses else 0


def run(args: argparse.Namespace) -> int:
    from sf_mobile.bench.context import Settings
    from sf_mobile.bench.runner import check_backend_names, run_bench

    for flag in ("repeats", "decode_tokens"):
        positive(getattr(args, flag), f"--{flag.replace('_', '-')}")
    if not args.timeout > 0:
        raise SfError(f"--timeout is {args.timeout:g}", "pass the seconds a device run may take, more than 0")
    if args.warmup < 0:
        raise SfError(f"--warmup is {args.warmup}", "pass 0 or more warm-up runs")
    if args.backend:
        check_backend_names(args.backend)
    settings = Settings(
        repeats=args.repeats, warmup=args.warmup, decode_tokens=args.decode_tokens, video=args.video,
        checkpoint=args.checkpoint, device=args.device, app=args.app, timeout_s=args.timeout,
    )
    result = run_bench(args.folder, args.backend, settings)
    if args.report is not None:
        from sf_mobile.reports.write import write_reports

        written = write_reports(result, args.report)
        print("reports: " + ", ".join(str(p) for p in written.values()), file=sys.stderr)
    if args.json:
        import json

        print(json.dumps(result, indent=2))
    else:
        print("\n".join(summary_lines(result)))
    return exit_code(result, args.backend)


def run_compare(args: argparse.Namespace) -> int:
    from sf_mobile.reports.compare import compare_results
    from sf_mobile.reports.schema import read_result

    comparison = compare_results(read_result(args.base), read_result(args.new), args.threshold, allow_mismatch=args.allow_mismatch)
    print("\n".join(comparison.lines()))
    return 0 if comparison.passed else EXIT_FAILED


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["compare"]:
        return run_command("sf-bench compare", run_compare, build_compare_parser(), argv[1:])
    return run_command("sf-bench", run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
