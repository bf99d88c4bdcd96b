"""What every backend of one sf-bench run shares: the folder, its manifest, the parity bundle, the
frames of the video, the settings, the host's measured bandwidth."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.bench.latency import FrameSource
from sf_mobile.config import ModelConfig
from sf_mobile.parity.data import ParityInputs, ReferenceOutputs


@dataclass(frozen=True)
class Settings:
    repeats: int = 3
    warmup: int = 1
    decode_tokens: int = 16
    video: Path | None = None  # None: the sample clip the project generates
    checkpoint: Path | None = None  # for the eager reference of a checkpoint export
    device: str | None = None  # serial / id of the phone for device backends
    app: Path | None = None  # the demo app bundle, for macos-app
    timeout_s: float = 1800.0  # device runs


@dataclass(frozen=True)
class BenchContext:
    folder: Path
    manifest: dict
    config: ModelConfig
    inputs: ParityInputs  # the bundle's frames and prompt ids
    reference: ReferenceOutputs
    bundle_meta: dict  # {"reference": "float eager" | "same-quantization eager", ...}
    precision: str  # the bundle's precision (tolerances)
    frames: FrameSource  # the video's frames, decoded afresh on each call
    settings: Settings
    bandwidth_gb_s: float
    report: Callable[[str], None]

    @property
    def target(self) -> str:
        return self.manifest["target"]

    @property
    def reference_is_float(self) -> bool:
        against = self.bundle_meta.get("against")  # written since the bundle carried it (protocol 4b)
        if against is not None:
            return against == "float"
        return not str(self.bundle_meta.get("reference", "")).startswith("same-quantization")

    @property
    def quantization(self) -> dict:
        return self.manifest.get("quantization", {})
