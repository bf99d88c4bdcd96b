"""What a video costs a preset, on paper: sampled frames, visual tokens, FLOPs and bytes.

Pure arithmetic on the config's shapes, shared by `benchmarks/token_budget.py` (tables against
dense tokenisation and peers) and `sf_mobile.plan` (the device planner). Nothing here is measured.
Only matrix multiplies are counted as FLOPs (2 per multiply-add); norms, softmax, RoPE, GELU and
pooling are left out (each is linear in the tokens and far below the matmuls at these widths).

Parameter counts and weight bytes come from `sf_mobile.info` (the reference modules built on the
meta device), so torch is imported by the functions that need them, never at import time.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from sf_mobile.config import ModelConfig, ProjectorOrder, SamplingStrategy, VisionArch

# Text rows around the video in a prompt: ChatML system line + user/assistant wrappers + a
# one-sentence question. Assumed, not tokenised: the 1b reference run recorded 47 rows with the
# stand-in tokenizer (benchmarks/results/reference.md: 4799 prompt - 4752 visual); 64 leaves room
# for a longer question.
TEXT_ROWS = 64

# KV-cache element types (bytes per element) and the exports that hold their cache in each.
KV_DTYPES = {
    "fp32": (4, "ExecuTorch export's caches; the app-side float32 cache buffers of the ONNX and QNN graphs"),
    "fp16": (2, "Core ML keyCache/valueCache states; also the width of QNN a16w8's uint16 activations on HTP"),
    "8-bit": (1, "QNN a8w8's uint8 activations on HTP"),
}


@dataclass(frozen=True)
class Sampling:
    frames: int
    mode: str  # "fps" or "uniform" (the preset's strategy, or FPS falling back to uniform)


def frames_sampled(config: ModelConfig, video_seconds: float) -> Sampling:
    """How many frames the preset's sampler takes from a video of `video_seconds` (sf_mobile.video)."""
    # sf_mobile.video's package imports torch (resizing): import the pure sampler where it is used
    from sf_mobile.video.sampling import sample_times

    sampling = config.sampling
    times = sample_times(video_seconds, sampling)
    # FPS times are the midpoints (k + 0.5) / fps; anything else is the uniform fallback (when the two
    # grids coincide, either name is right)
    fps_grid = [(k + 0.5) / sampling.fps for k in range(len(times))]
    fps_used = sampling.strategy is SamplingStrategy.FPS and all(math.isclose(a, b) for a, b in zip(times, fps_grid))
    return Sampling(len(times), "fps" if fps_used else "uniform")


def patches(config: ModelConfig) -> int:
    """Rows the vision tower runs per frame: the patch grid, plus CLIP's class token (dropped after)."""
    return config.vision.tokens_per_frame + (1 if config.vision.arch is VisionArch.CLIP else 0)


def vision_flops_per_frame(config: ModelConfig) -> dict[str, int]:
    """Matmul FLOPs of one frame through the layers the tower runs (up to select_layer).

    patch embedding: 2 x (3 p^2) x C per patch; per layer: q/k/v/o 4 C^2 and MLP 2 C I weights,
    2 FLOPs per weight per row; attention (bidirectional): QK^T and AV, 2 x 2 x N^2 x C."""
    v = config.vision
    rows = patches(config)
    layers = v.num_layers + v.select_layer + 1
    embed = 2 * 3 * v.patch_size**2 * v.hidden_size * config.vision.tokens_per_frame
    linear = layers * 2 * (4 * v.hidden_size**2 + 2 * v.hidden_size * v.intermediate_size) * rows
    attention = layers * 4 * rows * rows * v.hidden_size
    return {"patch_embedding": embed, "linear": linear, "attention": attention, "total": embed + linear + attention}


def projector_flops(config: ModelConfig, frames: int) -> int:
    """The mlp2x_gelu projector (C_v -> D -> D) on the rows it sees: pooled tokens, or every patch of
    every frame when it runs before pooling (v1)."""
    rows = (
        config.visual_tokens(frames).total
        if config.slowfast.order is ProjectorOrder.POOL_THEN_PROJECT
        else frames * config.vision.tokens_per_frame
    )
    d = config.llm.hidden_size
    return 2 * (config.vision.hidden_size * d + d * d) * rows


