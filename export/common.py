"""What every exporter shares: the request, the frames parity runs on, the files beside the graphs."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sf_mobile.checkpoints import LoadedModel
from sf_mobile.config import ModelConfig, SamplingConfig, SamplingStrategy
from sf_mobile import memory

DEFAULT_QUESTION = "Describe what happens in the video."
PARITY_DECODE_STEPS = 16
NOTE_EVERY_S = 30.0  # progress lines inside a long stage (a 1b prefill runs for minutes)


@dataclass(frozen=True)
class ExportRequest:
    target: str
    preset: str
    out: Path
    checkpoint: Path | None = None
    frames: int | None = None
    seed: int = 0
    overwrite: bool = False
    question: str = DEFAULT_QUESTION
    on_loaded: Callable | None = None  # hears the WeightsOrigin once loaded: input errors come before any warning


@dataclass
class ExportResult:
    """What `sf-export` prints: the folder, its manifest, the parity reports, per-target details."""

    out: Path
    manifest: dict
    reports: list  # [ParityReport]
    timings: dict[str, float]
    details: dict[str, object] = field(default_factory=dict)  # e.g. {"delegation": ...}: one summary line each
    peaks: dict[str, float] = field(default_factory=dict)  # stage -> its own peak RSS in GiB (Linux)

    @property
    def peak(self) -> tuple[str, float] | None:
        """(stage, GiB) of the stage with the highest peak RSS, None where not measured."""
        return max(self.peaks.items(), key=lambda item: item[1]) if self.peaks else None

    @property
    def passed(self) -> bool:
        return all(report.passed for report in self.reports)


@dataclass
class Progress:
    """Numbered stage lines on stderr with the time and peak RSS of each: long exports show where
    they are, and which stage holds the memory."""

    total: int
    timings: dict[str, float] = field(default_factory=dict)
    peaks: dict[str, float] = field(default_factory=dict)  # GiB, where the OS can say (memory.py)
    _count: int = 0
    _last_note: float = 0.0

    def note(self, message: str, always: bool = False) -> None:
        """A progress line inside a long stage, at most one per NOTE_EVERY_S seconds unless `always`
        (a decision the user should see, not a heartbeat)."""
        now = time.perf_counter()
        if always or now - self._last_note >= NOTE_EVERY_S:
            self._last_note = now
            print(f"      ... {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def stage(self, name: str):
        self._count += 1
        print(f"[{self._count}/{self.total}] {name} ...", file=sys.stderr, flush=True)
        measured = memory.reset_peak()
        start = time.perf_counter()
        yield
        elapsed = time.perf_counter() - start
        self.timings[name] = round(elapsed, 2)
        peak = memory.peak_rss_gib() if measured else None
        if peak is not None:
            self.peaks[name] = round(peak, 2)
        shown = f", peak RSS {peak:.1f} GiB" if peak is not None else ""
        print(f"      {name}: {elapsed:.1f} s{shown}", file=sys.stderr, flush=True)


def export_frames(config: ModelConfig) -> torch.Tensor:
    """uint8 [T, 3, S, S]: exactly the graph's T frames, spread uniformly over the sample clip."""
    from sf_mobile.video import load_video, resize_frames, sample_clip_path

    sampling = SamplingConfig(strategy=SamplingStrategy.UNIFORM, max_frames=config.sampling.max_frames)
    clip = load_video(sample_clip_path(), sampling)
    return resize_frames(clip.frames, config.vision)


def write_prompt_files(folder: Path, loaded: LoadedModel) -> list[str]:
    """tokenizer.json and chat_template.json (how an app builds the text around the video)."""
    loaded.codec.tokenizer.save(str(folder / "tokenizer.json"))
    prompt = loaded.config.prompt
    example = loaded.codec.render(DEFAULT_QUESTION)
    before, after = example.split(prompt.placeholder)
    template = {
        "template": prompt.template,
        "system": prompt.system,
        "placeholder": prompt.placeholder,
        "bos_token": prompt.bos_token,
        "stop_tokens": list(prompt.stop_tokens),
        "usage": "format(system=..., question=...), then split at the placeholder: encode the text before "
        "it, then the video, then the text after it (no special tokens added by the tokenizer)",
        "example": {"question": DEFAULT_QUESTION, "before_video": before, "after_video": after},
    }
    (folder / "chat_template.json").write_text(json.dumps(template, indent=2) + "\n")
    return ["tokenizer.json", "chat_template.json"]


def release_memory() -> None:
    """Collect garbage and hand freed heap pages back to the OS (glibc keeps them otherwise: after a
    1b eager prefill several GB stay resident and add to the next stage's peak)."""
    import ctypes
    import gc

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except OSError:  # not glibc (musl): nothing to trim
            pass


def mib(size: int) -> str:
    return f"{size / 2**20:,.1f} MiB"


def load_and_reference(request: ExportRequest, config: ModelConfig, context: int, progress: Progress):
    """The first two stages of every exporter: the model, then the parity inputs and the float
    reference in one eager pass. Returns (loaded, inputs, reference)."""
    from sf_mobile.checkpoints import load_or_build
    from sf_mobile.parity.bundle import reference_run
    from sf_mobile.runtimes.eager import EagerBackend

    with progress.stage("load model"):
        loaded = load_or_build(request.preset, request.checkpoint, seed=request.seed, num_frames=request.frames)
        if request.on_loaded is not None:
            request.on_loaded(loaded.origin)
    with progress.stage("parity inputs and float reference"):
        # The reference prefills in EAGER_PREFILL_ROWS-row calls, not in a graph's chunks: its math
        # does not depend on the chunking, and small chunks over the whole cache cost minutes at real size.
        backend = EagerBackend(loaded.model, config.sampling.max_frames, context, context)
        inputs, reference = reference_run(
            backend, loaded.codec, export_frames(config), request.question, PARITY_DECODE_STEPS, progress.note
        )
        del backend
        release_memory()
    return loaded, inputs, reference

