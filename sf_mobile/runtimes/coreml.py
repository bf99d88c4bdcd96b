"""A Core ML export folder behind the `GraphBackend` protocol, run by one of two engines:

- `MilEngine` (any OS): the saved packages' programs interpreted op by op in numpy with fp16
  rounding (`sf_mobile.runtimes.mil`). It proves the conversion and compression, not the device.
- `PredictEngine` (macOS only): coremltools predictions through Core ML itself, on the compute
  units the export chose (`CPU_AND_NE`, ...). Not run on Linux: Core ML does not exist there.

The folder's contract (written by `sf-export --target coreml`):
  vision.mlpackage         frames fp16 [T, 3, S, S] (0..255) -> visual_embeds [1, N_vis, D]
  language_model.mlpackage functions `prefill` (C rows) and `decode` (1 row):
                           (inputs_embeds, position_ids, causal_mask) -> logits [1, 1, V];
                           states keyCache / valueCache
  token_embeddings.f16     raw fp16 [V, D], row-major
Prefill runs in chunks of exactly C rows; a last chunk shorter than C is completed with the rows
before it (recomputing those positions writes the same keys and values again), so the last row
is always real; a prompt shorter than C runs through `decode` row by row.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from sf_mobile.errors import SfError

VISION_NAME = "vision.mlpackage"
LM_NAME = "language_model.mlpackage"
EMBEDDINGS_NAME = "token_embeddings.f16"
MASK_VALUE = -1e4  # sf_mobile.exportable.decoder.MASK_VALUE, as the app writes it
LM_FUNCTIONS = ("prefill", "decode")


def read_metadata(package: Path) -> dict:
    """The `sf.*` user-defined metadata of a saved package (prefix dropped, JSON values decoded)."""
    from sf_mobile.runtimes.coremltools_import import import_coremltools

    ct = import_coremltools()
    if not (Path(package) / "Manifest.json").is_file():
        raise SfError(f"{package} is not an .mlpackage", "point at a folder written by sf-export --target coreml")
    spec = ct.utils.load_spec(str(package))
    values = {}
    for key, value in spec.description.metadata.userDefined.items():
        if key.startswith("sf."):
            try:
                values[key[3:]] = json.loads(value)
            except json.JSONDecodeError:
                values[key[3:]] = value
    return values


class MilEngine:
    """Runs the saved programs with the numpy MIL evaluator; the KV cache is a dict of arrays."""

    name = "coreml-mil-evaluator"

    def __init__(self, folder: Path):
        from sf_mobile.runtimes.mil import ConstantPool, MilEvaluator, load_program

        self.vision = MilEvaluator(load_program(folder / VISION_NAME), function="main")
        program = load_program(folder / LM_NAME)
        pool = ConstantPool()  # prefill and decode read the same weights: hold them once
        self.functions = {name: MilEvaluator(program, function=name, pool=pool) for name in LM_FUNCTIONS}
        self.state = self.functions["decode"].make_state()

    def run_vision(self, frames: np.ndarray, report=None) -> np.ndarray:
        return self.vision.predict({"frames": frames}, report=report)["visual_embeds"]

    def run_lm(self, function: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.functions[function].predict(inputs, self.state)["logits"]

    def reset(self) -> None:
        for array in self.state.values():
            array.fill(0)


class PredictEngine:
    """Core ML itself through coremltools (macOS 15+): one MLModel per function, one shared state."""

    name = "coreml"

    def __init__(self, folder: Path, compute_units: dict[str, str]):
        if sys.platform != "darwin":
            raise SfError("Core ML predictions need macOS (this is " + sys.platform + ")", "use the MIL evaluator engine here")
        import coremltools as ct

        def load(package: str, function: str | None, units: str):
            return ct.models.MLModel(str(folder / package), compute_units=ct.ComputeUnit[units], function_name=function)

        self.vision = load(VISION_NAME, None, compute_units["vision"])
        self.functions = {name: load(LM_NAME, name, compute_units[name]) for name in LM_FUNCTIONS}
        self.reset()

    def run_vision(self, frames: np.ndarray, report=None) -> np.ndarray:
        return self.vision.predict({"frames": frames})["visual_embeds"]  # one Core ML call: nothing to report

    def run_lm(self, function: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.functions[function].predict(inputs, state=self.state)["logits"]

    def reset(self) -> None:
        # One state serves both functions: they declare identical keyCache/valueCache states.
        self.state = self.functions["prefill"].make_state()


class CoreMLBackend:
    """The export folder as a GraphBackend; `engine` is "mil" (any OS) or "coreml" (macOS)."""

    def __init__(
        self, folder: Path, engine: str = "mil", compute_units: dict[str, str] | None = None, report=None
    ):
        """`report(message)` hears progress inside long single calls (the MIL evaluator's vision)."""
        self.report = report
        folder = Path(folder)
        for name in (VISION_NAME, LM_NAME, EMBEDDINGS_NAME):
            if not (folder / name).exists():
                raise SfError(f"{folder} has no {name}", "export one with sf-export --target coreml")
        meta = read_metadata(folder / LM_NAME)
        self.chunk = int(meta["prefill_chunk"])
        self.max_seq_len = self.chunk
        self.max_context = int(meta["max_context"])
        self.context_padded = int(meta["context_padded"])
        self.num_frames = int(meta["frames"])
        self.image_size = int(meta["frame_size"])
        vocab, hidden = int(meta["vocab_size"]), int(meta["hidden_size"])
        self.table = np.memmap(folder / EMBEDDINGS_NAME, dtype="<f2", mode="r", shape=(vocab, hidden))
        if engine == "mil":
            self.engine = MilEngine(folder)
        elif engine == "coreml":
            self.engine = PredictEngine(folder, compute_units or meta["compute_units"])
        else:
            raise SfError(f"unknown Core ML engine {engine!r}", "use 'mil' or 'coreml'")
        self.name = self.engine.name
        self._recent = np.zeros((0, hidden), dtype=np.float16)  # the last C-1 rows fed: completes short chunks
        self._next = 0  # the slot after the last row fed: history is used only for a consecutive chunk

    def vision_encoder(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [3, T*S, S] (the protocol's packed form) -> [1, N_vis, D]."""
        side = self.image_size
        unpacked = frames.reshape(3, self.num_frames, side, side).permute(1, 0, 2, 3)  # [T, 3, S, S]
        out = self.engine.run_vision(unpacked.numpy().astype(np.float16), self.report)
        return torch.from_numpy(np.asarray(out, dtype=np.float32).copy())

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.table[ids.reshape(-1).numpy()]  # [S, D] fp16
        return torch.from_numpy(rows.astype(np.float32)).unsqueeze(0)

    def _mask(self, positions: np.ndarray) -> np.ndarray:
        slots = np.arange(self.context_padded)
        visible = slots[None, :] <= positions[:, None]  # [rows, ctx]
        return np.where(visible, 0.0, MASK_VALUE).astype(np.float16)[None, None]

    def _call(self, function: str, rows: np.ndarray, start: int) -> np.ndarray:
        positions = np.arange(start, start + rows.shape[0], dtype=np.int32)
        inputs = {"inputs_embeds": rows[None].astype(np.float16), "position_ids": positions, "causal_mask": self._mask(positions)}
        return self.engine.run_lm(function, inputs)

    def text_decoder(self, embeds: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        """[1, S, D] at slots cache_position (consecutive) -> logits [1, 1, V] after the last row."""
        rows = embeds[0].to(torch.float32).numpy().astype(np.float16)  # [S, D]
        if rows.shape[0] == 0:
            raise SfError("text_decoder got no rows", "pass at least one embedding row")
        count, start = rows.shape[0], int(cache_position[0])
        if count > self.chunk:
            raise SfError(f"text_decoder got {count} rows, more than the prefill chunk {self.chunk}", "prefill in chunks")
        history = min(self.chunk - count, len(self._recent), start) if start == self._next else 0
        if count == self.chunk:
            logits = self._call("prefill", rows, start)
        elif count > 1 and history == self.chunk - count:  # complete the chunk with the rows before it
            logits = self._call("prefill", np.concatenate([self._recent[len(self._recent) - history :], rows]), start - history)
        else:  # one row, or a prompt shorter than one chunk: row by row
            for offset in range(count):
                logits = self._call("decode", rows[offset : offset + 1], start + offset)
        self._recent = np.concatenate([self._recent, rows])[-(self.chunk - 1) :] if self.chunk > 1 else self._recent
        self._next = start + count
        return torch.from_numpy(np.asarray(logits, dtype=np.float32).reshape(1, 1, -1).copy())

    def reset(self) -> None:
        self.engine.reset()
        self._recent = self._recent[:0]
        self._next = 0
