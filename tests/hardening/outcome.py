"""What a hardening case expects, how it is run, and the exact checks on what came back."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sf_mobile.cli import bench, export, info, plan, run, verify

MAINS = {
    "sf-run": run.main, "sf-export": export.main, "sf-bench": bench.main, "sf-verify": verify.main, "sf-info": info.main,
    "sf-plan": plan.main,
}
BIN = Path(sys.executable).parent
RANDOM_WARNING = "WARNING: no --checkpoint given: running with RANDOM weights"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


@dataclass(frozen=True)
class Refused:
    """Exit `code`, nothing on stdout, and stderr exactly ONE line `PROG: error: ...` holding every
    fragment (argparse's usage lines may come first; `after_load`: the random-weights warning may too)."""

    code: int
    fragments: tuple[str, ...]
    usage: bool = False
    after_load: bool = False
    label: str = "one-line error"
    prog: str | None = None  # the prefix the line carries when it is not the command's (`sf-bench compare`)


@dataclass(frozen=True)
class Failed:
    """sf-verify's verdict on a damaged folder: exit 1, stderr empty, a `FAIL` line on stdout holding
    every fragment, and the last line `FAILED: ...`."""

    fragments: tuple[str, ...]
    code: int = 1
    label: str = "sf-verify FAIL line"


@dataclass(frozen=True)
class Handled:
    """Exit 0 and `check(ws, result)` passes: the input is odd but valid, and the answer is right.
    stderr holds only warnings: the random-weights one, and one per `warnings` fragment."""

    check: Callable
    warnings: tuple[str, ...] = ()
    code: int = 0
    label: str = "handled, answer checked"


Expect = Refused | Failed | Handled


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    prog: str
    argv: Callable  # (ws) -> list[str]; builds the inputs it names
    expect: Expect
    spawn: bool = False  # run the installed entry point in a child process (a real traceback would show)
    needs: Callable[[], str | None] = field(default=lambda: None)  # a reason the case cannot run here, or None
    prefix: Callable[[], tuple[str, ...]] = field(default=tuple)  # a spawned command runs under it (setpriv)


def invoke(case: Case, argv: Sequence[str], ws, capsys) -> Result:
    if case.spawn:
        return spawn(case.prog, argv, ws, case.prefix())
    try:
        code = MAINS[case.prog](list(argv))
    except SystemExit as exit_:  # argparse's usage errors
        code = exit_.code
    out, err = capsys.readouterr()
    return Result(code, out, err)


def spawn(prog: str, argv: Sequence[str], ws, prefix: Sequence[str] = ()) -> Result:
    env = {**os.environ, **ws.env()}
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [*prefix, str(BIN / prog), *argv], capture_output=True, text=True, env=env, cwd=ws.cwd, timeout=300, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def check(case: Case, result: Result, ws) -> None:
    """The exact outcome the case names; AssertionError with the whole output otherwise."""
    seen = f"exit {result.code}\n--- stdout\n{result.out}\n--- stderr\n{result.err}"
    expect = case.expect
    assert "Traceback" not in result.err, seen
    assert result.code == expect.code, seen
    lines = result.err.splitlines()
    if isinstance(expect, Refused):
        assert result.out == "", seen
        errors = [line for line in lines if line.startswith(f"{expect.prog or case.prog}: error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], seen
        others = lines[:-1]
        if expect.usage:
            others = [line for line in others if not (line.startswith("usage: ") or line.startswith(" "))]
        if expect.after_load:
            others = [line for line in others if not line.startswith(f"{case.prog}: {RANDOM_WARNING}")]
        assert others == [], seen
        missing = [f for f in expect.fragments if f not in errors[0]]
        assert missing == [], f"the error line lacks {missing}\n{seen}"
    elif isinstance(expect, Failed):
        assert result.err == "", seen
        out = result.out.splitlines()
        assert out and out[-1].startswith("FAILED: "), seen
        fail_lines = [line for line in out if ": FAIL: " in line]
        assert any(all(f in line for f in expect.fragments) for line in fail_lines), f"no FAIL line holds {expect.fragments}\n{seen}"
    else:
        warnings = [line for line in lines if not line.startswith(f"{case.prog}: {RANDOM_WARNING}")]
        assert len(warnings) == len(expect.warnings), seen
        for line, fragment in zip(warnings, expect.warnings):
            assert line.startswith(f"{case.prog}: WARNING: ") and fragment in line, seen
        expect.check(ws, result)


def leftovers(before: dict, after: dict) -> dict[str, list[str]]:
    """Paths created, removed or changed between two Workspace.snapshot()s."""
    return {
        "created": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "changed": sorted(p for p in set(before) & set(after) if before[p] != after[p]),
    }


@contextlib.contextmanager
def no_leftovers(ws):
    before = ws.snapshot()
    yield
    changes = leftovers(before, ws.snapshot())
    assert changes == {"created": [], "removed": [], "changed": []}, changes
