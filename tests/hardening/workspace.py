"""The folder every hardening case runs in, and the inputs it builds there on first use.

One session-wide tree: `cache/` (SF_MOBILE_CACHE, the sample clip made up front), `cwd/` (the
working folder of every command: it must stay empty), `default-exports/` (SF_MOBILE_EXPORTS:
it must stay absent), `inputs/` (bad videos, checkpoints and tampered export copies, each made
once by its builder). A case snapshots the whole tree before and after it runs: any new,
changed or removed path is a leftover.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

Builder = Callable[["Workspace", Path], None]  # writes the input at the given path


class Workspace:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.cache = self.root / "cache"
        self.cwd = self.root / "cwd"
        self.default_exports = self.root / "default-exports"
        self.inputs = self.root / "inputs"
        for folder in (self.cache, self.cwd, self.inputs):
            folder.mkdir(parents=True, exist_ok=True)
        self._exports: dict[str, Path] = {}
        self.export_builder: Callable[[Path], None] | None = None  # set by conftest: a real tiny export

    def env(self) -> dict[str, str]:
        return {"SF_MOBILE_CACHE": str(self.cache), "SF_MOBILE_EXPORTS": str(self.default_exports)}

    def build(self, kind: str, name: str, builders: dict[str, Builder], suffix: str = "") -> Path:
        """inputs/<kind>/<name><suffix>, made by builders[name] the first time it is asked for."""
        path = self.inputs / kind / f"{name}{suffix}"
        if not (path.exists() or path.is_symlink()):
            path.parent.mkdir(parents=True, exist_ok=True)
            builders[name](self, path)
        return path

    def export(self) -> Path:
        """A complete tiny ONNX export (the fastest target), made once; never modified."""
        path = self.inputs / "exports" / "onnx-tiny"
        if not path.exists():
            self.export_builder(path)
        return path

    def export_copy(self, name: str, edit: Callable[[Path], None]) -> Path:
        """A copy of `export()` changed by `edit(folder)`, made once."""
        path = self.inputs / "tampered" / name
        if not path.exists():
            shutil.copytree(self.export(), path, symlinks=True)
            edit(path)
        return path

    def fresh(self, name: str) -> Path:
        """A path inside inputs/ that does not exist (an --out to be refused)."""
        return self.inputs / "outs" / name

    def snapshot(self) -> dict[str, tuple[int, int, bool]]:
        """relative path -> (size, mtime_ns, is_link) of everything below the root."""
        entries = {}
        for dirpath, dirnames, filenames in os.walk(self.root):
            for name in (*dirnames, *filenames):
                path = Path(dirpath) / name
                info = path.lstat()
                entries[path.relative_to(self.root).as_posix()] = (info.st_size if path.is_file() else 0, info.st_mtime_ns, path.is_symlink())
        return entries
