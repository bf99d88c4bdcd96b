"""Atomic output folders: an export appears complete at its final path, or not at all.

Everything is written into a staging folder beside the final one (same filesystem, so the final
step is one rename), and any failure, Ctrl-C included, removes the staging folder.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sf_mobile.errors import SfError

MIB = 1 << 20


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"


def _existing_ancestor(folder: Path) -> Path:
    folder = Path(folder).absolute()
    while not folder.exists():
        folder = folder.parent
    return folder


def check_free_space(folder: Path, needed_bytes: int) -> None:
    """SfError when the filesystem holding `folder` (or its nearest existing parent) has too little room."""
    free = shutil.disk_usage(_existing_ancestor(folder)).free
    if free < needed_bytes:
        raise SfError(
            f"{folder} needs {needed_bytes} bytes ({_mib(needed_bytes)}) but only {free} bytes ({_mib(free)}) are free",
            f"free {_mib(needed_bytes - free)} or choose another --out",
        )


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def _umask() -> int:
    mask = os.umask(0)  # the only portable way to read it is to set it
    os.umask(mask)
    return mask


def _refuse_existing(final: Path) -> None:
    raise SfError(f"{final} already exists", "pass --overwrite or choose another --out")


def _publish(staging: Path, final: Path, overwrite: bool) -> None:
    """Rename the finished staging folder to `final`; an old `final` is removed only afterwards."""
    if not (final.exists() or final.is_symlink()):
        os.rename(staging, final)
        return
    if not overwrite:  # appeared while we were writing
        _refuse_existing(final)
    aside = final.parent / f".{final.name}.old-{secrets.token_hex(4)}"
    os.rename(final, aside)
    try:
        os.rename(staging, final)
    except BaseException:
        os.rename(aside, final)  # put the old output back: a failed overwrite changes nothing
        raise
    if aside.is_dir() and not aside.is_symlink():
        shutil.rmtree(aside, onerror=_warn_leftover(aside))  # Python 3.11: onexc arrived in 3.12
    else:
        aside.unlink()


def _warn_leftover(aside: Path):
    def report(function, path, exc_info) -> None:  # the new output is in place; only clean-up failed
        warnings.warn(f"could not remove the replaced output {aside} ({exc_info[1]}); delete it by hand", stacklevel=2)

    return report


@contextmanager
def atomic_output_dir(final: Path, overwrite: bool = False, expected_bytes: int | None = None) -> Iterator[Path]:
    """Yield a staging folder; on success it becomes `final`, on any exception it is removed.

    With overwrite=True an existing `final` is replaced only once the new one is complete.
    `expected_bytes`, when known, is checked against the free space before anything is written.
    """
    final = Path(final).absolute()
    if (final.exists() or final.is_symlink()) and not overwrite:
        _refuse_existing(final)
    if final.exists() and not final.is_dir():
        raise SfError(f"{final} exists and is a file, not an output folder", "choose another --out")
    final.parent.mkdir(parents=True, exist_ok=True)
    if expected_bytes is not None:
        check_free_space(final.parent, expected_bytes)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0o700); an output folder is ordinary
    try:
        yield staging
        _publish(staging, final, overwrite)
    except BaseException as err:
        written = _tree_bytes(staging) if staging.is_dir() else 0
        shutil.rmtree(staging, ignore_errors=True)  # best effort: the original error is what matters
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            if expected_bytes is not None:
                needed = max(expected_bytes - shutil.disk_usage(final.parent).free, MIB)
            else:  # unknown total: what fit before the disk filled is the best lower bound on what is missing
                needed = max(written, MIB)
            raise SfError(
                f"disk full while writing {final}", f"free {needed // MIB + 1} MiB or choose another --out"
            ) from None
        raise
