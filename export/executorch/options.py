"""What an ExecuTorch export can be asked for, validated before any work starts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sf_mobile.config import ModelConfig
from sf_mobile.errors import SfError
from sf_mobile.export.limits import check_context, check_divides, default_context

GROUP_SIZES = (32, 128)


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
        return default_context(config)

    def validate(self, config: ModelConfig) -> None:
        """Every option against the model, with the valid values in the message."""
        if self.group_size not in GROUP_SIZES:
            raise SfError(f"group size {self.group_size} is not supported", f"use one of {list(GROUP_SIZES)}")
        if self.quant is Quant.A8W4:
            check_divides(config, self.group_size, GROUP_SIZES, "groups of", "--group-size", "use --quant fp32")
        check_context(config, self.resolved_context(config))

    def to_dict(self, config: ModelConfig) -> dict:
        return {
            "llm": self.quant.value,
            "group_size": self.group_size if self.quant is Quant.A8W4 else None,
            "embedding": self.embedding_quant.value,
            "vision": self.vision_quant.value,
            "max_context": self.resolved_context(config),
        }
