"""The torch modules the ONNX exporter traces, built on the reference model's own weights.

- `OnnxVision`: uint8 frames [T, 3, S, S] -> visual_embeds [1, N_vis, D] (normalise, tower,
  SlowFast, projector).
- `OnnxDecoder`: one fixed-shape step of R rows over a KV cache that comes IN and whose new rows
  go OUT (the graph writes nothing, so it has no state and no scatter):
      inputs_embeds [1, R, D], position_ids int64 [R], attention_mask [1, 1, R, ctx + R],
      past_keys / past_values [L, 1, KVH, ctx, hd]
      -> logits [1, 1, V] (last row), new_keys / new_values [L, 1, KVH, R, hd]
  Mask columns 0..ctx-1 are the cache slots, ctx..ctx+R-1 the call's own rows; 0 where a row may
  look, the app's mask value elsewhere. The caller stores the new rows at their positions.

What differs from `sf_mobile.exportable.DecoderStep`, and why:
- RoPE comes from a cos/sin table [ctx, hd] gathered at position_ids: no angle math in fp16, and a
  Gather is something every NPU runs.
- Grouped-query attention folds the G query heads of each KV head into rows [KVH, G*R, hd]: K/V are
  never repeated, and cache and new rows are attended by two matmuls whose scores are concatenated,
  so the ctx-long cache is never copied (a Concat of it would be, every call).
- RMSNorm is x / sqrt(mean(x*x) + eps) computed in fp32: torch's rsqrt exports as Reciprocal, which
  the HTP quantizer saturates (shared/notes/qnn-htp.md, trap 2), and Qwen's residual outliers
  overflow x*x in fp16 (why transformers upcasts too).
- Every LLM linear sees 2-D rows [R, D]: the exporter then emits Gemm(transB=1) on the weight as
  stored, where 3-D inputs give MatMul on a transposed copy. No weight is duplicated, and a tied
  LM head holds the very bytes of the embedding table (the pipeline stores them once).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sf_mobile.exportable.decoder import rotate_half
from sf_mobile.model.slowfast_llava import SlowFastLlava

VISION_INPUTS = ("frames",)
VISION_OUTPUTS = ("visual_embeds",)
DECODER_INPUTS = ("inputs_embeds", "position_ids", "attention_mask", "past_keys", "past_values")
DECODER_OUTPUTS = ("logits", "new_keys", "new_values")


class OnnxVision(nn.Module):
    """uint8 [T, 3, S, S] -> [1, N_vis, D] in `dtype`; casts the model's tower and projector in place
    (the exporter builds it after the float reference has run)."""

    def __init__(self, model: SlowFastLlava, num_frames: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.config = model.config
        self.num_frames = num_frames
        self.dtype = dtype
        self.vision_tower = model.vision_tower.to(dtype)
        self.projector = model.projector.to(dtype)
        # fp32 copies: normalising in fp32 and rounding once keeps fp16 graphs one rounding from eager
        self.register_buffer("pixel_scale", model.pixel_scale.detach().float().clone(), persistent=False)
        self.register_buffer("pixel_shift", model.pixel_shift.detach().float().clone(), persistent=False)

    # SlowFastLlava's frame path reads exactly these attributes, so it runs on this module unchanged.
    frame_features = SlowFastLlava.frame_features
    visual_tokens = SlowFastLlava.visual_tokens

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        return (frames.to(torch.float32) * self.pixel_scale + self.pixel_shift).to(self.dtype)

    def example_inputs(self) -> tuple[torch.Tensor]:
        side = self.config.vision.image_size
        return (torch.zeros(self.num_frames, 3, side, side, dtype=torch.uint8),)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return SlowFastLlava.encode_frames(self, frames).unsqueeze(0)


def rms_norm(hidden: torch.Tensor, norm: nn.Module) -> torch.Tensor:
    """The model's RMSNorm with Div instead of rsqrt, statistics in fp32, result in the input dtype."""
    wide = hidden.to(torch.float32)
    scaled = wide / torch.sqrt((wide * wide).mean(-1, keepdim=True) + norm.variance_epsilon)  # x*x: no Pow for a quantizer to range
    return norm.weight * scaled.to(hidden.dtype)


