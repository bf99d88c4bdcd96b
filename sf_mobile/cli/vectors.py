"""`python -m sf_mobile.vectors [--check]`: write or check the apps' shared test vectors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sf_mobile.cli.common import run_command
from sf_mobile.errors import SfError

NAME = "python -m sf_mobile.vectors"


def build_parser() -> argparse.ArgumentParser:
    from sf_mobile.vectors import DEFAULT_DIR

    parser = argparse.ArgumentParser(
        prog=NAME, description="Write the JSON test vectors that the demo apps' tests check themselves against."
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 naming every stale vector")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"vector folder (default: {DEFAULT_DIR})")
    return parser


def run(args: argparse.Namespace) -> int:
    from sf_mobile import vectors

    folder = args.dir
    if not folder.parent.is_dir():  # an installed copy points into site-packages, which has no tests/
        raise SfError(f"{folder.parent} does not exist", "run from a source checkout or pass --dir FOLDER")
    if args.check:
        stale = vectors.stale(folder)
        for name in stale:
            problem = "is stale (not what the code generates)" if (folder / name).is_file() else "is missing"
            print(f"{folder / name} {problem}; rewrite it with `{NAME}`", file=sys.stderr)
        if not stale:
            print(f"{folder}: every vector is up to date")
        return 1 if stale else 0
    changed = vectors.write(folder)
    print(f"{folder}: rewrote {', '.join(changed)}" if changed else f"{folder}: every vector was already up to date")
    return 0


def main(argv=None) -> int:
    return run_command(NAME, run, build_parser(), argv)
