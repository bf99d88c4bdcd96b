"""Which moments of a video to look at, and which decoded frame shows each moment.

Pure functions on seconds and frame times: no decoding, so they are cheap to test and
the same rule serves every container. Times are relative to the first frame (t = 0).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from sf_mobile.config import SamplingConfig, SamplingStrategy


def _uniform(duration_s: float, count: int) -> list[float]:
    # Midpoints of `count` equal segments of [0, duration): never the very first or last instant,
    # which are often black or a fade.
    step = max(duration_s, 0.0) / count
    return [(i + 0.5) * step for i in range(count)]


def _fps(duration_s: float, fps: float, limit: int) -> list[float]:
    """Midpoints of 1/fps windows inside [0, duration); stops once past `limit` (caller falls back)."""
    times: list[float] = []
    k = 0
    while (t := (k + 0.5) / fps) < duration_s:
        times.append(t)
        if len(times) > limit:
            break
        k += 1
    return times


def sample_times(duration_s: float, sampling: SamplingConfig) -> list[float]:
    """Target times in seconds: FPS midpoints, or `max_frames` uniform midpoints.

    FPS falls back to UNIFORM when it would give more than `max_frames` times (the exported
    graph has a fixed frame budget) or none at all (a clip shorter than half a period).
    """
    if sampling.strategy is SamplingStrategy.FPS:
        times = _fps(duration_s, sampling.fps, sampling.max_frames)
        if 0 < len(times) <= sampling.max_frames:
            return times
    return _uniform(duration_s, sampling.max_frames)


def pick_frames(frame_times: Sequence[float], targets: Sequence[float]) -> list[int]:
    """For each target, the index of the frame on screen at that time.

    `frame_times` are the sorted presentation times of every frame (VFR-safe: no constant
    rate is assumed). A frame is on screen from its own time until the next frame's, so the
    pick is the last frame with time <= target; a target before the first frame takes frame 0.
    Indices repeat when there are fewer frames than targets.
    """
    if not frame_times:
        raise ValueError("pick_frames needs at least one frame time")
    last = len(frame_times) - 1
    return [min(max(bisect.bisect_right(frame_times, t) - 1, 0), last) for t in targets]