class OnnxDecoder(nn.Module):
    """One step of `rows` rows over a `max_context`-slot cache; see the module docstring."""

    def __init__(self, model: SlowFastLlava, max_context: int, rows: int, dtype: torch.dtype = torch.float32):
        super().__init__()
        llm, config = model.llm, model.config.llm
        self.layers = llm.model.layers.to(dtype)
        self.norm = llm.model.norm.to(dtype)
        self.lm_head = llm.lm_head.to(dtype)
        self.max_context, self.rows, self.dtype = max_context, rows, dtype
        self.hidden_size, self.vocab_size = config.hidden_size, config.vocab_size
        self.num_heads, self.num_kv_heads, self.head_dim = config.num_heads, config.num_kv_heads, config.head_dim
        self.groups = self.num_heads // self.num_kv_heads
        rotary = llm.model.rotary_emb
        positions = torch.arange(max_context, dtype=torch.float64)
        angles = positions[:, None] * rotary.inv_freq.to(torch.float64)[None, :]  # [ctx, hd/2]
        angles = torch.cat([angles, angles], dim=-1)  # [ctx, hd]
        scaling = float(getattr(rotary, "attention_scaling", 1.0))
        # float64 angles, one rounding to the graph dtype: exact to that dtype at every position
        self.register_buffer("rope_cos", (angles.cos() * scaling).to(dtype), persistent=False)
        self.register_buffer("rope_sin", (angles.sin() * scaling).to(dtype), persistent=False)

    @property
    def cache_shape(self) -> tuple[int, ...]:
        return (len(self.layers), 1, self.num_kv_heads, self.max_context, self.head_dim)

    def example_inputs(self) -> tuple[torch.Tensor, ...]:
        rows = self.rows
        return (
            torch.zeros(1, rows, self.hidden_size, dtype=self.dtype),
            torch.arange(rows, dtype=torch.int64),
            torch.zeros(1, 1, rows, self.max_context + rows, dtype=self.dtype),
            torch.zeros(self.cache_shape, dtype=self.dtype),
            torch.zeros(self.cache_shape, dtype=self.dtype),
        )

    def attention(self, index: int, hidden, cos, sin, mask, past_key, past_value):
        """hidden [R, D] -> (attention output [R, D], key [1, KVH, R, hd], value [1, KVH, R, hd])."""
        attn = self.layers[index].self_attn
        rows, heads, kv_heads, head_dim = hidden.shape[0], self.num_heads, self.num_kv_heads, self.head_dim
        query = attn.q_proj(hidden).view(rows, heads, head_dim).transpose(0, 1)  # [H, R, hd]
        key = attn.k_proj(hidden).view(rows, kv_heads, head_dim).transpose(0, 1)  # [KVH, R, hd]
        value = attn.v_proj(hidden).view(rows, kv_heads, head_dim).transpose(0, 1)
        query = query * cos + rotate_half(query) * sin
        key = key * cos + rotate_half(key) * sin
        # head h = k * G + g reads KV head k: per KV head, rows (g, r) g-major -> [KVH, G*R, hd]
        query = query.reshape(kv_heads, self.groups * rows, head_dim) * head_dim**-0.5
        scores = torch.cat(
            [query @ past_key[0].transpose(1, 2), query @ key.transpose(1, 2)], dim=-1
        )  # [KVH, G*R, ctx + R]
        scores = scores + mask[0].repeat(1, self.groups, 1)  # the R-row mask once per group member
        weights = F.softmax(scores, dim=-1)
        ctx = self.max_context
        out = weights[..., :ctx] @ past_value[0] + weights[..., ctx:] @ value  # [KVH, G*R, hd]
        out = out.reshape(heads, rows, head_dim).transpose(0, 1).reshape(rows, heads * head_dim)
        return attn.o_proj(out), key.unsqueeze(0), value.unsqueeze(0)

    def forward(self, inputs_embeds, position_ids, attention_mask, past_keys, past_values):
        cos = self.rope_cos.index_select(0, position_ids)  # [R, hd]
        sin = self.rope_sin.index_select(0, position_ids)
        hidden = inputs_embeds[0]  # [R, D]: 2-D rows, so each linear exports as a Gemm on its stored weight
        new_keys, new_values = [], []
        for index, layer in enumerate(self.layers):
            out, key, value = self.attention(
                index, rms_norm(hidden, layer.input_layernorm), cos, sin, attention_mask, past_keys[index], past_values[index]
            )
            hidden = hidden + out
            hidden = hidden + layer.mlp(rms_norm(hidden, layer.post_attention_layernorm))
            new_keys.append(key)
            new_values.append(value)
        logits = self.lm_head(rms_norm(hidden[-1:], self.norm))  # [1, V]: only the last row picks a token
        return logits.unsqueeze(0), torch.stack(new_keys), torch.stack(new_values)  # [1, 1, V], [L, 1, KVH, R, hd] x 2
