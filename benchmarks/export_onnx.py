"""Real-size ONNX export: wall time per stage, peak RSS and artifact sizes, recorded with its command.

    python -m sf_mobile.benchmarks.export_onnx --size 1b --backend qnn --quant a16w8 --frames 8 --record

With --record a row goes to benchmarks/results/onnx_export.md and the manifest's figures to a JSON
file beside it (see export_run.py). For `--backend qnn` the parity column shows the HTP simulator's
(sampled at real size: the manifest's parity bundle meta says which calls) against the same QDQ
graphs on the CPU provider, then the CPU provider against the float model. The simulator's time is
an accuracy check's, never a device latency.
"""

from __future__ import annotations

import sys

from sf_mobile.benchmarks.export_run import large_artifacts, run_export_benchmark

HEADER = (
    "# ONNX export at real size (random weights, 2 cores, Linux; QNN parity on the HTP simulator)\n\n"
    "Rows are appended by `benchmarks/export_onnx.py --record`.\n\n"
    "| date | command | status | wall s | peak RSS GiB | artifacts MiB | stages (s) | parity |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def main(argv=None) -> int:
    return run_export_benchmark("export_onnx", "onnx", "onnx_export.md", HEADER, large_artifacts, argv)


if __name__ == "__main__":
    sys.exit(main())
