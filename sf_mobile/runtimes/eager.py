"""The PyTorch reference of the exported graphs, behind the `GraphBackend` protocol.

It runs the very modules every exporter traces (`sf_mobile.exportable`), so a difference between
this backend and an exported graph is an export (or quantization) error, never a modelling one.
"""

from __future__ import annotations

import time

import torch

from sf_mobile.errors import SfError
from sf_mobile.exportable import DecoderStep, FrameEncoder, TokenEmbedding
from sf_mobile.model.slowfast_llava import EAGER_FRAMES_PER_PASS, SlowFastLlava


# Rows per eager prefill call. Attention here spans the whole fp32 cache, so one call's scores are
# [1, H, rows, ctx]: 11 GB for a 9.3K-token prompt in one call at the 1b preset (128 frames), 0.6 GB
# per 512 rows. The attention work is the same either way (every call spans the cache) and 512-row
# matmuls run as fast as longer ones; it is 64-row chunks that cost minutes more at real size.
EAGER_PREFILL_ROWS = 512


class EagerBackend:
    """`SlowFastLlava` run eagerly with the exported graphs' signatures and limits.

    `max_seq_len` (the rows the driver feeds per call) is the graph's own bound, capped at
    EAGER_PREFILL_ROWS to bound the reference's memory."""

    name = "pytorch-eager"

    def __init__(self, model: SlowFastLlava, num_frames: int, max_context: int, max_seq_len: int):
        if not 1 <= max_seq_len <= max_context:
            raise SfError(
                f"max_seq_len {max_seq_len} is outside [1, max_context {max_context}]",
                "use a prefill chunk no longer than the KV cache",
            )
        self._attach(
            FrameEncoder(model, num_frames, packed=True, frames_per_pass=EAGER_FRAMES_PER_PASS),
            TokenEmbedding(model),
            DecoderStep(model, max_context),  # owns its own KV cache buffers
            max_seq_len,
        )

    @classmethod
    def from_modules(cls, encoder: FrameEncoder, embedding: torch.nn.Module, decoder: DecoderStep, max_seq_len: int):
        """The given method modules run eagerly, e.g. an exporter's quantized copies (the
        "same quantization run eagerly" side of parity)."""
        backend = cls.__new__(cls)
        backend._attach(encoder, embedding, decoder, max_seq_len)
        return backend

    def _attach(self, encoder, embedding, decoder, max_seq_len: int) -> None:
        self.encoder = encoder
        self.embedding = embedding
        self.decoder = decoder
        self.num_frames = encoder.num_frames
        self.max_context = decoder.max_context
        self.max_seq_len = min(max_seq_len, EAGER_PREFILL_ROWS)

    @torch.inference_mode()
    def vision_encoder(self, frames: torch.Tensor) -> torch.Tensor:
        return self.encoder(frames)  # [3, T*S, S] uint8 -> [1, N_vis, D]

    @torch.inference_mode()
    def vision_split(self, frames: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        """`vision_encoder` with the tower and SlowFast + projector timed apart (the exported
        graphs fuse them): (visual [1, N_vis, D], tower ms, SlowFast + projector ms)."""
        model = self.encoder.model
        start = time.perf_counter()
        features = model.frame_features(self.encoder.unpack(frames), self.encoder.frames_per_pass)
        tower_ms = (time.perf_counter() - start) * 1000.0
        start = time.perf_counter()
        visual = model.visual_tokens(features).unsqueeze(0)
        return visual, tower_ms, (time.perf_counter() - start) * 1000.0

    @torch.inference_mode()
    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(ids)  # [1, S] -> [1, S, D]

    @torch.inference_mode()
    def text_decoder(self, embeds: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        # An exported graph rejects chunks past its dynamic-shape bound; fail the same way here so
        # that a driver bug shows up against the reference too, not only on a device.
        if embeds.shape[1] > self.max_seq_len:
            raise SfError(
                f"text_decoder got {embeds.shape[1]} positions in one call, more than max_seq_len {self.max_seq_len}",
                "prefill in chunks of at most max_seq_len",
            )
        return self.decoder(embeds, cache_position)  # [1, S, V]

    def reset(self) -> None:
        self.decoder.reset()
