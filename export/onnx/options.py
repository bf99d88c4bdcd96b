"""What an ONNX export can be asked for, validated before any work starts.

Two backends: `cpu` (float graphs for ONNX Runtime's CPU provider) and `qnn` (QDQ graphs for
Qualcomm's HTP NPU, plus offline-compiled context binaries for one Snapdragon SoC). Each backend
takes only its own precisions; a wrong pairing or SoC is refused with the valid values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sf_mobile.config import ModelConfig
from sf_mobile.errors import SfError
from sf_mobile.export.limits import check_context, default_context

OPSET = 21  # native Gelu and 16-bit Q/DQ: opset 18 decomposes tanh-GELU, which HTP gets wrong (shared/notes/qnn-htp.md)
# Rows per prefill call, as Core ML: a static-shape NPU graph takes one fixed chunk, and 1-3B decoders
# run 64-row matmuls well; not yet measured on HTP (the simulator gives no timings).
DEFAULT_PREFILL_CHUNK = 64
# What the app writes into masked attention_mask entries; recorded in the manifest and the graphs'
# metadata. The mask is an input, so QDQ graphs take a smaller one: at -1e4 the 8-bit range of the
# score Add spans 1e4 and every real score rounds to the same step (a8w8 collapses, measured in
# tests/test_export_qnn.py); -100 still gives masked columns weight exp(-100) ~ 4e-44, zero in fp32.
MASK_VALUE = -1e4
QNN_MASK_VALUE = -100.0


class Backend(str, enum.Enum):
    CPU = "cpu"  # float graphs for ONNX Runtime's CPU execution provider
    QNN = "qnn"  # QDQ graphs + per-SoC context binaries for the QNN execution provider (HTP)


class Quant(str, enum.Enum):
    FP32 = "fp32"  # fp32 weights, activations, I/O and KV cache; also the input the QNN quantizer starts from
    FP16 = "fp16"  # fp16 weights, activations, I/O and KV cache (RMSNorm statistics in fp32); half the bytes
    A16W8 = "a16w8"  # QNN: uint16 activations, int8 per-channel weights; fp32 I/O and KV cache
    A8W8 = "a8w8"  # QNN: uint8 activations, int8 per-channel weights; fp32 I/O and KV cache

    @property
    def needs_qnn(self) -> bool:
        return self in (Quant.A16W8, Quant.A8W8)

    @property
    def numpy_dtype(self) -> str:
        """The dtype of the graphs' float I/O (and of the float graphs a QDQ export starts from)."""
        return {Quant.FP16: "float16"}.get(self, "float32")


class SoC(str, enum.Enum):
    """Snapdragon SoCs whose HTP a context binary is compiled for. The QNN `soc_model` ids and HTP
    architectures were read back from context binaries (shared/notes/qnn-htp.md)."""

    SM8550 = "sm8550"  # Snapdragon 8 Gen 2
    SM8650 = "sm8650"  # Snapdragon 8 Gen 3
    SM8750 = "sm8750"  # Snapdragon 8 Elite
    SM8850 = "sm8850"  # Snapdragon 8 Elite Gen 5

    @property
    def soc_model(self) -> int:
        return {SoC.SM8550: 43, SoC.SM8650: 57, SoC.SM8750: 69, SoC.SM8850: 87}[self]

    @property
    def htp_arch(self) -> str:
        return {SoC.SM8550: "v73", SoC.SM8650: "v75", SoC.SM8750: "v79", SoC.SM8850: "v81"}[self]


DEFAULT_SOC = SoC.SM8650  # the most common flagship NPU in phones of 2024-2025
BACKEND_QUANTS = {
    Backend.CPU: (Quant.FP32, Quant.FP16),
    # fp16 on HTP needs enable_htp_fp16_precision and is not built: the NPU path is the QDQ one
    Backend.QNN: (Quant.A16W8, Quant.A8W8),
}


def default_quant(backend: Backend) -> Quant:
    return BACKEND_QUANTS[backend][0]


def check_backend_and_quant(backend: Backend, quant: Quant, soc: SoC | None = None) -> None:
    """Each backend takes its own precisions; --soc names the NPU, so it needs --backend qnn."""
    valid = BACKEND_QUANTS[backend]
    if quant not in valid:
        names = " or ".join(q.value for q in valid)
        other = next(b for b, quants in BACKEND_QUANTS.items() if quant in quants)
        raise SfError(
            f"--quant {quant.value} is not available with --backend {backend.value}",
            f"use --quant {names}, or --backend {other.value} for {quant.value}",
        )
    if soc is not None and backend is not Backend.QNN:
        raise SfError(f"--soc {soc.value} applies to --backend qnn only", "drop --soc, or add --backend qnn")


@dataclass(frozen=True)
class OnnxOptions:
    backend: Backend = Backend.CPU
    quant: Quant | None = None  # None: the backend's first precision (cpu: fp32, qnn: a16w8)
    prefill_chunk: int = DEFAULT_PREFILL_CHUNK
    max_context: int | None = None  # None: visual tokens + CONTEXT_HEADROOM, rounded up to 256
    soc: SoC | None = None  # qnn only; None: DEFAULT_SOC

    def __post_init__(self) -> None:
        check_backend_and_quant(self.backend, self.quant or default_quant(self.backend), self.soc)
        object.__setattr__(self, "quant", self.quant or default_quant(self.backend))
        if self.backend is Backend.QNN:
            object.__setattr__(self, "soc", self.soc or DEFAULT_SOC)

    @property
    def is_qnn(self) -> bool:
        return self.backend is Backend.QNN

    @property
    def mask_value(self) -> float:
        return QNN_MASK_VALUE if self.is_qnn else MASK_VALUE

    @property
    def float_quant(self) -> Quant:
        """The precision of the float graphs exported first (a QDQ export quantizes fp32 graphs)."""
        return Quant.FP32 if self.is_qnn else self.quant

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
        io = self.float_quant.value
        common = {
            "backend": self.backend.value,
            "llm": self.quant.value,
            "vision": self.quant.value,
            "embedding_table": io,
            "kv_cache": io,
            "float_io": io,  # embeds, mask, cache and outputs; frames stay uint8, ids and positions int64
            "rms_norm_statistics": "fp32" if not self.is_qnn else self.quant.value,
            "opset": OPSET,
            "prefill_chunk": self.prefill_chunk,
            "max_context": self.resolved_context(config),
            "mask_value": self.mask_value,
        }
        if self.is_qnn:
            from sf_mobile.export.onnx.quantize import recipe

            common.update(recipe(self.quant))
            common["soc"] = {"name": self.soc.value, "soc_model": self.soc.soc_model, "htp_arch": self.soc.htp_arch}
        return common
