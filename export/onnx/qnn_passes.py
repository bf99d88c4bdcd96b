"""Graph rewrites and quantizer overrides that a float graph needs before QDQ quantization for HTP.

Each one fixes a failure the CPU provider hides and the HTP simulator shows (shared/notes/qnn-htp.md);
tests/test_export_qnn.py has a graph per pass that goes wrong without it.
- `reciprocal_to_div`: HTP lowers `Reciprocal(x)` as `1.0 / x` with the 1.0 quantized at x's scale,
  which saturates; `Div(1, x)` gives the constant its own quantization.
- `layernorm_gamma_overrides`: per-channel symmetric int8 weights (our recipe for Gemm and Conv) make
  HTP reject LayerNormalization; its gamma stays per-tensor uint8 asymmetric.
The mask value (-100 for QDQ graphs) is an input, not a rewrite: see options.QNN_MASK_VALUE.
"""

from __future__ import annotations


def reciprocal_to_div(model) -> int:
    """Replace every `Reciprocal(x)` in `model` (in place) by `Div(one, x)`, `one` a float32 scalar
    initializer; returns how many were replaced. The graphs keep float32 where this applies
    (RMSNorm statistics), so the constant is float32."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    replaced = 0
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "Reciprocal" or node.domain not in ("", "ai.onnx"):
            continue
        one = f"{node.name or node.output[0]}_one"
        graph.initializer.append(numpy_helper.from_array(np.array(1.0, dtype=np.float32), one))
        div = helper.make_node("Div", [one, node.input[0]], list(node.output), name=(node.name or one) + "_div")
        graph.node.remove(node)
        graph.node.insert(index, div)
        replaced += 1
    return replaced


def layernorm_gamma_overrides(model) -> dict[str, list[dict]]:
    """`init_overrides` for `get_qnn_qdq_config`: each LayerNormalization gamma initializer per-tensor
    uint8 asymmetric, so a per-channel recipe leaves it alone. {} when the graph has no LayerNorm."""
    from onnxruntime.quantization import QuantType

    initializers = {t.name for t in model.graph.initializer}
    return {
        node.input[1]: [{"quant_type": QuantType.QUInt8, "symmetric": False}]
        for node in model.graph.node
        if node.op_type == "LayerNormalization" and node.input[1] in initializers
    }
