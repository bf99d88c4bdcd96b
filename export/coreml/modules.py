"""The torch modules the Core ML converter traces, shaped for the Neural Engine.

- `CoreMLVision`: uint8 frames [T, 3, S, S] -> visual embeddings [1, N_vis, D].
- `CoreMLDecoderStep`: (inputs_embeds [1, C, D], position_ids int32 [C], causal_mask [1, 1, C, ctx])
  -> logits [1, 1, V] of the last row; the KV cache is two buffers `keyCache` / `valueCache`
  `[L, 1, KVH, ctx_pad, hd_pad]` that the converter turns into fp16 Core ML states.

What differs from `sf_mobile.exportable.DecoderStep`, and why (shared/notes/coreml.md):
- RoPE comes from a precomputed cos/sin table gathered at `position_ids`: computing angles in-graph
  would round `position * inv_freq` to fp16 (a step of 8 at position 10K) under fp16 compute.
- Grouped-query attention folds the query heads of one KV head into rows ([1, KVH, G*C, hd]) instead
  of repeating K/V: every tensor around attention stays 4-D and no cache copy is made.
- Cache dimensions are padded to multiples of 32 (zero columns change no dot product).
- The vocabulary projection is split into slices of at most `LM_HEAD_SLICE` rows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sf_mobile.exportable.decoder import DecoderStep
from sf_mobile.model.slowfast_llava import SlowFastLlava

STATE_ALIGN = 32  # the Neural Engine wants state dimensions in multiples of 32
LM_HEAD_SLICE = 16384  # widest linear output kept in one op (Neural Engine tensor-dimension limit)
KEY_CACHE, VALUE_CACHE = "keyCache", "valueCache"


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


class CoreMLVision(nn.Module):
    """uint8 [T, 3, S, S] -> [1, N_vis, D]: the model's own frame path (normalise, ViT, SlowFast, projector).

    Holds only the vision tower, the projector and the pixel constants, never the LLM: the
    converter copies every parameter of the traced module before dropping unused ones, and the
    1b LLM's 6 GB more on top of the model itself ran the machine out of memory (measured)."""

    def __init__(self, model: SlowFastLlava):
        super().__init__()
        self.config = model.config
        self.vision_tower = model.vision_tower
        self.projector = model.projector
        self.register_buffer("pixel_scale", model.pixel_scale, persistent=False)
        self.register_buffer("pixel_shift", model.pixel_shift, persistent=False)

    # SlowFastLlava's frame path reads exactly these attributes, so it runs on this module unchanged.
    normalize = SlowFastLlava.normalize
    frame_features = SlowFastLlava.frame_features
    visual_tokens = SlowFastLlava.visual_tokens

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return SlowFastLlava.encode_frames(self, frames).unsqueeze(0)


class SplitLinear(nn.Module):
    """A linear layer computed as output slices of at most `width` rows, concatenated on the last axis.

    The slices are views of the original weight, so no memory is copied while tracing."""

    def __init__(self, linear: nn.Linear, width: int = LM_HEAD_SLICE):
        super().__init__()
        self.linear = linear
        self.bounds = [(start, min(start + width, linear.out_features)) for start in range(0, linear.out_features, width)]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        weight, bias = self.linear.weight, self.linear.bias
        parts = [
            F.linear(hidden, weight[start:end], None if bias is None else bias[start:end]) for start, end in self.bounds
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)


