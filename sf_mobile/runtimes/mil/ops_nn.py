"""Linear algebra, convolution, pooling, normalization and attention ops (MIL defs linear, conv, pool,
normalization, iOS18 transformers)."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from sf_mobile.runtimes.mil.ops_base import Args, axis_of, registry
from sf_mobile.runtimes.mil.ops_math import softmax

OPS, register = registry()


@register("linear")
def _linear(a: Args):
    out = np.matmul(a["x"], a["weight"].T)  # x [..., D_in] @ weight [D_out, D_in].T
    bias = a.get("bias")
    if bias is not None:
        out += bias  # out is new: no second activation-sized array
    return out


@register("matmul")
def _matmul(a: Args):
    x, y = a["x"], a["y"]
    if a.bool("transpose_x") and x.ndim > 1:
        x = np.swapaxes(x, -1, -2)
    if a.bool("transpose_y") and y.ndim > 1:
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)


@register("einsum")
def _einsum(a: Args):
    return np.einsum(a.str("equation"), *a["values"])


# --- convolution and pooling: x [N, C, *D], 1 to 3 spatial dims ------------------------------------


def _pads(a: Args, sizes, kernel, strides, dilations) -> list[tuple[int, int]]:
    """(before, after) padding per spatial dim for pad_type valid / custom / same / same_lower."""
    kind = a.str("pad_type", "valid").lower()
    if kind == "valid":
        return [(0, 0)] * len(kernel)
    if kind == "custom":
        pad = a.ints("pad", (0,) * 2 * len(kernel))
        return list(zip(pad[0::2], pad[1::2]))
    if kind not in ("same", "same_lower"):
        raise ValueError(f"unknown pad_type {kind!r}")
    pads = []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        total = max(0, (math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size)  # makes D_out = ceil(D_in / s)
        small, large = total // 2, total - total // 2
        pads.append((large, small) if kind == "same_lower" else (small, large))  # same_lower: extra one first
    return pads


def _windows(x: np.ndarray, kernel, strides, dilations) -> np.ndarray:
    """Padded [N, C, *D] -> a view [N, C, *D_out, *K] of every (strided, dilated) window."""
    nd = len(kernel)
    span = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    view = sliding_window_view(x, span, axis=tuple(range(2, 2 + nd)))
    step = tuple(slice(None, None, s) for s in strides) + tuple(slice(None, None, d) for d in dilations)
    return view[(slice(None), slice(None)) + step]


def _pad_spatial(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    return np.pad(x, [(0, 0), (0, 0), *pads], constant_values=value)


@register("conv")
def _conv(a: Args):
    x, w = a["x"], a["weight"]  # [N, C_in, *D], [C_out, C_in / groups, *K]
    nd = x.ndim - 2
    kernel = w.shape[2:]
    strides, dilations = a.ints("strides", (1,) * nd), a.ints("dilations", (1,) * nd)
    groups = a.int("groups", 1)
    win = _windows(_pad_spatial(x, _pads(a, x.shape[2:], kernel, strides, dilations)), kernel, strides, dilations)
    n, out_sizes = x.shape[0], win.shape[2 : 2 + nd]
    # im2col, one copy: [N, *D_out, C_in, *K] -> [N, G, P, C_in/G * prod(K)]
    cols = np.moveaxis(win, 1, 1 + nd).reshape(n, -1, groups, w[0].size).transpose(0, 2, 1, 3)
    c_out = w.shape[0]
    kernels = w.reshape(groups, c_out // groups, -1).transpose(0, 2, 1)  # [G, C_in/G * prod(K), C_out/G]
    out = np.matmul(cols, kernels).transpose(0, 1, 3, 2).reshape(n, c_out, *out_sizes)  # [N, C_out, *D_out]
    bias = a.get("bias")
    return out if bias is None else out + bias.reshape((-1,) + (1,) * nd)


def _pool_geometry(a: Args, x: np.ndarray):
    """kernel, strides, explicit (before, after) pads, and the trailing cells ceil_mode adds (which
    no average counts)."""
    nd = x.ndim - 2
    kernel, strides = a.ints("kernel_sizes"), a.ints("strides", (1,) * nd)
    pads = _pads(a, x.shape[2:], kernel, strides, (1,) * nd)
    extra = [0] * nd
    if a.bool("ceil_mode"):
        for i, (size, k, s, (lo, hi)) in enumerate(zip(x.shape[2:], kernel, strides, pads)):
            out = (size + lo + hi - k + s - 1) // s + 1
            if (out - 1) * s >= size + lo and lo + hi > 0:  # the last window would start in the padding
                out -= 1
            extra[i] = max(0, (out - 1) * s + k - (size + lo + hi))
    return kernel, strides, pads, extra


def _pool_windows(x: np.ndarray, kernel, strides, pads, extra, value: float) -> np.ndarray:
    """[N, C, *D_out, *K] windows of x padded with `value`."""
    full = [(lo, hi + e) for (lo, hi), e in zip(pads, extra)]
    return _windows(_pad_spatial(x, full, value), kernel, strides, (1,) * len(kernel))


def _kernel_axes(kernel) -> tuple[int, ...]:
    return tuple(range(-len(kernel), 0))


@register("max_pool")
def _max_pool(a: Args):
    x = a["x"]
    geometry = _pool_geometry(a, x)
    return _pool_windows(x, *geometry, -np.inf).max(axis=_kernel_axes(geometry[0]))


@register("l2_pool")
def _l2_pool(a: Args):
    x = a["x"]
    geometry = _pool_geometry(a, x)
    return np.sqrt(_pool_windows(np.square(x), *geometry, 0.0).sum(axis=_kernel_axes(geometry[0])))


@register("avg_pool")
def _avg_pool(a: Args):
    x = a["x"]
    kernel, strides, pads, extra = _pool_geometry(a, x)
    axes = _kernel_axes(kernel)
    total = _pool_windows(x, kernel, strides, pads, extra, 0.0).sum(axis=axes)
    # the cells each window averages over: the input only, or the input and its explicit pads
    ones = np.ones((1, 1, *x.shape[2:]), np.float32)
    if a.bool("exclude_padding_from_average"):
        counted = ones
    else:
        counted = _pad_spatial(ones, pads, 1.0)
        pads = [(0, 0)] * len(kernel)
    count = _pool_windows(counted, kernel, strides, pads, extra, 0.0).sum(axis=axes)
    return total / count


# --- normalization ---------------------------------------------------------------------------------


def _normalize(x: np.ndarray, axes: tuple[int, ...], epsilon: float) -> np.ndarray:
    centered = x - x.mean(axis=axes, keepdims=True)
    return centered / np.sqrt(np.mean(centered * centered, axis=axes, keepdims=True) + epsilon)


def _per_channel(v: np.ndarray, rank: int) -> np.ndarray:
    """[C] -> broadcastable against [N, C, *D]."""
    return v.reshape((1, -1) + (1,) * (rank - 2))


@register("layer_norm")
def _layer_norm(a: Args):
    x = a["x"]
    axes = tuple(axis_of(ax, x.ndim) for ax in a.ints("axes", tuple(range(x.ndim))))
    out = _normalize(x, axes, a.float("epsilon", 1e-5))
    # gamma and beta have shape x.shape[axes], in the order of `axes`
    order = np.argsort(axes)
    shape = [x.shape[i] if i in axes else 1 for i in range(x.ndim)]
    for name, combine in (("gamma", np.multiply), ("beta", np.add)):
        v = a.get(name)
        if v is not None:
            out = combine(out, np.transpose(v, order).reshape(shape))
    return out


@register("instance_norm")
def _instance_norm(a: Args):
    x = a["x"]  # [N, C, *D], normalized over D
    out = _normalize(x, tuple(range(2, x.ndim)), a.float("epsilon", 1e-5))
    gamma, beta = a.get("gamma"), a.get("beta")
    out = out if gamma is None else out * _per_channel(gamma, x.ndim)
    return out if beta is None else out + _per_channel(beta, x.ndim)


@register("batch_norm")
def _batch_norm(a: Args):
    x = a["x"]  # [N, C, *D]; mean, variance, gamma, beta [C]
    scale = 1.0 / np.sqrt(a["variance"] + a.float("epsilon", 1e-5))
    gamma, beta = a.get("gamma"), a.get("beta")
    if gamma is not None:
        scale = scale * gamma
    shift = -a["mean"] * scale
    if beta is not None:
        shift = shift + beta
    return x * _per_channel(scale, x.ndim) + _per_channel(shift, x.ndim)


@register("scaled_dot_product_attention")
def _sdpa(a: Args):
    q, k, v = a["query"], a["key"], a["value"]  # [B, *, L, E], [B, *, S, E], [B, *, S, EV]
    scores = np.matmul(q, np.swapaxes(k, -1, -2))  # [B, *, L, S], a new array: scaled in place
    scores *= 1.0 / math.sqrt(q.shape[-1])
    mask = a.get("attn_mask")
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == np.bool_ else scores + mask
    return np.matmul(softmax(scores, -1, out=scores), v)
