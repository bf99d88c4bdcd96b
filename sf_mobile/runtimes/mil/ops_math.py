"""Elementwise, activation and reduction ops (MIL defs iOS15 elementwise_*, activation, reduction)."""

from __future__ import annotations

import math

import numpy as np

from sf_mobile.runtimes.mil.ops_base import Args, axis_of, registry

OPS, register = registry()

_BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "real_div": np.true_divide,
    "floor_div": np.floor_divide,
    "mod": np.mod,  # Python's sign rule (follows the divisor), as MIL's operator.mod
    "pow": np.power,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "equal": np.equal,
    "not_equal": np.not_equal,
    "greater": np.greater,
    "greater_equal": np.greater_equal,
    "less": np.less,
    "less_equal": np.less_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
}


# float arithmetic that may write into a dead `x` (Args.out): same ufunc, same float32 result
IN_PLACE_BINARY = frozenset({"add", "sub", "mul", "real_div", "maximum", "minimum"})


def _binary(ufunc, in_place: bool):
    if not in_place:
        return lambda a: ufunc(a["x"], a["y"])

    def run(a: Args):
        x, y = a["x"], a["y"]
        return ufunc(x, y, out=a.out_for(np.broadcast_shapes(np.shape(x), np.shape(y))))

    return run


for _name, _ufunc in _BINARY.items():
    register(_name)(_binary(_ufunc, _name in IN_PLACE_BINARY))


def erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26: absolute error below 1.5e-7, under the fp16 rounding that follows."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (np.tanh(0.5 * x) + 1.0)  # no overflow in exp for large |x|


_UNARY = {
    "abs": np.abs,
    "acos": np.arccos,
    "asin": np.arcsin,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "ceil": np.ceil,
    "cos": np.cos,
    "cosh": np.cosh,
    "erf": erf,
    "exp": np.exp,
    "exp2": np.exp2,
    "floor": np.floor,
    "logical_not": np.logical_not,
    "round": np.round,  # half to even, as MIL's value inference
    "sign": np.sign,
    "sin": np.sin,
    "sinh": np.sinh,
    "sqrt": np.sqrt,
    "square": np.square,
    "tan": np.tan,
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "silu": lambda x: x * sigmoid(x),
    "softplus": lambda x: np.logaddexp(x, 0),
    "softsign": lambda x: x / (1 + np.abs(x)),
    # the declared output dtype does the conversion (fp -> int truncates, as MIL's cast)
    "cast": lambda x: x,
    "identity": lambda x: x,
}


IN_PLACE_UNARY = frozenset({"exp", "tanh", "sqrt", "square", "abs"})  # numpy ufuncs taking out=


def _unary(fn, in_place: bool):
    if not in_place:
        return lambda a: fn(a["x"])
    return lambda a: fn(a["x"], out=a.out_for(np.shape(a["x"])))


for _name, _fn in _UNARY.items():
    register(_name)(_unary(_fn, _name in IN_PLACE_UNARY))


# default epsilons of the iOS15 defs, used when a program leaves them out
@register("rsqrt")
def _rsqrt(a: Args):
    return 1.0 / np.sqrt(a["x"] + a.float("epsilon", 1e-12))


@register("log")
def _log(a: Args):
    return np.log(a["x"] + a.float("epsilon", 1e-45))


@register("inverse")
def _inverse(a: Args):
    return 1.0 / (a["x"] + a.float("epsilon", 1e-4))


@register("clip")
def _clip(a: Args):
    return np.minimum(np.maximum(a["x"], a["alpha"]), a["beta"])


@register("threshold")
def _threshold(a: Args):
    return np.maximum(a["x"], a["alpha"])


@register("leaky_relu")
def _leaky_relu(a: Args):
    x = a["x"]
    return np.where(x >= 0, x, a.float("alpha", 0.01) * x)


@register("elu")
def _elu(a: Args):
    x = a["x"]
    return np.where(x > 0, x, a.float("alpha", 1.0) * np.expm1(np.minimum(x, 0)))


