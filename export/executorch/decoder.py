"""The decoder step with ExecuTorch's fused KV-cache ops.

`llama::update_cache` writes k/v into per-layer caches `[1, ctx, KVH, hd]` in place and
`llama::custom_sdpa` attends causally from `start_pos` over the cache (grouped-query heads
handled inside): fewer, larger XNNPACK partitions than the plain-torch cache and exact parity
(shared/notes/executorch.md). Any process that runs the resulting `.pte` must import
`executorch.extension.llm.custom_ops` first.
"""

from __future__ import annotations

import torch
from torch import nn

from sf_mobile.exportable.decoder import DecoderStep
from sf_mobile.model.slowfast_llava import SlowFastLlava


class LayerCache(nn.Module):
    def __init__(self, max_context: int, kv_heads: int, head_dim: int):
        super().__init__()
        self.register_buffer("k", torch.zeros(1, max_context, kv_heads, head_dim), persistent=False)
        self.register_buffer("v", torch.zeros(1, max_context, kv_heads, head_dim), persistent=False)


class ExecuTorchDecoderStep(DecoderStep):
    """(embeds [1, S, D], cache_position [S] int64) -> logits [1, 1, V] of the last position (what
    the runner samples from), caches in `caches[i].k/v`."""

    def __init__(self, model: SlowFastLlava, max_context: int, full_logits: bool = False):
        from executorch.extension.llm.custom_ops import custom_ops  # noqa: F401  registers llama:: ops

        super().__init__(model, max_context, full_logits)
        # The base class's stacked caches are not used: drop them so they are not exported.
        del self.k_cache
        del self.v_cache
        self.caches = nn.ModuleList(
            LayerCache(max_context, self.num_kv_heads, self.head_dim) for _ in range(len(self.layers))
        )

    def reset(self) -> None:
        for cache in self.caches:
            cache.k.zero_()
            cache.v.zero_()

    def attention_mask(self, cache_position, dtype):
        return None  # custom_sdpa is causal from start_pos

    def attend(self, layer: int, query, key, value, mask, cache_position) -> torch.Tensor:
        start = cache_position[0].item()
        seq_len = query.shape[2]
        torch._check_is_size(start)
        torch._check(start + seq_len <= self.max_context)
        cache = self.caches[layer]
        torch.ops.llama.update_cache(key.transpose(1, 2), cache.k, start)  # [1, S, KVH, hd] into [1, ctx, KVH, hd]
        torch.ops.llama.update_cache(value.transpose(1, 2), cache.v, start)
        out = torch.ops.llama.custom_sdpa(query.transpose(1, 2), cache.k, cache.v, start, None, 0, True)  # [1, S, H, hd]
        return out.reshape(out.shape[0], seq_len, -1)
