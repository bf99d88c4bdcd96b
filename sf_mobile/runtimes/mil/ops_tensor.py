"""Shape, slicing, indexing and tensor-building ops (MIL defs tensor_transformation, tensor_operation,
scatter_gather, iOS18 slice_update)."""

from __future__ import annotations

import numpy as np

from sf_mobile.runtimes.mil.ops_base import Args, axis_of, registry, wrap_indices

OPS, register = registry()


@register("reshape")
def _reshape(a: Args):
    x, shape = a["x"], list(a.ints("shape"))
    # iOS17: each 0 copies the input dim it lines up with counting from the right (1 when none)
    for i, dim in enumerate(shape):
        if dim == 0:
            j = x.ndim - (len(shape) - i)
            shape[i] = x.shape[j] if j >= 0 else 1
    return x.reshape(shape)


@register("transpose")
def _transpose(a: Args):
    return np.transpose(a["x"], a.ints("perm"))


@register("expand_dims")
def _expand_dims(a: Args):
    return np.expand_dims(a["x"], a.ints("axes"))  # negative axes count in the output rank, as MIL


@register("squeeze")
def _squeeze(a: Args):
    return np.squeeze(a["x"], a.ints("axes"))


@register("reverse")
def _reverse(a: Args):
    return np.flip(a["x"], a.ints("axes"))


@register("concat")
def _concat(a: Args):
    values, axis = a["values"], a.int("axis")
    if not a.bool("interleave"):
        return np.concatenate(values, axis=axis)
    axis = axis_of(axis, values[0].ndim)
    stacked = np.stack(values, axis=axis + 1)  # [..., D, n, ...]: element i of each input, in turn
    return stacked.reshape(*values[0].shape[:axis], -1, *values[0].shape[axis + 1 :])


@register("stack")
def _stack(a: Args):
    return np.stack(a["values"], axis=a.int("axis"))


