"""What a Core ML export can be asked for, validated before any work starts."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sf_mobile.config import ModelConfig
from sf_mobile.errors import SfError
from sf_mobile.export.limits import check_context, check_divides, default_context

DEFAULT_PREFILL_CHUNK = 64  # rows per prefill call: a common Neural Engine sweet spot for 1-3B decoders
MAX_CONTEXT = 32767  # the converter indexes the RoPE table with int16 positions


class Recipe(str, enum.Enum):
    """Weight compression of the language model's linear layers (coremltools.optimize.coreml)."""

    FP16 = "fp16"  # no compression: fp16 weights
    INT8 = "int8"  # int8 symmetric, one scale per output channel
    INT4 = "int4"  # int4 symmetric, one scale per output channel (Neural Engine friendly)
    INT4_BLOCK = "int4-block"  # int4 symmetric, one scale per block of --block-size inputs (GPU friendly)
    PALETTIZE4 = "palettize4"  # 4-bit k-means look-up tables, one per group of --palette-group rows


class ComputeUnits(str, enum.Enum):
    """Where the app runs each model; recorded in metadata and the manifest (chosen at load time)."""

    AUTO = "auto"  # vision and prefill on the Neural Engine, decode on the GPU (stateful decode is often refused by the ANE)
    ANE = "ane"  # CPU_AND_NE
    GPU = "gpu"  # CPU_AND_GPU
    CPU = "cpu"  # CPU_ONLY
    ALL = "all"  # ALL

    def per_model(self) -> dict[str, str]:
        """model/function -> coremltools ComputeUnit name."""
        names = {
            ComputeUnits.ANE: "CPU_AND_NE",
            ComputeUnits.GPU: "CPU_AND_GPU",
            ComputeUnits.CPU: "CPU_ONLY",
            ComputeUnits.ALL: "ALL",
        }
        if self is ComputeUnits.AUTO:
            return {"vision": "CPU_AND_NE", "prefill": "CPU_AND_NE", "decode": "CPU_AND_GPU"}
        return {"vision": names[self], "prefill": names[self], "decode": names[self]}


BLOCK_SIZES = (16, 32, 64, 128)
PALETTE_GROUPS = (8, 16, 32)


@dataclass(frozen=True)
class CoreMLOptions:
    quant: Recipe = Recipe.FP16
    compute_units: ComputeUnits = ComputeUnits.AUTO
    prefill_chunk: int = DEFAULT_PREFILL_CHUNK
    max_context: int | None = None  # None: visual tokens + CONTEXT_HEADROOM, rounded up to 256
    block_size: int = 32  # int4-block
    palette_group: int = 16  # palettize4

    def resolved_context(self, config: ModelConfig) -> int:
        if self.max_context is not None:
            return self.max_context
        return default_context(config, MAX_CONTEXT)

    def validate(self, config: ModelConfig) -> None:
        """Every option against the model, with the valid values in the message."""
        context = self.resolved_context(config)
        check_context(config, context, MAX_CONTEXT)
        if not 1 <= self.prefill_chunk <= context:
            raise SfError(
                f"prefill chunk {self.prefill_chunk} does not fit a {context}-position KV cache",
                f"use --prefill-chunk between 1 and {context} (default {DEFAULT_PREFILL_CHUNK})",
            )
        if self.quant is Recipe.INT4_BLOCK:
            if self.block_size not in BLOCK_SIZES:
                raise SfError(f"block size {self.block_size} is not supported", f"use --block-size {' or '.join(map(str, BLOCK_SIZES))}")
            check_divides(config, self.block_size, BLOCK_SIZES, "int4 blocks of", "--block-size", "use --quant int4")
        if self.quant is Recipe.PALETTIZE4 and self.palette_group not in PALETTE_GROUPS:
            raise SfError(
                f"palette group {self.palette_group} is not supported", f"use --palette-group {' or '.join(map(str, PALETTE_GROUPS))}"
            )

    def to_dict(self, config: ModelConfig) -> dict:
        return {
            "llm": self.quant.value,
            "block_size": self.block_size if self.quant is Recipe.INT4_BLOCK else None,
            "palette_group": self.palette_group if self.quant is Recipe.PALETTIZE4 else None,
            "vision": "fp16",
            "embedding_table": "fp16",
            "compute": "fp16",
            "compute_units": self.compute_units.per_model(),
            "prefill_chunk": self.prefill_chunk,
            "max_context": self.resolved_context(config),
        }
