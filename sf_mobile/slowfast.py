"""SlowFast pooling: per-frame token grids -> one sequence of visual tokens.

slow pathway: `num_slow` frames picked by linspace, each pooled with a small kernel (fine detail);
fast pathway: every frame pooled to a coarse `fast_grid` (motion);
output: slow tokens first (frame by frame, row-major), then fast tokens.

Everything here has static shapes once T is fixed, so the exporters trace the same code.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sf_mobile.config import ModelConfig, PoolOp, SlowFastConfig, VisualTokenBudget
from sf_mobile.errors import PresetError


def slow_frame_indices(num_frames: int, num_slow: int) -> list[int]:
    """v1's choice: `linspace(0, T, num_slow + 1)` truncated to int, last dropped.

    With T < num_slow the same frame appears more than once, exactly as in the original.
    """
    return torch.linspace(0, num_frames, num_slow + 1)[:-1].to(torch.int64).tolist()


def visual_token_count(config: ModelConfig, num_frames: int | None = None) -> VisualTokenBudget:
    """Slow/fast split of the visual tokens for `num_frames` frames (default: the preset's budget)."""
    return config.visual_tokens(num_frames)


def _as_grid(features: torch.Tensor) -> torch.Tensor:
    """[T, N, C] -> [T, C, g, g] for a square token grid."""
    frames, tokens, channels = features.shape
    side = math.isqrt(tokens)
    if side * side != tokens:
        raise PresetError(f"{tokens} tokens per frame is not a square grid", "pass features shaped [T, g*g, C]")
    return features.transpose(1, 2).reshape(frames, channels, side, side)


def _flatten_grid(grid: torch.Tensor) -> torch.Tensor:
    """[T, C, h, w] -> [T*h*w, C], frame by frame, row-major."""
    return grid.flatten(2).transpose(1, 2).reshape(-1, grid.shape[1])


def _average_to(grid: torch.Tensor, out_hw: tuple[int, int]) -> torch.Tensor:
    """Adaptive average pool; as a plain avg_pool2d when the grid divides evenly (delegates better)."""
    rows, cols = grid.shape[-2:]
    if rows % out_hw[0] == 0 and cols % out_hw[1] == 0:
        kernel = (rows // out_hw[0], cols // out_hw[1])
        return F.avg_pool2d(grid, kernel_size=kernel, stride=kernel)
    return F.adaptive_avg_pool2d(grid, out_hw)


def slow_pathway(features: torch.Tensor, config: SlowFastConfig) -> torch.Tensor:
    """[T, g*g, C] -> [num_slow * (g/kh) * (g/kw), C]."""
    indices = torch.tensor(slow_frame_indices(features.shape[0], config.num_slow), device=features.device)
    grid = _as_grid(features.index_select(0, indices))  # [num_slow, C, g, g]
    kernel = tuple(config.slow_pool)
    if config.slow_pool_op is PoolOp.MAX:
        pooled = F.max_pool2d(grid, kernel_size=kernel, stride=kernel)
    else:
        pooled = F.avg_pool2d(grid, kernel_size=kernel, stride=kernel)
    return _flatten_grid(pooled)


def fast_pathway(features: torch.Tensor, config: SlowFastConfig) -> torch.Tensor:
    """[T, g*g, C] -> [T * fast_rows * fast_cols, C]."""
    return _flatten_grid(_average_to(_as_grid(features), tuple(config.fast_grid)))


def pool(features: torch.Tensor, config: SlowFastConfig | ModelConfig) -> torch.Tensor:
    """SlowFast pooling of frame features `[T, N, C]` into visual tokens `[N_vis, C]` (slow first)."""
    if isinstance(config, ModelConfig):
        config = config.slowfast
    if features.dim() != 3:
        raise PresetError(f"features have shape {tuple(features.shape)}", "pass frame features shaped [T, N, C]")
    return torch.cat([slow_pathway(features, config), fast_pathway(features, config)], dim=0)
