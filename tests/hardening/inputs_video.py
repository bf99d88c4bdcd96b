"""Bad and odd videos, made with PyAV (tests/video_clips.py) the first time a case asks for one.

Frame identity is painted into the pixels (video_clips.index_colour), so a case that expects a
video to be handled can read back which source frames were picked.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from sf_mobile.video import write_sample_clip
from video_clips import blank_mdat, indexed_frames, write_audio_only, write_clip

# VFR: bursts and gaps, pts in tenths of a second (tests/test_video.py uses the same shape)
VFR_PTS = (0, 1, 2, 10, 11, 30, 31, 32, 60, 61, 90, 91)
LONG_PTS = tuple(i * 3600 for i in range(36))  # 36 frames, one every 6 minutes: 3.5 hours
MANY_FRAMES = 3000  # 5 minutes at 10 fps, 16x16 px
EIGHT_K = (4320, 7680)  # (H, W)


def _sample(path: Path) -> None:
    write_sample_clip(path)


def _truncated_index(ws, path: Path) -> None:
    """The sample clip (its moov index written last) cut in half: the index is gone."""
    data = ws.build("video", "sample", VIDEOS, ".mp4").read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _truncated_frames(ws, path: Path) -> None:
    """A 3 s clip with its index first (faststart) cut at two thirds: the index survives, the last
    frames do not."""
    full = path.with_name("faststart-full.mp4")
    with av.open(str(full), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("mpeg4", rate=10, options={"flags": "+qscale", "global_quality": str(2 * 118)})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.max_b_frames = 0
        for i, rgb in enumerate(indexed_frames(30)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, 10)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    data = full.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    full.unlink()


def _header_only(ws, path: Path) -> None:
    path.write_bytes(ws.build("video", "sample", VIDEOS, ".mp4").read_bytes()[:200])


def _blank_frames(ws, path: Path) -> None:
    path.write_bytes(ws.build("video", "sample", VIDEOS, ".mp4").read_bytes())
    blank_mdat(path)


def _still_png(ws, path: Path) -> None:
    """One PNG image: a 'video' with one frame and no duration of its own."""
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "rgb24"
        frame = av.VideoFrame.from_ndarray(indexed_frames(8)[7], format="rgb24")
        frame.pts = 0
        container.mux(stream.encode(frame))
        container.mux(stream.encode())


def _eight_k(ws, path: Path) -> None:
    """Two 8K frames, left half light and right half dark (a resize must keep the split)."""
    frame = np.full((*EIGHT_K, 3), 40, dtype=np.uint8)
    frame[:, : EIGHT_K[1] // 2] = 210
    write_clip(path, [frame, frame])


def _rotated(ws, path: Path) -> None:
    """64x48 frames with a white top-left block, display matrix turned 90 degrees."""
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    frame[:24, :32] = 255
    write_clip(path, [frame] * 10, rotation=90)


VIDEOS = {
    "sample": lambda ws, path: _sample(path),
    "empty": lambda ws, path: path.write_bytes(b""),
    "text": lambda ws, path: path.write_text("this is not a video\n" * 20),
    "noise": lambda ws, path: path.write_bytes(np.random.default_rng(8).bytes(4096)),
    "truncated-index": _truncated_index,
    "truncated-frames": _truncated_frames,
    "header-only": _header_only,
    "blank-frames": _blank_frames,
    "audio-only": lambda ws, path: write_audio_only(path, "aac", "mp4"),
    "single-frame": lambda ws, path: write_clip(path, indexed_frames(1)),
    "still-image": _still_png,
    "vfr": lambda ws, path: write_clip(path, indexed_frames(len(VFR_PTS)), pts=VFR_PTS),
    "rotated": _rotated,
    "8k": _eight_k,
    "long": lambda ws, path: write_clip(path, indexed_frames(len(LONG_PTS), 16, 16), pts=LONG_PTS),
    "many-frames": lambda ws, path: write_clip(path, [np.full((16, 16, 3), 90, np.uint8)] * MANY_FRAMES),
}
SUFFIX = {"audio-only": ".m4a", "still-image": ".png"}


def video(ws, name: str) -> Path:
    return ws.build("video", name, VIDEOS, SUFFIX.get(name, ".mp4"))
