"""Real-size Core ML export: wall time per stage, peak RSS and package sizes, recorded with its command.

    python -m sf_mobile.benchmarks.export_coreml --size 1b --quant int4 --frames 8 --record

With --record a row goes to benchmarks/results/coreml_export.md and the manifest's figures to a
JSON file beside it (see export_run.py). Parity runs through the numpy MIL evaluator: its time is
the evaluator's, never a device latency.
"""

from __future__ import annotations

import sys

from sf_mobile.benchmarks.export_run import large_artifacts, run_export_benchmark

HEADER = (
    "# Core ML export at real size (random weights, 2 cores, Linux: parity through the MIL evaluator)\n\n"
    "Rows are appended by `benchmarks/export_coreml.py --record`.\n\n"
    "| date | command | status | wall s | peak RSS GiB | artifacts MiB | stages (s) | parity |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def main(argv=None) -> int:
    return run_export_benchmark("export_coreml", "coreml", "coreml_export.md", HEADER, large_artifacts, argv)


if __name__ == "__main__":
    sys.exit(main())
