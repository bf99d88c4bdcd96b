"""Interrupted exports: SIGKILL at several stages, SIGTERM, a kill between the two renames of an
overwrite, and a full disk. What must be left: no output folder, or the previous complete one.

SIGKILL cannot be caught, so the killed process's staging folder `.out.partial-PID-*` stays beside
--out; the next export to the same --out deletes staging folders of dead processes before it
starts (sf_mobile/output_dir.py clean_stale), so a kill never leaves more than one stray folder.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from checkpoint_helpers import listing
from hardening.outcome import BIN
from sf_mobile.cli import export as export_cli
from sf_mobile.cli.common import TERMINATED_EXIT
from sf_mobile.errors import SfError
from sf_mobile.output_dir import atomic_output_dir, clean_stale



def start(ws, out: Path, *flags: str, target: str = "onnx") -> subprocess.Popen:
    env = {**os.environ, **ws.env()}
    env.pop("PYTHONPATH", None)
    argv = [str(BIN / "sf-export"), "--target", target, "--size", "tiny", "--out", str(out), *flags]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ws.cwd)


def interrupt_at(proc: subprocess.Popen, stage: str, sig: int) -> tuple[int, str]:
    """Send `sig` as soon as the export announces `stage` (e.g. "[3/5]"): (exit code, the rest of stderr)."""
    for line in proc.stderr:
        if line.startswith(stage):
            os.kill(proc.pid, sig)
            rest = proc.stderr.read()
            return proc.wait(timeout=120), rest
    pytest.fail(f"the export ended (exit {proc.wait()}) before announcing {stage}")


def partials(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if ".partial-" in p.name)


# ONNX stages: 1 load model, 2 parity inputs + reference, 3 export vision, 4 export decoder, 5 parity.
# Stage 5 lasts 0.2 s on tiny: a kill aimed at it may land after the export finished, so the late
# kill is aimed at stage 4 (3 s of graph writing), in the overwrite test below.
@pytest.mark.parametrize("stage", ["[1/5]", "[3/5]"])
def test_sigkill_leaves_no_output_folder(ws, tmp_path, stage):
    out = tmp_path / "out"
    proc = start(ws, out)
    code, _ = interrupt_at(proc, stage, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not out.exists()
    assert [name.split("-")[1] for name in partials(tmp_path)] == [str(proc.pid)]  # only the staging folder
    assert [p.name for p in tmp_path.iterdir()] == partials(tmp_path)
    clean_stale(out)  # what the next export to this --out does first
    assert list(tmp_path.iterdir()) == []


def test_sigkill_of_an_executorch_export_while_lowering(ws, tmp_path):
    out = tmp_path / "out"
    proc = start(ws, out, target="executorch")
    code, _ = interrupt_at(proc, "[5/7]", signal.SIGKILL)  # lower to XNNPACK and ExecuTorch
    assert code == -signal.SIGKILL and not out.exists()
    assert [name.split("-")[1] for name in partials(tmp_path)] == [str(proc.pid)]


def test_sigkill_during_an_overwrite_keeps_the_previous_export(ws, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(ws.export(), out)
    before = listing(out)
    code, _ = interrupt_at(start(ws, out, "--overwrite"), "[4/5]", signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert listing(out) == before  # the previous complete export, byte for byte
    assert len(partials(tmp_path)) == 1
    # The next export to the same --out clears the dead staging folder, even one it then refuses to run.
    assert export_cli.main(["--target", "onnx", "--out", str(out)]) == 2
    assert capsys.readouterr().err.splitlines()[-1].endswith("already exists; pass --overwrite or choose another --out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and listing(out) == before


def test_sigterm_cleans_up_and_says_so(ws, tmp_path):
    out = tmp_path / "out"
    code, rest = interrupt_at(start(ws, out), "[3/5]", signal.SIGTERM)
    assert code == TERMINATED_EXIT == 143
    assert rest.splitlines()[-1] == "sf-export: terminated" and "Traceback" not in rest
    assert list(tmp_path.iterdir()) == []  # SIGTERM is caught: the staging folder is removed at once


def test_a_kill_between_the_two_renames_of_an_overwrite_is_undone(ws, tmp_path, capsys):
    """The old export was moved aside, the process died before the new one was moved in: --out is
    missing and `.out.old-PID-*` holds the previous export. The next run puts it back."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    out = tmp_path / "out"
    shutil.copytree(ws.export(), tmp_path / f".out.old-{int(dead.stdout)}-0000")
    before = listing(tmp_path / f".out.old-{int(dead.stdout)}-0000")
    assert export_cli.main(["--target", "onnx", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"] and listing(out) == before


def test_disk_full_injected_on_write(ws, tmp_path, monkeypatch, capsys):
    """ENOSPC on the first file the export writes itself (chat_template.json, end of stage 4)."""
    real = Path.write_text

    def write_text(self, data, *args, **kwargs):
        if self.name == "chat_template.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    out = tmp_path / "out"
    assert export_cli.main(["--target", "onnx", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1].startswith(f"sf-export: error: disk full while writing {out}; free ")
    assert err.splitlines()[-1].endswith(" MiB or choose another --out") and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_disk_full_reported_by_copytree_is_a_disk_full_error(tmp_path):
    """coremltools saves a package with shutil.copytree, which folds ENOSPC into a shutil.Error
    without an errno (found on a 400 KiB tmpfs: it was a traceback)."""
    out = tmp_path / "out"
    with pytest.raises(SfError, match=f"^disk full while writing {out}; free [0-9]+ MiB or choose another --out$"):
        with atomic_output_dir(out):
            raise shutil.Error([("/tmp/a.bin", str(out / "a.bin"), "[Errno 28] No space left on device: '/tmp/a.bin'")])
    assert list(tmp_path.iterdir()) == []


def _mount_tmpfs(path: Path, size: str) -> str | None:
    """None when a tmpfs of `size` is mounted at `path`, else why not (needs root and CAP_SYS_ADMIN)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return "mounting a small tmpfs needs root"
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
    return None if proc.returncode == 0 else f"cannot mount a tmpfs here ({proc.stderr.strip()})"


def test_disk_full_on_a_small_tmpfs(ws, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    reason = _mount_tmpfs(disk, "64k")  # the tiny ONNX export needs 1.1 MB: full while writing vision.onnx
    if reason:
        pytest.skip(reason)
    try:
        proc = start(ws, disk / "out")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, err
        assert err.splitlines()[-1].startswith(f"sf-export: error: disk full while writing {disk / 'out'}; free ")
        assert "Traceback" not in err and list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)
