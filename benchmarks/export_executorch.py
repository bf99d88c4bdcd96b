"""Real-size ExecuTorch export: wall time per stage, peak RSS and .pte size, recorded with its command.

    python -m sf_mobile.benchmarks.export_executorch --size 1b --quant 8da4w --embedding-quant 4w --frames 8 --record

With --record a row goes to benchmarks/results/executorch_export.md and the manifest's figures to a
JSON file beside it (see export_run.py).
"""

from __future__ import annotations

import sys

from sf_mobile.benchmarks.export_run import run_export_benchmark

HEADER = (
    "# ExecuTorch export at real size (random weights, 2 cores)\n\n"
    "Rows are appended by `benchmarks/export_executorch.py --record`.\n\n"
    "| date | command | status | wall s | peak RSS GiB | .pte MiB | stages (s) | parity |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def pte_mib(manifest: dict) -> str:
    pte = next(a for a in manifest["artifacts"] if a["path"].endswith(".pte"))
    return f"{pte['bytes'] / 2**20:.1f}"


def main(argv=None) -> int:
    return run_export_benchmark("export_executorch", "executorch", "executorch_export.md", HEADER, pte_mib, argv)


if __name__ == "__main__":
    sys.exit(main())
