"""What an ONNX export can be asked for, validated before any work starts.

The backend and precision choices name the QNN half (issue 5) so that its flags are reserved and
rejected with one clear line until it exists, instead of being "unknown".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sf_mobile.config import ModelConfig
from sf_mobile.errors import SfError
from sf_mobile.export.limits import check_context, default_context

OPSET = 21  # native Gelu and 16-bit Q/DQ: opset 18 decomposes tanh-GELU, which HTP gets wrong (shared/notes/qnn-htp.md)
# Rows per prefill call, as Core ML: a static-shape NPU graph takes one fixed chunk, and 1-3B decoders
# run 64-row matmuls well; not yet measured on HTP (the QNN half should).
DEFAULT_PREFILL_CHUNK = 64
# What the app writes into masked attention_mask entries of the float graphs; recorded in the manifest and
# the graphs' metadata. The mask is an input, so 8-bit QDQ graphs can use -100 (-1e4 collapses them).
MASK_VALUE = -1e4
QNN_NOT_BUILT = "the QNN/HTP path (QDQ a16w8/a8w8 graphs for Qualcomm NPUs) is not built yet"


class Backend(str, enum.Enum):
    CPU = "cpu"  # float graphs for ONNX Runtime's CPU execution provider
    QNN = "qnn"  # QDQ graphs for the QNN execution provider (HTP): not built yet


class Quant(str, enum.Enum):
    FP32 = "fp32"  # fp32 weights, activations, I/O and KV cache; also the input the QNN quantizer starts from
    FP16 = "fp16"  # fp16 weights, activations, I/O and KV cache (RMSNorm statistics in fp32); half the bytes
    A16W8 = "a16w8"  # QNN: 16-bit activations, 8-bit weights (not built yet)
    A8W8 = "a8w8"  # QNN: 8-bit activations, 8-bit weights (not built yet)

    @property
    def needs_qnn(self) -> bool:
        return self in (Quant.A16W8, Quant.A8W8)

    @property
    def numpy_dtype(self) -> str:
        return {Quant.FP32: "float32", Quant.FP16: "float16"}[self]


def check_backend_and_quant(backend: Backend, quant: Quant) -> None:
    """The QNN choices exist as names only: refuse them before any work, naming what is valid."""
    if backend is Backend.QNN:
        raise SfError(f"--backend qnn: {QNN_NOT_BUILT}", f"use --backend cpu (valid values: {', '.join(b.value for b in Backend)})")
    if quant.needs_qnn:
        valid = ", ".join(q.value for q in Quant if not q.needs_qnn)
        raise SfError(f"--quant {quant.value}: {QNN_NOT_BUILT}", f"use --quant {valid.replace(', ', ' or ')} with --backend cpu")


@dataclass(frozen=True)
class OnnxOptions:
    backend: Backend = Backend.CPU
    quant: Quant = Quant.FP32
    prefill_chunk: int = DEFAULT_PREFILL_CHUNK
    max_context: int | None = None  # None: visual tokens + CONTEXT_HEADROOM, rounded up to 256

    def __post_init__(self) -> None:
        check_backend_and_quant(self.backend, self.quant)

    @property
    def precision(self) -> str:
        """The parity precision (sf_mobile.parity.tolerances): fp32 and fp16 reuse the existing entries."""
        return self.quant.value

    def resolved_context(self, config: ModelConfig) -> int:
        return self.max_context if self.max_context is not None else default_context(config)

    def validate(self, config: ModelConfig) -> None:
        """Every option against the model, with the valid values in the message."""
        context = self.resolved_context(config)
        check_context(config, context)
        if not 1 <= self.prefill_chunk <= context:
            raise SfError(
                f"prefill chunk {self.prefill_chunk} does not fit a {context}-position KV cache",
                f"use --prefill-chunk between 1 and {context} (default {DEFAULT_PREFILL_CHUNK})",
            )

    def to_dict(self, config: ModelConfig) -> dict:
        return {
            "backend": self.backend.value,
            "llm": self.quant.value,
            "vision": self.quant.value,
            "embedding_table": self.quant.value,
            "kv_cache": self.quant.value,
            "float_io": self.quant.value,  # embeds, mask, cache and outputs; frames stay uint8, ids and positions int64
            "rms_norm_statistics": "fp32",
            "opset": OPSET,
            "prefill_chunk": self.prefill_chunk,
            "max_context": self.resolved_context(config),
            "mask_value": MASK_VALUE,
        }
