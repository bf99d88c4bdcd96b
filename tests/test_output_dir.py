"""atomic_output_dir: a folder appears complete at its final path or not at all."""

from __future__ import annotations

import errno
import os
import shutil

import pytest

from sf_mobile.errors import SfError
from sf_mobile.output_dir import atomic_output_dir, check_free_space


def _entries(parent):
    return sorted(p.name for p in parent.iterdir())


def test_success_renames_staging_to_final(tmp_path):
    final = tmp_path / "out"
    with atomic_output_dir(final) as staging:
        assert staging.parent == tmp_path and staging.name.startswith(".out.partial-")
        assert not final.exists()  # nothing at the final path until the end
        (staging / "model.pte").write_text("graph")
    assert (final / "model.pte").read_text() == "graph"
    assert _entries(tmp_path) == ["out"]


def test_staging_folder_has_normal_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        with atomic_output_dir(tmp_path / "out") as staging:
            mode = staging.stat().st_mode & 0o777
    finally:
        os.umask(mask)
    assert mode == 0o755  # not mkdtemp's 0o700
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o755


def test_exception_inside_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="lowering failed"):
        with atomic_output_dir(tmp_path / "out") as staging:
            (staging / "half.pte").write_text("half")
            raise RuntimeError("lowering failed")
    assert _entries(tmp_path) == []


def test_keyboard_interrupt_cleans_up_and_propagates(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(tmp_path / "out") as staging:
            (staging / "half.pte").write_text("half")
            raise KeyboardInterrupt
    assert _entries(tmp_path) == []


def test_existing_folder_is_refused(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "keep.txt").write_text("old")
    with pytest.raises(SfError, match="already exists; pass --overwrite or choose another --out"):
        with atomic_output_dir(final):
            pytest.fail("the body must not run")
    assert _entries(tmp_path) == ["out"] and (final / "keep.txt").read_text() == "old"


def test_overwrite_replaces_only_on_success(tmp_path):
    final = tmp_path / "out"
    final.mkdir()
    (final / "keep.txt").write_text("old")
    with pytest.raises(ValueError):
        with atomic_output_dir(final, overwrite=True) as staging:
            (staging / "new.txt").write_text("new")
            assert (final / "keep.txt").read_text() == "old"  # the old one is untouched while writing
            raise ValueError("export failed")
    assert _entries(tmp_path) == ["out"] and _entries(final) == ["keep.txt"]

    with atomic_output_dir(final, overwrite=True) as staging:
        (staging / "new.txt").write_text("new")
    assert _entries(final) == ["new.txt"]
    assert _entries(tmp_path) == ["out"]  # the old folder set aside is deleted


def test_overwrite_that_fails_at_the_final_rename_restores_the_old_folder(tmp_path, monkeypatch):
    final = tmp_path / "out"
    final.mkdir()
    (final / "keep.txt").write_text("old")
    real_rename = os.rename

    def rename(source, target):  # the old folder moves aside, then moving the new one in fails
        if str(source).rsplit("/", 1)[-1].startswith(".out.partial-"):
            raise OSError(errno.EIO, "I/O error")
        real_rename(source, target)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="I/O error"):
        with atomic_output_dir(final, overwrite=True) as staging:
            (staging / "new.txt").write_text("new")
    assert _entries(tmp_path) == ["out"] and (final / "keep.txt").read_text() == "old"


def test_disk_full_becomes_a_one_line_error_after_cleanup(tmp_path):
    final = tmp_path / "out"
    with pytest.raises(SfError) as err:
        with atomic_output_dir(final) as staging:
            (staging / "part.bin").write_bytes(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
    message = str(err.value)
    assert message.startswith(f"disk full while writing {final}; free ") and "MiB or choose another --out" in message
    assert "\n" not in message
    assert _entries(tmp_path) == []


def test_other_os_errors_pass_through(tmp_path):
    with pytest.raises(PermissionError):
        with atomic_output_dir(tmp_path / "out"):
            raise PermissionError(errno.EACCES, "denied")
    assert _entries(tmp_path) == []


def test_check_free_space_names_needed_and_available(tmp_path):
    free = shutil.disk_usage(tmp_path).free
    check_free_space(tmp_path / "not" / "yet", 1)  # a folder still to be made is checked on its parent
    needed = free + (1 << 40)
    with pytest.raises(SfError) as err:
        check_free_space(tmp_path, needed)
    message = str(err.value)
    assert f"needs {needed} bytes" in message and "are free" in message and "\n" not in message
    with pytest.raises(SfError, match="needs"):
        with atomic_output_dir(tmp_path / "out", expected_bytes=needed):
            pytest.fail("the body must not run when the disk is too small")
    assert _entries(tmp_path) == []


def _dead_pid() -> int:
    import subprocess
    import sys

    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True).stdout)


def test_staging_folders_of_dead_processes_are_cleared_and_live_ones_kept(tmp_path):
    from sf_mobile.output_dir import clean_stale

    dead, live = _dead_pid(), os.getppid()  # the parent of this test process is alive
    for name in (f".out.partial-{dead}-a", f".out.partial-{live}-b", f".out.partial-{os.getpid()}-c", ".other.partial-1-d"):
        (tmp_path / name).mkdir()
    clean_stale(tmp_path / "out")
    assert _entries(tmp_path) == [".other.partial-1-d", f".out.partial-{live}-b", f".out.partial-{os.getpid()}-c"]


def test_an_old_output_set_aside_by_a_dead_overwrite_is_restored_or_dropped(tmp_path):
    from sf_mobile.output_dir import clean_stale

    dead = _dead_pid()
    (tmp_path / f".out.old-{dead}-a").mkdir()
    (tmp_path / f".out.old-{dead}-a" / "keep.txt").write_text("old")
    clean_stale(tmp_path / "out")  # --out missing: the set-aside export is put back
    assert _entries(tmp_path) == ["out"] and (tmp_path / "out" / "keep.txt").read_text() == "old"
    (tmp_path / f".out.old-{dead}-b").mkdir()
    clean_stale(tmp_path / "out")  # --out present (the new one made it): the old copy goes
    assert _entries(tmp_path) == ["out"]


@pytest.mark.parametrize("errno_", [errno.EACCES, errno.ENOSPC])
def test_a_folder_that_cannot_be_created_is_a_one_line_error(tmp_path, monkeypatch, errno_):
    import tempfile

    def refuse(*args, **kwargs):
        raise OSError(errno_, os.strerror(errno_))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(SfError, match="choose a writable --out" if errno_ == errno.EACCES else "^disk full while creating"):
        with atomic_output_dir(tmp_path / "out"):
            pytest.fail("the body must not run")
    assert _entries(tmp_path) == []
