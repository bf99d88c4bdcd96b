"""sf-verify: check an export folder against its sf_manifest.json before shipping or loading it.

Exit status: 0 when every check passes (warnings and checks that could not run do not count),
1 when any check fails, 2 for bad usage or a manifest that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sf_mobile.cli.common import run_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sf-verify",
        description="Check an export folder against its sf_manifest.json: paths stay inside the folder, "
        "sha256 and sizes match, and the graphs' inputs/outputs are the declared ones.",
    )
    parser.add_argument("folder", type=Path, metavar="DIR", help="a folder written by sf-export")
    parser.add_argument(
        "--no-io", dest="check_io", action="store_false",
        help="skip loading the graphs to compare their inputs/outputs (hashes and paths only)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    return parser


def run(args: argparse.Namespace) -> int:
    from sf_mobile.verify import verify_folder

    report = verify_folder(args.folder, check_io=args.check_io)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        print()
    else:
        print("\n".join(report.lines()))
    return 0 if report.passed else 1


def main(argv=None) -> int:
    return run_command("sf-verify", run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
