"""The protocol every runtime implements: the three methods of the ExecuTorch multimodal contract.

A backend owns its KV cache. The parity driver (`sf_mobile.parity.driver`) and the benchmarks call
only these members, in the order a device runner does, so any backend that satisfies this protocol
can be checked against the reference bundle without special cases. Returned tensors belong to
the caller: a backend whose runtime reuses output memory must copy before returning.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class GraphBackend(Protocol):
    name: str  # "pytorch-eager", "executorch-host", ...
    max_seq_len: int  # longest chunk `text_decoder` accepts in one call (prefill chunk size)

    def vision_encoder(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 frames packed as one tall image [3, T*S, S] -> float visual embeddings [1, N_vis, D]."""
        ...

    def token_embedding(self, ids: torch.Tensor) -> torch.Tensor:
        """int64 ids [1, S] -> embeddings [1, S, D]."""
        ...

    def text_decoder(self, embeds: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        """embeds [1, S, D] written at cache slots `cache_position` (int64 [S]) -> logits [1, S, V]."""
        ...

    def reset(self) -> None:
        """Empty the KV cache: the next `text_decoder` call starts a new sequence."""
        ...
