"""Frames to the vision tower's square input: uint8 in, uint8 out.

Bicubic with antialiasing on float, then round and clamp: this matches PIL's bicubic resize,
which the Hugging Face image processors use. Mean/std normalisation is left to the model
graph, so exported models take raw uint8 frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from sf_mobile.config import ResizeMode, VisionConfig

_CHUNK = 8  # frames per interpolate call: bounds the float32 copy for long 1080p clips


def _resize(chunk: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 [N, 3, H, W] -> uint8 [N, 3, *size]."""
    if tuple(chunk.shape[-2:]) == size:
        return chunk.clone()
    out = F.interpolate(chunk.float(), size=size, mode="bicubic", antialias=True, align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)


def _shortest_edge_size(height: int, width: int, side: int) -> tuple[int, int]:
    # Hugging Face's get_resize_output_image_size truncates the long side with int(), not round().
    if height <= width:
        return side, int(side * width / height)
    return int(side * height / width), side


def resize_frames(frames: torch.Tensor, vision: VisionConfig) -> torch.Tensor:
    """uint8 [T, H, W, 3] RGB -> uint8 [T, 3, S, S] with S = vision.image_size."""
    if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected uint8 frames [T, H, W, 3], got {frames.dtype} {tuple(frames.shape)}")
    side = vision.image_size
    height, width = int(frames.shape[1]), int(frames.shape[2])
    if vision.resize is ResizeMode.SQUASH:
        size = (side, side)
    elif vision.resize is ResizeMode.SHORTEST_EDGE_CROP:
        size = _shortest_edge_size(height, width, side)
    else:
        raise ValueError(f"unknown resize mode {vision.resize!r}")

    chw = frames.permute(0, 3, 1, 2)
    if chw.shape[0] == 0:
        return torch.empty((0, 3, side, side), dtype=torch.uint8)
    out = torch.cat([_resize(chw[i : i + _CHUNK], size) for i in range(0, chw.shape[0], _CHUNK)])

    # Centre crop (a no-op for SQUASH); the offset floors like HF's center_crop.
    top = (out.shape[2] - side) // 2
    left = (out.shape[3] - side) // 2
    return out[:, :, top : top + side, left : left + side].contiguous()
