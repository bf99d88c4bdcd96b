"""Errors a user can act on.

Every error raised for bad input is an `SfError`: its message is one line that names the
problem and the fix. The CLI prints it without a traceback and exits non-zero; anything
else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


class SfError(Exception):
    """A problem with the user's input or environment, with the fix in the message."""

    exit_code = 2

    def __init__(self, problem: str, fix: str | None = None):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class PresetError(SfError):
    """An unknown preset name or an invalid configuration."""


class VideoError(SfError):
    """A video that cannot be read, has no video stream, or yields no frames."""


class CheckpointError(SfError):
    """A checkpoint directory that is missing, unsafe, or does not match its config."""


class MissingDependencyError(SfError):
    """A dependency is not installed; the message names the extra (or the package) to install."""

    def __init__(self, module: str, extra: str | None = None):
        if extra is None:  # a core dependency: the install is broken
            super().__init__(f"the dependency '{module}' is not installed", "reinstall sf-mobile: pip install sf-mobile")
        else:
            super().__init__(
                f"the optional dependency '{module}' is not installed",
                f"install it with: pip install 'sf-mobile[{extra}]'",
            )
