"""The one registry of MIL op implementations: op type -> function of `Args`.

The implementations live in ops_math (elementwise, activations, reductions), ops_nn (linear algebra,
conv, pooling, normalization, attention), ops_tensor (shapes, slicing, gather/scatter) and ops_const
(const, constexpr_* decompression, states). To support a new op, write it in the module of its kind
with `@register("op_type")`; the evaluator rejects a program that uses an op type missing here.
"""

from __future__ import annotations

from sf_mobile.runtimes.mil import ops_const, ops_math, ops_nn, ops_tensor
from sf_mobile.runtimes.mil.ops_base import Args, OpFn
from sf_mobile.runtimes.mil.ops_tensor import slice_update_into

OPS: dict[str, OpFn] = {**ops_math.OPS, **ops_nn.OPS, **ops_tensor.OPS, **ops_const.OPS}

SUPPORTED_OPS: frozenset[str] = frozenset(OPS)

# ops that may write their result into a dead input `x` offered as Args.out
IN_PLACE_OPS: frozenset[str] = ops_math.IN_PLACE_BINARY | ops_math.IN_PLACE_UNARY | {"softmax"}

__all__ = ["IN_PLACE_OPS", "OPS", "SUPPORTED_OPS", "Args", "OpFn", "slice_update_into"]
