"""Frames -> visual embeddings, and token ids -> embeddings, as exportable modules."""

from __future__ import annotations

import math

import torch
from torch import nn

from sf_mobile.model.slowfast_llava import SlowFastLlava


class FrameEncoder(nn.Module):
    """uint8 frames -> SlowFast visual embeddings [1, N_vis, D] for exactly `num_frames` frames.

    packed=False takes [T, 3, S, S]; packed=True takes one tall CHW image [3, T*S, S] (the form
    the ExecuTorch multimodal runner hands over) and unpacks it in-graph. `frames_per_pass` is for
    eager runs only: exporters leave it None.
    """

    def __init__(self, model: SlowFastLlava, num_frames: int, packed: bool = False, frames_per_pass: int | None = None):
        super().__init__()
        self.model = model
        self.num_frames = num_frames
        self.packed = packed
        self.frames_per_pass = frames_per_pass  # eager runs only (SlowFastLlava.frame_features)
        self.image_size = model.config.vision.image_size

    def example_input(self) -> torch.Tensor:
        side, frames = self.image_size, self.num_frames
        shape = (3, frames * side, side) if self.packed else (frames, 3, side, side)
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(0))

    def unpack(self, frames: torch.Tensor) -> torch.Tensor:
        """The input as [T, 3, S, S] (a view when packed)."""
        if self.packed:  # [3, T*S, S] -> [T, 3, S, S]
            return frames.view(3, self.num_frames, self.image_size, self.image_size).permute(1, 0, 2, 3)
        return frames

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.model.encode_frames(self.unpack(frames), self.frames_per_pass).unsqueeze(0)


def pack_frames(frames: torch.Tensor) -> torch.Tensor:
    """[T, 3, S, S] -> one tall image [3, T*S, S] (frame t occupies rows t*S .. t*S+S-1)."""
    frames_count, channels, height, width = frames.shape
    return frames.permute(1, 0, 2, 3).reshape(channels, frames_count * height, width)


class TokenEmbedding(nn.Module):
    """token ids [1, S] -> [1, S, D]."""

    def __init__(self, model: SlowFastLlava):
        super().__init__()
        self.embed = model.llm.get_input_embeddings()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.embed(ids)


def spell_out_tanh_gelu(root: nn.Module) -> int:
    """Make every tanh-approximated GELU compute its formula with plain ops; returns how many.

    Backends lower a fused `gelu(approximate="tanh")` as exact GELU (XNNPACK, Core ML's
    torch.export frontend) or decompose it badly (QNN at opset 18): an error of ~5e-4 that is
    the backend's, not the model's. Written out as 0.5*x*(1+tanh(...)), every backend computes
    the same function the model was trained with.
    """
    from transformers.activations import GELUTanh

    count = 0
    for module in root.modules():
        if isinstance(module, GELUTanh):
            module.act = tanh_gelu
            count += 1
    return count


def tanh_gelu(x: torch.Tensor) -> torch.Tensor:
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), with x^3 as products: XNNPACK has no pow."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * (x * x * x))))