def prompt_rows(config: ModelConfig, frames: int) -> int:
    return config.visual_tokens(frames).total + TEXT_ROWS


def prefill_flops(config: ModelConfig, llm_block_params: int, rows: int) -> dict[str, int]:
    """Prefill of `rows` prompt rows: 2 x LLM block parameters x rows (every weight of the decoder
    layers, biases and norms included: < 0.02% over), causal attention 4 x L x H x hd per attending
    pair, rows (rows + 1) / 2 pairs (row i sees i + 1 positions), and the vocabulary projection of the
    last row only (the exported decoders return the last position's logits)."""
    llm = config.llm
    linear = 2 * llm_block_params * rows
    attention = 4 * llm.num_layers * llm.num_heads * llm.head_dim * (rows * (rows + 1) // 2)
    lm_head = 2 * llm.vocab_size * llm.hidden_size
    return {"linear": linear, "attention": attention, "lm_head": lm_head, "total": linear + attention + lm_head}


def whole_cache_attention_flops(config: ModelConfig, calls: int, chunk: int, context: int) -> int:
    """Attention of a fixed-shape prefill (Core ML, ONNX): every call of `chunk` rows scores all
    `context` cache slots, the unwritten ones masked, so 4 x L x H x hd x chunk x context per call."""
    llm = config.llm
    return 4 * llm.num_layers * llm.num_heads * llm.head_dim * chunk * context * calls


def kv_cache_bytes(config: ModelConfig, positions: int, bytes_per_element: float) -> int:
    """L x 2 (K and V) x KVH x head_dim x positions x bytes per element."""
    return config.llm.kv_cache_bytes(positions, bytes_per_element)


def dense_tokens(config: ModelConfig, frames: int) -> int:
    """Every sampled frame at full patch density: what the projector would emit without SlowFast."""
    return frames * config.vision.tokens_per_frame


def pooled_2x2_tokens(config: ModelConfig, frames: int) -> int:
    """Every sampled frame pooled 2x2 (the common per-frame density of LLaVA-style video LLMs)."""
    return frames * (config.vision.grid // 2) ** 2


@functools.lru_cache(maxsize=None)
def parameter_counts(config: ModelConfig) -> dict[str, int]:
    """`sf_mobile.info.parameter_counts`, cached: the meta-device model is built once per config."""
    from sf_mobile.info import parameter_counts as count

    return count(config)


@functools.lru_cache(maxsize=None)
def part_weight_bytes(config: ModelConfig, part: str, bits: int, group_size: int | None) -> int:
    """Bytes of one part ("vision": tower + projector, "llm") when every matrix uses `bits`
    (+ one fp16 scale per group or per row, `info.WeightScheme`); vectors stay fp32, as in sf-info."""
    from sf_mobile.info import WeightScheme, _meta_model, _unique_parameters

    model = _meta_model(config)
    parts = {"vision": (model.vision_tower, model.projector), "llm": (model.llm,)}
    if part not in parts:
        raise ValueError(f"part {part!r} is not one of {sorted(parts)}")
    modules = parts[part]
    scheme = WeightScheme(f"{bits}-bit", bits, group_size)
    total = 0.0
    for module in modules:
        for _, param in _unique_parameters(module):
            total += scheme.matrix_bytes(param.shape[0], param[0].numel()) if param.dim() >= 2 else param.numel() * 4
    return int(total)


@functools.lru_cache(maxsize=None)
def streamed_llm_weight_bytes(config: ModelConfig, bits: int, group_size: int | None) -> int:
    """LLM weight bytes one forward call reads (`bench.roofline.decode_weight_bytes`: all but the
    input embedding table, of which it reads one row per token; a tied table is read as the head)."""
    from sf_mobile.bench.roofline import decode_weight_bytes
    from sf_mobile.info import WeightScheme

    return decode_weight_bytes(config, WeightScheme(f"{bits}-bit", bits, group_size))
