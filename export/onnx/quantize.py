"""Float ONNX graph + calibration feeds -> QDQ graph for the QNN execution provider (HTP).

The recipe: `qnn_preprocess_model`, the passes of `qnn_passes`, then ONNX Runtime's
`get_qnn_qdq_config` + `quantize` (static, MinMax). Activations uint16 (a16w8) or uint8 (a8w8),
weights int8 symmetric per output channel; LayerNorm gamma uint8 per tensor (HTP rejects it
per-channel). Per-channel int8 rather than the per-tensor uint8 of shared/notes/qnn-htp.md: on a
64x64 Gemm HTP took both, at rel L2 7e-5 per-channel against 1.0e-3 per-tensor (measured here).
Graph inputs and outputs stay float32: Q/DQ at the boundary run on HTP, and the app feeds the same
tensors as to the float graphs.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.export.onnx.options import Quant

ACTIVATION_BITS = {Quant.A16W8: 16, Quant.A8W8: 8}


def recipe(quant: Quant) -> dict:
    """What the manifest records of a QDQ precision."""
    bits = ACTIVATION_BITS[quant]
    return {
        "activations": f"uint{bits} asymmetric per tensor (MinMax calibration)",
        "weights": "int8 symmetric per output channel; LayerNorm gamma uint8 per tensor",
        "quantizer": "onnxruntime.quantization (get_qnn_qdq_config + quantize, QDQ format)",
    }


def quant_types(quant: Quant):
    """(activation_type, weight_type) for onnxruntime.quantization."""
    from onnxruntime.quantization import QuantType

    activation = {Quant.A16W8: QuantType.QUInt16, Quant.A8W8: QuantType.QUInt8}[quant]
    return activation, QuantType.QInt8


@contextlib.contextmanager
def _quiet_root_logger():
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


class FeedReader:
    """A `CalibrationDataReader` over a list of {input name: array} feeds (duck-typed: the quantizer
    only calls get_next)."""

    def __init__(self, feeds: list[dict]):
        self.feeds = iter(feeds)

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


@dataclass(frozen=True)
class QuantizedGraph:
    reciprocals_rewritten: int
    layernorm_overrides: int
    calibration_samples: int


def quantize_graph(float_path: Path, out_path: Path, quant: Quant, feeds: list[dict]) -> QuantizedGraph:
    """Write the QDQ form of the graph at `float_path` to `out_path` (weights in `out_path.name +
    '.data'` beside it), calibrated on `feeds`."""
    import onnx
    from onnxruntime.quantization import quantize
    from onnxruntime.quantization.execution_providers.qnn import get_qnn_qdq_config, qnn_preprocess_model

    from sf_mobile.export.onnx.qnn_passes import layernorm_gamma_overrides, reciprocal_to_div

    if not feeds:
        raise ValueError(f"no calibration feeds for {float_path.name}")
    activation, weight = quant_types(quant)
    with tempfile.TemporaryDirectory(prefix="sf-qdq-", dir=out_path.parent) as work:
        model = onnx.load(str(float_path))  # with its weights: the passes may add initializers
        rewritten = reciprocal_to_div(model)
        # qnn_preprocess_model (ORT 1.32) fails on any metadata_props (TypeError in its reload);
        # finish_graph sets the sf.* metadata on the quantized graph again.
        del model.metadata_props[:]
        prepared = Path(work) / "prepared.onnx"
        onnx.save(model, str(prepared), save_as_external_data=True, location="prepared.onnx.data")
        del model
        fused = Path(work) / "fused.onnx"  # Erf-GELU / ReduceL2 fusions, when the graph has them
        if qnn_preprocess_model(
            str(prepared), str(fused), save_as_external_data=True, all_tensors_to_one_file=True,
            external_data_location="fused.onnx.data",
        ):
            prepared = fused
        structure = onnx.load(str(prepared), load_external_data=False)
        overrides = layernorm_gamma_overrides(structure)
        config = get_qnn_qdq_config(
            str(prepared), FeedReader(feeds), activation_type=activation, weight_type=weight,
            per_channel=True, init_overrides=overrides or None,
        )
        config.use_external_data_format = True  # weights beside the graph, for finish_graph to pool
        with _quiet_root_logger():  # "consider pre-processing" per call: qnn_preprocess_model has run
            quantize(str(prepared), str(out_path), config)
    return QuantizedGraph(rewritten, len(overrides), len(feeds))
