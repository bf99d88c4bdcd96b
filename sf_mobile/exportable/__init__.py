"""Plain-torch modules with static shapes that every exporter traces.

- `FrameEncoder`: uint8 frames (or one packed `[3, T*S, S]` image) -> visual embeddings `[1, N_vis, D]`
- `TokenEmbedding`: token ids `[1, S]` -> `[1, S, D]`
- `DecoderStep`: `(embeds [1, S, D], cache_position [S])` -> logits `[1, S, V]`, KV cache owned as buffers

They share parameters with the reference `SlowFastLlava` (no copies); an exporter that quantizes
in place should deep-copy first.
"""

from sf_mobile.exportable.decoder import DecoderStep, causal_mask
from sf_mobile.exportable.driver import decode_greedy, prefill, teacher_forced_logits
from sf_mobile.exportable.vision import FrameEncoder, TokenEmbedding

__all__ = [
    "DecoderStep",
    "FrameEncoder",
    "TokenEmbedding",
    "causal_mask",
    "decode_greedy",
    "prefill",
    "teacher_forced_logits",
]
