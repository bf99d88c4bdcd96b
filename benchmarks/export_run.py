"""Shared by the real-size export benchmarks: run `sf-export` in a child process, measure, record.

The child process is measured alone (its peak RSS: getrusage and its own per-stage marks), then the manifest it wrote gives
the artifact sizes and parity; with --record a Markdown row and the raw JSON go to results/.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.benchmarks import record


def parity_cell(manifest: dict) -> str:
    return "; ".join(
        f"vs {r['against']}: " + ", ".join(
            f"{c['component']} {c['rel_l2']:.1e}" if c.get("rel_l2") is not None else f"{c['component']} {c.get('greedy_prefix')}"
            for c in r["components"].values()
        )
        for r in manifest["parity"]
    )


def large_artifacts(manifest: dict) -> str:
    """The size column: every artifact over 1 MiB, in MiB."""
    return ", ".join(f"{a['path']} {a['bytes'] / 2**20:.1f}" for a in manifest["artifacts"] if a["bytes"] > 2**20)


def stages_cell(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.strip().startswith("stages:"):
            return line.split("stages:", 1)[1].strip()
    return ""


def reported_peak_gib(stdout: str) -> float:
    """The child's own per-stage high-water marks ("peak RSS: 19.9 GiB (in 'stage')"): it resets the
    kernel's mark at each stage, so getrusage alone can miss an earlier stage's peak."""
    for line in stdout.splitlines():
        if line.strip().startswith("peak RSS:"):
            return float(line.split(":", 1)[1].split()[0])
    return 0.0


def run_export_benchmark(module: str, target: str, table: str, header: str, artifact_cell, argv=None) -> int:
    """`artifact_cell(manifest) -> str` gives the target's size column(s)."""
    parser = argparse.ArgumentParser(description=f"real-size sf-export --target {target}: time, peak RSS, sizes")
    parser.add_argument("--size", default="1b")
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the exported folder (default: removed once measured)")
    args, export_flags = parser.parse_known_args(argv)
    out = Path(tempfile.mkdtemp(prefix="sf-bench-")) / "export"
    try:
        return _run(module, target, table, header, artifact_cell, argv, args, export_flags, out)
    finally:
        if args.keep:
            print(f"kept: {out}", file=sys.stderr)
        else:
            shutil.rmtree(out.parent, ignore_errors=True)  # a real-size export is GBs


@dataclass
class ExportRun:
    """One `sf-export` child process, measured alone."""

    wall_s: float
    peak_gib: float
    stdout: str
    returncode: int
    manifest: dict | None  # None when the export wrote none (it failed before the end)


def measure_export(target: str, size: str, export_flags: list[str], out: Path) -> ExportRun:
    """Run `sf-export --target T --size S FLAGS --out OUT` and measure it. The peak is this child's
    own (os.wait4's rusage, not RUSAGE_CHILDREN, which keeps the largest of every earlier child too),
    or the child's own per-stage marks when larger."""
    command = [sys.executable, "-m", "sf_mobile.cli.export", "--target", target, "--size", size,
               *export_flags, "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # stderr (progress) passes through
    stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    peak_gib = max(usage.ru_maxrss / 2**20, reported_peak_gib(stdout))
    manifest_path = out / "sf_manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    return ExportRun(wall, peak_gib, stdout, proc.returncode, manifest)


def _run(module, target, table, header, artifact_cell, argv, args, export_flags, out: Path) -> int:
    run = measure_export(target, args.size, export_flags, out)
    print(run.stdout)
    if run.manifest is None:
        print(f"export failed (exit {run.returncode}); nothing recorded", file=sys.stderr)
        return 1
    manifest = run.manifest
    shown = record.command_line(module, argv)
    row = (f"| {record.today()} | `{shown}` | {manifest['status']} | {run.wall_s:.0f} | {run.peak_gib:.1f} | "
           f"{artifact_cell(manifest)} | {stages_cell(run.stdout)} | {parity_cell(manifest)} |")
    print(header + row)
    if args.record:
        record.append_row(table, header, row)
        raw = {"command": shown, "wall_s": round(run.wall_s, 1), "peak_rss_gib": round(run.peak_gib, 2), "manifest": manifest}
        (record.RESULTS / f"{target}-export-{args.size}-{record.stamp()}.json").write_text(json.dumps(raw, indent=2) + "\n")
    return 0 if run.returncode == 0 else run.returncode
