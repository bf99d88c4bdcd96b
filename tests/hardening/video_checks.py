"""What a correctly handled odd video gives: the frames the sampling rule picks, upright, resized,
in bounded memory. Each check reads `sf-run --json`'s report and, where pixels matter, the frames."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from hardening.inputs_video import EIGHT_K, LONG_PTS, MANY_FRAMES, VFR_PTS, video
from sf_mobile import memory
from sf_mobile.presets import TINY
from sf_mobile.video import load_video, resize_frames
from sf_mobile.video.decode import MAX_PIXELS
from video_clips import read_index

BUDGET = TINY.sampling.max_frames  # 8 frames, FPS 2 with the uniform fallback
# Decoding 8 frames of 8K without the shrink holds 8 x 100 MB of RGB plus a 1.6 GB float copy in the
# resize: 2.4 GB measured before the fix (4.3 GB peak for the whole run). With frames kept at
# MAX_PIXELS the same work needs 8 x 6 MB + 8 x 25 MB; 0.5 GiB leaves room for allocator slack.
EIGHT_K_GROWTH_GIB = 0.5


def report(result) -> dict:
    return json.loads(result.out)


def on_screen(pts: tuple[int, ...], tick: float, duration: float) -> list[float]:
    """The times of the frames on screen at the uniform midpoints (FPS over budget falls back)."""
    targets = [(i + 0.5) * duration / BUDGET for i in range(BUDGET)]
    return [max(p for p in pts if p * tick <= t + 1e-9) * tick for t in targets]


def picked(ws, name: str) -> list[int]:
    return [read_index(frame) for frame in load_video(video(ws, name), TINY.sampling).frames.numpy()]


def single_frame(ws, result) -> None:
    r = report(result)["video"]
    assert (r["frames"], r["timestamps_s"], r["duration_s"]) == (BUDGET, [0.0] * BUDGET, pytest.approx(0.1))
    assert picked(ws, "single-frame") == [0] * BUDGET


def still_image(ws, result) -> None:
    r = report(result)["video"]
    assert r["timestamps_s"] == [0.0] * BUDGET  # one image: every sampled moment shows it
    assert picked(ws, "still-image") == [7] * BUDGET  # the builder paints index 7


def vfr(ws, result) -> None:
    r = report(result)["video"]
    duration = (VFR_PTS[-1] + 1) / 10  # the last frame lasts one tick
    assert r["duration_s"] == pytest.approx(duration)
    expected = on_screen(VFR_PTS, 0.1, duration)
    assert r["timestamps_s"] == pytest.approx(expected)
    assert picked(ws, "vfr") == [VFR_PTS.index(round(t * 10)) for t in expected]


def rotated(ws, result) -> None:
    clip = load_video(video(ws, "rotated"), TINY.sampling)
    assert clip.rotation == 90 and tuple(clip.frames.shape[1:]) == (64, 48, 3)  # turned: H and W swap
    source = np.zeros((48, 64, 3), dtype=np.uint8)
    source[:24, :32] = 255
    error = np.abs(clip.frames[0].numpy().astype(int) - np.rot90(source, 1).astype(int)).mean()
    assert error < 6  # mpeg4 blurs the block's edge by a few levels
    assert report(result)["video"]["frames"] == 2  # 1 s at 2 fps


def eight_k(ws, result) -> None:
    assert report(result)["video"]["frame_size"] == [TINY.vision.image_size] * 2
    path = video(ws, "8k")
    memory.reset_peak()
    base = memory.peak_rss_gib()
    frames = resize_frames(load_video(path, TINY.sampling).frames, TINY.vision)
    growth = memory.peak_rss_gib() - base
    assert growth < EIGHT_K_GROWTH_GIB, f"decoding 8K frames grew RSS by {growth:.2f} GiB"
    height, width = EIGHT_K
    kept = load_video(path, TINY.sampling).frames.shape[1:3]
    assert kept[0] * kept[1] <= MAX_PIXELS and math.isclose(kept[1] / kept[0], width / height, rel_tol=0.01)
    side = TINY.vision.image_size
    left, right = frames[:, :, :, : side // 2 - 2].float(), frames[:, :, :, side // 2 + 2 :].float()
    assert (left - 210).abs().max() <= 4 and (right - 40).abs().max() <= 4  # the split survives the resize


def long_sparse(ws, result) -> None:
    r = report(result)["video"]
    duration = r["duration_s"]
    assert duration == pytest.approx(LONG_PTS[-1] / 10, abs=1.0)  # 3.5 hours
    assert r["timestamps_s"] == pytest.approx(on_screen(LONG_PTS, 0.1, duration))


def many_frames(ws, result) -> None:
    r = report(result)["video"]
    assert r["duration_s"] == pytest.approx(MANY_FRAMES / 10)
    assert r["timestamps_s"] == pytest.approx(on_screen(tuple(range(MANY_FRAMES)), 0.1, r["duration_s"]))


def truncated_frames(ws, result) -> None:
    r = report(result)
    assert r["video"]["declared_duration_s"] == pytest.approx(3.0) and r["video"]["duration_s"] == pytest.approx(1.5)
    assert len(r["warnings"]) == 1
    assert picked(ws, "truncated-frames") == [2, 7, 12]  # 2 fps midpoints of the 1.5 s that survive
