"""Atomic output folders: an export appears complete at its final path, or not at all.

Everything is written into a staging folder beside the final one (same filesystem, so the final
step is one rename), and any failure, Ctrl-C and SIGTERM included, removes the staging folder.
A process killed outright (SIGKILL, power loss) cannot clean up: its staging folder
`.NAME.partial-PID-*` (and, if it died between the two renames of an overwrite, the previous
output set aside as `.NAME.old-PID-*`) stays beside NAME. The next export to the same NAME
removes the staging folders of dead processes and puts a set-aside previous output back, so
what a kill leaves is never more than one folder that the next run clears.
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _leftovers(final: Path, kind: str) -> list[Path]:
    """`.NAME.<kind>-PID-*` folders beside `final` whose process is dead (the PID is this host's)."""
    prefix = f".{final.name}.{kind}-"
    dead = []
    for path in final.parent.iterdir():  # not glob: NAME may hold [ or *
        pid = path.name[len(prefix) :].split("-", 1)[0] if path.name.startswith(prefix) else ""
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            dead.append(path)
    return sorted(dead)


def clean_stale(final: Path) -> None:
    """Clear what killed exports to `final` left behind: staging folders are deleted; an old output
    set aside by an overwrite killed before its last rename is put back when `final` is missing."""
    for aside in _leftovers(final, "old"):
        if not (final.exists() or final.is_symlink()):
            os.rename(aside, final)  # the previous complete output: an interrupted overwrite changes nothing
        else:
            shutil.rmtree(aside, ignore_errors=True)
    for staging in _leftovers(final, "partial"):
        shutil.rmtree(staging, ignore_errors=True)


def _disk_full(err: BaseException) -> bool:
    """ENOSPC, also where a writer wraps it: shutil.copytree (coremltools saves packages with it)
    collects per-file errors into one shutil.Error without an errno, C++ writers raise RuntimeError."""
    no_space = os.strerror(errno.ENOSPC)
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno == errno.ENOSPC:
            return True
        if isinstance(err, shutil.Error) and err.args and isinstance(err.args[0], list):
            if any(f"[Errno {errno.ENOSPC}]" in str(entry) for entry in err.args[0]):
                return True
        if isinstance(err, (OSError, RuntimeError)) and no_space in str(err):
            return True
        err = err.__cause__ or err.__context__
    return False


def _no_room(folder: Path) -> bool:
    """The filesystem is (all but) full: numpy's tofile, for one, reports ENOSPC as an OSError
    without an errno ("problem writing element N to file")."""
    try:
        return shutil.disk_usage(folder).free < MIB
    except OSError:
        return False


def _unwritable(final: Path, err: OSError) -> SfError:
    if err.errno == errno.ENOSPC:
        return SfError(f"disk full while creating {final}", "free some space or choose another --out")
    return SfError(f"cannot create the output folder {final} ({err.strerror or err})", "choose a writable --out")


def _publish(staging: Path, final: Path, overwrite: bool) -> None:
    """Rename the finished staging folder to `final`; an old `final` is removed only afterwards."""
    if not (final.exists() or final.is_symlink()):
        os.rename(staging, final)
        return
    if not overwrite:  # appeared while we were writing
        _refuse_existing(final)
    aside = final.parent / f".{final.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
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
    if final.exists() and not final.is_dir():
        raise SfError(f"{final} exists and is a file, not an output folder", "choose another --out")
    if final.parent.exists() and not final.parent.is_dir():
        raise SfError(f"{final.parent} is a file, so {final} cannot be created", "choose another --out")
    if final.parent.is_dir():
        clean_stale(final)
    if (final.exists() or final.is_symlink()) and not overwrite:
        _refuse_existing(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if expected_bytes is not None:
            check_free_space(final.parent, expected_bytes)
        staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-{os.getpid()}-", dir=final.parent))
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private (0o700); an output folder is ordinary
    except OSError as err:  # not writable, a file in the way further up, a full disk
        raise _unwritable(final, err) from None
    try:
        yield staging
        _publish(staging, final, overwrite)
    except BaseException as err:
        written = _tree_bytes(staging) if staging.is_dir() else 0
        full = _disk_full(err) or (isinstance(err, OSError) and _no_room(staging))  # before the clean-up frees room
        shutil.rmtree(staging, ignore_errors=True)  # best effort: the original error is what matters
        if full:
            if expected_bytes is not None:
                needed = max(expected_bytes - shutil.disk_usage(final.parent).free, MIB)
            else:  # unknown total: what fit before the disk filled is the best lower bound on what is missing
                needed = max(written, MIB)
            raise SfError(
                f"disk full while writing {final}", f"free {needed // MIB + 1} MiB or choose another --out"
            ) from None
        raise
