"""Video file -> the sampled RGB frames, upright, with their times.

Two passes over the file with PyAV:
  1. demux only (no decoding): the presentation time of every frame, from packet pts. This is
     VFR-safe; a constant frame rate is never assumed.
  2. decode, converting only the frames the sampler picked, and stop once all are in hand.
When packet pts are missing or do not match the decoded frames (raw elementary streams,
broken muxers), the timeline comes from a full decode instead and the picked frames from a
second decode. Every PyAV/FFmpeg failure becomes a one-line `VideoError` naming the file.
Frames above MAX_PIXELS are shrunk while they are converted (one full-size frame at a time), so an
8K clip costs what a 1080p one does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sf_mobile.config import SamplingConfig
from sf_mobile.errors import MissingDependencyError, VideoError
from sf_mobile.video.sampling import pick_frames, sample_times

_READ_FIX = "check that the file is a complete video that a media player can open"
# Largest frame kept after conversion (a 1080p frame: 6 MB as RGB, 0.8 GB for 128 frames). Every
# vision tower here takes at most 384 px, so an area shrink to this size first changes the final
# resize by rounding only, and bounds memory: 128 frames of 8K would hold 12.7 GB.
MAX_PIXELS = 1920 * 1080
TRUNCATION_SLACK_S = 0.5  # header and frame durations may disagree by a frame or two (edit lists, rounding)


@dataclass
class VideoClip:
    frames: torch.Tensor  # uint8 [T, H, W, 3] RGB, rotation applied
    timestamps: list[float]  # seconds of each sampled frame, from the first frame of the video
    source_fps: float | None  # the stream's average rate; None when the container gives none
    duration_s: float
    rotation: int  # degrees counter-clockwise applied to make the frames upright: 0, 90, 180 or 270
    declared_duration_s: float | None = None  # what the container's header claims; None when it says nothing

    @property
    def truncated(self) -> bool:
        """The frames that decode end well before the header's duration (a cut-off download or copy)."""
        if self.declared_duration_s is None:
            return False
        return self.declared_duration_s - self.duration_s > max(TRUNCATION_SLACK_S, 0.02 * self.declared_duration_s)


@dataclass
class _Timeline:
    keys: list  # per frame, sorted by time: the pts (pass 1) or the decode-order index (fallback)
    times: list[float]  # seconds from the first frame
    duration_s: float


def _import_av():
    try:
        import av
    except ImportError:
        raise MissingDependencyError("av") from None
    return av


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def _check_path(path: Path) -> None:
    if not path.exists():
        raise VideoError(f"video file {path} does not exist", "check the path")
    if path.is_dir():
        raise VideoError(f"video path {path} is a directory", "pass a video file, not a folder")
    if path.stat().st_size == 0:
        raise VideoError(f"video file {path} is empty (0 bytes)", "re-copy or re-record the video")


def _duration(last_time: float, last_duration: float | None, times: list[float], rate: float | None) -> float:
    """Last frame's start + how long it is shown: its own duration, else the mean frame interval."""
    if last_duration and last_duration > 0:
        return last_time + last_duration
    if len(times) > 1:
        return last_time + (times[-1] - times[0]) / (len(times) - 1)
    return last_time + (1.0 / rate if rate else 0.0)


def _stream_rate(stream) -> float | None:
    rate = stream.average_rate or stream.guessed_rate
    return float(rate) if rate else None


def _packet_timeline(container, stream) -> _Timeline | None:
    """Pass 1: frame times from packet pts. None when they are missing or ambiguous."""
    durations: dict[int, int] = {}
    for packet in container.demux(stream):
        if packet.size == 0:  # the flush packet at the end
            continue
        if packet.is_discard:  # e.g. encoder-priming frames an mp4 edit list hides
            continue
        if packet.pts is None or packet.pts in durations:
            return None
        durations[packet.pts] = packet.duration or 0
    if not durations:
        return None
    pts = sorted(durations)
    base = float(stream.time_base)
    times = [(p - pts[0]) * base for p in pts]
    duration = _duration(times[-1], durations[pts[-1]] * base, times, _stream_rate(stream))
    return _Timeline(keys=pts, times=times, duration_s=duration)


def _decoded_frames(container, stream) -> Iterator:
    """Every decodable frame in presentation order; broken packets are skipped, not fatal."""
    av = _import_av()
    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError:  # truncated or corrupt container: flush what is buffered
            packet = None
        try:
            frames = stream.decode(packet)
        except av.error.FFmpegError:
            frames = []
        yield from frames
        if packet is None:
            return


def _decoded_timeline(container, stream) -> _Timeline | None:
    """Fallback pass: frame times from a full decode; keys are decode-order indices."""
    rate = _stream_rate(stream)
    times: list[float | None] = []
    last_duration = None
    for frame in _decoded_frames(container, stream):
        times.append(frame.time)
        last_duration = float(frame.duration * frame.time_base) if frame.duration and frame.time_base else None
    if not times:
        return None
    ordered = all(t is not None for t in times) and all(a < b for a, b in zip(times, times[1:]))
    if ordered:
        secs = [t - times[0] for t in times]
    else:
        # No usable timestamps: space frames at the stream rate (any rate gives the same UNIFORM pick).
        step = 1.0 / (rate or 30.0)
        secs = [i * step for i in range(len(times))]
        last_duration = step
    return _Timeline(keys=list(range(len(secs))), times=secs, duration_s=_duration(secs[-1], last_duration, secs, rate))


