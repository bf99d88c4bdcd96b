"""What every exporter's bad-option tests check: `sf-export` fails before any work, in one line."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from sf_mobile.cli import export as export_cli


def assert_fails_before_any_work(argv: list[str], named: str, tmp_path: Path, capsys) -> None:
    """`sf-export ARGV --out tmp_path/out` exits 2 with one `sf-export: error:` line naming `named`,
    no traceback, no stage started, and nothing written under tmp_path."""
    code = export_cli.main([*argv, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("sf-export: error:")]
    assert code == 2 and len(lines) == 1 and named in lines[0] and "Traceback" not in err, err
    assert "[1/" not in err  # no stage started
    assert list(tmp_path.iterdir()) == []


def heavy_modules_after_help(target: str, modules: tuple[str, ...]) -> list[str]:
    """Which of `modules` a fresh interpreter has imported after rendering `sf-export --target
    TARGET --help` (the help must stay fast: none of them)."""
    code = (
        f"import sys; from sf_mobile.cli import export; export.build_parser({target!r}).format_help(); "
        f"print([m for m in {modules!r} if m in sys.modules])"
    )
    return ast.literal_eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
