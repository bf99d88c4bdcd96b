"""`--overwrite`: an existing complete export is replaced only when asked (refusal: cases.py
export-out-exists), only once the new one is complete, and by renames that never leave --out
missing or half-written; a failed overwrite leaves the old export as it was."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from checkpoint_helpers import listing
from sf_mobile import output_dir
from sf_mobile.cli import export as export_cli
from sf_mobile.export.onnx import pipeline



def prefill_chunk(folder: Path) -> int:
    return json.loads((folder / "sf_manifest.json").read_text())["quantization"]["prefill_chunk"]


@pytest.fixture
def previous(ws, tmp_path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(ws.export(), out)
    assert prefill_chunk(out) == 64
    return out


def test_overwrite_replaces_a_complete_export_atomically(previous, monkeypatch, capsys):
    before = listing(previous)
    seen_mid_export = []
    renames = []
    write_prompt_files, rename = pipeline.write_prompt_files, os.rename

    def spy_write(folder, loaded):  # mid-export: the new files go to staging, the old export is untouched
        seen_mid_export.append(listing(previous) == before and folder != previous)
        return write_prompt_files(folder, loaded)

    def spy_rename(source, target):
        renames.append((Path(source).name, Path(target).name, previous.exists()))
        return rename(source, target)

    monkeypatch.setattr(pipeline, "write_prompt_files", spy_write)
    monkeypatch.setattr(output_dir.os, "rename", spy_rename)
    code = export_cli.main(["--target", "onnx", "--prefill-chunk", "32", "--out", str(previous), "--overwrite"])
    assert code == 0, capsys.readouterr().err
    assert seen_mid_export == [True]
    # two renames and nothing else: old aside, new in; --out is missing only between them
    (aside_from, aside_to, _), (new_from, new_to, present) = renames
    assert (aside_from, new_to) == ("out", "out") and aside_to.startswith(f".out.old-{os.getpid()}-")
    assert new_from.startswith(f".out.partial-{os.getpid()}-") and not present
    assert prefill_chunk(previous) == 32
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]  # the old one is deleted afterwards


def test_a_failed_overwrite_leaves_the_old_export(previous, monkeypatch, capsys):
    before = listing(previous)
    write_text = Path.write_text

    def disk_full(self, data, *args, **kwargs):
        if self.name == "chat_template.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full)
    assert export_cli.main(["--target", "onnx", "--prefill-chunk", "32", "--out", str(previous), "--overwrite"]) == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith(f"sf-export: error: disk full while writing {previous}")
    assert listing(previous) == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["out"]
