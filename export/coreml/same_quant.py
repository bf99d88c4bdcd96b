"""The "same quantization run eagerly" reference of a compressed export.

The compressed package's linear weights are decompressed (by the MIL evaluator's own constexpr
ops) and written into the torch model, which then runs eagerly in fp32. Comparing the package with
that run leaves only conversion and fp16 error; comparing it with the float model adds the
compression error, which is reported but not gated.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sf_mobile.errors import SfError
from sf_mobile.export.coreml.modules import CoreMLDecoderStep


def torch_linear_order(decoder: CoreMLDecoderStep) -> list[tuple[nn.Linear, tuple[int, int] | None]]:
    """Every linear the decoder applies, in call order: (module, None) for a whole layer, and
    (lm_head, (start, end)) for each vocabulary slice. Recorded by running one decode row."""
    order: list[tuple[nn.Linear, tuple[int, int] | None]] = []
    hooks = [
        module.register_forward_pre_hook(lambda module, _args: order.append((module, None)))
        for module in decoder.layers.modules()
        if isinstance(module, nn.Linear)
    ]
    try:
        with torch.no_grad():
            decoder(*decoder.example_inputs(1))
    finally:
        for hook in hooks:
            hook.remove()
        decoder.reset()
    order.extend((decoder.lm_head, bounds) for bounds in decoder.lm_head_split.bounds)
    return order


def apply_package_weights(decoder: CoreMLDecoderStep, package_weights: list[np.ndarray]) -> int:
    """Write the package's linear weights (program order) into the torch decoder; returns how many.

    The vocabulary projection gets a new parameter: with tied embeddings the table the app reads
    stays the float one, exactly as in the export."""
    order = torch_linear_order(decoder)
    if len(order) != len(package_weights):
        raise SfError(
            f"the package has {len(package_weights)} linear layers, the torch decoder {len(order)}",
            "this is an exporter bug: report it with the preset name",
        )
    head_rows = []
    with torch.no_grad():
        for (module, bounds), weight in zip(order, package_weights):
            expected = tuple(module.weight.shape) if bounds is None else (bounds[1] - bounds[0], module.in_features)
            if tuple(weight.shape) != expected:
                raise SfError(
                    f"package weight of shape {tuple(weight.shape)} where the torch decoder has {expected}",
                    "this is an exporter bug: report it with the preset name",
                )
            values = torch.from_numpy(np.asarray(weight, dtype=np.float32))
            if bounds is None:
                module.weight.copy_(values)
            else:
                head_rows.append(values)
        decoder.lm_head.weight = nn.Parameter(torch.cat(head_rows), requires_grad=False)
    return len(package_weights)


def package_linear_weights(program, function: str) -> list[np.ndarray]:
    """The weight of every `linear` op of `function`, in program order, as the device sees it
    (constexpr ops decompressed by the MIL evaluator)."""
    from sf_mobile.runtimes.mil import MilEvaluator

    evaluator = MilEvaluator(program, function=function)
    constants = evaluator.constant_values()
    return [constants[op.weight.name] for op in program.functions[function].operations if op.op_type == "linear"]
