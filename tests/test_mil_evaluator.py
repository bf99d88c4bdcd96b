"""The numpy MIL evaluator: per-op semantics against numpy/torch, converted models against eager
PyTorch, compressed weights, saved and multifunction packages, and its errors."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

ct = pytest.importorskip("coremltools", reason="the MIL evaluator reads coremltools programs ([coreml] extra)")

import coremltools.optimize.coreml as cto  # noqa: E402
from coremltools.converters.mil import Builder as mb  # noqa: E402
from coremltools.converters.mil.mil import types  # noqa: E402

from sf_mobile.errors import MissingDependencyError, SfError  # noqa: E402
from sf_mobile.runtimes.mil import SUPPORTED_OPS, MilEvaluator, UnsupportedOpError, load_program  # noqa: E402
from sf_mobile.runtimes.mil import ops, ops_const, ops_math, ops_nn, ops_tensor  # noqa: E402
from sf_mobile.runtimes.mil.ops_base import Args  # noqa: E402

FP32_TOL = dict(rtol=1e-5, atol=1e-5)  # fp32 programs: float32 rounding and erf's 1.5e-7 approximation only
FP16_REL_L2 = 2e-3  # every op output rounded to fp16 (eps 9.8e-4): a few ulps of error through a small net

rng = np.random.default_rng(0)


def _program(*specs):
    return mb.program(input_specs=list(specs), opset_version=ct.target.iOS18)


def _run(prog, **inputs):
    out = MilEvaluator(prog).predict(inputs)
    assert len(out) == 1
    return next(iter(out.values()))


def _rel_l2(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _op_types(prog, function="main") -> set[str]:
    return {op.op_type for op in prog.functions[function].operations}


def _convert(module, example, inputs, **kwargs):
    return ct.convert(
        torch.jit.trace(module, example),
        inputs=inputs,
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS18,
        compute_precision=ct.precision.FLOAT16,
        **kwargs,
    )


def _randn(*shape):
    return rng.standard_normal(shape).astype(np.float32)


# --- per-op semantics ----------------------------------------------------------------------------------


def test_registry_modules_do_not_overlap():
    tables = (ops_math.OPS, ops_nn.OPS, ops_tensor.OPS, ops_const.OPS)
    assert sum(len(t) for t in tables) == len(ops.OPS)
    assert SUPPORTED_OPS == frozenset(ops.OPS)


def test_every_fp16_op_output_is_rounded():
    @_program(mb.TensorSpec(shape=(4,), dtype=types.fp16))
    def prog(x):
        bumped = mb.add(x=x, y=np.float16(1e-4))  # below half an fp16 ulp at 1.0: rounds back to x
        return mb.sub(x=bumped, y=x)

    out = _run(prog, x=np.ones(4, np.float16))
    assert out.dtype == np.float16
    np.testing.assert_array_equal(out, np.zeros(4, np.float16))


@pytest.mark.parametrize(
    # (before, after) pads of height 9 (kernel 3, dilation 2, stride 1) and width 10 (kernel 3, stride 2)
    ("pad_type", "rows", "cols"),
    [
        ("valid", (0, 0), (0, 0)),
        ("same", (2, 2), (0, 1)),  # an odd total pads after
        ("same_lower", (2, 2), (1, 0)),  # ... or before
        ("custom", (1, 0), (2, 1)),
    ],
)
def test_conv_groups_strides_dilations_and_padding(pad_type, rows, cols):
    x, w, b = _randn(1, 4, 9, 10), _randn(6, 2, 3, 3), _randn(6)
    pad = dict(pad=[*rows, *cols]) if pad_type == "custom" else {}

    @_program(mb.TensorSpec(shape=x.shape))
    def prog(x_in):
        return mb.conv(x=x_in, weight=w, bias=b, strides=[1, 2], dilations=[2, 1], groups=2, pad_type=pad_type, **pad)

    padded = F.pad(torch.from_numpy(x), (*cols, *rows))
    expected = F.conv2d(padded, torch.from_numpy(w), torch.from_numpy(b), stride=(1, 2), dilation=(2, 1), groups=2)
    np.testing.assert_allclose(_run(prog, x_in=x), expected.numpy(), **FP32_TOL)


@pytest.mark.parametrize("exclude_padding", [True, False])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_avg_pool_padding_count(exclude_padding, ceil_mode):
    x = _randn(1, 2, 7, 8)

    @_program(mb.TensorSpec(shape=x.shape))
    def prog(x_in):
        return mb.avg_pool(
            x=x_in,
            kernel_sizes=[3, 3],
            strides=[2, 2],
            pad_type="custom",
            pad=[1, 1, 1, 1],
            exclude_padding_from_average=exclude_padding,
            ceil_mode=ceil_mode,
        )

    t = torch.from_numpy(x)
    expected = F.avg_pool2d(t, 3, 2, padding=1, ceil_mode=ceil_mode, count_include_pad=not exclude_padding)
    np.testing.assert_allclose(_run(prog, x_in=x), expected.numpy(), **FP32_TOL)


@pytest.mark.parametrize("ceil_mode", [False, True])
def test_max_pool(ceil_mode):
    x = _randn(1, 3, 9, 8) - 5  # all negative: a zero-padded max would show

    @_program(mb.TensorSpec(shape=x.shape))
    def prog(x_in):
        return mb.max_pool(
            x=x_in, kernel_sizes=[3, 2], strides=[2, 2], pad_type="custom", pad=[1, 1, 1, 1], ceil_mode=ceil_mode
        )

    expected = F.max_pool2d(torch.from_numpy(x), (3, 2), 2, padding=1, ceil_mode=ceil_mode)
    np.testing.assert_array_equal(_run(prog, x_in=x), expected.numpy())


def test_slice_by_index_masks_negative_stride_and_squeeze():
    x = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    no, yes = False, True

    @_program(mb.TensorSpec(shape=x.shape))
    def prog(x_in):
        masked = mb.slice_by_index(
            x=x_in, begin=[1, 3, 5], end=[3, 0, 0], stride=[1, 2, -2], begin_mask=[no, yes, no], end_mask=[no, yes, no]
        )
        squeezed = mb.slice_by_index(
            x=x_in, begin=[2, 1, -3], end=[0, 4, 0], squeeze_mask=[yes, no, no], end_mask=[no, no, yes]
        )
        return masked, squeezed

    masked, squeezed = MilEvaluator(prog).predict({"x_in": x}).values()
    np.testing.assert_array_equal(masked, x[1:3, ::2, 5:0:-2])
    np.testing.assert_array_equal(squeezed, x[2, 1:4, -3:])


def test_gather_batch_dims_and_negative_indices():
    x = _randn(2, 3, 5)
    indices = np.array([[0, -1, 2, 4], [3, 3, -5, 1]], np.int32)

    @_program(mb.TensorSpec(shape=x.shape), mb.TensorSpec(shape=indices.shape, dtype=types.int32))
    def prog(x_in, idx):
        return mb.gather(x=x_in, indices=idx, axis=2, batch_dims=1), mb.gather(x=x_in, indices=idx, axis=-1)

    batched, plain = MilEvaluator(prog).predict({"x_in": x, "idx": indices}).values()
    expected = np.stack([x[b][:, indices[b] % 5] for b in range(2)])  # [2, 3, 4]: out[b, i, j] = x[b, i, idx[b, j]]
    np.testing.assert_array_equal(batched, expected)
    np.testing.assert_array_equal(plain, x[..., indices % 5])  # [2, 3, 2, 4]


def test_layer_norm_over_two_axes_and_softmax():
    x, gamma, beta = _randn(2, 3, 4, 5), _randn(4, 5), _randn(4, 5)

    @_program(mb.TensorSpec(shape=x.shape))
    def prog(x_in):
        norm = mb.layer_norm(x=x_in, axes=[-2, -1], gamma=gamma, beta=beta, epsilon=1e-3)
        return norm, mb.softmax(x=x_in, axis=1)

    norm, soft = MilEvaluator(prog).predict({"x_in": x}).values()
    t = torch.from_numpy(x)
    expected = F.layer_norm(t, (4, 5), torch.from_numpy(gamma), torch.from_numpy(beta), eps=1e-3)
    np.testing.assert_allclose(norm, expected.numpy(), **FP32_TOL)
    np.testing.assert_allclose(soft, t.softmax(1).numpy(), **FP32_TOL)


@pytest.mark.parametrize(
    ("mode", "reference"),
    [
        ("EXACT", lambda t: F.gelu(t)),
        ("TANH_APPROXIMATION", lambda t: F.gelu(t, approximate="tanh")),
        ("SIGMOID_APPROXIMATION", lambda t: t * torch.sigmoid(1.702 * t)),
    ],
)
def test_gelu_modes(mode, reference):
    x = _randn(64) * 3

    @_program(mb.TensorSpec(shape=x.shape))
    def prog(x_in):
        return mb.gelu(x=x_in, mode=mode)

    np.testing.assert_allclose(_run(prog, x_in=x), reference(torch.from_numpy(x)).numpy(), **FP32_TOL)


def test_constexpr_blockwise_shift_scale_per_block():
    data = rng.integers(-8, 8, size=(4, 8)).astype(np.int8)
    scale = rng.uniform(0.5, 2, size=(2, 2)).astype(np.float32)  # blocks of 2 rows x 4 columns
    offset = rng.integers(-2, 3, size=(2, 2)).astype(np.int8)

    @_program(mb.TensorSpec(shape=(4, 8)))
    def prog(x):
        w = mb.constexpr_blockwise_shift_scale(
            data=data.astype(types.np_int4_dtype), scale=scale, offset=offset.astype(types.np_int4_dtype)
        )
        return mb.add(x=x, y=w)

    assert "constexpr_blockwise_shift_scale" in _op_types(prog)
    expected = np.repeat(np.repeat(scale, 2, 0), 4, 1) * (data - np.repeat(np.repeat(offset, 2, 0), 4, 1))
    np.testing.assert_allclose(_run(prog, x=np.zeros((4, 8), np.float32)), expected, **FP32_TOL)


def test_constexpr_lut_to_dense_per_grouped_channel_and_vector():
    indices = rng.integers(0, 16, size=(6, 4)).astype(np.uint8)
    lut = _randn(2, 1, 16, 1)  # two LUTs: rows 0-2 and rows 3-5
    vector_lut = _randn(1, 1, 4, 2)  # 2-bit, vectors of 2 laid along axis 1
    vector_indices = rng.integers(0, 4, size=(3, 2)).astype(np.uint8)

    @_program(mb.TensorSpec(shape=(6, 4)))
    def prog(x):
        grouped = mb.constexpr_lut_to_dense(indices=indices.astype(types.np_uint4_dtype), lut=lut)
        vector = mb.constexpr_lut_to_dense(
            indices=vector_indices.astype(types.np_uint2_dtype), lut=vector_lut, vector_axis=1
        )
        return mb.add(x=x, y=grouped), vector

    grouped, vector = MilEvaluator(prog).predict({"x": np.zeros((6, 4), np.float32)}).values()
    rows = np.arange(6)[:, None] // 3
    np.testing.assert_array_equal(grouped, lut[rows, 0, indices, 0])
    np.testing.assert_array_equal(vector, vector_lut[0, 0][vector_indices].reshape(3, 4))  # [i, j*2 + v]


def test_ios16_constexpr_forms_decompress_like_coremltools():
    lut = _randn(4)  # 2-bit palette; 10 indices bit-packed little-endian into 3 bytes
    packed = rng.integers(0, 256, size=3).astype(np.uint8)
    quantized = rng.integers(0, 256, size=(3, 4)).astype(np.uint8)

    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 5))], opset_version=ct.target.iOS16)
    def prog(x):
        palettized = mb.constexpr_lut_to_dense(lut=lut.astype(np.float16), indices=packed, shape=np.uint32([2, 5]))
        dequantized = mb.constexpr_affine_dequantize(
            quantized_data=quantized, zero_point=np.uint8(128), scale=np.float16([0.5, 0.25, 2.0]), axis=0
        )
        return mb.add(x=x, y=mb.cast(x=palettized, dtype="fp32")), mb.cast(x=dequantized, dtype="fp32")

    palettized, dequantized = MilEvaluator(prog).predict({"x": np.zeros((2, 5), np.float32)}).values()
    constexprs = {op.op_type: op for op in prog.functions["main"].operations if op.op_type.startswith("constexpr_")}
    np.testing.assert_array_equal(palettized, constexprs["constexpr_lut_to_dense"].materialized_val_inference())
    np.testing.assert_array_equal(dequantized, constexprs["constexpr_affine_dequantize"].materialized_val_inference())


@pytest.mark.parametrize("mask_kind", ["additive", "bool"])
def test_scaled_dot_product_attention(mask_kind):
    q, k, v = _randn(1, 2, 3, 8), _randn(1, 2, 5, 8), _randn(1, 2, 5, 4)
    keep = np.tril(np.ones((3, 5), bool), k=2)
    mask = keep if mask_kind == "bool" else np.where(keep, 0, -1e4).astype(np.float32)

    @_program(mb.TensorSpec(shape=q.shape), mb.TensorSpec(shape=k.shape), mb.TensorSpec(shape=v.shape))
    def prog(q_in, k_in, v_in):
        return mb.scaled_dot_product_attention(query=q_in, key=k_in, value=v_in, attn_mask=mask)

    assert "scaled_dot_product_attention" in _op_types(prog)
    expected = F.scaled_dot_product_attention(*map(torch.from_numpy, (q, k, v)), attn_mask=torch.from_numpy(mask))
    np.testing.assert_allclose(_run(prog, q_in=q, k_in=k, v_in=v), expected.numpy(), **FP32_TOL)


def test_slice_update_at_runtime_position():
    x, update = _randn(2, 6, 4), _randn(2, 2, 4)

    @_program(mb.TensorSpec(shape=x.shape), mb.TensorSpec(shape=(1,), dtype=types.int32))
    def prog(x_in, pos):
        begin = mb.concat(values=[np.array([0], np.int32), pos, np.array([0], np.int32)], axis=0)
        end = mb.concat(values=[np.array([0], np.int32), mb.add(x=pos, y=np.int32(2)), np.array([0], np.int32)], axis=0)
        keep_all = [True, False, True]  # dims 0 and 2 whole: begin and end ignored there
        return mb.slice_update(x=x_in, update=update, begin=begin, end=end, begin_mask=keep_all, end_mask=keep_all)

    expected = x.copy()
    expected[:, 3:5] = update
    np.testing.assert_array_equal(_run(prog, x_in=x, pos=np.array([3], np.int32)), expected)


def test_state_writes_land_in_the_callers_state():
    @_program(mb.TensorSpec(shape=(2, 3), dtype=types.fp16), mb.StateTensorSpec(shape=(2, 3), dtype=types.fp16))
    def prog(x, cache):
        total = mb.add(x=mb.read_state(input=cache), y=x)
        return mb.coreml_update_state(state=cache, value=total)

    ev = MilEvaluator(prog)
    assert (ev.input_names, ev.state_names) == (["x"], ["cache"])
    state = ev.make_state()
    assert state["cache"].dtype == np.float16 and state["cache"].shape == (2, 3)
    x = np.arange(6, dtype=np.float16).reshape(2, 3)
    ev.predict({"x": x}, state=state)
    np.testing.assert_array_equal(state["cache"], x)
    second = next(iter(ev.predict({"x": x}, state=state).values()))
    np.testing.assert_array_equal(second, 2 * x)  # read what the first call wrote
    np.testing.assert_array_equal(state["cache"], 2 * x)


def _cache_update_program(read_old_after: bool, update_twice: bool):
    """read_state -> slice_update -> coreml_update_state, optionally reading the pre-update value
    afterwards or updating the state once more: the cases the in-place write must get right."""

    @_program(mb.TensorSpec(shape=(1, 3), dtype=types.fp16), mb.StateTensorSpec(shape=(4, 3), dtype=types.fp16))
    def prog(row, cache):
        old = mb.read_state(input=cache)
        new = mb.slice_update(x=old, update=row, begin=[1, 0], end=[2, 3])
        written = mb.coreml_update_state(state=cache, value=new)
        if update_twice:  # a second write from the first (the decoder's per-layer chain)
            again = mb.slice_update(x=written, update=mb.add(x=row, y=row), begin=[2, 0], end=[3, 3])
            written = mb.coreml_update_state(state=cache, value=again)
        if read_old_after:
            return mb.add(x=old, y=mb.reduce_sum(x=written, axes=[0], keep_dims=True))
        return mb.reduce_sum(x=written, axes=[0], keep_dims=True)

    return prog


@pytest.mark.parametrize("read_old_after", [False, True])
@pytest.mark.parametrize("update_twice", [False, True])
def test_in_place_cache_writes_match_copy_semantics(read_old_after, update_twice, monkeypatch):
    from sf_mobile.runtimes.mil import evaluator

    row = np.array([[1, 2, 3]], np.float16)
    start = np.arange(12, dtype=np.float16).reshape(4, 3)

    def run():
        ev = MilEvaluator(_cache_update_program(read_old_after, update_twice))
        state = {"cache": start.copy()}
        return next(iter(ev.predict({"row": row}, state=state).values())), state["cache"]

    fast_out, fast_state = run()
    monkeypatch.setattr(evaluator._StateWrites, "may_mutate", lambda *args: False)  # always copy
    slow_out, slow_state = run()
    np.testing.assert_array_equal(fast_out, slow_out)
    np.testing.assert_array_equal(fast_state, slow_state)
    expected = start.copy()
    expected[1] = row[0]
    if update_twice:
        expected[2] = 2 * row[0]
    np.testing.assert_array_equal(fast_state, expected)


def test_cache_writes_are_in_place_when_nothing_sees_the_old_value(monkeypatch):
    from sf_mobile.runtimes.mil import evaluator

    decisions = []
    original = evaluator._StateWrites.may_mutate
    monkeypatch.setattr(evaluator._StateWrites, "may_mutate", lambda *a: decisions.append(original(*a)) or decisions[-1])
    ev = MilEvaluator(_cache_update_program(read_old_after=False, update_twice=True))
    ev.predict({"row": np.ones((1, 3), np.float16)}, state=ev.make_state())
    assert decisions == [True, True]
    decisions.clear()
    ev = MilEvaluator(_cache_update_program(read_old_after=True, update_twice=False))
    ev.predict({"row": np.ones((1, 3), np.float16)}, state=ev.make_state())
    assert decisions == [False]  # the old value is read later: copy


def _attention_chain(shape, dtype):
    @_program(mb.TensorSpec(shape=shape, dtype=dtype), mb.TensorSpec(shape=shape, dtype=dtype))
    def prog(q, k):
        scores = mb.matmul(x=q, y=k, transpose_y=True)  # [B, L, L]
        return mb.softmax(x=mb.mul(x=scores, y=np.array(0.125, np.float32 if dtype == types.fp32 else np.float16)), axis=-1)

    return prog


@pytest.mark.parametrize("dtype", [types.fp32, types.fp16])
def test_attention_chain_holds_one_score_buffer(dtype):
    # matmul -> mul -> softmax on [8, 512, 512] (8 MiB of float32): the mul and the softmax write into
    # their dead input and fp16 rounding happens in place, so a run holds about one score tensor
    # (copies at each op and a whole-tensor rounding held 3-4, what ran a 128-frame vision tower
    # out of memory).
    import tracemalloc

    np_dtype = np.float32 if dtype == types.fp32 else np.float16
    q, k = (rng.standard_normal((8, 512, 16)).astype(np_dtype) for _ in range(2))
    ev = MilEvaluator(_attention_chain(q.shape, dtype))
    ev.predict({"q": q, "k": k})  # constants computed outside the measurement
    tracemalloc.start()
    try:
        out = next(iter(ev.predict({"q": q, "k": k}).values()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    score_bytes = 8 * 512 * 512 * 4
    assert peak < 1.6 * score_bytes, f"peak {peak / score_bytes:.2f} score tensors"
    scores = torch.from_numpy(q.astype(np.float32)) @ torch.from_numpy(k.astype(np.float32)).transpose(1, 2)
    expected = torch.softmax(scores * 0.125, -1).numpy()
    if dtype == types.fp32:
        np.testing.assert_allclose(out, expected, **FP32_TOL)
    else:
        assert _rel_l2(out, expected) < FP16_REL_L2


def test_in_place_ops_leave_inputs_and_constants_alone():
    # x_in is read by two ops and dead after the second; c is a constant dead after its only reader:
    # neither may serve as an output buffer (the caller's array, the next run's weights).
    c = rng.standard_normal((4, 5)).astype(np.float32)

    @_program(mb.TensorSpec(shape=(4, 5)))
    def prog(x_in):
        return mb.add(x=mb.mul(x=c, y=x_in), y=mb.softmax(x=x_in, axis=-1))

    x = rng.standard_normal((4, 5)).astype(np.float32)
    x_before = x.copy()
    ev = MilEvaluator(prog)
    first = _run_same(ev, x)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(_run_same(ev, x), first)  # the constant is intact
    expected = c * x + torch.softmax(torch.from_numpy(x), -1).numpy()
    np.testing.assert_allclose(first, expected, **FP32_TOL)


def _run_same(ev, x):
    return next(iter(ev.predict({"x_in": x}).values()))


def test_round_fp16_in_place_matches_casting_across_chunks():
    from sf_mobile.runtimes.mil.evaluator import ROUND_CHUNK, round_fp16_in_place

    x = (rng.standard_normal(ROUND_CHUNK + 17) * 1e3).astype(np.float32)
    x[:3] = [70000.0, -1e-8, 65519.0]  # overflow to inf, underflow, the largest value that rounds down
    expected = x.astype(np.float16).astype(np.float32)
    assert round_fp16_in_place(x) is x
    np.testing.assert_array_equal(x, expected)


X = np.linspace(-2, 2, 24, dtype=np.float32).reshape(2, 3, 4)
MEAN, VARIANCE = np.array([0.1, 0.2, 0.3], np.float32), np.array([1.0, 2.0, 3.0], np.float32)  # per channel (dim 1)
IDX = np.array([[[2, 0, 1, 3]] * 3, [[1, 1, 0, 2]] * 3], np.int32)  # [2, 3, 4], values along the last axis

# op -> (MIL builder on x of X's shape, numpy expectation on X)
SIMPLE_OPS = {
    "reduce_sum": (lambda x: mb.reduce_sum(x=x, axes=[0, 2], keep_dims=True), lambda x: x.sum((0, 2), keepdims=True)),
    "reduce_max": (lambda x: mb.reduce_max(x=x), lambda x: x.max()),
    "reduce_prod": (lambda x: mb.reduce_prod(x=x, axes=[-1]), lambda x: x.prod(-1)),
    "reduce_argmax": (lambda x: mb.reduce_argmax(x=x, axis=1), lambda x: x.argmax(1)),
    "split": (lambda x: mb.split(x=x, split_sizes=[1, 3], axis=-1)[1], lambda x: x[..., 1:]),
    "concat_interleave": (
        lambda x: mb.concat(values=[x, mb.mul(x=x, y=-1.0)], axis=1, interleave=True),
        lambda x: np.stack([x, -x], axis=2).reshape(2, 6, 4),
    ),
    "pad_reflect": (
        lambda x: mb.pad(x=x, pad=[1, 2], mode="reflect"),
        lambda x: np.pad(x, [(0, 0), (0, 0), (1, 2)], "reflect"),
    ),
    "pad_replicate": (
        lambda x: mb.pad(x=x, pad=[0, 1, 2, 0], mode="replicate"),
        lambda x: np.pad(x, [(0, 0), (0, 1), (2, 0)], "edge"),
    ),
    "cumsum": (
        lambda x: mb.cumsum(x=x, axis=2, exclusive=True, reverse=True),
        lambda x: np.flip(np.cumsum(np.flip(x, 2), 2), 2) - x,
    ),
    "band_part": (lambda x: mb.band_part(x=x, lower=1, upper=0), lambda x: x * np.tril(np.triu(np.ones((3, 4)), -1))),
    "gather_along_axis": (
        lambda x: mb.gather_along_axis(x=x, indices=IDX, axis=2),
        lambda x: np.take_along_axis(x, IDX, 2),
    ),
    "gather_nd": (
        lambda x: mb.gather_nd(x=x, indices=np.array([[1, 2], [0, -1]], np.int32)),
        lambda x: np.stack([x[1, 2], x[0, -1]]),
    ),
    "scatter_add": (
        lambda x: mb.scatter(data=x, indices=np.array([3, 3], np.int32), updates=np.ones_like(X[..., :2]), axis=2),
        lambda x: x + np.pad(np.full((2, 3, 1), 2.0), [(0, 0), (0, 0), (3, 0)]),
    ),
    "scatter_along_axis": (
        lambda x: mb.scatter_along_axis(data=x, indices=IDX, updates=np.ones_like(X), axis=2, mode="update"),
        lambda x: _put_along_axis(x, IDX, 1.0, 2),
    ),
    "tile": (lambda x: mb.tile(x=x, reps=[1, 2, 1]), lambda x: np.tile(x, (1, 2, 1))),
    "transpose": (lambda x: mb.transpose(x=x, perm=[2, 0, 1]), lambda x: x.transpose(2, 0, 1)),
    "squeeze": (lambda x: mb.squeeze(x=mb.expand_dims(x=x, axes=[-1, 0]), axes=[0]), lambda x: x[..., None]),
    # iOS17: a 0 copies the input dim it lines up with from the right (dim 1 here), not from the left
    "reshape_0": (lambda x: mb.reshape(x=x, shape=[0, -1]), lambda x: x.reshape(3, 8)),
    "slice_by_size": (lambda x: mb.slice_by_size(x=x, begin=[1, 0, 1], size=[1, -1, 2]), lambda x: x[1:2, :, 1:3]),
    "stack_reverse": (
        lambda x: mb.stack(values=[x, mb.reverse(x=x, axes=[2])], axis=0),
        lambda x: np.stack([x, x[..., ::-1]]),
    ),
    "select": (
        lambda x: mb.select(cond=mb.greater(x=x, y=0.0), a=x, b=mb.exp(x=x)),
        lambda x: np.where(x > 0, x, np.exp(x)),
    ),
    "erf": (lambda x: mb.erf(x=x), lambda x: np.vectorize(math.erf)(x)),
    "clip": (lambda x: mb.clip(x=x, alpha=-0.5, beta=1.0), lambda x: np.clip(x, -0.5, 1.0)),
    "einsum": (
        lambda x: mb.einsum(values=(x, mb.transpose(x=x, perm=[2, 1, 0])), equation="chw,whr->chr"),
        lambda x: np.einsum("chw,whr->chr", x, x.transpose(2, 1, 0)),
    ),
    "batch_norm": (
        lambda x: mb.batch_norm(x=x, mean=MEAN, variance=VARIANCE),
        lambda x: (x - MEAN[:, None]) / np.sqrt(VARIANCE[:, None] + 1e-5),
    ),
    "instance_norm": (
        lambda x: mb.instance_norm(x=x, epsilon=1e-3),
        lambda x: (x - x.mean(2, keepdims=True)) / np.sqrt(x.var(2, keepdims=True) + 1e-3),
    ),
    "shape_range_fill_like": (
        lambda x: mb.fill_like(ref_tensor=mb.range_1d(start=0, end=mb.gather(x=mb.shape(x=x), indices=2), step=1)),
        lambda x: np.zeros(4),
    ),
    "one_hot": (
        lambda x: mb.one_hot(indices=np.array([0, 2], np.int32), one_hot_vector_size=3, axis=0),
        lambda x: np.eye(3, dtype=np.int32)[[0, 2]].T,
    ),
}


def _put_along_axis(x, indices, value, axis):
    out = x.copy()
    np.put_along_axis(out, indices, value, axis)
    return out


@pytest.mark.parametrize("name", list(SIMPLE_OPS))
def test_simple_ops_match_numpy(name):
    build, expected = SIMPLE_OPS[name]

    @_program(mb.TensorSpec(shape=X.shape))
    def prog(x):
        return build(x)

    np.testing.assert_allclose(_run(prog, x=X), expected(X.astype(np.float64)), **FP32_TOL)


# --- converted models against eager PyTorch ----------------------------------------------------------


class TinyBlock(torch.nn.Module):
    """Patch embedding, pooling, pre-norm attention and a tanh-GELU MLP: the ops a ViT/LLM emits."""

    def __init__(self, dim: int = 32, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.patch = torch.nn.Conv2d(3, dim, kernel_size=4, stride=4)
        self.norm1, self.norm2 = torch.nn.LayerNorm(dim), torch.nn.LayerNorm(dim)
        self.qkv, self.proj = torch.nn.Linear(dim, 3 * dim), torch.nn.Linear(dim, dim)
        self.fc1, self.fc2 = torch.nn.Linear(dim, 4 * dim), torch.nn.Linear(4 * dim, dim)

    def forward(self, pixels):  # [1, 3, 16, 16]
        x = self.patch(pixels)  # [1, D, 4, 4]
        x = x + F.avg_pool2d(x, 3, 1, padding=1, count_include_pad=False) + F.max_pool2d(x, 3, 1, padding=1)
        t = x.flatten(2).transpose(1, 2)  # [1, 16, D]
        n, d = t.shape[1], t.shape[2]
        qkv = self.qkv(self.norm1(t)).reshape(1, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)  # [3, 1, H, 16, hd]
        q, k, v = qkv.unbind(0)
        att = (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(-1)
        t = t + self.proj((att @ v).transpose(1, 2).reshape(1, n, d))
        return t + self.fc2(F.gelu(self.fc1(self.norm2(t)), approximate="tanh"))


class KCache(torch.nn.Module):
    """An fp32 cache buffer written by slice assignment at a position given as input."""

    def __init__(self):
        super().__init__()
        self.register_buffer("k_cache", torch.zeros(2, 1, 2, 32, 8))  # [L, B, KVH, ctx, hd]
        self.proj = torch.nn.Linear(8, 8)

    def forward(self, k, pos):  # k [2, 1, 2, 4, 8]; pos int32 [1]
        start = pos[0]
        self.k_cache[:, :, :, start : start + k.shape[3]] = self.proj(k)
        return self.k_cache.sum(dim=3) * 0.5  # reads every slot: earlier writes show


@pytest.fixture(scope="module")
def tiny_block():
    torch.manual_seed(0)
    module = TinyBlock().eval()
    pixels = torch.randn(1, 3, 16, 16)
    model = _convert(module, pixels, [ct.TensorType(name="pixels", shape=pixels.shape)])
    with torch.no_grad():
        expected = module(pixels).numpy()
    return model, pixels.numpy(), expected


@pytest.fixture(scope="module")
def kcache_model():
    torch.manual_seed(0)
    module = KCache().eval()
    example = (torch.randn(2, 1, 2, 4, 8), torch.tensor([3], dtype=torch.int32))
    model = _convert(
        module,
        example,
        [ct.TensorType(name="k", shape=(2, 1, 2, 4, 8)), ct.TensorType(name="pos", shape=(1,), dtype=np.int32)],
        outputs=[ct.TensorType(name="out")],
        states=[ct.StateType(wrapped_type=ct.TensorType(shape=(2, 1, 2, 32, 8), dtype=np.float16), name="k_cache")],
    )
    return model, module


def test_tiny_block_matches_eager(tiny_block):
    model, pixels, expected = tiny_block
    prog = load_program(model)
    assert {"conv", "avg_pool", "max_pool", "layer_norm", "linear", "softmax", "gelu", "matmul"} <= _op_types(prog)
    gelu_modes = {op.inputs["mode"].val for op in prog.functions["main"].operations if op.op_type == "gelu"}
    assert gelu_modes == {"TANH_APPROXIMATION"}
    out = MilEvaluator(prog).predict({"pixels": pixels})
    (name,) = out
    assert out[name].dtype == np.float16 and out[name].shape == expected.shape
    assert _rel_l2(out[name], expected) < FP16_REL_L2


def test_stateful_cache_carries_over_between_calls(kcache_model):
    model, module = kcache_model
    ev = MilEvaluator(model)
    assert {"read_state", "slice_update", "coreml_update_state"} <= _op_types(load_program(model))
    assert (ev.input_names, ev.state_names) == (["k", "pos"], ["k_cache"])
    state = ev.make_state()
    module.k_cache.zero_()
    calls = [(torch.randn(2, 1, 2, 4, 8), 3), (torch.randn(2, 1, 2, 4, 8), 10)]
    for k, pos in calls:
        inputs = {"k": k.numpy(), "pos": np.array([pos], np.int32)}
        out = ev.predict(inputs, state=state)["out"]
        with torch.no_grad():
            expected = module(k, torch.tensor([pos], dtype=torch.int32)).numpy()
        assert _rel_l2(out, expected) < FP16_REL_L2
    assert _rel_l2(state["k_cache"], module.k_cache.detach().numpy()) < FP16_REL_L2
    assert not state["k_cache"][:, :, :, 14:].any()  # nothing written past the second chunk
    fresh = ev.predict(inputs)["out"]  # the second call alone: the first write is missing
    assert _rel_l2(fresh, expected) > 0.1


# --- compressed weights ---------------------------------------------------------------------------------

COMPRESSIONS = {
    # scheme -> (config, the constexpr op it must leave, max rel L2 vs the uncompressed evaluator output)
    "int4-per-block-32": (
        cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=32, weight_threshold=0
        ),
        "constexpr_blockwise_shift_scale",
        0.2,  # 4 bits, 32 weights a scale: 0.10 measured here (0.11 on logits in shared/notes/coreml.md)
    ),
    "int8-per-channel": (
        cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int8", granularity="per_channel", weight_threshold=0
        ),
        "constexpr_blockwise_shift_scale",
        0.02,  # 8 bits a row: 0.0055 measured here
    ),
    "palettize-4bit-grouped-16": (
        cto.OpPalettizerConfig(nbits=4, granularity="per_grouped_channel", group_size=16, weight_threshold=0),
        "constexpr_lut_to_dense",
        0.2,  # 16 k-means centroids for each group of 16 rows: 0.094 measured here
    ),
}


@pytest.fixture(scope="module")
def mlp_model():
    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.GELU(), torch.nn.Linear(128, 64)).eval()
    x = torch.randn(1, 8, 64)
    return _convert(module, x, [ct.TensorType(name="x", shape=x.shape)]), x.numpy()


@pytest.mark.parametrize("scheme", list(COMPRESSIONS))
def test_compressed_weights_decompress_like_coremltools(mlp_model, scheme, tmp_path):
    model, x = mlp_model
    config, constexpr_op, max_rel_l2 = COMPRESSIONS[scheme]
    optimize = cto.palettize_weights if "palettize" in scheme else cto.linear_quantize_weights
    compressed_model = optimize(model, cto.OptimizationConfig(global_config=config))
    compressed = load_program(compressed_model)
    constexprs = [op for op in compressed.functions["main"].operations if op.op_type == constexpr_op]
    assert len(constexprs) == 2  # both linear weights
    for op in constexprs:  # each decompression equals coremltools' own, bit for bit in fp16
        values = {name: var.val for name, var in op.inputs.items()}
        ours = ops.OPS[op.op_type](Args(op, values))
        np.testing.assert_array_equal(ours.astype(np.float16), op.materialized_val_inference().astype(np.float16))

    (name,) = MilEvaluator(model).output_names
    baseline = MilEvaluator(model).predict({"x": x})[name]
    out = MilEvaluator(compressed).predict({"x": x})[name]
    assert _rel_l2(out, baseline) < max_rel_l2
    compressed_model.save(str(tmp_path / "compressed.mlpackage"))  # sub-byte weights read back from the blob
    np.testing.assert_array_equal(MilEvaluator(tmp_path / "compressed.mlpackage").predict({"x": x})[name], out)


# --- saved and multifunction packages ------------------------------------------------------------------


def test_saved_package_matches_in_memory(tiny_block, kcache_model, tmp_path):
    model, pixels, _ = tiny_block
    model.save(str(tmp_path / "block.mlpackage"))
    expected = MilEvaluator(model).predict({"pixels": pixels})
    loaded = MilEvaluator(tmp_path / "block.mlpackage").predict({"pixels": pixels})
    assert loaded.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(loaded[name], expected[name])

    stateful, _ = kcache_model
    stateful.save(str(tmp_path / "cache.mlpackage"))
    evaluators = [MilEvaluator(stateful), MilEvaluator(str(tmp_path / "cache.mlpackage"))]
    states = [ev.make_state() for ev in evaluators]
    for pos in (3, 10):
        inputs = {"k": _randn(2, 1, 2, 4, 8), "pos": np.array([pos], np.int32)}
        first, second = (ev.predict(inputs, state=s) for ev, s in zip(evaluators, states))
        np.testing.assert_array_equal(first["out"], second["out"])
    np.testing.assert_array_equal(states[0]["k_cache"], states[1]["k_cache"])


def test_multifunction_package(tmp_path):
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32).eval()
    paths = {}
    for name, seq in (("prefill", 8), ("decode", 1)):
        x = torch.randn(1, seq, 64)
        paths[name] = tmp_path / f"{name}.mlpackage"
        _convert(linear, x, [ct.TensorType(name="x", shape=x.shape)]).save(str(paths[name]))
    desc = ct.utils.MultiFunctionDescriptor()
    for name, path in paths.items():
        desc.add_function(str(path), "main", name)
    desc.default_function_name = "prefill"
    ct.utils.save_multifunction(desc, str(tmp_path / "both.mlpackage"))

    both = load_program(tmp_path / "both.mlpackage")
    assert set(both.functions) == {"prefill", "decode"}
    for name, seq in (("prefill", 8), ("decode", 1)):
        x = _randn(1, seq, 64)
        ev = MilEvaluator(both, function=name)
        out = ev.predict({"x": x})
        single = MilEvaluator(paths[name]).predict({"x": x})
        np.testing.assert_array_equal(out[ev.output_names[0]], next(iter(single.values())))
        expected = linear(torch.from_numpy(x)).detach().numpy()
        assert _rel_l2(out[ev.output_names[0]], expected) < FP16_REL_L2
    with pytest.raises(SfError, match="no function 'main'.*prefill"):
        MilEvaluator(both)


# --- errors -----------------------------------------------------------------------------------------------


@_program(mb.TensorSpec(shape=(2, 3)))
def _mul_add_sub(x):
    return mb.sub(x=mb.add(x=mb.mul(x=x, y=2.0), y=1.0), y=x)


def test_unsupported_ops_are_all_named_when_the_evaluator_is_built(monkeypatch):
    monkeypatch.delitem(ops.OPS, "add")
    monkeypatch.delitem(ops.OPS, "sub")
    with pytest.raises(UnsupportedOpError) as err:
        MilEvaluator(_mul_add_sub)  # the constructor: no predict, so nothing has run
    message = str(err.value)
    assert "no implementation of op 'add' (op 'add_0' in function 'main')" in message
    assert "'sub' (op 'sub_0'" in message
    assert "sf_mobile/runtimes/mil/ops.py" in message
    assert isinstance(err.value, SfError)


def test_missing_or_misshapen_input_names_it():
    ev = MilEvaluator(_mul_add_sub)
    with pytest.raises(SfError, match="missing input.*'x'"):
        ev.predict({})
    with pytest.raises(SfError, match=r"input 'x' .*shape \(3, 2\).*\(2, 3\)"):
        ev.predict({"x": np.zeros((3, 2), np.float32)})


def test_load_program_rejects_a_folder_that_is_not_a_package(tmp_path):
    with pytest.raises(SfError, match="not a Core ML package"):
        load_program(tmp_path)
    (tmp_path / "Manifest.json").write_text("{}")
    with pytest.raises(SfError, match="not a readable Core ML package"):
        load_program(tmp_path)


def test_missing_coremltools_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "coremltools", None)  # makes `import coremltools` fail
    with pytest.raises(MissingDependencyError, match=r"sf-mobile\[coreml\]"):
        load_program("model.mlpackage")


def test_long_predictions_report_their_progress():
    from sf_mobile.runtimes.mil.evaluator import REPORT_EVERY

    @_program(mb.TensorSpec(shape=(2, 3)))
    def prog(x_in):
        for _ in range(REPORT_EVERY + 1):  # more ops than one report interval
            x_in = mb.add(x=x_in, y=np.float32(1.0))
        return x_in

    heard = []
    out = next(iter(MilEvaluator(prog).predict({"x_in": np.zeros((2, 3), np.float32)}, report=heard.append).values()))
    np.testing.assert_array_equal(out, np.full((2, 3), REPORT_EVERY + 1, np.float32))
    total = REPORT_EVERY + 1
    assert heard == [f"MIL function 'main': op 0/{total}", f"MIL function 'main': op {REPORT_EVERY}/{total}"]
