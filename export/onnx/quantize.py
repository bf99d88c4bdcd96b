"""Float ONNX graph + calibration feeds -> QDQ graph for the QNN execution provider (HTP).

The recipe: the passes of `qnn_passes`, `qnn_preprocess_model` where it can change the graph, then
ONNX Runtime's MinMax calibration and `get_qnn_qdq_config` + `quantize_static` (QDQ), arranged so
that a 1b decoder's weights are held once (see quantize_graph). Activations uint16 (a16w8) or uint8 (a8w8),
weights int8 symmetric per output channel; LayerNorm gamma uint8 per tensor (HTP rejects it
per-channel). Per-channel int8 rather than the per-tensor uint8 of shared/notes/qnn-htp.md: on a
64x64 Gemm HTP took both, at rel L2 7e-5 per-channel against 1.0e-3 per-tensor (measured here).
Graph inputs and outputs stay float32: Q/DQ at the boundary run on HTP, and the app feeds the same
tensors as to the float graphs.
"""

from __future__ import annotations

import contextlib
import logging
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
    """A `CalibrationDataReader` over feeds (duck-typed: the calibrator only calls get_next)."""

    def __init__(self, feeds):
        self.feeds = iter(feeds)

    def get_next(self) -> dict | None:
        return next(self.feeds, None)


@dataclass(frozen=True)
class QuantizedGraph:
    reciprocals_rewritten: int
    layernorm_overrides: int
    calibration_samples: int
    preprocessed: str  # what qnn_preprocess_model did, or why it was not needed


# What qnn_preprocess_model (ORT 1.32) can change: Erf-GELU -> Gelu, ReduceL2 -> LpNormalization,
# 6-D Reshape/Transpose -> SpaceToDepth, names for unnamed nodes. It needs the weights in memory
# (three copies at once: 18 GB for the 1b decoder), so it runs only where one of these is present.
PREPROCESS_OPS = ("Erf", "ReduceL2")


def preprocess_reasons(structure) -> list[str]:
    """Why `structure` (a graph without its weights) needs qnn_preprocess_model; [] when it cannot change it."""
    ops = {node.op_type for node in structure.graph.node}
    reasons = [f"{op} to fuse" for op in PREPROCESS_OPS if op in ops]
    if any(n.op_type == "Transpose" and any(len(a.ints) == 6 for a in n.attribute if a.name == "perm") for n in structure.graph.node):
        reasons.append("a 6-D Transpose (SpaceToDepth pattern)")
    if any(not node.name and node.op_type != "Constant" for node in structure.graph.node):
        reasons.append("unnamed nodes")
    return reasons


def quantize_graph(float_path: Path, out_path: Path, quant: Quant, feeds) -> QuantizedGraph:
    """Write the QDQ form of the graph at `float_path` to `out_path` (weights in `out_path.name +
    '.data'` beside it), calibrated on `feeds` (a list or a calibration.FeedStore).

    Memory: the graph's weights are read once, by the quantizer. The passes edit the graph without
    its weights (the prepared graph sits beside the float one and points into its data file), and the
    ranges come from `calibrate_ranges`, which runs the graph memory-mapped: ONNX Runtime's own
    calibrator would hold two more copies (18 GB for the 1b decoder, which OOM-killed a 24 GB run)."""
    import onnx
    from onnxruntime.quantization import quantize_static
    from onnxruntime.quantization.execution_providers.qnn import get_qnn_qdq_config, qnn_preprocess_model

    from sf_mobile.export.onnx.qnn_passes import layernorm_gamma_overrides, reciprocal_to_div

    if not len(feeds):
        raise ValueError(f"no calibration feeds for {float_path.name}")
    activation, weight = quant_types(quant)
    folder = float_path.parent
    prepared = folder / f"prepared-{float_path.name}"  # beside the float graph: its data references resolve
    cache = folder / f"ranges-{float_path.stem}.json"
    try:
        structure = onnx.load(str(float_path), load_external_data=False)
        rewritten = reciprocal_to_div(structure)
        # qnn_preprocess_model (ORT 1.32) fails on any metadata_props (TypeError in its reload);
        # finish_graph sets the sf.* metadata on the quantized graph again.
        del structure.metadata_props[:]
        reasons = preprocess_reasons(structure)
        onnx.save(structure, str(prepared))
        preprocessed = "not needed (nothing it fuses or names)"
        if reasons:
            with_weights = onnx.load(str(prepared))
            fused = folder / f"fused-{float_path.name}"
            if qnn_preprocess_model(
                with_weights, str(fused), save_as_external_data=True, all_tensors_to_one_file=True,
                external_data_location=f"fused-{float_path.name}.data",
            ):
                prepared.unlink()
                prepared = fused
            del with_weights
            preprocessed = "ran: " + ", ".join(reasons)
        structure = onnx.load(str(prepared), load_external_data=False)
        overrides = layernorm_gamma_overrides(structure)
        del structure
        calibrate_ranges(prepared, feeds, cache)
        config = get_qnn_qdq_config(
            str(prepared), None, activation_type=activation, weight_type=weight,
            per_channel=True, init_overrides=overrides or None,
        )
        with _quiet_root_logger():  # "consider pre-processing" per call: see preprocess_reasons
            quantize_static(
                str(prepared), str(out_path), None, calibration_cache_path=str(cache),
                calibrate_method=config.calibrate_method, quant_format=config.quant_format,
                activation_type=config.activation_type, weight_type=config.weight_type,
                op_types_to_quantize=config.op_types_to_quantize, nodes_to_quantize=config.nodes_to_quantize,
                nodes_to_exclude=config.nodes_to_exclude, per_channel=config.per_channel,
                reduce_range=config.reduce_range, extra_options=config.extra_options,
                use_external_data_format=True,  # weights beside the graph, for finish_graph to pool
            )
    finally:
        for leftover in folder.glob(f"*-{float_path.stem}*"):
            if leftover.name.startswith(("prepared-", "fused-", "ranges-")):
                leftover.unlink()
    return QuantizedGraph(rewritten, len(overrides), len(feeds), preprocessed)


