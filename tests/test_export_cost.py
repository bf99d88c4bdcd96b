"""benchmarks/export_cost: the stage parsing, the verdict against the 1b targets, and one tiny run
through the same child-process measurement the real-size rows use."""

from __future__ import annotations

import re
import subprocess
import sys

from sf_mobile.benchmarks import export_cost

SUMMARY = """export: /tmp/x  [ok]
  stages: load model 17.1 s / 7.8 GiB, parity inputs and float reference 510.5 s / 9.6 GiB, lower to XNNPACK and ExecuTorch 451.3 s, save 6.3 s
  peak RSS: 11.8 GiB (in 'lower to XNNPACK and ExecuTorch')
"""


def test_stages_are_read_from_the_export_summary():
    stages = export_cost.stage_seconds(SUMMARY)
    assert stages == {"load model": 17.1, "parity inputs and float reference": 510.5,
                      "lower to XNNPACK and ExecuTorch": 451.3, "save": 6.3}
    assert export_cost.dominant(stages, 1021.0) == "parity inputs and float reference 510 s (50%)"
    assert export_cost.stage_seconds("no summary") == {}


def test_only_1b_is_held_to_the_targets():
    assert export_cost.against_targets("1b", 1450, 11.8) == "time missed (2.4x), memory met (11.8 GiB)"
    assert export_cost.against_targets("1b", 600, 12.0) == "time met (1.0x), memory met (12.0 GiB)"
    assert export_cost.against_targets("3b", 9000, 30.0) == "n/a"


def test_an_unknown_target_is_refused():
    proc = subprocess.run([sys.executable, "-m", "sf_mobile.benchmarks.export_cost", "--targets", "tflite"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown target(s) ['tflite']; valid: executorch,coreml,onnx" in proc.stderr


def test_a_tiny_executorch_row(cache_dir):
    proc = subprocess.run([sys.executable, "-m", "sf_mobile.benchmarks.export_cost", "--sizes", "tiny",
                           "--targets", "executorch", "--frames", "4"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    row = proc.stdout.strip().splitlines()[-1].split("|")
    cells = [c.strip() for c in row[1:-1]]
    size, target, recipe, status, wall, peak, targets, stage = cells[2:10]
    assert (size, target, recipe, status, targets) == ("tiny", "executorch", "--quant 8da4w --embedding-quant 4w", "ok", "n/a")
    assert float(wall) > 0 and 0 < float(peak) < 8
    assert re.fullmatch(r"[a-zA-Z+ ()]+ \d+ s \(\d+%\)", stage), stage  # the export's own stage names
