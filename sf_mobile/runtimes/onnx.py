"""An ONNX export folder behind the `GraphBackend` protocol, run by ONNX Runtime.

Loads artifacts, never builds them. The folder's contract (written by `sf-export --target onnx`):
  vision.onnx              frames uint8 [T, 3, S, S] -> visual_embeds [1, N_vis, D]
  prefill.onnx (R = C),    inputs_embeds [1, R, D], position_ids int64 [R],
  decode.onnx (R = 1)      attention_mask [1, 1, R, ctx + R], past_keys / past_values [L, 1, KVH, ctx, hd]
                           -> logits [1, 1, V] (last row), new_keys / new_values [L, 1, KVH, R, hd]
  token_embeddings.f32|f16 raw [V, D], row-major, little-endian (looked up here, memory-mapped)
The graphs' `sf.*` metadata give the chunk, the context, the mask value and the table's layout.

This backend owns the KV cache (two arrays in the graphs' dtype) and writes each call's new rows
at their positions. Prefill runs in calls of exactly C rows; a shorter chunk (the last one, or a
whole prompt shorter than C) is padded at the FRONT with zero rows: the mask lets each pad row see
only itself and no real row see a pad row, and the pad rows' keys and values are dropped, so the
last row, whose logits come out, is always real and one call covers the chunk. One row runs
through `decode`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from sf_mobile.errors import MissingDependencyError, SfError

VISION_NAME, PREFILL_NAME, DECODE_NAME = "vision.onnx", "prefill.onnx", "decode.onnx"
GRAPH_NAMES = (VISION_NAME, PREFILL_NAME, DECODE_NAME)
CPU_PROVIDER = "CPUExecutionProvider"
METADATA_PREFIX = "sf."
ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError("onnxruntime", "onnx") from None
    return onnxruntime


def step_mask(start: int, count: int, rows: int, max_context: int, mask_value: float, dtype) -> np.ndarray:
    """The additive mask [1, 1, rows, ctx + rows] of one call feeding `count` real rows at slots
    start.. (the last `count` of `rows`; the first rows - count are padding).

    Real rows see the cache slots written before the call (< start) and the call's real rows up to
    their own; each pad row sees only its own column (no row is fully masked)."""
    pad = rows - count
    mask = np.full((rows, max_context + rows), mask_value, dtype=dtype)
    mask[pad:, :start] = 0
    own = mask[pad:, max_context + pad :]  # a view: [count, count]
    own[np.tril(np.ones((count, count), dtype=bool))] = 0
    mask[np.arange(pad), max_context + np.arange(pad)] = 0
    return mask[None, None]


def read_graph_metadata(session) -> dict:
    """The `sf.*` properties of a loaded graph, prefix dropped, JSON values decoded."""
    properties = session.get_modelmeta().custom_metadata_map
    return {key[len(METADATA_PREFIX) :]: json.loads(value) for key, value in properties.items() if key.startswith(METADATA_PREFIX)}


def backend_name(providers) -> str:
    first = providers[0] if isinstance(providers[0], str) else providers[0][0]
    return "onnxruntime-" + first.removesuffix("ExecutionProvider").lower()


class OnnxBackend:
    """vision.onnx, prefill.onnx and decode.onnx of one export folder as a GraphBackend."""

    def __init__(
        self,
        folder: Path,
        providers=(CPU_PROVIDER,),
        threads: int = 0,
        prepack: bool = True,
        graph_folder: Path | None = None,
        session_options=None,
    ):
        """`prepack=False` keeps ONE copy of the weights for both decoder sessions: the CPU provider
        otherwise repacks every Gemm weight per session (measured: two sessions over one 64 MiB
        weight add 135 MiB RSS with prepacking, 7 MiB without, the file being memory-mapped).

        `graph_folder`: where the three graphs are (default `folder`; a QNN export keeps its compiled
        graphs per SoC in a subfolder, the embedding table at the top). `session_options`: a hook
        `threads -> SessionOptions` that has chosen its own execution providers (a plugin EP
        selected with `add_provider_for_devices`); `providers` is then not passed."""
        ort = import_onnxruntime()
        folder = Path(folder)
        graphs = Path(graph_folder) if graph_folder is not None else folder
        for name in GRAPH_NAMES:
            if not (graphs / name).is_file():
                raise SfError(f"{graphs} has no {name}", "export one with sf-export --target onnx")
        if session_options is None:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads  # 0: ONNX Runtime's choice (the physical cores)
            options.log_severity_level = 3  # errors only: the CPU provider notes every fp16 cast it inserts
            chosen = {"providers": list(providers)}
        else:
            options, chosen = session_options(threads), {}
        if not prepack:
            options.add_session_config_entry("session.disable_prepacking", "1")
        self.sessions = {
            name: ort.InferenceSession(str(graphs / name), sess_options=options, **chosen) for name in GRAPH_NAMES
        }
        self.name = backend_name(providers) if session_options is None else backend_name(self.sessions[VISION_NAME].get_providers())
        self.providers = sorted({p for s in self.sessions.values() for p in s.get_providers()})
        vision_meta, lm_meta = (read_graph_metadata(self.sessions[n]) for n in (VISION_NAME, PREFILL_NAME))
        self.num_frames, self.image_size = int(vision_meta["frames"]), int(vision_meta["frame_size"])
        self.chunk = self.max_seq_len = int(lm_meta["prefill_chunk"])
        self.max_context = int(lm_meta["max_context"])
        self.mask_value = float(lm_meta["mask_value"])
        inputs = {i.name: i for i in self.sessions[PREFILL_NAME].get_inputs()}
        self.dtype = ONNX_DTYPES[inputs["inputs_embeds"].type]
        table = lm_meta["embedding_table"]
        little_endian = np.dtype(table["dtype"]).newbyteorder("<")
        self.table = np.memmap(folder / table["path"], dtype=little_endian, mode="r", shape=tuple(table["shape"]))
        self.cache_shape = tuple(inputs["past_keys"].shape)  # [L, 1, KVH, ctx, hd]
        self.reset()

    def vision_encoder(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [3, T*S, S] (the protocol's packed form) -> [1, N_vis, D] float32."""
        side = self.image_size
        unpacked = frames.reshape(3, self.num_frames, side, side).permute(1, 0, 2, 3)  # [T, 3, S, S]
        (visual,) = self.sessions[VISION_NAME].run(None, {"frames": np.ascontiguousarray(unpacked.numpy())})
        return torch.from_numpy(visual.astype(np.float32))

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.table[ids.reshape(-1).numpy()]  # [S, D]
        return torch.from_numpy(rows.astype(np.float32)).unsqueeze(0)

    def text_decoder(self, embeds: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        """[1, S, D] at consecutive slots cache_position -> logits [1, 1, V] after the last row."""
        count = embeds.shape[1]
        if count == 0:
            raise SfError("text_decoder got no rows", "pass at least one embedding row")
        if count > self.chunk:
            raise SfError(f"text_decoder got {count} rows, more than the prefill chunk {self.chunk}", "prefill in chunks")
        start = int(cache_position[0])
        if not torch.equal(cache_position.to(torch.int64), torch.arange(start, start + count)):
            raise SfError("text_decoder got non-consecutive cache positions", "feed rows at consecutive slots")
        if start < 0 or start + count > self.max_context:
            raise SfError(
                f"rows at slots {start}..{start + count - 1} do not fit the {self.max_context}-slot KV cache",
                "shorten the prompt and answer, or export with a larger --max-context",
            )
        graph, rows = (DECODE_NAME, 1) if count == 1 else (PREFILL_NAME, self.chunk)
        pad = rows - count
        padded = np.zeros((1, rows, embeds.shape[2]), dtype=self.dtype)
        padded[0, pad:] = embeds[0].to(torch.float32).numpy()
        positions = np.concatenate([np.full(pad, start), np.arange(start, start + count)]).astype(np.int64)
        feed = {
            "inputs_embeds": padded,
            "position_ids": positions,
            "attention_mask": step_mask(start, count, rows, self.max_context, self.mask_value, self.dtype),
            "past_keys": self.keys,
            "past_values": self.values,
        }
        logits, new_keys, new_values = self.sessions[graph].run(None, feed)
        self.keys[:, :, :, start : start + count] = new_keys[:, :, :, pad:]
        self.values[:, :, :, start : start + count] = new_values[:, :, :, pad:]
        return torch.from_numpy(logits.astype(np.float32).reshape(1, 1, -1))

    def reset(self) -> None:
        # The mask hides every slot this sequence has not written; zeros keep a new sequence from
        # depending on the last one even so.
        self.keys = np.zeros(self.cache_shape, dtype=self.dtype)
        self.values = np.zeros(self.cache_shape, dtype=self.dtype)
