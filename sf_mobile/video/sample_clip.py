"""The bundled demo input: a small synthetic clip the project draws and encodes itself.

Nothing is downloaded: the frames are computed (gradient background, a white square that
slides left to right, a disc that cycles through colours) and encoded with MPEG-4 Part 2,
which every PyAV wheel ships. Single-threaded, fixed quantiser, fixed GOP, no B-frames and
FFmpeg's bitexact flags make the bytes the same on every run with the same PyAV build.
"""

from __future__ import annotations

import os
import uuid
from fractions import Fraction
from pathlib import Path

import numpy as np

from sf_mobile.errors import MissingDependencyError

# Bump the version whenever the drawing or the encoder settings change, so a stale cached clip
# is never reused.
SAMPLE_CLIP_NAME = "sample_clip_v1.mp4"
_QSCALE = 3  # MPEG-4 quantiser (1 best .. 31 worst); 3 keeps flat colours within a few levels
_FF_QP2LAMBDA = 118  # FFmpeg's lambda units per quantiser step (global_quality is in lambda)

# Disc colours, cycled one per frame (RGB).
_PALETTE = np.array(
    [[230, 40, 40], [240, 200, 30], [40, 200, 70], [40, 190, 230], [60, 60, 230], [200, 50, 210]],
    dtype=np.uint8,
)


def synthetic_frames(seconds: float = 4.0, fps: int = 8, width: int = 160, height: int = 120) -> np.ndarray:
    """uint8 [round(seconds*fps), height, width, 3] RGB frames of the sample clip."""
    count = max(1, round(seconds * fps))
    ys, xs = np.mgrid[0:height, 0:width]
    background = np.stack(
        [xs * 255 // max(width - 1, 1), ys * 255 // max(height - 1, 1), np.full_like(xs, 96)], axis=-1
    ).astype(np.uint8)

    side = max(2, height // 4)
    top = height // 6
    radius = max(2, min(width, height) // 6)
    cy, cx = height - radius - height // 10, width - radius - width // 10
    disc = (ys - cy) ** 2 + (xs - cx) ** 2 <= radius * radius

    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        frame = background.copy()
        left = (width - side) * i // max(count - 1, 1)
        frame[top : top + side, left : left + side] = 255
        frame[disc] = _PALETTE[i % len(_PALETTE)]
        frames[i] = frame
    return frames


def write_sample_clip(
    path: str | os.PathLike, seconds: float = 4.0, fps: int = 8, width: int = 160, height: int = 120
) -> Path:
    """Encode the synthetic clip to `path` (mp4), atomically: a temp file renamed at the end."""
    try:
        import av
    except ImportError:
        raise MissingDependencyError("av") from None
    if width % 2 or height % 2:
        raise ValueError(f"yuv420p needs an even frame size, got {width}x{height}")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with av.open(str(tmp), mode="w", format="mp4", options={"fflags": "+bitexact"}) as container:
            stream = container.add_stream(
                "mpeg4",
                rate=fps,
                options={"flags": "+qscale+bitexact", "global_quality": str(_QSCALE * _FF_QP2LAMBDA)},
            )
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.thread_count = 1
            stream.gop_size = fps  # a keyframe every second
            stream.max_b_frames = 0
            for i, rgb in enumerate(synthetic_frames(seconds, fps, width, height)):
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts, frame.time_base = i, Fraction(1, fps)
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _cache_dir() -> Path:
    env = os.environ.get("SF_MOBILE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sf-mobile"


def sample_clip_path() -> Path:
    """The default demo video, written to the cache on first use."""
    path = _cache_dir() / SAMPLE_CLIP_NAME
    if not path.is_file():
        write_sample_clip(path)
    return path
