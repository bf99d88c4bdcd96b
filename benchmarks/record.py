"""Appending measured rows to benchmarks/results/*.md: figures are written by the run, never by hand."""

from __future__ import annotations

import datetime
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def command_line(module: str, argv: list[str] | None) -> str:
    """The command that reproduces this run, as it goes into the table."""
    return f"python -m sf_mobile.benchmarks.{module} " + shlex.join(argv if argv is not None else sys.argv[1:])


def today() -> str:
    return datetime.date.today().isoformat()


def append_row(table: str, header: str, row: str) -> Path:
    """Add `row` to results/<table>, creating it with `header` first."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / table
    if not path.exists():
        path.write_text(header)
    with path.open("a") as handle:
        handle.write(row + "\n")
    return path


def stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
