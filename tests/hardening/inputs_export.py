"""Copies of one complete tiny ONNX export, each changed after export in one way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sf_mobile.manifest import MANIFEST_NAME


def _edit_manifest(edit):
    def apply(folder: Path) -> None:
        path = folder / MANIFEST_NAME
        manifest = json.loads(path.read_text())
        edit(manifest)
        path.write_text(json.dumps(manifest, indent=2))

    return apply


def _set_path(index: int, value: str):
    return _edit_manifest(lambda m: m["artifacts"][index].__setitem__("path", value))


def _flip_byte(name: str):
    def apply(folder: Path) -> None:
        data = bytearray((folder / name).read_bytes())
        data[len(data) // 2] ^= 0xFF
        (folder / name).write_bytes(bytes(data))

    return apply


def _symlink_out(folder: Path) -> None:
    """tokenizer.json replaced by a link to a file outside the export (same bytes: only the link is wrong)."""
    outside = folder.parent / "outside-tokenizer.json"
    shutil.copy(folder / "tokenizer.json", outside)
    (folder / "tokenizer.json").unlink()
    (folder / "tokenizer.json").symlink_to(outside)


TAMPERED = {
    "manifest-not-json": lambda folder: (folder / MANIFEST_NAME).write_text("{\"schema_version\": 2,"),
    "manifest-not-object": lambda folder: (folder / MANIFEST_NAME).write_text("[2]"),
    "manifest-missing": lambda folder: (folder / MANIFEST_NAME).unlink(),
    "schema-version-99": _edit_manifest(lambda m: m.__setitem__("schema_version", 99)),
    "hash-mismatch": _flip_byte("decoder.onnx.data"),
    "size-mismatch": lambda folder: (folder / "chat_template.json").write_text((folder / "chat_template.json").read_text() + " "),
    "artifact-missing": lambda folder: (folder / "vision.onnx").unlink(),
    "path-climbs-out": _set_path(0, "../onnx-tiny/vision.onnx"),
    "path-absolute": _set_path(0, "/etc/hostname"),
    "symlink-out": _symlink_out,
    "entry-malformed": _edit_manifest(lambda m: m["artifacts"].__setitem__(0, "vision.onnx")),
    "config-missing": _edit_manifest(lambda m: m.pop("config")),
    "config-invalid": _edit_manifest(lambda m: m["config"].pop("llm")),
    "parity-missing": lambda folder: shutil.rmtree(folder / "parity"),
}


def tampered(ws, name: str) -> Path:
    return ws.export_copy(name, TAMPERED[name])