def calibrate_ranges(graph: Path, feeds, cache: Path) -> None:
    """MinMax ranges of every tensor the quantizer needs, by ONNX Runtime's own MinMaxCalibrater
    (its tensor selection, ReduceMin/ReduceMax outputs and merging), fed the graph without its
    weights: the augmented graph is written beside `graph` and run with the weights memory-mapped
    from their (64 KiB-aligned) data file. Ranges go to `cache` in ONNX Runtime's calibration-cache
    format, which quantize_static reads instead of calibrating again."""
    from onnxruntime.quantization.calibrate import save_tensors_data

    calibrator = structure_only_calibrator(graph)
    try:
        calibrator.augment_graph()
        calibrator.create_inference_session()
        calibrator.collect_data(FeedReader(feeds))
        save_tensors_data(calibrator.compute_data(), cache)
    finally:
        calibrator.infer_session = None
        Path(calibrator.augmented_model_path).unlink(missing_ok=True)


def structure_only_calibrator(graph: Path):
    """A MinMaxCalibrater over `graph` whose model is loaded without external data: CalibraterBase's
    __init__ loads every weight, and only the structure and the inferred shapes are needed to pick
    and augment the tensors (onnxruntime is imported lazily, so the subclass is made here)."""
    import onnx
    from onnxruntime.quantization.calibrate import MinMaxCalibrater

    class StructureOnlyMinMax(MinMaxCalibrater):
        def __init__(self, model, augmented_path: Path):
            self.model = model
            # what CalibraterBase.__init__ and MinMaxCalibrater.__init__ set, at their defaults
            self.op_types_to_calibrate = None
            self.augmented_model_path = str(augmented_path)
            self.symmetric = False
            self.use_external_data_format = False  # the graph file holds structure only; weights stay referenced
            self.per_channel = False
            self.augment_model = None
            self.infer_session = None
            self.execution_providers = ["CPUExecutionProvider"]
            self.intermediate_outputs = []
            self.calibrate_tensors_range = None
            self.num_model_outputs = len(model.graph.output)
            self.model_original_outputs = {output.name for output in model.graph.output}
            self.moving_average = False
            self.averaging_constant = 0.01
            self.max_intermediate_outputs = None

        def create_inference_session(self):
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL  # as the base class
            # The CPU provider otherwise repacks every MatMul weight: a second copy of the model's
            # weights (measured: a 1b prefill graph's calibration peaked at 15.0 GB anonymous memory).
            options.add_session_config_entry("session.disable_prepacking", "1")
            # ONNX Runtime's default order runs the added ReduceMin/ReduceMax nodes late, keeping every
            # intermediate alive: the 1b 8-frame vision graph went past 24 GB (OOM-killed twice) and
            # runs in 0.8 GB peak with the priority-based order (measured).
            options.execution_order = onnxruntime.ExecutionOrder.PRIORITY_BASED
            self.infer_session = onnxruntime.InferenceSession(
                self.augmented_model_path, sess_options=options, providers=self.execution_providers
            )

    inferred = graph.with_name(f"ranges-inferred-{graph.name}")
    onnx.shape_inference.infer_shapes_path(str(graph), str(inferred))  # shapes from the dims: no weight is read
    model = onnx.load(str(inferred), load_external_data=False)
    inferred.unlink()
    return StructureOnlyMinMax(model, graph.with_name(f"ranges-augmented-{graph.name}"))
