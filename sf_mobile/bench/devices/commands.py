"""Running the device tools (adb, xcrun devicectl, the macOS app): argv lists only, never a shell.

Backends take a `CommandRunner`, so a test can hand them a recorder or a scripted fake; the real
one is `SubprocessRunner`. Every command is an argv list: paths from the user's export folder
go through untouched, with no host shell to split or expand them.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sf_mobile.errors import SfError


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def first_line(self) -> str:
        """The first non-blank line of stderr, else of stdout: what a one-line error quotes."""
        for text in (self.stderr, self.stdout):
            for line in text.splitlines():
                if line.strip():
                    return line.strip()
        return f"exit status {self.returncode}"


class CommandTimeout(SfError):
    """A command ran past its time limit (it was killed)."""

    def __init__(self, argv: Sequence[str], timeout_s: float):
        self.argv = tuple(argv)
        super().__init__(
            f"`{' '.join(argv[:4])}` did not finish within {timeout_s:g} s",
            "check the device is unlocked and connected, or allow more time with --timeout",
        )


class ToolNotFound(SfError):
    """The executable of a command is not on PATH."""

    def __init__(self, tool: str):
        self.tool = tool
        super().__init__(f"{tool} not found on PATH", "install it, or put it on PATH")


class CommandRunner(Protocol):
    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        """Run `argv`; CommandTimeout past `timeout_s`, ToolNotFound when argv[0] does not exist."""
        ...


def check_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """`argv` as a tuple of strings; TypeError for a shell string or anything else."""
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        raise TypeError(f"a command is an argv list, not {type(argv).__name__} {argv!r}")
    if not argv or not all(isinstance(word, str) for word in argv):
        raise TypeError(f"a command is a non-empty list of strings, got {argv!r}")
    return tuple(argv)


class SubprocessRunner:
    """Runs commands with subprocess (shell=False), capturing text output; stdin is closed so a
    tool that asks a question fails instead of hanging."""

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        argv = check_argv(argv)
        try:
            done = subprocess.run(
                list(argv),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout_s,
                check=False,
            )
        except FileNotFoundError:
            raise ToolNotFound(argv[0]) from None
        except subprocess.TimeoutExpired:
            raise CommandTimeout(argv, timeout_s) from None
        return CommandResult(argv, done.returncode, done.stdout, done.stderr)


@dataclass
class RecordingRunner:
    """Wraps a runner and keeps every argv it was given, in order (tests, dry runs)."""

    inner: CommandRunner = field(default_factory=SubprocessRunner)
    calls: list[list[str]] = field(default_factory=list)

    def run(self, argv: Sequence[str], timeout_s: float | None = None) -> CommandResult:
        self.calls.append(list(check_argv(argv)))
        return self.inner.run(argv, timeout_s)


def on_path(tool: str) -> bool:
    return shutil.which(tool) is not None


def wait_until(
    check: Callable[[], bool],
    timeout_s: float,
    interval_s: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Call `check` until it returns True (then True) or `timeout_s` has passed (then False).
    `check` runs at least once, and once more at the deadline, so a slow poll is not lost."""
    deadline = clock() + timeout_s
    while True:
        if check():
            return True
        remaining = deadline - clock()
        if remaining <= 0:
            return False
        sleep(min(interval_s, remaining))
