"""Clip builders for tests/test_video.py: every test video is made here, with PyAV, in tmp_path.

Frame identity is painted into the pixels (`index_colour`) so a test can read back which
source frame the loader picked, even after lossy MPEG-4 coding.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_STEP = 40  # colour levels between neighbouring indices: far above MPEG-4's error on flat colour


def index_colour(i: int) -> tuple[int, int, int]:
    """A flat RGB colour that encodes frame index i (0 <= i < 36)."""
    assert 0 <= i < 36
    return 16 + _STEP * (i % 6), 16 + _STEP * (i // 6), 128


def read_index(frame: np.ndarray) -> int:
    """Inverse of `index_colour` for a decoded [H, W, 3] frame."""
    r, g = frame[..., 0].astype(float).mean(), frame[..., 1].astype(float).mean()
    return int(round((r - 16) / _STEP)) + 6 * int(round((g - 16) / _STEP))


def indexed_frames(count: int, height: int = 48, width: int = 64) -> list[np.ndarray]:
    return [np.full((height, width, 3), index_colour(i), dtype=np.uint8) for i in range(count)]


def write_clip(
    path: Path,
    frames: Sequence[np.ndarray],
    pts: Sequence[int] | None = None,
    time_base: Fraction = Fraction(1, 10),
    *,
    fmt: str = "mp4",
    codec: str = "mpeg4",
    rotation: float | None = None,
) -> Path:
    """Encode RGB frames with explicit pts (in `time_base` units; default 0, 1, 2, ...)."""
    pts = list(range(len(frames))) if pts is None else list(pts)
    height, width = frames[0].shape[:2]
    with av.open(str(path), mode="w", format=fmt) as container:
        # mpeg4: a fixed quantiser keeps flat colours within a few levels.
        options = {"flags": "+qscale", "global_quality": str(2 * 118)} if codec == "mpeg4" else {}
        stream = container.add_stream(codec, rate=Fraction(1) / time_base, options=options)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = time_base
        stream.max_b_frames = 0
        if rotation is not None:
            stream.set_display_rotation(rotation)  # counter-clockwise degrees, as VideoFrame.rotation reads
        for rgb, t in zip(frames, pts):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = t, time_base
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def write_audio_only(path: Path, codec: str, fmt: str) -> Path:
    """One second of a 440 Hz tone and no video stream."""
    rate = 16000
    with av.open(str(path), mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "mono"
        fmt_name = stream.codec_context.format.name
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
        size = stream.codec_context.frame_size or 1024
        for start in range(0, rate, size):
            chunk = tone[start : start + size]
            if fmt_name.startswith("s16"):
                chunk = (chunk * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(chunk[None, :], format=fmt_name, layout="mono")
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def set_tkhd_matrix(path: Path, matrix: Sequence[int]) -> None:
    """Overwrite the 3x3 display matrix of the (single) track header box in an mp4, in place.

    tkhd v0 layout after the 8-byte box header: version+flags 4, creation 4, modification 4,
    track id 4, reserved 4, duration 4, reserved 8, layer 2, group 2, volume 2, reserved 2,
    then the matrix as nine big-endian int32 (a, b, u, c, d, v, x, y, w; 16.16 / 2.30 fixed point).
    """
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data.count(b"tkhd") == 1 and data[at + 4] == 0, "expected one version-0 tkhd box"
    offset = at + 4 + 4 + 4 * 5 + 8 + 2 * 4
    data[offset : offset + 36] = struct.pack(">9i", *matrix)
    path.write_bytes(bytes(data))


def blank_mdat(path: Path) -> None:
    """Zero the payload of an mp4's media data box: the headers survive, no frame decodes."""
    data = bytearray(path.read_bytes())
    at = data.find(b"mdat")
    size = struct.unpack(">I", data[at - 4 : at])[0]
    data[at + 4 : at - 4 + size] = bytes(size - 8)
    path.write_bytes(bytes(data))
