"""One question about one video through the reference model, timed stage by stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from sf_mobile.checkpoints import WeightsOrigin, load_or_build, resolve_config
from sf_mobile.errors import SfError
from sf_mobile.model.generation import SamplingParams, generate
from sf_mobile.model.slowfast_llava import EAGER_FRAMES_PER_PASS
from sf_mobile.video import load_video, resize_frames, sample_clip_path


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


@torch.inference_mode()
def answer(
    video: Path | None,
    question: str,
    preset: str = "tiny",
    checkpoint: Path | None = None,
    num_frames: int | None = None,
    max_new_tokens: int = 32,
    temperature: float = 0.0,
    top_p: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    on_loaded: Callable[[WeightsOrigin], None] | None = None,
) -> dict:
    """Read the video, load (or build) the model, answer; returns a JSON-ready report.

    Everything that can be wrong with the input (sampling values, the video, the checkpoint's
    config) is checked before any weights are built: a bad video must not cost a 7B model build.
    """
    params = SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
    config = resolve_config(preset, checkpoint, num_frames)
    path = sample_clip_path() if video is None else Path(video)
    start = time.perf_counter()
    clip = load_video(path, config.sampling)
    frames = resize_frames(clip.frames, config.vision)  # uint8 [T, 3, S, S]
    decode_s = time.perf_counter() - start
    budget = config.visual_tokens(frames.shape[0])

    loaded = load_or_build(preset, checkpoint, seed=seed, num_frames=num_frames)
    if on_loaded is not None:
        on_loaded(loaded.origin)
    model, codec = loaded.model, loaded.codec
    prompt = codec.encode(question)
    prompt_tokens = len(prompt.prefix) + budget.total + len(prompt.suffix)
    context = config.llm.max_position_embeddings
    if prompt_tokens + max_new_tokens > context:
        raise SfError(
            f"{prompt_tokens} prompt tokens + {max_new_tokens} new tokens exceed the LLM's {context} positions",
            "lower --max-new-tokens or --frames",
        )

    start = time.perf_counter()
    features = model.frame_features(frames, EAGER_FRAMES_PER_PASS)
    vision_s = time.perf_counter() - start
    start = time.perf_counter()
    visual = model.visual_tokens(features)
    projector_s = time.perf_counter() - start

    embeds = model.prompt_embeddings(prompt, visual)
    result = generate(model, embeds, max_new_tokens, codec.stop_ids, params)
    warnings = []
    if clip.truncated:
        warnings.append(
            f"{path} decodes {clip.duration_s:.2f} s of the {clip.declared_duration_s:.2f} s its header declares "
            "(cut off?): the answer is about the part that decodes"
        )
    return {
        "warnings": warnings,
        "answer": codec.decode(result.tokens),
        "tokens": result.tokens,
        "stopped_on_eos": result.stopped,
        "preset": config.name,
        "weights": loaded.origin.to_dict(),
        "video": {
            "path": str(path),
            "frames": int(frames.shape[0]),
            "timestamps_s": [round(t, 4) for t in clip.timestamps],
            "duration_s": clip.duration_s,
            "declared_duration_s": clip.declared_duration_s,
            "frame_size": list(frames.shape[-2:]),
        },
        "visual_tokens": {
            "total": budget.total,
            "slow": budget.slow_tokens,
            "fast": budget.fast_tokens,
            "slow_frames": budget.slow_frames,
            "frames": budget.frames,
        },
        "prompt_tokens": result.prompt_tokens,
        "prefill_tokens_per_s": result.prefill_tokens_per_s,
        "decode_tokens_per_s": result.decode_tokens_per_s,
        "timings_ms": {
            "frame_decode": _ms(decode_s),
            "vision_total": _ms(vision_s),
            "vision_per_frame": _ms(vision_s / frames.shape[0]),
            "projector": _ms(projector_s),
            "prefill": _ms(result.prefill_s),
            "decode": _ms(result.decode_s),
            "time_to_first_token": _ms(decode_s + vision_s + projector_s + result.prefill_s),
        },
    }
