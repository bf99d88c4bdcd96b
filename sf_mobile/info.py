"""Sizes of a preset without building it: parameters, visual tokens, KV cache and weight bytes.

The model is instantiated on the meta device, so even the 7B presets cost no memory and the
counts are exact (they come from the same modules the reference runs).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sf_mobile.config import ModelConfig

CONTEXT_LENGTHS = (512, 1024, 2048, 4096, 8192, 16384, 32768)
KV_BYTES_PER_ELEMENT = {"fp32": 4, "fp16": 2, "int8": 1}


@dataclass(frozen=True)
class WeightScheme:
    """Bytes of a weight matrix under one quantization: payload bits + one fp16 scale per group."""

    name: str
    bits: int
    group_size: int | None  # None = one scale per output row (per-channel); ignored for float

    def matrix_bytes(self, rows: int, cols: int) -> float:
        payload = rows * cols * self.bits / 8
        if self.bits >= 16:
            return payload
        groups_per_row = 1 if self.group_size is None else -(-cols // self.group_size)
        return payload + rows * groups_per_row * 2  # fp16 scales


WEIGHT_SCHEMES = (
    WeightScheme("fp32", 32, None),
    WeightScheme("fp16", 16, None),
    WeightScheme("int8 per-channel", 8, None),
    WeightScheme("int4 group 128", 4, 128),
    WeightScheme("int4 group 32", 4, 32),
)


def _meta_model(config: ModelConfig):
    from sf_mobile.model.slowfast_llava import SlowFastLlava

    with torch.device("meta"):
        return SlowFastLlava(config)


def _unique_parameters(module: torch.nn.Module):
    seen = set()
    for name, param in module.named_parameters(remove_duplicate=False):
        if id(param) not in seen:  # tied embeddings count once
            seen.add(id(param))
            yield name, param


def parameter_counts(config: ModelConfig) -> dict[str, int]:
    model = _meta_model(config)
    llm = model.llm
    counts = {
        "vision_tower": sum(p.numel() for _, p in _unique_parameters(model.vision_tower)),
        "projector": sum(p.numel() for _, p in _unique_parameters(model.projector)),
        "llm_embedding": llm.get_input_embeddings().weight.numel(),
        "llm_lm_head": 0 if config.llm.tie_word_embeddings else llm.lm_head.weight.numel(),
        "llm_total": sum(p.numel() for _, p in _unique_parameters(llm)),
    }
    counts["llm_blocks"] = counts["llm_total"] - counts["llm_embedding"] - counts["llm_lm_head"]
    counts["total"] = counts["vision_tower"] + counts["projector"] + counts["llm_total"]
    return counts


def weight_bytes(config: ModelConfig) -> dict[str, int]:
    """Whole-model bytes when every matrix uses the scheme; vectors (norms, biases) stay fp32."""
    model = _meta_model(config)
    sizes = {}
    for scheme in WEIGHT_SCHEMES:
        total = 0.0
        for _, param in _unique_parameters(model):
            if param.dim() >= 2:
                total += scheme.matrix_bytes(param.shape[0], param[0].numel())
            else:
                total += param.numel() * 4
        sizes[scheme.name] = int(total)
    return sizes


def info_report(config: ModelConfig, num_frames: int | None = None) -> dict:
    budget = config.visual_tokens(num_frames)
    contexts = [c for c in CONTEXT_LENGTHS if c <= config.llm.max_position_embeddings]
    return {
        "preset": config.name,
        "config": config.to_dict(),
        "parameters": parameter_counts(config),
        "visual_tokens": {
            "frames": budget.frames,
            "slow_frames": budget.slow_frames,
            "slow": budget.slow_tokens,
            "fast": budget.fast_tokens,
            "total": budget.total,
            "tokens_per_frame_before_pooling": config.vision.tokens_per_frame,
        },
        "kv_cache_bytes": {
            dtype: {str(ctx): config.llm.kv_cache_bytes(ctx, size) for ctx in contexts}
            for dtype, size in KV_BYTES_PER_ELEMENT.items()
        },
        "weight_bytes": weight_bytes(config),
    }
