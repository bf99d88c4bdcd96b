"""Real-size ExecuTorch export: wall time per stage, peak RSS and .pte size, recorded with its command.

    python -m sf_mobile.benchmarks.export_executorch --size 1b --quant 8da4w --embedding-quant 4w --frames 8 --record

Runs `sf-export` in a child process (so its peak RSS is measured alone), then reads the
manifest it wrote. With --record a row goes to benchmarks/results/executorch_export.md and the
manifest's figures to a JSON file beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sf_mobile.benchmarks import record

HEADER = (
    "# ExecuTorch export at real size (random weights, 2 cores)\n\n"
    "Rows are appended by `benchmarks/export_executorch.py --record`.\n\n"
    "| date | command | status | wall s | peak RSS GiB | .pte MiB | stages (s) | parity |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1b")
    parser.add_argument("--record", action="store_true")
    args, export_flags = parser.parse_known_args(argv)
    out = Path(tempfile.mkdtemp(prefix="sf-bench-")) / "export"
    command = [sys.executable, "-m", "sf_mobile.cli.export", "--target", "executorch", "--size", args.size,
               *export_flags, "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True)  # stderr (progress) passes through
    wall = time.perf_counter() - start
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    print(proc.stdout)
    manifest_path = out / "sf_manifest.json"
    if not manifest_path.is_file():
        print(f"export failed (exit {proc.returncode}); nothing recorded", file=sys.stderr)
        return 1
    manifest = json.loads(manifest_path.read_text())
    pte = next(a for a in manifest["artifacts"] if a["path"].endswith(".pte"))
    stages = {}
    for line in proc.stdout.splitlines():
        if line.strip().startswith("stages:"):
            stages = line.split("stages:", 1)[1].strip()
    parity = "; ".join(
        f"vs {r['against']}: " + ", ".join(
            f"{c['component']} {c['rel_l2']:.1e}" if c.get("rel_l2") is not None else f"{c['component']} {c.get('greedy_prefix')}"
            for c in r["components"].values()
        )
        for r in manifest["parity"]
    )
    shown = record.command_line("export_executorch", argv)
    row = (f"| {record.today()} | `{shown}` | {manifest['status']} | {wall:.0f} | {peak_gib:.1f} | "
           f"{pte['bytes'] / 2**20:.1f} | {stages} | {parity} |")
    print(HEADER + row)
    if args.record:
        record.append_row("executorch_export.md", HEADER, row)
        raw = {"command": shown, "wall_s": round(wall, 1), "peak_rss_gib": round(peak_gib, 2), "manifest": manifest}
        (record.RESULTS / f"executorch-export-{args.size}-{record.stamp()}.json").write_text(json.dumps(raw, indent=2) + "\n")
    return 0 if proc.returncode == 0 else proc.returncode


if __name__ == "__main__":
    sys.exit(main())
