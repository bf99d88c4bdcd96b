"""The reference SlowFast-LLaVA: uint8 frames + prompt ids -> LLM input embeddings.

Pipeline for one video: normalise -> vision tower [T, g*g, C] -> SlowFast pooling and the
projector (in the preset's order) -> visual tokens [N_vis, D] spliced between the prompt's
prefix and suffix embeddings -> the LLM.
"""

from __future__ import annotations

import torch
from torch import nn

from sf_mobile import slowfast
from sf_mobile.config import ModelConfig, ProjectorOrder
from sf_mobile.model.towers import VisionTower, build_llm, build_projector
from sf_mobile.tokenizer import PromptIds

DEFAULT_SEED = 0
EAGER_FRAMES_PER_PASS = 8  # frames per vision-tower pass in eager runs (~0.3 GB of SigLIP attention)


class SlowFastLlava(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.vision_tower = VisionTower(config.vision)
        self.projector = build_projector(config.vision.hidden_size, config.llm.hidden_size)
        self.llm = build_llm(config.llm)
        mean = torch.tensor(config.vision.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
        std = torch.tensor(config.vision.image_std, dtype=torch.float32).view(1, 3, 1, 1)
        # (x / 255 - mean) / std folded into one multiply-add: x * scale + shift.
        self.register_buffer("pixel_scale", 1.0 / (255.0 * std), persistent=False)
        self.register_buffer("pixel_shift", -mean / std, persistent=False)

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 [T, 3, S, S] -> float32 [T, 3, S, S] as the vision tower was trained on."""
        return frames.to(torch.float32) * self.pixel_scale + self.pixel_shift

    def frame_features(self, frames: torch.Tensor, frames_per_pass: int | None = None) -> torch.Tensor:
        """uint8 [T, 3, S, S] -> vision features [T, g*g, C_vision].

        `frames_per_pass` bounds the memory of eager runs: the tower's attention scores are
        [frames, heads, g*g, g*g] (4.4 GB in fp32 for 128 SigLIP frames at once), and frames are
        independent, so passes of a few frames give the same features. Exporters leave it None:
        a Python loop here would be unrolled into one tower per pass in the graph."""
        if frames_per_pass is None or frames.shape[0] <= frames_per_pass:
            return self.vision_tower(self.normalize(frames))
        return torch.cat([self.vision_tower(self.normalize(part)) for part in frames.split(frames_per_pass)])

    def visual_tokens(self, features: torch.Tensor) -> torch.Tensor:
        """Vision features [T, g*g, C_vision] -> visual embeddings [N_vis, D] (slow first)."""
        if self.config.slowfast.order is ProjectorOrder.PROJECT_THEN_POOL:
            return slowfast.pool(self.projector(features), self.config.slowfast)
        return self.projector(slowfast.pool(features, self.config.slowfast))

    def encode_frames(self, frames: torch.Tensor, frames_per_pass: int | None = None) -> torch.Tensor:
        """uint8 [T, 3, S, S] -> visual embeddings [N_vis, D] (frames_per_pass: see frame_features)."""
        return self.visual_tokens(self.frame_features(frames, frames_per_pass))

    def embed_tokens(self, ids: torch.Tensor) -> torch.Tensor:
        """token ids [..., S] -> embeddings [..., S, D]."""
        return self.llm.get_input_embeddings()(ids)

    def prompt_embeddings(self, prompt: PromptIds, visual: torch.Tensor) -> torch.Tensor:
        """[1, len(prefix) + N_vis + len(suffix), D]: the visual tokens replace the placeholder."""
        prefix = self.embed_tokens(torch.tensor(prompt.prefix, dtype=torch.long))
        suffix = self.embed_tokens(torch.tensor(prompt.suffix, dtype=torch.long))
        return torch.cat([prefix, visual.to(prefix.dtype), suffix], dim=0).unsqueeze(0)

    def logits(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        """Uncached forward over a whole sequence: [1, S, D] -> [1, S, V]."""
        return self.llm(inputs_embeds=inputs_embeds, use_cache=False).logits


def build_model(config: ModelConfig, seed: int | None = DEFAULT_SEED) -> SlowFastLlava:
    """The preset's architecture in eval mode: seeded random weights, or uninitialised with seed=None
    (the caller loads a checkpoint over them)."""
    from transformers.initialization import no_init_weights

    with no_init_weights():  # every weight is set below or by the checkpoint loader: skip HF's init
        model = SlowFastLlava(config)
    if config.llm.tie_word_embeddings:
        model.llm.tie_weights()  # no_init_weights also skips the tying
    if seed is not None:
        randomize_weights(model, torch.Generator().manual_seed(seed))
    return model.eval().requires_grad_(False)


@torch.no_grad()
def randomize_weights(model: nn.Module, generator: torch.Generator) -> None:
    """Seeded weights scaled so activations keep unit size through the network.

    transformers' own init (std 0.02) leaves a tiny random LLM with nearly flat logits, which
    makes every greedy token the same and parity checks on tokens meaningless; fan-in scaling,
    non-zero biases and norm gains away from 1 exercise every parameter an exporter must carry.
    """
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if isinstance(module, nn.Embedding):  # rows of unit norm: a tied lm_head then does not
                param.normal_(0.0, module.embedding_dim**-0.5, generator=generator)  # echo the input token
            elif param.dim() >= 2:  # linear and patch-conv weights
                param.normal_(0.0, param[0].numel() ** -0.5, generator=generator)
            elif name == "weight":  # LayerNorm / RMSNorm gains
                param.normal_(1.0, 0.1, generator=generator)
            else:  # biases and the CLIP class vector
                param.normal_(0.0, 0.02, generator=generator)
