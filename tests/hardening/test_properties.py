"""Property tests: frame sampling over random durations, frame rates and budgets, and SlowFast token
arithmetic of every preset over random frame counts. Derandomized (fixed examples, no example
database written), so CI sees the same cases on every run."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sf_mobile.config import SamplingConfig, SamplingStrategy
from sf_mobile.presets import PRESETS
from sf_mobile.slowfast import pool, slow_frame_indices
from sf_mobile.video import pick_frames, sample_times

SETTINGS = settings(derandomize=True, max_examples=300, deadline=None, database=None)
POOL_SETTINGS = settings(derandomize=True, max_examples=40, deadline=None, database=None)  # real pooling: slower

durations = st.floats(min_value=0.0, max_value=36_000.0, allow_nan=False)  # up to ten hours
rates = st.floats(min_value=0.05, max_value=60.0, allow_nan=False)
budgets = st.integers(min_value=1, max_value=256)
strategies = st.sampled_from(list(SamplingStrategy))



def fps_times(duration: float, fps: float) -> list[float]:
    """The FPS rule written out independently: midpoints of 1/fps windows that start inside the clip."""
    return [(k + 0.5) / fps for k in range(math.ceil(duration * fps + 0.5) + 1) if (k + 0.5) / fps < duration]


@SETTINGS
@given(duration=durations, fps=rates, budget=budgets, strategy=strategies)
def test_sample_times_follow_the_rule(duration, fps, budget, strategy):
    times = sample_times(duration, SamplingConfig(strategy=strategy, max_frames=budget, fps=fps))
    wanted = fps_times(duration, fps) if strategy is SamplingStrategy.FPS else []
    if 0 < len(wanted) <= budget:  # FPS fits the budget: exactly the FPS midpoints
        assert times == pytest.approx(wanted)
    else:  # uniform: `budget` midpoints of equal segments (the FPS fallback too)
        assert len(times) == budget
        assert times == pytest.approx([(i + 0.5) * duration / budget for i in range(budget)])
    assert 1 <= len(times) <= budget
    assert all(0.0 <= t <= duration for t in times)  # never past the end
    assert all(a < b for a, b in zip(times, times[1:])) or duration == 0.0


frame_times = st.lists(st.floats(min_value=0.0, max_value=1_000.0, allow_nan=False), min_size=1, max_size=200, unique=True).map(sorted)


@SETTINGS
@given(times=frame_times, targets=st.lists(st.floats(min_value=-10.0, max_value=1_100.0, allow_nan=False), max_size=64))
def test_pick_frames_takes_the_frame_on_screen(times, targets):
    picked = pick_frames(times, targets)
    assert len(picked) == len(targets)
    for index, target in zip(picked, targets):
        assert 0 <= index < len(times)
        if target < times[0]:
            assert index == 0  # before the first frame: the first frame
        else:  # the last frame shown at or before the target
            assert times[index] <= target and (index == len(times) - 1 or times[index + 1] > target)
    ordered = sorted(targets)
    assert pick_frames(times, ordered) == sorted(picked)  # later moments never show earlier frames


@SETTINGS
@given(duration=durations.filter(lambda d: d > 0), fps=rates, budget=budgets, count=st.integers(1, 5000))
def test_sampling_a_constant_rate_video_picks_valid_frames(duration, fps, budget, count):
    """The two functions together, as load_video uses them, on `count` evenly spaced frames."""
    times = [duration * i / count for i in range(count)]
    targets = sample_times(duration, SamplingConfig(strategy=SamplingStrategy.FPS, max_frames=budget, fps=fps))
    picked = pick_frames(times, targets)
    assert len(picked) == len(targets) <= budget
    assert picked == sorted(picked)
    assert all(times[i] <= t < times[i] + duration / count + 1e-9 for i, t in zip(picked, targets))


presets = st.sampled_from(sorted(PRESETS))


@SETTINGS
@given(name=presets, frames=st.integers(min_value=1, max_value=512))
def test_visual_token_count_is_slow_plus_fast(name, frames):
    config = PRESETS[name]
    grid, slowfast = config.vision.grid, config.slowfast
    budget = config.visual_tokens(frames)
    slow = slowfast.num_slow * (grid // slowfast.slow_pool[0]) * (grid // slowfast.slow_pool[1])
    fast = frames * slowfast.fast_grid[0] * slowfast.fast_grid[1]
    assert (budget.slow_tokens, budget.fast_tokens, budget.total) == (slow, fast, slow + fast)
    assert budget.slow_frames == slowfast.num_slow


PRESET_SLOW = sorted({p.slowfast.num_slow for p in PRESETS.values()})


@SETTINGS
@given(frames=st.integers(min_value=1, max_value=512), slow=st.integers(min_value=1, max_value=64))
def test_slow_frames_follow_linspace(frames, slow):
    indices = slow_frame_indices(frames, slow)
    exact = [k * frames // slow for k in range(slow)]  # linspace(0, T, n + 1)[:-1] in exact arithmetic, truncated
    assert len(indices) == slow
    assert indices == sorted(indices) and 0 <= indices[0] and indices[-1] < frames
    # torch.linspace runs in float32 and fills its upper half from the end: k*T/n a hair under an integer
    # truncates one lower (T=30, n=50: slot 25 is 14, not 15). Never more than one frame, never for the
    # presets' slow counts, and the same in every exported graph (they call this function).
    assert all(e - 1 <= i <= e for i, e in zip(indices, exact))
    if slow in PRESET_SLOW and frames <= 256:
        assert indices == exact
    assert (len(set(indices)) == slow) == (frames >= slow)  # repeats exactly when T < num_slow


@POOL_SETTINGS
@given(name=presets, frames=st.integers(min_value=1, max_value=160), channels=st.integers(min_value=1, max_value=3))
def test_pooling_produces_the_counted_tokens(name, frames, channels):
    """The pooling itself (not just the arithmetic) gives the preset's count, on any channel width."""
    config = PRESETS[name]
    features = torch.randn(frames, config.vision.tokens_per_frame, channels)
    assert tuple(pool(features, config).shape) == (config.visual_tokens(frames).total, channels)


def test_the_papers_figures_are_examples_of_the_rule():
    assert PRESETS["v1-7b"].visual_tokens(50).total == 3680  # v1: 2880 slow + 800 fast
    assert PRESETS["1b"].visual_tokens(128).total == 9216  # 1.5: 32 x 144 + 128 x 36