@register("split")
def _split(a: Args):
    x = a["x"]
    axis = axis_of(a.int("axis"), x.ndim)
    sizes = a.ints("split_sizes") or (x.shape[axis] // a.int("num_splits"),) * a.int("num_splits")
    return tuple(np.split(x, np.cumsum(sizes)[:-1], axis=axis))


@register("tile")
def _tile(a: Args):
    return np.tile(a["x"], a.ints("reps"))


@register("pad")
def _pad(a: Args):
    x, pad = a["x"], a.ints("pad")  # pad: (before, after) for each of the last len(pad) / 2 dims
    widths = [(0, 0)] * (x.ndim - len(pad) // 2) + list(zip(pad[0::2], pad[1::2]))
    mode = a.str("mode", "constant")
    if mode == "constant":
        return np.pad(x, widths, constant_values=a.float("constant_val", 0.0))
    return np.pad(x, widths, mode={"reflect": "reflect", "replicate": "edge"}[mode])


def _slices(a: Args, rank: int) -> tuple:
    """slice_by_index / slice_update's begin, end, stride and masks as a numpy index."""
    begin, end = a.ints("begin"), a.ints("end")
    stride = a.ints("stride", (1,) * rank)
    begin_mask, end_mask, squeeze_mask = (a.bools(m, rank) for m in ("begin_mask", "end_mask", "squeeze_mask"))
    index = []
    for i in range(rank):
        if squeeze_mask[i]:
            index.append(begin[i])  # a plain index drops the axis
        else:
            index.append(slice(None if begin_mask[i] else begin[i], None if end_mask[i] else end[i], stride[i]))
    return tuple(index)


@register("slice_by_index")
def _slice_by_index(a: Args):
    x = a["x"]
    return x[_slices(a, x.ndim)]


@register("slice_update")
def _slice_update(a: Args):
    return slice_update_into(a, np.array(a["x"]))  # a copy: x stays intact for its other readers


def slice_update_into(a: Args, out: np.ndarray) -> np.ndarray:
    """Write `update` into `out` (x or a copy of it) at slice_update's region; returns `out`."""
    out[_slices(a, out.ndim)] = a["update"]
    return out


@register("slice_by_size")
def _slice_by_size(a: Args):
    x = a["x"]
    index = tuple(slice(b, None if s == -1 else b + s) for b, s in zip(a.ints("begin"), a.ints("size")))
    return x[index]


@register("shape")
def _shape(a: Args):
    return np.array(a["x"].shape, np.int32)


@register("range_1d")
def _range_1d(a: Args):
    return np.arange(a["start"], a["end"], a["step"])


@register("fill")
def _fill(a: Args):
    return np.full(a.ints("shape"), a.get("value", 0.0))


@register("fill_like")
def _fill_like(a: Args):
    return np.full(a["ref_tensor"].shape, a.get("value", 0.0))


@register("select")
def _select(a: Args):
    return np.where(a["cond"], a["a"], a["b"])


@register("band_part")
def _band_part(a: Args):
    x = a["x"]  # keeps the band of the last two dims; a negative bound keeps that whole triangle
    lower, upper = a.int("lower", -1), a.int("upper", -1)
    rows, cols = np.indices(x.shape[-2:])
    keep = ((lower < 0) | (rows - cols <= lower)) & ((upper < 0) | (cols - rows <= upper))
    return np.where(keep, x, 0)


@register("one_hot")
def _one_hot(a: Args):
    indices, size = a["indices"], a.int("one_hot_vector_size")
    hot = np.expand_dims(indices, -1) == np.arange(size)  # [*I, size]
    out = np.where(hot, a.get("on_value", 1), a.get("off_value", 0))
    return np.moveaxis(out, -1, a.int("axis", -1))


# --- gather / scatter --------------------------------------------------------------------------------


def _per_batch(fn, batch_dims: int, *arrays):
    """Apply fn to matching slices of the leading `batch_dims` dims of every array, restacked."""
    if batch_dims == 0:
        return fn(*arrays)
    batch = arrays[0].shape[:batch_dims]
    flat = [v.reshape(-1, *v.shape[batch_dims:]) for v in arrays]
    out = np.stack([fn(*parts) for parts in zip(*flat)])
    return out.reshape(*batch, *out.shape[1:])


@register("gather")
def _gather(a: Args):
    x, indices = a["x"], a["indices"]
    axis = axis_of(a.int("axis", 0), x.ndim)
    batch_dims = axis_of(a.int("batch_dims", 0), indices.ndim)
    indices = wrap_indices(indices, x.shape[axis])
    return _per_batch(lambda xs, ids: np.take(xs, ids, axis=axis - batch_dims), batch_dims, x, indices)


@register("gather_along_axis")
def _gather_along_axis(a: Args):
    x = a["x"]
    axis = axis_of(a.int("axis", 0), x.ndim)
    return np.take_along_axis(x, wrap_indices(a["indices"], x.shape[axis]), axis=axis)


@register("gather_nd")
def _gather_nd(a: Args):
    x, indices = a["x"], a["indices"]  # indices [*B, *I, K] address the K dims after the batch dims
    batch_dims = a.int("batch_dims", 0)
    depth = indices.shape[-1]
    dims = np.array(x.shape[batch_dims : batch_dims + depth])
    indices = np.where(indices < 0, indices + dims, indices)
    return _per_batch(lambda xs, ids: xs[tuple(np.moveaxis(ids, -1, 0))], batch_dims, x, indices)


# mode -> the unbuffered ufunc that combines repeated indices in order
_SCATTER = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "max": np.maximum,
    "min": np.minimum,
}


def _scatter_into(data: np.ndarray, index: tuple, updates: np.ndarray, mode: str) -> np.ndarray:
    out = np.array(data)
    if mode == "update":
        out[index] = updates
    else:
        _SCATTER[mode].at(out, index, updates)
    return out


@register("scatter")
def _scatter(a: Args):
    data = a["data"]  # indices [C] pick positions along axis; updates [*D[:axis], C, *D[axis+1:]]
    axis = axis_of(a.int("axis", 0), data.ndim)
    indices = wrap_indices(a["indices"], data.shape[axis])
    index = (slice(None),) * axis + (indices,)
    return _scatter_into(data, index, a["updates"], a.str("mode", "add"))


@register("scatter_along_axis")
def _scatter_along_axis(a: Args):
    data = a["data"]  # indices and updates share a shape; indices address `axis`, the rest is positional
    axis = axis_of(a.int("axis", 0), data.ndim)
    indices = wrap_indices(a["indices"], data.shape[axis])
    index = list(np.indices(indices.shape, sparse=True))
    index[axis] = indices
    return _scatter_into(data, tuple(index), a["updates"], a.str("mode", "add"))


@register("scatter_nd")
def _scatter_nd(a: Args):
    data, indices = a["data"], a["indices"]  # indices [*I, K]; updates [*I, *D[K:]]
    depth = indices.shape[-1]
    indices = np.where(indices < 0, indices + np.array(data.shape[:depth]), indices)
    return _scatter_into(data, tuple(np.moveaxis(indices, -1, 0)), a["updates"], a.str("mode", "add"))
