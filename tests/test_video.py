"""The video front end: sampling, decoding (CFR, VFR, rotated, raw streams), resizing, bad input,
and the bundled sample clip. Every clip is generated here (tests/video_clips.py)."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from sf_mobile.config import ResizeMode, SamplingConfig, SamplingStrategy, VisionArch, VisionConfig
from sf_mobile.errors import VideoError
from sf_mobile.presets import TINY, TINY_V1
from sf_mobile.video.sample_clip import SAMPLE_CLIP_NAME
from sf_mobile.video import (
    load_video,
    pick_frames,
    resize_frames,
    sample_clip_path,
    sample_times,
    synthetic_frames,
    write_sample_clip,
)

# pytest puts tests/ on sys.path when it is not a package, the repo root when it is.
try:
    from video_clips import (
        blank_mdat,
        index_colour,
        indexed_frames,
        read_index,
        set_tkhd_matrix,
        write_audio_only,
        write_clip,
    )
except ModuleNotFoundError:
    from tests.video_clips import (
        blank_mdat,
        index_colour,
        indexed_frames,
        read_index,
        set_tkhd_matrix,
        write_audio_only,
        write_clip,
    )

FPS = SamplingStrategy.FPS
UNIFORM = SamplingStrategy.UNIFORM


def picked_indices(clip) -> list[int]:
    return [read_index(f) for f in clip.frames.numpy()]


# --- sampling (pure) ---------------------------------------------------------------------------


def test_fps_times_are_period_midpoints():
    assert sample_times(3.0, SamplingConfig(FPS, max_frames=16, fps=2.0)) == pytest.approx(
        [0.25, 0.75, 1.25, 1.75, 2.25, 2.75]
    )
    # A partial last period still counts while its midpoint is inside the video.
    assert sample_times(1.3, SamplingConfig(FPS, max_frames=16, fps=2.0)) == pytest.approx([0.25, 0.75, 1.25])


def test_fps_over_budget_falls_back_to_uniform_midpoints():
    times = sample_times(10.0, SamplingConfig(FPS, max_frames=4, fps=1.0))
    assert times == pytest.approx([1.25, 3.75, 6.25, 8.75])


def test_fps_with_no_time_inside_falls_back_to_uniform():
    assert sample_times(0.2, SamplingConfig(FPS, max_frames=2, fps=1.0)) == pytest.approx([0.05, 0.15])


def test_uniform_gives_exactly_max_frames_midpoints():
    times = sample_times(6.0, SamplingConfig(UNIFORM, max_frames=3, fps=100.0))
    assert times == pytest.approx([1.0, 3.0, 5.0])


def test_pick_frames_takes_the_frame_on_screen():
    frame_times = [0.0, 0.1, 0.15, 0.6, 0.65, 1.2]
    targets = [-1.0, 0.0, 0.05, 0.1, 0.149, 0.5, 0.64, 0.7, 5.0]
    assert pick_frames(frame_times, targets) == [0, 0, 0, 1, 1, 2, 3, 4, 5]


def test_pick_frames_repeats_frames_when_short():
    assert pick_frames([0.0, 0.5], [0.1, 0.2, 0.6, 0.9]) == [0, 0, 1, 1]
    with pytest.raises(ValueError):
        pick_frames([], [0.0])


# --- decoding ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cfr_clip(tmp_path_factory):
    """30 frames at 10 fps (3.0 s), each painted with its own index."""
    return write_clip(tmp_path_factory.mktemp("cfr") / "cfr.mp4", indexed_frames(30), time_base=Fraction(1, 10))


def test_cfr_fps_sampling(cfr_clip):
    clip = load_video(cfr_clip, SamplingConfig(FPS, max_frames=16, fps=2.0))
    assert clip.duration_s == pytest.approx(3.0)
    assert clip.source_fps == pytest.approx(10.0)
    assert clip.rotation == 0
    assert clip.frames.dtype == torch.uint8 and tuple(clip.frames.shape) == (6, 48, 64, 3)
    # Targets 0.25, 0.75, ... land inside frames 2, 7, 12, 17, 22, 27.
    assert picked_indices(clip) == [2, 7, 12, 17, 22, 27]
    assert clip.timestamps == pytest.approx([0.2, 0.7, 1.2, 1.7, 2.2, 2.7])


def test_cfr_uniform_fallback_when_fps_exceeds_budget(cfr_clip):
    clip = load_video(cfr_clip, SamplingConfig(FPS, max_frames=8, fps=10.0))
    # 30 FPS targets > 8: uniform midpoints (i + 0.5) * 3 / 8 -> frames floor(t * 10).
    assert picked_indices(clip) == [1, 5, 9, 13, 16, 20, 24, 28]
    assert len(clip.timestamps) == 8


def test_short_clip_repeats_frames(tmp_path):
    path = write_clip(tmp_path / "short.mp4", indexed_frames(3), time_base=Fraction(1, 8))
    clip = load_video(path, SamplingConfig(UNIFORM, max_frames=8))
    assert clip.duration_s == pytest.approx(3 / 8)
    assert tuple(clip.frames.shape) == (8, 48, 64, 3)
    assert picked_indices(clip) == [0, 0, 0, 1, 1, 2, 2, 2]


def test_vfr_picks_frames_by_pts_interval(tmp_path):
    # Frames at 0, 0.10, 0.15, 0.60, 0.65, 1.20 s: gaps of 50 ms and 550 ms, so a constant-rate
    # assumption (6 frames -> 0.2 s apart) would pick different frames.
    pts = [0, 10, 15, 60, 65, 120]
    path = write_clip(tmp_path / "vfr.mp4", indexed_frames(len(pts)), pts=pts, time_base=Fraction(1, 100))
    clip = load_video(path, SamplingConfig(FPS, max_frames=16, fps=4.0))
    # Duration = 1.20 + the last frame's 0.01 s; targets 0.125, 0.375, ..., 1.125.
    assert clip.duration_s == pytest.approx(1.21)
    expected = pick_frames([p / 100 for p in pts], [0.125, 0.375, 0.625, 0.875, 1.125])
    assert expected == [1, 2, 3, 4, 4]
    assert picked_indices(clip) == expected
    assert clip.timestamps == pytest.approx([pts[i] / 100 for i in expected])


def test_mp4_uses_packet_times_and_stops_decoding_early(cfr_clip, monkeypatch):
    from sf_mobile.video import decode

    def no_full_decode(*_args):
        raise AssertionError("the packet pts were usable; a full decode is not needed")

    decoded = []
    real_frames = decode._decoded_frames

    def counting(container, stream):
        for frame in real_frames(container, stream):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(decode, "_decoded_timeline", no_full_decode)
    monkeypatch.setattr(decode, "_decoded_frames", counting)
    clip = load_video(cfr_clip, SamplingConfig(UNIFORM, max_frames=1))
    assert picked_indices(clip) == [15]  # target 1.5 s
    assert len(decoded) == 16  # decoding stopped at the last picked frame


def test_raw_stream_without_pts_uses_decoded_frames(tmp_path):
    # A raw H.264 elementary stream carries no packet pts: the timeline comes from decoding.
    path = write_clip(tmp_path / "raw.h264", indexed_frames(12), fmt="h264", codec="libx264")
    clip = load_video(path, SamplingConfig(UNIFORM, max_frames=4))
    assert picked_indices(clip) == [1, 4, 7, 10]


def asymmetric_frame(height: int = 48, width: int = 80) -> np.ndarray:
    """Black with a white block in the top-left corner and a red bar along the left edge below it."""
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[: height // 2, : width // 2] = 255
    frame[height // 2 :, : width // 8, 0] = 255
    return frame


def assert_close_image(actual: torch.Tensor, expected: np.ndarray) -> None:
    assert tuple(actual.shape) == expected.shape
    assert np.abs(actual.numpy().astype(int) - expected.astype(int)).mean() < 6


def test_portrait_phone_matrix_is_turned_upright(tmp_path):
    """The tkhd matrix a phone writes for portrait video, patched in by hand (not by PyAV).

    QuickTime maps (x, y) -> (a x + c y, b x + d y); with a=0, b=1, c=-1, d=0 the x axis goes
    down the screen, i.e. the stored picture is shown turned 90 degrees clockwise.
    """
    frame = asymmetric_frame()
    path = write_clip(tmp_path / "portrait.mp4", [frame] * 3)
    set_tkhd_matrix(path, [0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30])
    clip = load_video(path, SamplingConfig(UNIFORM, max_frames=2))
    upright = clip.frames[0]
    assert tuple(upright.shape) == (80, 48, 3)  # W and H swapped
    # Turned clockwise, source (row r, col c) lands at (c, 47 - r): the white block (rows < 24,
    # cols < 40) fills the top-right, the red bar (rows >= 24, cols < 10) runs along the top-left.
    up = upright.float()
    assert up[2:38, 26:].mean() > 245  # white
    assert up[:8, 2:22, 0].mean() > 240 and up[:8, 2:22, 1:].mean() < 15  # red
    assert up[12:, :22].mean() < 15 and up[42:].mean() < 15  # black
    assert_close_image(upright, np.rot90(frame, k=-1))
    assert clip.rotation == 270


@pytest.mark.parametrize("degrees, k", [(90, 1), (-90, 3), (180, 2), (0, 0)])
def test_display_rotation_written_by_pyav(tmp_path, degrees, k):
    frame = asymmetric_frame()
    path = write_clip(tmp_path / f"rot{degrees}.mp4", [frame] * 2, rotation=degrees)
    clip = load_video(path, SamplingConfig(UNIFORM, max_frames=1))
    assert clip.rotation == 90 * k
    assert_close_image(clip.frames[0], np.rot90(frame, k=k))


# --- bad input ---------------------------------------------------------------------------------


def assert_video_error(path, sampling=SamplingConfig(UNIFORM, max_frames=4)) -> str:
    with pytest.raises(VideoError) as info:
        load_video(path, sampling)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_file(tmp_path):
    assert "does not exist" in assert_video_error(tmp_path / "nope.mp4")


def test_directory(tmp_path):
    assert "directory" in assert_video_error(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.touch()
    assert "empty" in assert_video_error(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    assert "cannot read" in assert_video_error(path)


def test_truncated_mp4(tmp_path, cfr_clip):
    data = cfr_clip.read_bytes()
    path = tmp_path / "truncated.mp4"
    path.write_bytes(data[: data.find(b"mdat") + 300])  # the moov index at the end is lost
    assert_video_error(path)


@pytest.mark.parametrize("codec, fmt, name", [("aac", "mp4", "tone.m4a"), ("pcm_s16le", "wav", "tone.wav")])
def test_audio_only(tmp_path, codec, fmt, name):
    path = write_audio_only(tmp_path / name, codec, fmt)
    assert "no video stream" in assert_video_error(path)


def test_video_stream_without_decodable_frames(tmp_path, cfr_clip):
    path = tmp_path / "blank.mp4"
    path.write_bytes(cfr_clip.read_bytes())
    blank_mdat(path)
    assert "no decodable frames" in assert_video_error(path)


# --- resize ------------------------------------------------------------------------------------


def vision(size: int, mode: ResizeMode) -> VisionConfig:
    return VisionConfig(VisionArch.SIGLIP, size, size // 2, 16, 32, 1, 2, resize=mode)


@pytest.mark.parametrize("mode", list(ResizeMode))
def test_resize_shape_dtype_and_constant_colour(mode):
    frames = torch.tensor([[[[10, 200, 77]]], [[[255, 0, 128]]]], dtype=torch.uint8).expand(2, 45, 101, 3)
    out = resize_frames(frames, vision(32, mode))
    assert out.dtype == torch.uint8 and tuple(out.shape) == (2, 3, 32, 32)
    assert torch.equal(out[0], torch.tensor([10, 200, 77], dtype=torch.uint8).view(3, 1, 1).expand(3, 32, 32))
    assert torch.equal(out[1], torch.tensor([255, 0, 128], dtype=torch.uint8).view(3, 1, 1).expand(3, 32, 32))


def test_squash_keeps_the_whole_frame():
    frame = torch.zeros(1, 40, 120, 3, dtype=torch.uint8)
    frame[:, :, :40] = 255  # left third white
    out = resize_frames(frame, vision(24, ResizeMode.SQUASH))[0, 0]
    assert out[:, :6].float().mean() > 250 and out[:, 10:].float().mean() < 5


def test_shortest_edge_crop_takes_the_centre():
    # 60 x 180: short side -> 30 gives 30 x 90; the centre crop is source columns 60..120.
    frame = torch.zeros(1, 60, 180, 3, dtype=torch.uint8)
    frame[..., :60, 0] = 255  # left third red
    frame[..., 60:120, 1] = 255  # middle third green
    frame[..., 120:, 2] = 255  # right third blue
    out = resize_frames(frame, vision(30, ResizeMode.SHORTEST_EDGE_CROP))[0]
    assert tuple(out.shape) == (3, 30, 30)
    inner = out[:, :, 2:-2]
    assert torch.equal(inner[1], torch.full_like(inner[1], 255))
    assert inner[0].max() == 0 and inner[2].max() == 0


def test_shortest_edge_crop_on_portrait_frames():
    frame = torch.zeros(1, 100, 50, 3, dtype=torch.uint8)
    frame[:, 25:75] = 200  # the centre square
    out = resize_frames(frame, vision(16, ResizeMode.SHORTEST_EDGE_CROP))
    assert tuple(out.shape) == (1, 3, 16, 16)
    assert torch.equal(out[0, :, 2:-2], torch.full((3, 12, 16), 200, dtype=torch.uint8))


def pil_bicubic_1d(row: np.ndarray, out_size: int) -> np.ndarray:
    """PIL's ImagingResample along one axis (bicubic, a = -0.5), in float: the reference that
    Hugging Face image processors resize with."""

    def cubic(x: float) -> float:
        a, x = -0.5, abs(x)
        if x < 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    in_size = row.shape[0]
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 2.0 * filterscale
    out = np.empty(out_size)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size)
        weights = np.array([cubic((x - center + 0.5) / filterscale) for x in range(xmin, xmax)])
        out[xx] = (weights / weights.sum()) @ row[xmin:xmax]
    return np.clip(np.round(out), 0, 255)


@pytest.mark.parametrize("width", [64, 20])  # downscale (antialiased) and upscale to 24
def test_resize_matches_pil_bicubic(width):
    rows = np.random.default_rng(width).integers(0, 256, size=(24, width, 3), dtype=np.uint8)
    out = resize_frames(torch.from_numpy(rows)[None], vision(24, ResizeMode.SQUASH))[0].numpy()
    reference = np.stack([[pil_bicubic_1d(rows[y, :, c].astype(float), 24) for y in range(24)] for c in range(3)])
    # PIL works in 8-bit fixed point, so +-1 is the expected disagreement.
    assert np.abs(out.astype(int) - reference).max() <= 1


# --- sample clip -------------------------------------------------------------------------------


def test_sample_clip_is_deterministic_and_loads(tmp_path):
    first = write_sample_clip(tmp_path / "a" / "clip.mp4")
    second = write_sample_clip(tmp_path / "b" / "clip.mp4")
    assert first.read_bytes() == second.read_bytes()
    assert [p.name for p in first.parent.iterdir()] == ["clip.mp4"]  # the temp file was renamed

    sampling = SamplingConfig(FPS, max_frames=64, fps=8.0)
    clip_a, clip_b = load_video(first, sampling), load_video(second, sampling)
    assert torch.equal(clip_a.frames, clip_b.frames)
    assert clip_a.duration_s == pytest.approx(4.0)
    assert tuple(clip_a.frames.shape) == (32, 120, 160, 3)
    # The decoded clip is the drawn clip, up to coding error, and it moves.
    drawn = synthetic_frames()
    assert np.abs(clip_a.frames.numpy().astype(int) - drawn.astype(int)).mean() < 4
    assert (drawn[1:] != drawn[:-1]).any(axis=(1, 2, 3)).all()

    tiny = load_video(first, TINY.sampling)
    assert tuple(tiny.frames.shape) == (8, 120, 160, 3)
    assert tuple(resize_frames(tiny.frames, TINY.vision).shape) == (8, 3, 64, 64)
    assert tuple(resize_frames(load_video(first, TINY_V1.sampling).frames, TINY_V1.vision).shape) == (6, 3, 56, 56)


def test_sample_clip_path_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("SF_MOBILE_CACHE", str(tmp_path / "cache"))
    path = sample_clip_path()
    assert path == tmp_path / "cache" / SAMPLE_CLIP_NAME and path.is_file()
    stamp = path.stat().st_mtime_ns
    assert sample_clip_path() == path and path.stat().st_mtime_ns == stamp
    assert sorted(p.name for p in path.parent.iterdir()) == [SAMPLE_CLIP_NAME]


def test_import_does_not_need_pyav():
    code = (
        "import sys; sys.modules['av'] = None\n"
        "import sf_mobile.video as v\n"
        "assert v.sample_times and v.resize_frames and v.load_video\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_index_colours_survive_coding(tmp_path):
    # Guards the helper every decode test relies on.
    path = write_clip(tmp_path / "all.mp4", indexed_frames(36))
    clip = load_video(path, SamplingConfig(FPS, max_frames=64, fps=10.0))
    assert picked_indices(clip) == list(range(36))
    assert index_colour(35) == (216, 216, 128)
