"""sf-bench over one exported folder: every requested backend runs the folder's parity bundle and
the timed repeats; the result is one `sf-bench/1` object (sf_mobile/reports/schema.py).

Backends whose runtime, platform or device is missing are reported as unavailable with the reason;
a backend that fails is reported as failed with its error, and the others still run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

from sf_mobile.bench import devices_adapter
from sf_mobile.bench.context import BenchContext, Settings
from sf_mobile.bench.host import CoreMLInterpreter, CoreMLPredict, EagerReference, ExecuTorchHost, OnnxRuntimeCPU, QnnHtpSimulator
from sf_mobile.bench.latency import FrameSource
from sf_mobile.bench.progress import ProgressBar
from sf_mobile.bench.roofline import measure_bandwidth_gb_s
from sf_mobile.bench.stock_runner import StockRunner
from sf_mobile.config import ModelConfig, SamplingConfig, SamplingStrategy
from sf_mobile.errors import SfError
from sf_mobile.manifest import MANIFEST_NAME, REFETCH, read_manifest, tool_version
from sf_mobile.parity.bundle import read_bundle
from sf_mobile.reports.schema import SCHEMA, validate

HOST_BACKENDS = (
    EagerReference(),
    ExecuTorchHost(),
    StockRunner(),
    OnnxRuntimeCPU(),
    QnnHtpSimulator(),
    CoreMLPredict(),
    CoreMLInterpreter(),
)
BACKEND_NAMES = tuple(b.name for b in HOST_BACKENDS) + devices_adapter.NAMES


def check_backend_names(names: list[str]) -> None:
    unknown = [n for n in names if n not in BACKEND_NAMES]
    if unknown:
        raise SfError(f"unknown backend(s) {', '.join(unknown)}", f"use any of: {', '.join(BACKEND_NAMES)}")


def frame_source(config: ModelConfig, frames: int, video: Path | None) -> FrameSource:
    """Decode `frames` uniformly sampled frames of `video` (the sample clip when None), resized
    for the vision tower and packed [3, T*S, S], afresh on each call (the decode is timed)."""
    from sf_mobile.exportable.vision import pack_frames
    from sf_mobile.video import load_video, resize_frames, sample_clip_path

    sampling = SamplingConfig(strategy=SamplingStrategy.UNIFORM, max_frames=frames)
    path = Path(video) if video is not None else sample_clip_path()

    def load() -> torch.Tensor:
        clip = load_video(path, sampling)
        return pack_frames(resize_frames(clip.frames, config.vision))

    return load


def host_facts(bandwidth: float, method: str) -> dict:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "memory_bandwidth_gb_s": round(bandwidth, 2),
        "bandwidth_method": method,
    }


# Manifest fields sf-bench reads (beyond what read_manifest checks), with their JSON kinds.
REQUIRED_FIELDS = {"target": str, "preset": str, "config": dict, "frame_geometry": dict, "max_context": int}


def check_export(folder: Path, manifest: dict) -> None:
    """Refuse, before anything is loaded, a folder whose manifest lacks what sf-bench reads or whose
    artifacts are not the ones it lists (changed, missing, or reached by a path or link that leaves
    the folder): a benchmark of other graphs than the export's would be a silent wrong answer."""
    from sf_mobile.verify import verify_folder

    path = folder / MANIFEST_NAME
    for key, kind in REQUIRED_FIELDS.items():
        if not isinstance(manifest.get(key), kind) or isinstance(manifest.get(key), bool):
            raise SfError(f"{path} has no valid {key!r} (a JSON {_JSON_KINDS[kind]})", REFETCH)
    if not isinstance(manifest["frame_geometry"].get("frames"), int):
        raise SfError(f"{path} has no valid 'frame_geometry.frames' (a JSON number)", REFETCH)
    failures = verify_folder(folder, check_io=False).failures
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        first = failures[0]
        raise SfError(
            f"{folder} does not match its {MANIFEST_NAME}: {first.artifact}: {first.message}{more}",
            f"see every problem with: sf-verify {folder}; then {REFETCH}",
        )


_JSON_KINDS = {str: "string", dict: "object", int: "number"}


def build_context(folder: Path, settings: Settings, report) -> tuple[BenchContext, str]:
    manifest = read_manifest(folder)
    check_export(Path(folder), manifest)
    inputs, reference, meta = read_bundle(folder)
    precision = json.loads((Path(folder) / "parity" / "parity.json").read_text()).get("precision", "fp32")
    try:
        config = ModelConfig.from_dict(manifest["config"])
    except SfError as err:
        raise SfError(f"{Path(folder) / MANIFEST_NAME} holds an invalid config ({err.problem})", REFETCH) from None
    frames = frame_source(config, manifest["frame_geometry"]["frames"], settings.video)
    frames()  # a bad --video fails here, before any backend loads
    bandwidth, method = measure_bandwidth_gb_s()
    ctx = BenchContext(
        folder=Path(folder), manifest=manifest, config=config, inputs=inputs, reference=reference,
        bundle_meta=meta, precision=precision, frames=frames, settings=settings, bandwidth_gb_s=bandwidth, report=report,
    )
    return ctx, method


def run_bench(folder: Path, backends: list[str] | None, settings: Settings, progress: ProgressBar | None = None) -> dict:
    """The result object; `backends` None means every backend this tool knows."""
    folder = Path(folder)
    names = list(backends) if backends else list(BACKEND_NAMES)
    check_backend_names(names)
    progress = progress or ProgressBar(len(names))
    progress.total = len(names)
    ctx, method = build_context(folder, settings, progress.step)
    entries = []
    for name in names:
        progress.step(f"{name}: starting")
        host = next((b for b in HOST_BACKENDS if b.name == name), None)
        result = host.evaluate(ctx) if host is not None else devices_adapter.evaluate(name, ctx)
        entries.append(result)
        progress.finish_one(f"{name}: {result['status']}" + (f" ({result['reason']})" if result["status"] != "ok" and result["reason"] else ""))
    manifest = ctx.manifest
    result = {
        "schema": SCHEMA,
        "tool": {"name": "sf-mobile", "version": tool_version()},
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "folder": str(folder.resolve()),
        "export": {
            "target": manifest["target"],
            "preset": manifest["preset"],
            "backend": manifest.get("backend"),
            "status": manifest.get("status"),
            "quantization": manifest.get("quantization", {}),
            "weights": manifest.get("weights", {}),
            "manifest_sha256": hashlib.sha256((folder / MANIFEST_NAME).read_bytes()).hexdigest(),
        },
        "host": host_facts(ctx.bandwidth_gb_s, method),
        "settings": {
            "repeats": settings.repeats,
            "warmup": settings.warmup,
            "video": None if settings.video is None else str(settings.video),
            "decode_tokens": settings.decode_tokens,
        },
        "artifacts": [{"path": a["path"], "bytes": a["bytes"]} for a in manifest["artifacts"]],
        "backends": entries,
    }
    return validate(result)
