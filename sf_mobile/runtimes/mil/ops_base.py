"""What every op implementation sees: its input values by parameter name (`Args`), and a registry maker.

An implementation takes `Args` and returns one numpy array (a tuple for ops with several outputs). Float
inputs arrive as float32 arrays (fp16 values widened exactly) so numpy computes in float32; the
evaluator rounds each output to the dtype its Var declares, so implementations never cast outputs.
Optional parameters a program leaves out are read with the default the MIL op definition gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class Args:
    """One op's input values (numpy arrays, lists of arrays, or str) by MIL parameter name.

    `out` is a float32 buffer the op may write its result into (the input `x`, when the evaluator
    knows nothing reads it afterwards), or None. Ops that can compute in place take it through
    `out_for(shape)`; the others ignore it. On a 1b vision tower at 128 frames one attention score
    tensor is 4.4 GB, so a copy per op is the difference between fitting in memory and not."""

    __slots__ = ("op", "_values", "out")

    def __init__(self, op: Any, values: dict[str, Any], out: np.ndarray | None = None):
        self.op = op  # the coremltools Operation, for its name and declared output types
        self._values = values
        self.out = out

    def out_for(self, shape: tuple[int, ...]) -> np.ndarray | None:
        """The reusable buffer when the result has exactly its shape (no broadcasting beyond x)."""
        return self.out if self.out is not None and self.out.shape == tuple(shape) else None

    def holds(self, array: Any) -> bool:
        """Whether `array` is one of the input values itself (an op that returned its input)."""
        return any(v is array or (isinstance(v, list) and any(e is array for e in v)) for v in self._values.values())

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self._values.get(name)
        return default if value is None else value

    def int(self, name: str, default: int | None = None) -> int:
        return int(self.get(name, default))

    def float(self, name: str, default: float | None = None) -> float:
        return float(self.get(name, default))

    def bool(self, name: str, default: bool = False) -> bool:
        return bool(self.get(name, default))

    def str(self, name: str, default: str | None = None) -> str:
        return str(self.get(name, default))

    def ints(self, name: str, default: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
        value = self.get(name, default)
        return None if value is None else tuple(int(v) for v in np.ravel(value))

    def bools(self, name: str, rank: int) -> tuple[bool, ...]:
        """A per-axis bool mask; all False when left out."""
        value = self.get(name)
        return (False,) * rank if value is None else tuple(bool(v) for v in np.ravel(value))


OpFn = Callable[[Args], Any]


def registry() -> tuple[dict[str, OpFn], Callable[..., Callable[[OpFn], OpFn]]]:
    """A fresh op table and the decorator that fills it: `@register("add", "sub")`."""
    table: dict[str, OpFn] = {}

    def register(*names: str) -> Callable[[OpFn], OpFn]:
        def add(fn: OpFn) -> OpFn:
            for name in names:
                table[name] = fn
            return fn

        return add

    return table, register


def axis_of(axis: int, rank: int) -> int:
    """A possibly negative axis as an index in [0, rank)."""
    return axis + rank if axis < 0 else axis


def wrap_indices(indices: np.ndarray, size: int) -> np.ndarray:
    """Negative indices count from the end (iOS17 gather/scatter semantics)."""
    indices = indices.astype(np.int64)
    return np.where(indices < 0, indices + size, indices)
