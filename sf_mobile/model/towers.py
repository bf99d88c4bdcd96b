"""Builders for the three networks, on transformers' implementations.

Parameter names under each module are the canonical names that `sf_mobile.checkpoints` maps
every supported checkpoint layout onto.
"""

from __future__ import annotations

import torch
from torch import nn

from sf_mobile.config import LLMArch, LLMConfig, VisionArch, VisionConfig


class VisionTower(nn.Module):
    """uint8-free core of the vision encoder: normalised pixels [T, 3, S, S] -> features [T, g*g, C].

    Runs only the layers up to `select_layer` and never the post-layernorm, as LLaVA reads
    `hidden_states[select_layer]`; the CLIP class token is dropped.
    """

    def __init__(self, config: VisionConfig):
        super().__init__()
        self.config = config
        self.model = _hf_vision_model(config)
        self.layers_used = config.num_layers + config.select_layer + 1

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        hidden = self.model.embeddings(pixels)  # [T, (1 +) g*g, C]
        if self.config.arch is VisionArch.CLIP:
            hidden = self.model.pre_layrnorm(hidden)
        for layer in self.model.encoder.layers[: self.layers_used]:
            hidden = layer(hidden, attention_mask=None)
        if self.config.arch is VisionArch.CLIP:
            hidden = hidden[:, 1:]  # drop the class token
        return hidden


def _hf_vision_model(config: VisionConfig) -> nn.Module:
    common = dict(
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        image_size=config.image_size,
        patch_size=config.patch_size,
        hidden_act=config.hidden_act,
        layer_norm_eps=config.layer_norm_eps,
        attn_implementation="eager",  # plain matmul/softmax: same graph in every exporter
    )
    if config.arch is VisionArch.SIGLIP:
        from transformers import SiglipVisionConfig, SiglipVisionModel

        return SiglipVisionModel(SiglipVisionConfig(vision_use_head=False, **common))
    from transformers import CLIPVisionConfig, CLIPVisionModel

    return CLIPVisionModel(CLIPVisionConfig(**common))


def build_projector(vision_hidden: int, llm_hidden: int) -> nn.Sequential:
    """LLaVA's `mlp2x_gelu`: Linear -> GELU -> Linear (indices 0 and 2 hold the weights)."""
    return nn.Sequential(nn.Linear(vision_hidden, llm_hidden), nn.GELU(), nn.Linear(llm_hidden, llm_hidden))


def build_llm(config: LLMConfig) -> nn.Module:
    common = dict(
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_kv_heads,
        vocab_size=config.vocab_size,
        max_position_embeddings=config.max_position_embeddings,
        rope_theta=config.rope_theta,
        rms_norm_eps=config.rms_norm_eps,
        tie_word_embeddings=config.tie_word_embeddings,
        attn_implementation="eager",
    )
    if config.arch is LLMArch.QWEN2:
        from transformers import Qwen2Config, Qwen2ForCausalLM

        return Qwen2ForCausalLM(Qwen2Config(**common))
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(**common))
