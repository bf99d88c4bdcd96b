"""sf-verify over one folder: paths stay inside it, hashes and sizes match, nothing unlisted,
and each graph's interface (graphs.py) matches its declaration."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from sf_mobile.errors import SfError
from sf_mobile.manifest import MANIFEST_NAME, _relative, hash_artifact, read_manifest
from sf_mobile.verify.findings import VerifyReport
from sf_mobile.verify.graphs import check_graph_io

PARITY_DIR = "parity"  # the parity bundle: inputs and references, never listed as artifacts
# Keys of an artifact entry that declare a graph's interface; an entry with none is a plain file.
GRAPH_KEYS = ("methods", "functions", "inputs", "outputs", "states")


def verify_folder(folder: Path, check_io: bool = True) -> VerifyReport:
    """Check every artifact of the export in `folder` against its manifest; never stops at the first
    problem. SfError only when the manifest itself cannot be read."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    root = folder.resolve()  # containment is judged on real paths: the folder itself may be a link
    report = VerifyReport(folder, io_checked=check_io)
    listed: list[PurePosixPath] = []
    for index, entry in enumerate(manifest["artifacts"]):
        name = _entry_name(entry, index)
        problem = _entry_problem(entry)
        if problem:
            report.add(name, "manifest", False, problem)
            continue
        listed.append(PurePosixPath(Path(entry["path"]).as_posix()))
        _verify_artifact(root, entry, report, check_io)
    for relative in _unlisted_files(root, listed):
        report.add(relative, "listed", True, f"not listed in {MANIFEST_NAME}, so not verified", warning=True)
    return report


def _entry_name(entry, index: int) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("path"), str) and entry["path"]:
        return entry["path"]
    return f"artifacts[{index}]"


def _entry_problem(entry) -> str | None:
    """Why an artifact entry cannot be checked at all, or None."""
    if not isinstance(entry, dict):
        return f"the entry is a JSON {type(entry).__name__}, not an object"
    missing = [key for key, kind in (("path", str), ("sha256", str), ("bytes", int)) if not isinstance(entry.get(key), kind)]
    if missing:
        return f"the entry lacks a valid {', '.join(missing)}"
    return None


# --- path containment -------------------------------------------------------------------------


def _contained(root: Path, relative: str) -> tuple[Path | None, str | None]:
    """(path inside `root`, None), or (None, why it is refused). Only stats paths, never opens them."""
    try:
        path = _relative(root, relative)
    except SfError:
        return None, "the path is absolute or climbs out with '..': refused, not read"
    try:
        resolved = path.resolve()  # follows a link at the artifact and at any parent inside the folder
    except (OSError, ValueError, RuntimeError) as err:  # a link loop, a NUL byte
        return None, f"the path cannot be resolved ({err}): refused, not read"
    if resolved == root:
        return None, "the path names the export folder itself: refused"
    if not resolved.is_relative_to(root):
        return None, f"a symlink leads outside the folder (to {resolved}): refused, not read"
    if path.is_dir():  # hashing reads every file below, through any link
        if escaping := list(_escaping_links(root, path)):
            return None, f"holds symlink(s) that leave the folder or loop ({', '.join(escaping)}): refused, not read"
    return path, None


def _escaping_links(root: Path, folder: Path) -> Iterable[str]:
    """Links inside an artifact folder (a .mlpackage) that resolve outside `root`: hashing the folder
    would read through them."""
    for dirpath, dirnames, filenames in os.walk(folder):  # followlinks=False: a linked folder is judged, not entered
        for name in (*dirnames, *filenames):
            entry = Path(dirpath) / name
            if entry.is_symlink() and not _resolves_inside(root, entry):
                yield entry.relative_to(root).as_posix()


def _resolves_inside(root: Path, path: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root)
    except (OSError, RuntimeError):  # a link loop: not followable, so not safe to read through
        return False


# --- one artifact -----------------------------------------------------------------------------


def _verify_artifact(root: Path, entry: dict, report: VerifyReport, check_io: bool) -> None:
    name = entry["path"]
    path, refused = _contained(root, name)
    if refused:
        report.add(name, "path", False, refused)
        return
    if not path.exists():
        report.add(name, "present", False, f"listed in {MANIFEST_NAME} but missing from the folder")
        return
    _check_hash(path, entry, report)
    if check_io and any(key in entry for key in GRAPH_KEYS):
        for finding in check_graph_io(path, entry):
            report.findings.append(finding)


def _check_hash(path: Path, entry: dict, report: VerifyReport) -> None:
    name = entry["path"]
    try:
        sha256, size = hash_artifact(path)
    except OSError as err:
        report.add(name, "hash", False, f"cannot be read ({err.strerror or err})")
        return
    differs = []
    if size != entry["bytes"]:
        differs.append(f"{size} bytes, manifest says {entry['bytes']}")
    if sha256 != entry["sha256"]:
        differs.append(f"sha256 {sha256[:12]}..., manifest says {entry['sha256'][:12]}...")
    if differs:
        report.add(name, "hash", False, "; ".join(differs) + ": changed after export")
    else:
        report.add(name, "hash", True, f"sha256 and {size} bytes match")


def _unlisted_files(root: Path, listed: list[PurePosixPath]) -> list[str]:
    """Files and links under `root` that no manifest path covers (a listed folder covers its
    contents); the manifest itself and the parity bundle are expected and skipped."""
    unlisted = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        # Prune folders that are listed whole or are the parity bundle; links to folders are reported, not entered.
        keep = []
        for name in dirnames:
            relative = here / name
            if (here == PurePosixPath(".") and name == PARITY_DIR) or _covered(relative, listed):
                continue
            if (Path(dirpath) / name).is_symlink():
                unlisted.append(relative.as_posix())
            else:
                keep.append(name)
        dirnames[:] = keep
        for name in filenames:
            relative = here / name
            if here == PurePosixPath(".") and name == MANIFEST_NAME:
                continue
            if not _covered(relative, listed):
                unlisted.append(relative.as_posix())
    return sorted(unlisted)


def _covered(relative: PurePosixPath, listed: list[PurePosixPath]) -> bool:
    return any(relative == path or path in relative.parents for path in listed)
