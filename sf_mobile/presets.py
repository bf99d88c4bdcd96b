"""Named model presets: one registry, unknown names rejected with the valid list.

Each preset states where its numbers come from and what is uncertain. A checkpoint's
`config.json` overrides the LLM shape (see `sf_mobile.checkpoints`); the preset supplies
what a LLaVA-style config cannot (the vision tower is named there only by a hub id).
"""

from __future__ import annotations

from sf_mobile.config import (
    LLMArch,
    LLMConfig,
    ModelConfig,
    PoolOp,
    ProjectorOrder,
    PromptConfig,
    ResizeMode,
    SamplingConfig,
    SamplingStrategy,
    SlowFastConfig,
    VisionArch,
    VisionConfig,
)
from sf_mobile.errors import PresetError

# OpenAI CLIP's normalisation, used by every CLIP image processor.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

# Qwen2.5 ChatML; the system line is Qwen2.5's default.
CHATML = PromptConfig(
    template=(
        "<|im_start|>system\n{system}<|im_end|>\n"
        "<|im_start|>user\n<video>\n{question}<|im_end|>\n"
        "<|im_start|>assistant\n"
    ),
    system="You are a helpful assistant.",
    stop_tokens=("<|im_end|>", "<|endoftext|>"),
    special_tokens=("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
)

# Vicuna v1 conversation format used by LLaVA-NeXT-7B, which SlowFast-LLaVA v1 runs training-free.
VICUNA_V1 = PromptConfig(
    template="{system} USER: <video>\n{question} ASSISTANT:",
    system=(
        "A chat between a curious human and an artificial intelligence assistant. "
        "The assistant gives helpful, detailed, and polite answers to the human's questions."
    ),
    bos_token="<s>",
    stop_tokens=("</s>",),
    special_tokens=("<unk>", "<s>", "</s>"),
)

# SigLIP-so400m-patch14 body (width 1152, 27 blocks, MLP 4304); Oryx-ViT uses it at patch 16, so
# a 384x384 frame gives a 24x24 grid. Oryx-ViT's native-resolution input is fixed at 384 here.
ORYX_VIT_384 = VisionConfig(
    arch=VisionArch.SIGLIP,
    image_size=384,
    patch_size=16,
    hidden_size=1152,
    intermediate_size=4304,
    num_layers=27,
    num_heads=16,
    select_layer=-1,
)

# SlowFast-LLaVA-1.5 (arXiv 2503.18943): up to 128 frames, ~9K visual tokens. The exact pooling is
# not public; 32 slow frames at 12x12 (2x2 pool) + 128 fast frames at 6x6 gives 4608 + 4608 = 9216,
# consistent with "about 9K". Pooling before the projector is an assumption (and the cheap order).
SLOWFAST_15 = SlowFastConfig(
    generation="1.5",
    num_slow=32,
    slow_pool=(2, 2),
    slow_pool_op=PoolOp.AVG,
    fast_grid=(6, 6),
    order=ProjectorOrder.POOL_THEN_PROJECT,
)
SAMPLING_15 = SamplingConfig(strategy=SamplingStrategy.FPS, max_frames=128, fps=1.0)


def _qwen25(hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, vocab: int, tie: bool) -> LLMConfig:
    return LLMConfig(
        arch=LLMArch.QWEN2,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_layers=layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        vocab_size=vocab,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=tie,
    )


SOURCE_15 = (
    "SlowFast-LLaVA-1.5 (arXiv 2503.18943): Oryx-ViT (SigLIP-so400m body, patch 16) fixed at 384 px; "
    "up to 128 frames at 1 fps with a uniform fallback; the paper reports ~9K visual tokens but not its "
    "pooling: 32 slow frames at 12x12 + 128 fast at 6x6 = 9216 is an assumption, as is pooling before "
    "the projector. "
)


def _slowfast_15(name: str, llm: LLMConfig, source: str) -> ModelConfig:
    """A SlowFast-LLaVA-1.5 model: Oryx-ViT at 384 px, the 1.5 pooling, ChatML; only the LLM varies."""
    return ModelConfig(
        name=name, vision=ORYX_VIT_384, slowfast=SLOWFAST_15, sampling=SAMPLING_15, llm=llm, prompt=CHATML,
        source=SOURCE_15 + source,
    )


TINY = ModelConfig(
    name="tiny",
    vision=VisionConfig(
        arch=VisionArch.SIGLIP,
        image_size=64,
        patch_size=8,  # 8x8 grid: big enough for a 2x2 slow pool and a 2x2 fast grid
        hidden_size=32,
        intermediate_size=64,
        num_layers=2,
        num_heads=2,
    ),
    slowfast=SlowFastConfig(
        generation="1.5",
        num_slow=4,
        slow_pool=(2, 2),
        slow_pool_op=PoolOp.AVG,
        fast_grid=(2, 2),
        order=ProjectorOrder.POOL_THEN_PROJECT,
    ),
    sampling=SamplingConfig(strategy=SamplingStrategy.FPS, max_frames=8, fps=2.0),
    llm=LLMConfig(
        arch=LLMArch.QWEN2,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=2,  # grouped-query attention, as in every real preset
        vocab_size=512,  # room for a stand-in BPE tokenizer trained on a few paragraphs
        max_position_embeddings=2048,
        rope_theta=10_000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=True,
    ),
    prompt=CHATML,
    source="Test preset: a tiny SigLIP + Qwen2 with the 1.5 pooling; numbers chosen for speed, not a paper.",
)

TINY_V1 = ModelConfig(
    name="tiny-v1",
    vision=VisionConfig(
        arch=VisionArch.CLIP,
        image_size=56,
        patch_size=7,  # 8x8 grid
        hidden_size=32,
        intermediate_size=64,
        num_layers=3,
        num_heads=2,
        select_layer=-2,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        resize=ResizeMode.SHORTEST_EDGE_CROP,
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
    ),
    slowfast=SlowFastConfig(
        generation="v1",
        num_slow=10,  # as v1; the budget below is smaller, so slow frames repeat
        slow_pool=(1, 2),
        slow_pool_op=PoolOp.MAX,
        fast_grid=(4, 4),
        order=ProjectorOrder.PROJECT_THEN_POOL,
    ),
    sampling=SamplingConfig(strategy=SamplingStrategy.UNIFORM, max_frames=6),
    llm=LLMConfig(
        arch=LLMArch.LLAMA,
        hidden_size=64,
        intermediate_size=128,
        num_layers=2,
        num_heads=4,
        num_kv_heads=4,
        vocab_size=512,
        max_position_embeddings=2048,
        rope_theta=10_000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    ),
    prompt=VICUNA_V1,
    source="Test preset: a tiny CLIP + Llama with the v1 pooling; budget 6 < 10 slow frames, so slow frames repeat.",
)

# 1b: the SlowFast-LLaVA-1.5 "1B" model. Its LLM is Qwen2.5-1.5B in this preset (1536 x 28,
# 12 heads, 2 KV heads, vocab 151936, tied embeddings; shapes from Qwen2.5-1.5B's config.json).
# Uncertain: the paper's smallest model could be built on Qwen2.5-0.5B instead; a checkpoint's
# config.json wins over these numbers.
ONE_B = _slowfast_15(
    "1b",
    _qwen25(1536, 8960, 28, 12, 2, 151936, tie=True),
    "LLM: Qwen2.5-1.5B shape (from its config.json). Uncertain: the paper's smallest model may use "
    "Qwen2.5-0.5B; a checkpoint's config.json wins.",
)

# 3b: SlowFast-LLaVA-1.5 3B on Qwen2.5-3B (2048 x 36, 16 heads, 2 KV heads, tied embeddings).
THREE_B = _slowfast_15(
    "3b", _qwen25(2048, 11008, 36, 16, 2, 151936, tie=True), "LLM: Qwen2.5-3B shape (from its config.json)."
)

# 7b: SlowFast-LLaVA-1.5 7B on Qwen2.5-7B (3584 x 28, 28 heads, 4 KV heads, vocab 152064, untied).
# Reference only: too large for a phone.
SEVEN_B = _slowfast_15(
    "7b", _qwen25(3584, 18944, 28, 28, 4, 152064, tie=False), "LLM: Qwen2.5-7B shape. Reference only."
)

# v1-7b: training-free SlowFast-LLaVA (arXiv 2407.15841) on LLaVA-NeXT-7B: CLIP ViT-L/14 at 336 px
# (24x24 grid, penultimate layer, CLS dropped) and Vicuna-7B v1.5 (Llama-2 shape). 50 uniformly
# sampled frames; slow = 10 frames pooled 1x2 (max) -> 24x12; fast = all 50 frames at 4x4;
# 2880 + 800 = 3680 visual tokens. The projector runs before pooling. Reference only.
V1_7B = ModelConfig(
    name="v1-7b",
    vision=VisionConfig(
        arch=VisionArch.CLIP,
        image_size=336,
        patch_size=14,
        hidden_size=1024,
        intermediate_size=4096,
        num_layers=24,
        num_heads=16,
        select_layer=-2,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        resize=ResizeMode.SHORTEST_EDGE_CROP,
        image_mean=CLIP_MEAN,
        image_std=CLIP_STD,
    ),
    slowfast=SlowFastConfig(
        generation="v1",
        num_slow=10,
        slow_pool=(1, 2),
        slow_pool_op=PoolOp.MAX,
        fast_grid=(4, 4),
        order=ProjectorOrder.PROJECT_THEN_POOL,
    ),
    sampling=SamplingConfig(strategy=SamplingStrategy.UNIFORM, max_frames=50),
    llm=LLMConfig(
        arch=LLMArch.LLAMA,
        hidden_size=4096,
        intermediate_size=11008,
        num_layers=32,
        num_heads=32,
        num_kv_heads=32,
        vocab_size=32000,
        max_position_embeddings=4096,
        rope_theta=10_000.0,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    ),
    prompt=VICUNA_V1,
    source=(
        "SlowFast-LLaVA v1 (arXiv 2407.15841), training-free on LLaVA-NeXT-7B: CLIP ViT-L/14-336 "
        "(penultimate layer, CLS dropped) + Vicuna-7B v1.5; 50 uniform frames; slow 10 frames 1x2 max-pooled, "
        "fast 50 frames at 4x4: 2880 + 800 = 3680 tokens; projector before pooling. Reference only."
    ),
)

PRESETS: dict[str, ModelConfig] = {p.name: p for p in (TINY, TINY_V1, ONE_B, THREE_B, SEVEN_B, V1_7B)}
DEFAULT_PRESET = "tiny"


def get_preset(name: str) -> ModelConfig:
    """The preset called `name`; an unknown name fails listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(f"unknown preset {name!r}", f"valid presets: {', '.join(PRESETS)}") from None
