"""One LLM step with an owned static KV cache: the decoder every exporter starts from.

Written out here instead of calling transformers' forward so that exporters control each op:
the cache is two fp32 buffers `[L, 1, KVH, ctx, head_dim]` written by slice assignment at
`cache_position` (no HF StaticCache: its `index_copy_` has no Core ML conversion), positions
are explicit, and the mask is a 4-D additive tensor. Norms, MLPs and projections are the
reference model's own modules, so weights are shared, never copied.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sf_mobile.errors import SfError
from sf_mobile.model.slowfast_llava import SlowFastLlava

# Added to masked attention scores. Large enough to zero a softmax weight in fp32 and fp16
# (finite, so fp16 graphs do not produce inf - inf = nan), small enough for 16-bit quantizers.
MASK_VALUE = -1e4


def causal_mask(cache_position: torch.Tensor, max_context: int, dtype=torch.float32) -> torch.Tensor:
    """[1, 1, S, ctx] additive mask: query at position p sees cache slots 0..p."""
    slots = torch.arange(max_context, device=cache_position.device)
    visible = slots.unsqueeze(0) <= cache_position.unsqueeze(1)  # [S, ctx]
    return torch.where(visible, 0.0, MASK_VALUE).to(dtype)[None, None]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.chunk(2, dim=-1)
    return torch.cat([-second, first], dim=-1)


class DecoderStep(nn.Module):
    """(embeds [1, S, D], cache_position [S] int64) -> logits [1, 1, V] of the last position
    ([1, S, V] with full_logits=True); writes S cache slots.

    Only the last position's logits are needed to pick the next token: computing all of them
    costs a [S, D] x [D, V] matmul and a [S, V] output (3 GB for a 5K-token 1b prefill).
    """

    def __init__(self, model: SlowFastLlava, max_context: int, full_logits: bool = False):
        super().__init__()
        llm = model.llm
        config = model.config.llm
        if max_context > config.max_position_embeddings:
            raise SfError(
                f"max context {max_context} exceeds the LLM's {config.max_position_embeddings} positions",
                "lower the maximum context",
            )
        self.layers = llm.model.layers
        self.norm = llm.model.norm
        self.lm_head = llm.lm_head
        self.max_context = max_context
        self.full_logits = full_logits
        self.num_heads = config.num_heads
        self.num_kv_heads = config.num_kv_heads
        self.head_dim = config.head_dim
        rotary = llm.model.rotary_emb
        self.register_buffer("inv_freq", rotary.inv_freq.detach().clone(), persistent=False)
        self.rope_scaling = float(getattr(rotary, "attention_scaling", 1.0))
        cache_shape = (config.num_layers, 1, config.num_kv_heads, max_context, config.head_dim)
        self.register_buffer("k_cache", torch.zeros(cache_shape), persistent=False)
        self.register_buffer("v_cache", torch.zeros(cache_shape), persistent=False)

    def reset(self) -> None:
        self.k_cache.zero_()
        self.v_cache.zero_()

    def example_inputs(self, seq_len: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
        embeds = torch.randn(1, seq_len, self.layers[0].self_attn.q_proj.in_features)
        return embeds, torch.arange(seq_len, dtype=torch.int64)

    def rope(self, cache_position: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin [1, 1, S, head_dim] for the given positions."""
        angles = cache_position.to(torch.float32).unsqueeze(1) * self.inv_freq.unsqueeze(0)  # [S, hd/2]
        angles = torch.cat([angles, angles], dim=-1)
        return (angles.cos() * self.rope_scaling)[None, None], (angles.sin() * self.rope_scaling)[None, None]

    def write_cache(self, layer: int, key: torch.Tensor, value: torch.Tensor, cache_position: torch.Tensor):
        """Store key/value [1, KVH, S, hd] at slots cache_position[0] .. +S; return the full caches."""
        start = cache_position[0].item()
        seq_len = key.shape[2]
        torch._check(start >= 0)
        torch._check(start + seq_len <= self.max_context)
        self.k_cache[layer, :, :, start : start + seq_len] = key
        self.v_cache[layer, :, :, start : start + seq_len] = value
        return self.k_cache[layer], self.v_cache[layer]

    def attention(self, layer: int, hidden: torch.Tensor, cos, sin, mask, cache_position) -> torch.Tensor:
        attn = self.layers[layer].self_attn
        batch, seq_len, _ = hidden.shape
        query = attn.q_proj(hidden).view(batch, seq_len, self.num_heads, self.head_dim).transpose(1, 2)
        key = attn.k_proj(hidden).view(batch, seq_len, self.num_kv_heads, self.head_dim).transpose(1, 2)
        value = attn.v_proj(hidden).view(batch, seq_len, self.num_kv_heads, self.head_dim).transpose(1, 2)
        query = query * cos + rotate_half(query) * sin  # [1, H, S, hd]
        key = key * cos + rotate_half(key) * sin  # [1, KVH, S, hd]
        return attn.o_proj(self.attend(layer, query, key, value, mask, cache_position))

    def attend(self, layer: int, query, key, value, mask, cache_position) -> torch.Tensor:
        """Cache write + attention over the whole cache: q [1, H, S, hd], k/v [1, KVH, S, hd] -> [1, S, H*hd].

        Exporters with fused cache/attention kernels override this (and `attention_mask`)."""
        keys, values = self.write_cache(layer, key, value, cache_position)  # [1, KVH, ctx, hd]
        if not (torch.compiler.is_compiling() or torch.jit.is_tracing()):
            # Run eagerly (the reference), attend only to the slots written so far: the rest are
            # masked (exp(MASK_VALUE) is 0 in fp32, so the result is the same) and at a 9K-token
            # prompt they were half of the reference's prefill time. A traced graph keeps the
            # static whole-cache form (a length read from cache_position is data-dependent).
            end = int(cache_position.max()) + 1
            keys, values, mask = keys[:, :, :end], values[:, :, :end], mask[..., :end]
        groups = self.num_heads // self.num_kv_heads
        keys = keys.repeat_interleave(groups, dim=1)  # [1, H, ctx, hd]
        values = values.repeat_interleave(groups, dim=1)
        scores = query @ keys.transpose(2, 3) * self.head_dim**-0.5 + mask  # [1, H, S, ctx]
        weights = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
        out = weights @ values  # [1, H, S, hd]
        return out.transpose(1, 2).reshape(out.shape[0], out.shape[2], -1)

    def attention_mask(self, cache_position: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
        return causal_mask(cache_position, self.max_context, dtype)

    def forward(self, embeds: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        cos, sin = self.rope(cache_position)
        mask = self.attention_mask(cache_position, embeds.dtype)
        hidden = embeds
        for index, layer in enumerate(self.layers):
            hidden = hidden + self.attention(index, layer.input_layernorm(hidden), cos, sin, mask, cache_position)
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        if not self.full_logits:
            hidden = hidden[:, -1:]  # [1, 1, D]
        return self.lm_head(self.norm(hidden))
