"""What an ExecuTorch export can be asked for, validated before any work starts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sf_mobile.config import ModelConfig
from sf_mobile.errors import SfError

GROUP_SIZES = (32, 128)
CONTEXT_HEADROOM = 1024  # text + answer positions the default context leaves after the video


class Quant(str, enum.Enum):
    FP32 = "fp32"
    A8W4 = "8da4w"  # int8 dynamic activations, int4 grouped weights (torchao) on the LLM linears


class EmbeddingQuant(str, enum.Enum):
    NONE = "none"
    W8 = "8w"  # int8 per row
    W4 = "4w"  # int4 per row, packed two per byte


class VisionQuant(str, enum.Enum):
    FP32 = "fp32"
    A8W8 = "8da8w"  # int8 dynamic activations, int8 per-channel weights on vision + projector linears


@dataclass(frozen=True)
class ExecuTorchOptions:
    quant: Quant = Quant.FP32
    group_size: int = 32
    embedding_quant: EmbeddingQuant = EmbeddingQuant.NONE
    vision_quant: VisionQuant = VisionQuant.FP32
    max_context: int | None = None  # None: visual tokens + CONTEXT_HEADROOM, rounded up to 256

    def resolved_context(self, config: ModelConfig) -> int:
        if self.max_context is not None:
            return self.max_context
        wanted = config.visual_tokens().total + CONTEXT_HEADROOM
        return min(-(-wanted // 256) * 256, config.llm.max_position_embeddings)

    def validate(self, config: ModelConfig) -> None:
        """Every option against the model, with the valid values in the message."""
        if self.group_size not in GROUP_SIZES:
            raise SfError(f"group size {self.group_size} is not supported", f"use one of {list(GROUP_SIZES)}")
        if self.quant is Quant.A8W4:
            llm = config.llm
            for name, width in (("hidden size", llm.hidden_size), ("MLP size", llm.intermediate_size)):
                if width % self.group_size:
                    valid = [g for g in GROUP_SIZES if llm.hidden_size % g == 0 and llm.intermediate_size % g == 0]
                    raise SfError(
                        f"group size {self.group_size} does not divide the {config.name} LLM {name} {width}",
                        f"use --group-size {' or '.join(map(str, valid))}" if valid else "use --quant fp32",
                    )
        context = self.resolved_context(config)
        needed = config.visual_tokens().total + 16
        if context < needed:
            raise SfError(
                f"max context {context} cannot hold the {config.visual_tokens().total} visual tokens plus a prompt",
                f"use --max-context {-(-needed // 256) * 256} or more, or fewer --frames",
            )
        if context > config.llm.max_position_embeddings:
            raise SfError(
                f"max context {context} exceeds the LLM's {config.llm.max_position_embeddings} positions",
                f"use --max-context {config.llm.max_position_embeddings} or less",
            )

    def to_dict(self, config: ModelConfig) -> dict:
        return {
            "llm": self.quant.value,
            "group_size": self.group_size if self.quant is Quant.A8W4 else None,
            "embedding": self.embedding_quant.value,
            "vision": self.vision_quant.value,
            "max_context": self.resolved_context(config),
        }
