"""The README's performance summary, regenerated from benchmarks/results/: one line per benchmark.

    python -m sf_mobile.benchmarks.summary [--check]

Every results/*.md table gives its latest row (rows are appended in run order), turned into a
headline by a rule picked from its columns; token_budget.md, a whole-run table, gives the headline
stored in its latest JSON. The block sits in README.md between START and END; --check exits 1 when
the README's block differs from what the results give (tests run it, so the two cannot drift).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.benchmarks import record

START, END = "<!-- perf-summary:start -->", "<!-- perf-summary:end -->"
README = record.RESULTS.parents[1] / "README.md"  # a source checkout: benchmarks/ sits beside README.md
WHOLE_RUN_TABLES = {"token_budget.md": "token_budget-*.json", "decode_host.md": "decode_host-*.json"}  # table -> the JSON holding its headline
INTRO = (
    "Latest run of each benchmark, regenerated from `benchmarks/results/` by "
    "`python -m sf_mobile.benchmarks.summary` (never by hand; `--check` fails when this block is stale). "
    "Timings are those recorded in each file (random weights, the machine named there); the token budget "
    "is arithmetic on paper."
)


@dataclass(frozen=True)
class Line:
    source: str  # file name under results/
    what: str
    headline: str
    date: str
    command: str  # as it appears in the table, in backticks


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse_table(text: str) -> tuple[str, list[str], list[list[str]]]:
    """(title, header, rows) of the first Markdown table in `text`; title from the first '# ' line."""
    lines = text.splitlines()
    title = next((line[2:].strip() for line in lines if line.startswith("# ")), "")
    for index in range(len(lines) - 1):
        if lines[index].startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[index + 1].strip()):
            header = _cells(lines[index])
            rows = []
            for line in lines[index + 2 :]:
                if not line.startswith("|"):
                    break
                rows.append(_cells(line))
            return title, header, rows
    return title, [], []


def _short_title(title: str) -> str:
    """The title up to its parenthesised note: 'Core ML export at real size (random weights, ...)'."""
    return title.split(" (", 1)[0].strip()


def _artifact_mib(cell: str) -> float:
    """Sum of 'name 796.0, name 742.2' (the export tables' artifacts column, MiB)."""
    return sum(float(part.split()[-1]) for part in cell.split(",") if part.split())


def headline(row: dict[str, str]) -> str:
    """A short headline from one table row, by the columns the table has."""
    if {"status", "wall s", "peak RSS GiB"} <= row.keys():
        if ".pte MiB" in row:
            size = f".pte {row['.pte MiB']} MiB"
        elif "artifacts MiB" in row:
            size = f"artifacts {_artifact_mib(row['artifacts MiB']):,.1f} MiB"
        else:
            size = ""
        return ", ".join(p for p in (f"{row['status']} in {row['wall s']} s", f"peak RSS {row['peak RSS GiB']} GiB", size) if p)
    if {"TTFT s", "decode tok/s", "prefill tok/s"} <= row.keys():
        return (f"{row.get('preset', '?')}, {row.get('frames', '?')} frames ({row.get('visual tokens', '?')} visual "
                f"tokens): TTFT {row['TTFT s']} s, prefill {row['prefill tok/s']} tok/s, decode {row['decode tok/s']} "
                f"tok/s, peak RSS {row.get('peak RSS GiB', '?')} GiB")
    names = list(row)
    if "ratio" in row and names.index("ratio") >= 2:
        at = names.index("ratio")
        first, second = names[at - 2], names[at - 1]
        return f"{first} {row[first]} vs {second} {row[second]}: {row['ratio']}"
    rest = [name for name in names if name not in ("date", "command")][:3]
    return "; ".join(f"{name} {row[name]}" for name in rest)


def _table_line(path: Path) -> Line | None:
    title, header, rows = parse_table(path.read_text())
    if not rows or "date" not in header or "command" not in header:
        return None
    latest = dict(zip(header, rows[-1]))
    return Line(path.name, _short_title(title), headline(latest), latest["date"], latest["command"])


def _whole_run_line(path: Path, pattern: str) -> Line | None:
    runs = sorted(path.parent.glob(pattern))  # names end in a sortable stamp
    if not runs:
        return None
    data = json.loads(runs[-1].read_text())
    title, _, _ = parse_table(path.read_text())
    return Line(path.name, _short_title(title), data["headline"], data["date"], f"`{data['command']}`")


def collect(results: Path) -> list[Line]:
    lines = []
    for path in sorted(results.glob("*.md")):
        pattern = WHOLE_RUN_TABLES.get(path.name)
        line = _whole_run_line(path, pattern) if pattern else _table_line(path)
        if line is not None:
            lines.append(line)
    return lines


def render(lines: list[Line]) -> str:
    """The whole block, markers included."""
    out = [START, INTRO, "", "| benchmark | latest headline | date | command |", "|---|---|---|---|"]
    out += [f"| [{line.what}](benchmarks/results/{line.source}) | {line.headline} | {line.date} | {line.command} |"
            for line in lines]
    out.append(END)
    return "\n".join(out)


def current_block(readme_text: str) -> str | None:
    start, end = readme_text.find(START), readme_text.find(END)
    if start < 0 or end < start:
        return None
    return readme_text[start : end + len(END)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when README.md's block is stale; write nothing")
    parser.add_argument("--results", type=Path, default=record.RESULTS, help=argparse.SUPPRESS)
    parser.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.readme.is_file():
        print(f"summary: error: no {args.readme}; run this from a source checkout", file=sys.stderr)
        return 2
    text = args.readme.read_text()
    block = current_block(text)
    if block is None:
        print(f"summary: error: {args.readme.name} has no {START} ... {END} markers; add them where the table goes",
              file=sys.stderr)
        return 2
    wanted = render(collect(args.results))
    if args.check:
        if block != wanted:
            print(f"summary: {args.readme.name}'s performance summary is stale; run python -m sf_mobile.benchmarks.summary",
                  file=sys.stderr)
            return 1
        return 0
    if block != wanted:
        args.readme.write_text(text.replace(block, wanted))
    print(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
