"""`sf_manifest.json`: everything an app or runtime needs to use an export without hard-coding.

Shapes, token ids, frame geometry, quantization, per-artifact hashes and the parity results travel
here. Library versions come from package metadata, so writing a manifest never imports
executorch, coremltools or onnxruntime.
"""

from __future__ import annotations

import enum
import hashlib
import importlib.metadata
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from sf_mobile.errors import SfError

if TYPE_CHECKING:
    from sf_mobile.checkpoints import LoadedModel
    from sf_mobile.parity.compare import ParityReport

MANIFEST_NAME = "sf_manifest.json"
MANIFEST_SCHEMA_VERSION = 2  # 2: every graph declares {function: {value: {shape, dtype}}}
TOOL_NAME = "sf-mobile"
# Distributions whose versions decide what an artifact computes; absent ones are left out.
LIBRARIES = (
    "torch",
    "transformers",
    "tokenizers",
    "safetensors",
    "numpy",
    "executorch",
    "torchao",
    "coremltools",
    "onnx",
    "onnxruntime",
    "onnxruntime-qnn",
)
REFETCH = "re-run sf-export to rebuild the folder"


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def library_versions() -> dict[str, str]:
    return {name: version for name in LIBRARIES if (version := _version(name)) is not None}


def tool_version() -> str:
    from sf_mobile import __version__

    return _version(TOOL_NAME) or __version__  # metadata is missing when run from a source tree


def _file_digest(path: Path, digest) -> int:
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):  # streamed: artifacts reach GBs
            digest.update(block)
            size += len(block)
    return size


def hash_artifact(path: Path) -> tuple[str, int]:
    """(sha256, bytes) of a file, or of a folder (a Core ML .mlpackage is one): its files in sorted
    relative-path order, each path hashed before its contents so that renames change the hash."""
    digest = hashlib.sha256()
    if path.is_file():
        size = _file_digest(path, digest)
        return digest.hexdigest(), size
    total = 0
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        total += _file_digest(file, digest)
    return digest.hexdigest(), total


def _relative(folder: Path, relative_path: str | Path) -> Path:
    relative = PurePosixPath(Path(relative_path).as_posix())
    if relative.is_absolute() or ".." in relative.parts:
        raise SfError(f"artifact path {relative_path} leaves the output folder", "give paths relative to the export folder")
    return Path(folder) / relative


def artifact_entry(folder: Path, relative_path: str | Path, **extra) -> dict:
    """{path, sha256, bytes, **extra} for a file or folder inside `folder` (extra: methods, inputs, outputs)."""
    path = _relative(folder, relative_path)
    if not path.exists():
        raise SfError(f"artifact {path} does not exist", "write the artifact before listing it in the manifest")
    sha256, size = hash_artifact(path)
    return {"path": PurePosixPath(Path(relative_path).as_posix()).as_posix(), "sha256": sha256, "bytes": size, **extra}


def _value(choice) -> str:
    return choice.value if isinstance(choice, enum.Enum) else str(choice)


def build_manifest(
    loaded: LoadedModel,
    *,
    target: str,
    backend: str,
    quantization: dict,
    artifacts: Sequence[dict],
    max_context: int,
    num_frames: int | None = None,
    parity: Sequence[ParityReport] = (),
) -> dict:
    """The manifest of one export. `num_frames` defaults to the config's frame budget."""
    config, codec = loaded.config, loaded.codec
    frames = config.sampling.max_frames if num_frames is None else num_frames
    side = config.vision.image_size
    budget = config.visual_tokens(frames)
    return {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "tool": {"name": TOOL_NAME, "version": tool_version()},
        "library_versions": library_versions(),
        "preset": config.name,
        "config": config.to_dict(),
        "weights": loaded.origin.to_dict(),
        "target": _value(target),
        "backend": _value(backend),
        "quantization": dict(quantization),
        "artifacts": [dict(entry) for entry in artifacts],
        "frame_geometry": {
            "frames": frames,
            "height": side,
            "width": side,
            "channels": 3,
            "packed_shape": [3, frames * side, side],  # frame t occupies rows t*S .. t*S+S-1
            "dtype": "uint8",
            "mean": list(config.vision.image_mean),
            "std": list(config.vision.image_std),
        },
        "visual_tokens": {"total": budget.total, "slow": budget.slow_tokens, "fast": budget.fast_tokens},
        "special_tokens": codec.special_token_ids(),
        "bos_id": codec.bos_id,
        "eos_ids": list(codec.stop_ids),
        "max_context": max_context,
        "parity": [report.to_dict() for report in parity],
        "status": "ok" if all(report.passed for report in parity) else "parity_failed",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_manifest(folder: Path, manifest: dict) -> Path:
    path = Path(folder) / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n")
    return path


def read_manifest(folder: Path) -> dict:
    """The manifest in `folder`, checked for its schema version; SfError when it cannot be used."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        raise SfError(f"{folder} has no {MANIFEST_NAME}", "point at a folder written by sf-export")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SfError(f"{path} is not valid JSON ({err})", REFETCH) from None
    if not isinstance(manifest, dict):
        raise SfError(f"{path} holds a JSON {type(manifest).__name__}, not an object", REFETCH)
    version = manifest.get("schema_version")
    if version != MANIFEST_SCHEMA_VERSION:
        raise SfError(
            f"{path} has schema_version {version!r}; this sf-mobile reads version {MANIFEST_SCHEMA_VERSION}",
            "re-export with this version of sf-mobile, or use the version that wrote it",
        )
    if not isinstance(manifest.get("artifacts"), list):
        raise SfError(f"{path} has no artifacts list", REFETCH)
    return manifest


def verify_artifacts(folder: Path, manifest: dict) -> None:
    """Recompute every artifact's sha256 and size; SfError naming the first that differs."""
    for entry in manifest["artifacts"]:
        path = _relative(folder, entry["path"])
        if not path.exists():
            raise SfError(f"artifact {entry['path']} listed in {MANIFEST_NAME} is missing from {folder}", REFETCH)
        sha256, size = hash_artifact(path)
        if size != entry["bytes"] or sha256 != entry["sha256"]:
            raise SfError(
                f"artifact {entry['path']} differs from {MANIFEST_NAME} ({size} bytes, sha256 {sha256[:12]}..., "
                f"expected {entry['bytes']} bytes, {entry['sha256'][:12]}...): it was changed after export",
                REFETCH,
            )
