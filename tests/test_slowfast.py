"""SlowFast pooling against hand-computed examples and the papers' token counts."""

from __future__ import annotations

import pytest
import torch

from sf_mobile import slowfast
from sf_mobile.config import PoolOp, ProjectorOrder, SlowFastConfig
from sf_mobile.errors import PresetError
from sf_mobile.presets import PRESETS, get_preset

V1_SMALL = SlowFastConfig(
    generation="v1", num_slow=10, slow_pool=(1, 2), slow_pool_op=PoolOp.MAX, fast_grid=(2, 2),
    order=ProjectorOrder.PROJECT_THEN_POOL,
)


@pytest.mark.parametrize(
    "frames, expected",
    [
        (50, [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]),  # v1 at its 50-frame budget
        (8, [0, 0, 1, 2, 3, 4, 4, 5, 6, 7]),  # linspace(0, 8, 11) = 0, .8, 1.6, ... truncated
        (3, [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]),  # T < num_slow: frames repeat
        (1, [0] * 10),
    ],
)
def test_slow_frame_indices_match_hand_computation(frames, expected):
    assert slowfast.slow_frame_indices(frames, 10) == expected


def test_pool_on_a_literal_example():
    # One frame, 2x2 grid, 1 channel: [[1, 2], [3, 4]]; 1 slow frame pooled 1x2 (max) and a 1x1 fast grid.
    config = SlowFastConfig("v1", 1, (1, 2), PoolOp.MAX, (1, 1), ProjectorOrder.PROJECT_THEN_POOL)
    features = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]])  # [T=1, N=4, C=1]
    out = slowfast.pool(features, config)
    # slow: max(1, 2) = 2, max(3, 4) = 4; fast: mean(1, 2, 3, 4) = 2.5; slow first
    assert out.tolist() == [[2.0], [4.0], [2.5]]


def _hand_pool(features: torch.Tensor, grid: int) -> torch.Tensor:
    """V1_SMALL computed with plain loops over python floats: the independent reference."""
    frames, _, channels = features.shape
    rows = []
    for index in slowfast.slow_frame_indices(frames, 10):
        for r in range(grid):
            for c in range(0, grid, 2):
                a, b = features[index, r * grid + c], features[index, r * grid + c + 1]
                rows.append(torch.maximum(a, b))
    half = grid // 2
    for t in range(frames):
        for gr in range(2):
            for gc in range(2):
                cells = [features[t, (gr * half + i) * grid + gc * half + j] for i in range(half) for j in range(half)]
                rows.append(sum(cells) / len(cells))
    return torch.stack(rows)


@pytest.mark.parametrize("frames", [3, 12])  # 3 < num_slow (duplicates), 12 > num_slow
def test_pool_matches_loop_reference(frames):
    grid, channels = 4, 3
    features = torch.randn(frames, grid * grid, channels, generator=torch.Generator().manual_seed(frames))
    out = slowfast.pool(features, V1_SMALL)
    assert out.shape == (10 * grid * (grid // 2) + frames * 4, channels)
    torch.testing.assert_close(out, _hand_pool(features, grid), rtol=0, atol=1e-6)  # fp32 mean of 4 values


def test_fast_grid_that_does_not_divide_uses_adaptive_pooling():
    config = SlowFastConfig("1.5", 1, (1, 1), PoolOp.AVG, (3, 3), ProjectorOrder.POOL_THEN_PROJECT)
    features = torch.randn(2, 64, 5)  # 8x8 grid -> 3x3 is not an even split
    fast = slowfast.fast_pathway(features, config)
    grid = features.transpose(1, 2).reshape(2, 5, 8, 8)
    expected = torch.nn.functional.adaptive_avg_pool2d(grid, (3, 3)).flatten(2).transpose(1, 2).reshape(-1, 5)
    torch.testing.assert_close(fast, expected)


def test_v1_7b_token_count_at_50_frames():
    budget = slowfast.visual_token_count(get_preset("v1-7b"), 50)
    assert (budget.slow_tokens, budget.fast_tokens, budget.total) == (2880, 800, 3680)


def test_15_presets_give_about_9k_tokens():
    assert slowfast.visual_token_count(get_preset("1b")).total == 9216


@pytest.mark.parametrize("name", list(PRESETS))
@pytest.mark.parametrize("frames", [1, 7, 50])
def test_pool_output_length_equals_the_token_count(name, frames):
    config = get_preset(name)
    grid = config.vision.grid
    features = torch.zeros(frames, grid * grid, 2)
    assert slowfast.pool(features, config).shape[0] == slowfast.visual_token_count(config, frames).total


def test_non_square_grid_is_rejected():
    with pytest.raises(PresetError, match="square"):
        slowfast.pool(torch.zeros(2, 12, 3), V1_SMALL)