class CoreMLDecoderStep(DecoderStep):
    """One fixed-length step over a stateful fp16 KV cache; see the module docstring."""

    def __init__(self, model: SlowFastLlava, max_context: int):
        super().__init__(model, max_context)
        del self.k_cache, self.v_cache  # replaced by the padded, Core ML-named buffers below
        self.context_padded = round_up(max_context, STATE_ALIGN)
        self.head_dim_padded = round_up(self.head_dim, STATE_ALIGN)
        shape = self.cache_shape
        self.register_buffer(KEY_CACHE, torch.zeros(shape), persistent=False)
        self.register_buffer(VALUE_CACHE, torch.zeros(shape), persistent=False)
        positions = torch.arange(self.context_padded, dtype=torch.float64)
        angles = positions[:, None] * self.inv_freq.to(torch.float64)[None, :]  # [ctx_pad, hd/2]
        angles = torch.cat([angles, angles], dim=-1)
        # float64 angles, then fp32 tables: exact to fp32 at every position; fp16 rounding of a
        # value in [-1, 1] (5e-4) is what the converted graph adds.
        self.register_buffer("rope_cos", (angles.cos() * self.rope_scaling).float(), persistent=False)
        self.register_buffer("rope_sin", (angles.sin() * self.rope_scaling).float(), persistent=False)
        self.lm_head_split = SplitLinear(self.lm_head)

    @property
    def cache_shape(self) -> tuple[int, ...]:
        return (len(self.layers), 1, self.num_kv_heads, self.context_padded, self.head_dim_padded)

    @staticmethod
    def cache_shape_for(config, max_context: int) -> tuple[int, ...]:
        """The state shape [L, 1, KVH, ctx_pad, hd_pad] of a config, without building a decoder."""
        llm = config.llm
        return (llm.num_layers, 1, llm.num_kv_heads, round_up(max_context, STATE_ALIGN), round_up(llm.head_dim, STATE_ALIGN))

    @property
    def groups(self) -> int:
        return self.num_heads // self.num_kv_heads

    def reset(self) -> None:
        getattr(self, KEY_CACHE).zero_()
        getattr(self, VALUE_CACHE).zero_()

    def example_inputs(self, seq_len: int = 8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        embeds = torch.zeros(1, seq_len, self.layers[0].self_attn.q_proj.in_features)
        positions = torch.arange(seq_len, dtype=torch.int32)
        return embeds, positions, self.mask_for(positions)

    def mask_for(self, position_ids: torch.Tensor) -> torch.Tensor:
        """The causal mask the app passes: [1, 1, C, ctx_pad], 0 where a row may look, MASK_VALUE elsewhere."""
        from sf_mobile.exportable.decoder import causal_mask

        return causal_mask(position_ids.to(torch.int64), self.context_padded)

    def rope_at(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [1, 1, C, hd] gathered from the tables."""
        return self.rope_cos[position_ids][None, None], self.rope_sin[position_ids][None, None]

    def _pad(self, tensor: torch.Tensor) -> torch.Tensor:
        extra = self.head_dim_padded - self.head_dim
        return F.pad(tensor, (0, extra)) if extra else tensor

    def attend(self, layer: int, query, key, value, mask, position_ids) -> torch.Tensor:
        """q [1, H, C, hd], k/v [1, KVH, C, hd] -> [1, C, H*hd]; writes C cache slots from position_ids[0]."""
        seq_len = query.shape[2]
        start = position_ids[0]  # a traced tensor: the converter emits a slice_update with a dynamic begin
        key_cache, value_cache = getattr(self, KEY_CACHE), getattr(self, VALUE_CACHE)
        key_cache[layer, :, :, start : start + seq_len] = self._pad(key)
        value_cache[layer, :, :, start : start + seq_len] = self._pad(value)
        keys, values = key_cache[layer], value_cache[layer]  # [1, KVH, ctx_pad, hd_pad]
        # Rows are (group member g, position c) per KV head: [1, H, C, hd] -> [1, KVH, G*C, hd_pad].
        rows = self._pad(query).reshape(1, self.num_kv_heads, self.groups * seq_len, self.head_dim_padded)
        scores = rows @ keys.transpose(2, 3) * self.head_dim**-0.5  # [1, KVH, G*C, ctx_pad]
        scores = scores + mask.repeat(1, 1, self.groups, 1)  # the C-row mask once per group member
        out = F.softmax(scores, dim=-1) @ values  # [1, KVH, G*C, hd_pad]
        out = out[..., : self.head_dim].reshape(1, self.num_heads, seq_len, self.head_dim)
        return out.transpose(1, 2).reshape(1, seq_len, self.num_heads * self.head_dim)

    def forward(self, inputs_embeds: torch.Tensor, position_ids: torch.Tensor, causal_mask: torch.Tensor) -> torch.Tensor:
        cos, sin = self.rope_at(position_ids)
        hidden = inputs_embeds
        for index, layer in enumerate(self.layers):
            attn_in = layer.input_layernorm(hidden)
            hidden = hidden + self.attention(index, attn_in, cos, sin, causal_mask, position_ids)
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        return self.lm_head_split(self.norm(hidden[:, -1:]))  # [1, 1, V]
