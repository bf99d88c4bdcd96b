"""The two halves of a parity bundle: fixed inputs and the reference outputs they produce."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sf_mobile.errors import SfError
from sf_mobile.exportable.vision import pack_frames


@dataclass(frozen=True)
class ParityInputs:
    frames: torch.Tensor  # uint8 [T, 3, S, S]
    question: str
    prefix_ids: list[int]  # prompt ids before the visual tokens
    suffix_ids: list[int]  # prompt ids after them
    forced_tokens: list[int]  # teacher-forced after the prompt: the reference's own greedy tokens

    def __post_init__(self) -> None:
        frames = self.frames
        if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[1] != 3 or frames.shape[2] != frames.shape[3]:
            raise SfError(
                f"parity frames are {frames.dtype} {list(frames.shape)}",
                "pass uint8 frames shaped [T, 3, S, S] (square, RGB)",
            )

    @property
    def packed_frames(self) -> torch.Tensor:
        """[3, T*S, S]: the one tall image the ExecuTorch multimodal runner hands to vision_encoder."""
        return pack_frames(self.frames)


@dataclass(frozen=True)
class ReferenceOutputs:
    visual: torch.Tensor  # [1, N_vis, D]
    prefill_last_logits: torch.Tensor  # [V], logits at the last prompt position
    decode_logits: torch.Tensor  # [N_forced, V], after feeding forced_tokens[i]
    greedy_tokens: list[int]