def _rotation_k(frame, stream) -> int:
    """Quarter turns counter-clockwise (np.rot90's k) that make `frame` display upright.

    PyAV 18 reads the display matrix as `frame.rotation`: degrees the display turns the picture
    counter-clockwise (a phone's portrait clip reads -90). Older muxers wrote a `rotate` tag
    instead, in degrees clockwise. Rotations between quarter turns snap to the nearest one;
    display-matrix flips are not applied.
    """
    degrees = getattr(frame, "rotation", 0) or 0
    if not degrees:
        tag = stream.metadata.get("rotate")
        try:
            degrees = -float(tag) if tag else 0
        except ValueError:
            degrees = 0
    return round(degrees / 90) % 4


def kept_size(width: int, height: int) -> tuple[int, int]:
    """(w, h) a frame is converted at: its own size, or shrunk (aspect kept) to at most MAX_PIXELS."""
    if width * height <= MAX_PIXELS:
        return width, height
    scale = (MAX_PIXELS / (width * height)) ** 0.5
    return max(1, int(width * scale)), max(1, int(height * scale))


def _to_rgb(frame, k: int, size: tuple[int, int] | None) -> np.ndarray:
    """[H, W, 3] uint8, upright. `size` (w, h) keeps frames stackable if the resolution changes."""
    if size is not None and (frame.width, frame.height) != size:
        # AREA: a large shrink averages every source pixel (bilinear would skip most of them)
        rgb = frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="AREA")
    else:
        rgb = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def _collect(
    container, stream, wanted: set, key_of: Callable[[int, object], object]
) -> tuple[dict, int, int]:
    """Decode until every wanted key is converted. Returns ({key: rgb}, frames decoded, k)."""
    got: dict = {}
    k = 0
    size = None
    count = 0
    for index, frame in enumerate(_decoded_frames(container, stream)):
        count += 1
        key = key_of(index, frame)
        if key in wanted and key not in got:
            if size is None:
                k = _rotation_k(frame, stream)
                size = kept_size(frame.width, frame.height)
            got[key] = _to_rgb(frame, k, size)
            if len(got) == len(wanted):
                break
    return got, count, k


def _open(path: Path):
    av = _import_av()
    container = av.open(str(path), mode="r")
    if not container.streams.video:
        container.close()
        raise VideoError(f"{path} has no video stream (audio-only or not a video)", "pass a file with a video track")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return container, stream


def _no_frames(path: Path) -> VideoError:
    return VideoError(f"the video stream of {path} yields no decodable frames", _READ_FIX)


def _declared_duration(container, stream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return container.duration / 1e6 if container.duration else None  # microseconds (AV_TIME_BASE)


def _load(path: Path, sampling: SamplingConfig) -> VideoClip:
    container, stream = _open(path)
    with container:
        source_fps = _stream_rate(stream)
        declared = _declared_duration(container, stream)
        timeline = _packet_timeline(container, stream)

    got: dict = {}
    k = 0
    if timeline is not None:
        picked = pick_frames(timeline.times, sample_times(timeline.duration_s, sampling))
        wanted = {timeline.keys[i] for i in picked}
        container, stream = _open(path)
        with container:
            got, count, k = _collect(container, stream, wanted, lambda _i, frame: frame.pts)
        if count == 0:
            raise _no_frames(path)
        if len(got) < len(wanted):  # decoded pts disagree with the packets: trust the decoder
            timeline = None

    if timeline is None:
        container, stream = _open(path)
        with container:
            timeline = _decoded_timeline(container, stream)
        if timeline is None:
            raise _no_frames(path)
        picked = pick_frames(timeline.times, sample_times(timeline.duration_s, sampling))
        wanted = {timeline.keys[i] for i in picked}
        container, stream = _open(path)
        with container:
            got, _count, k = _collect(container, stream, wanted, lambda index, _f: index)
        if len(got) < len(wanted):
            raise VideoError(f"{path} decoded differently on a second read", _READ_FIX)

    frames = np.stack([got[timeline.keys[i]] for i in picked])
    return VideoClip(
        frames=torch.from_numpy(frames),
        timestamps=[timeline.times[i] for i in picked],
        source_fps=source_fps,
        duration_s=timeline.duration_s,
        rotation=90 * k,
        declared_duration_s=declared,
    )


def load_video(path: str | os.PathLike, sampling: SamplingConfig) -> VideoClip:
    """Decode the frames `sampling` asks for from the first video stream of `path`."""
    path = Path(path)
    _check_path(path)
    av = _import_av()
    try:
        return _load(path, sampling)
    except VideoError:
        raise
    except av.error.FFmpegError as err:
        raise VideoError(f"cannot read video {path}: {_one_line(err)}", _READ_FIX) from None
