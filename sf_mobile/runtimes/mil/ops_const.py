"""Values that live outside the dataflow: constants, compressed constants (constexpr_*), and states."""

from __future__ import annotations

import math

import numpy as np

from sf_mobile.runtimes.mil.ops_base import Args, axis_of, registry

OPS, register = registry()


@register("const")
def _const(a: Args):
    return a.op.outputs[0].val


def _interleave(outer, inner) -> list[int]:
    """[o0, i0, o1, i1, ...]: a dim of size o * i seen as o blocks of i."""
    return [d for pair in zip(outer, inner) for d in pair]


@register("constexpr_blockwise_shift_scale")
def _blockwise_shift_scale(a: Args):
    data, scale, offset = a["data"], a["scale"], a.get("offset")  # scale and offset: one value per block
    blocks = [d // s for d, s in zip(data.shape, scale.shape)]  # block size per dim, as the iOS18 def
    values = data.astype(np.float32).reshape(_interleave(scale.shape, blocks))

    def per_block(v: np.ndarray) -> np.ndarray:
        return v.astype(np.float32).reshape(_interleave(v.shape, [1] * v.ndim))

    if offset is not None:
        values = values - per_block(offset)
    return (values * per_block(scale)).reshape(data.shape)


@register("constexpr_lut_to_dense")
def _lut_to_dense(a: Args):
    if a.get("shape") is not None:  # the iOS16 form: one LUT, bit-packed indices
        return _lut_to_dense_ios16(a["lut"], a["indices"], a.ints("shape"))
    indices, lut = a["indices"], a["lut"]  # indices [*I] (rank K); lut [*G, 2^nbits, V], one LUT per block
    k, vector_size = indices.ndim, lut.shape[-1]
    groups = lut.shape[:k]
    blocks = [i // g for i, g in zip(indices.shape, groups)]
    table = lut.reshape(_interleave(groups, [1] * k) + list(lut.shape[-2:]))  # [G0, 1, G1, 1, ..., P, V]
    picks = indices.astype(np.intp).reshape(_interleave(groups, blocks) + [1, 1])  # [G0, B0, G1, B1, ..., 1, 1]
    out = np.take_along_axis(table, picks, axis=-2).reshape(*indices.shape, vector_size)  # [*I, V]
    if vector_size == 1:
        return out.reshape(indices.shape)
    # vector palettization: each index expands to V consecutive values along vector_axis
    axis = axis_of(a.int("vector_axis"), k)
    shape = list(indices.shape)
    shape[axis] *= vector_size
    return np.moveaxis(out, -1, axis + 1).reshape(shape)


def _lut_to_dense_ios16(lut: np.ndarray, packed: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    nbits = int(math.log2(lut.size))
    count = math.prod(shape)
    bits = np.unpackbits(packed.astype(np.uint8), bitorder="little")[: count * nbits].reshape(count, nbits)
    return lut[bits @ (1 << np.arange(nbits))].reshape(shape)  # least significant bit first


@register("constexpr_affine_dequantize")
def _affine_dequantize(a: Args):
    data = a["quantized_data"]  # iOS16: scale and zero_point are scalars or vectors along `axis`
    axis = axis_of(a.int("axis", 0), data.ndim)

    def along_axis(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, np.float32)
        return v if v.ndim == 0 else v.reshape([-1 if i == axis else 1 for i in range(data.ndim)])

    return (data.astype(np.float32) - along_axis(a["zero_point"])) * along_axis(a["scale"])


@register("constexpr_cast")
def _constexpr_cast(a: Args):
    return a["source_val"]  # the declared output dtype does the cast


@register("read_state")
def _read_state(a: Args):
    return np.array(a["input"])  # a copy: later writes to the state must not reach this value


@register("coreml_update_state")
def _update_state(a: Args):
    # The copy semantics of the op, for callers of the registry. MilEvaluator.predict does not call
    # this: it rebinds the state to `value` without a copy and writes it back once per call.
    a["state"][...] = a["value"]
    return a["value"]
