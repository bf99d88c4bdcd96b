"""docs/hardening.md must describe the suite as it is: the same number of inputs per category as
the catalogue and the hardening tests hold, every one of them passed or skipped in the recorded run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter

from hardening.cases import CASES
from hardening.table import COMMAND, DOC, ROOT, category_of, summary_rows

ROW = re.compile(r"^\| (?P<category>[a-z ]+) \| (?P<tried>\d+) \| (?P<passed>\d+) \| (?P<failed>\d+) \| (?P<skipped>\d+) \|")


def committed_rows() -> dict[str, dict[str, int]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        if match := ROW.match(line):
            rows[match["category"]] = {k: int(match[k]) for k in ("tried", "passed", "failed", "skipped")}
    return rows


def collected() -> Counter:
    """category -> tests pytest collects in tests/hardening (test_table.py aside)."""
    env = {**os.environ}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests/hardening",
         "--ignore", "tests/hardening/test_table.py"],
        cwd=ROOT, capture_output=True, text=True, env=env, check=True,
    )
    return Counter(category_of(line) for line in proc.stdout.splitlines() if "::" in line)


def test_the_committed_table_counts_what_the_suite_tries():
    rows = committed_rows()
    assert COMMAND in DOC.read_text()
    assert {c: r["tried"] for c, r in rows.items()} == dict(collected()), f"stale: re-run {COMMAND}"
    assert all(r["failed"] == 0 and r["passed"] + r["skipped"] == r["tried"] for r in rows.values()), rows
    for case in CASES:  # the per-case list too
        assert f"| {case.id} | {case.category} |" in DOC.read_text(), f"{case.id} missing: re-run {COMMAND}"


def test_summary_rows_group_by_the_catalogue():
    results = {f"tests/hardening/test_adversarial.py::test_case[{case.id}]": ("passed", 0.0, {}) for case in CASES}
    results["tests/hardening/test_soak.py::test_soak_1000_decode_steps[onnxruntime-cpu]"] = ("failed", 0.0, {})
    rows = {row["category"]: row for row in summary_rows(results)}
    assert rows["video"]["tried"] == sum(case.category == "video" for case in CASES) == rows["video"]["passed"]
    assert (rows["soak"]["tried"], rows["soak"]["failed"], rows["properties"]["tried"]) == (1, 1, 0)