@register("clamped_relu")
def _clamped_relu(a: Args):
    x = a["x"]
    return np.minimum(np.where(x >= 0, x, a["alpha"] * x), a["beta"])


@register("thresholded_relu")
def _thresholded_relu(a: Args):
    x = a["x"]
    return np.where(x > a["alpha"], x, 0)


@register("sigmoid_hard")
def _sigmoid_hard(a: Args):
    return np.clip(a["alpha"] * a["x"] + a["beta"], 0, 1)


@register("scaled_tanh")
def _scaled_tanh(a: Args):
    return a["alpha"] * np.tanh(a["beta"] * a["x"])


@register("prelu")
def _prelu(a: Args):
    x = a["x"]  # [B, C, ...]; alpha [C]
    alpha = a["alpha"].reshape((1, -1) + (1,) * (x.ndim - 2))
    return np.where(x >= 0, x, alpha * x)


_GELU = {
    "EXACT": lambda x: 0.5 * x * (1.0 + erf(x * (1.0 / math.sqrt(2.0)))),
    "TANH_APPROXIMATION": lambda x: 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3))),
    "SIGMOID_APPROXIMATION": lambda x: x * sigmoid(1.702 * x),
}


@register("gelu")
def _gelu(a: Args):
    return _GELU[a.str("mode", "EXACT")](a["x"])


@register("softmax")
def _softmax(a: Args):
    return softmax(a["x"], a.int("axis", -1), out=a.out_for(np.shape(a["x"])))


def softmax(x: np.ndarray, axis: int, out: np.ndarray | None = None) -> np.ndarray:
    """One buffer of x's size (`out`, which may be x itself, or a new one) instead of three."""
    peak = np.max(x, axis=axis, keepdims=True)
    e = np.subtract(x, peak, out=out)
    np.exp(e, out=e)
    e /= np.sum(e, axis=axis, keepdims=True)
    return e


# --- reductions: x, axes (all when left out), keep_dims ---------------------------------------

_REDUCE = {
    "reduce_sum": np.sum,
    "reduce_mean": np.mean,
    "reduce_max": np.max,
    "reduce_min": np.min,
    "reduce_prod": np.prod,
    "reduce_sum_square": lambda x, axis, keepdims: np.sum(x * x, axis=axis, keepdims=keepdims),
    "reduce_l1_norm": lambda x, axis, keepdims: np.sum(np.abs(x), axis=axis, keepdims=keepdims),
    "reduce_l2_norm": lambda x, axis, keepdims: np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)),
    "reduce_log_sum": lambda x, axis, keepdims: np.log(np.sum(x, axis=axis, keepdims=keepdims)),
    "reduce_log_sum_exp": lambda x, axis, keepdims: _log_sum_exp(x, axis, keepdims),
}


def _log_sum_exp(x, axis, keepdims):
    peak = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis)


def _reduce(fn):
    def run(a: Args):
        axes = a.ints("axes")
        return fn(a["x"], axis=axes, keepdims=a.bool("keep_dims"))

    return run


for _name, _fn in _REDUCE.items():
    register(_name)(_reduce(_fn))


@register("reduce_argmax", "reduce_argmin")
def _reduce_arg(a: Args):
    x = a["x"]
    axis = axis_of(a.int("axis", -1), x.ndim)
    pick = np.argmax if a.op.op_type == "reduce_argmax" else np.argmin
    return pick(x, axis=axis, keepdims=a.bool("keep_dims"))


@register("cumsum")
def _cumsum(a: Args):
    x = a["x"]
    axis = a.int("axis", 0)
    if a.bool("reverse"):
        x = np.flip(x, axis)
    out = np.cumsum(x, axis=axis)
    if a.bool("exclusive"):  # shift by one along axis; subtracting x would round floats
        out = np.roll(out, 1, axis=axis)
        first = [slice(None)] * out.ndim
        first[axis] = 0
        out[tuple(first)] = 0
    return np.flip(out, axis) if a.bool("reverse") else out
