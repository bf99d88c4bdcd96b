"""Video front end: file -> sampled, upright RGB frames -> the vision tower's square input.

PyAV is imported only when a video is read or written, so `import sf_mobile.video` works
without it.
"""

from sf_mobile.video.decode import VideoClip, load_video
from sf_mobile.video.preprocess import resize_frames
from sf_mobile.video.sample_clip import sample_clip_path, synthetic_frames, write_sample_clip
from sf_mobile.video.sampling import pick_frames, sample_times

__all__ = [
    "VideoClip",
    "load_video",
    "pick_frames",
    "resize_frames",
    "sample_clip_path",
    "sample_times",
    "synthetic_frames",
    "write_sample_clip",
]
