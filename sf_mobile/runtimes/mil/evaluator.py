"""Run one function of a Core ML MIL program op by op in numpy, rounding like fp16 compute.

Each op computes in float32 (exact arithmetic for integers) and its output is rounded to the dtype its
Var declares: rounding every fp16 op output is what approximates Core ML's fp16 execution (not the
Neural Engine's accumulation order, so a device check is still needed). fp16 values are carried in
float32 arrays, so numpy runs every op in float32 (BLAS for matmuls) without widening its inputs.

Values that depend on constants only (const, constexpr_* decompression, and ops computed from them)
are computed on the first `predict` and kept; the rest are freed after their last reader.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sf_mobile.errors import SfError
from sf_mobile.runtimes.mil import ops
from sf_mobile.runtimes.mil.program import import_coremltools, load_program


# Ops whose outputs are values of their inputs, rearranged: no arithmetic, nothing to round.
DATA_MOVEMENT_OPS = frozenset({
    "reshape", "transpose", "expand_dims", "squeeze", "concat", "split", "tile", "slice_by_index",
    "slice_by_size", "gather", "gather_along_axis", "gather_nd", "pad", "read_state", "stack", "reverse",
})


class UnsupportedOpError(SfError):
    """A program uses an op type the MIL evaluator has no implementation of."""


@dataclass(frozen=True)
class _Value:
    """How a Var's values are held: container dtype, fp16 rounding, declared shape (None: symbolic dim)."""

    name: str
    dtype: Any  # numpy dtype of the array held; None for non-numeric consts (str)
    fp16: bool
    shape: tuple[int | None, ...] | None  # None: not a tensor or scalar (left unchecked)

    def hold(self, value: Any, owned: bool = False) -> Any:
        """`value` rounded to the declared dtype, in its container dtype. `owned`: the array is the
        op's own new float32 result (no other name holds it), so fp16 rounding may happen in place."""
        if self.dtype is None:
            return value
        if self.fp16:
            if owned:
                return round_fp16_in_place(value)
            return np.asarray(value, dtype=np.float16).astype(np.float32)
        return np.asarray(value, dtype=self.dtype)


REPORT_EVERY = 64  # ops between progress reports of one predict
ROUND_CHUNK = 1 << 20  # elements rounded per step in place: a bounded fp16 temporary (2 MiB)


def round_fp16_in_place(x: np.ndarray) -> np.ndarray:
    """float32 x rounded to fp16 values in place, a chunk at a time: rounding a 4.4 GB attention
    tensor the plain way holds 11 GB at once (x, its fp16 copy, the widened copy)."""
    flat = x.reshape(-1)  # a view: callers pass C-contiguous arrays
    for start in range(0, flat.size, ROUND_CHUNK):
        part = flat[start:start + ROUND_CHUNK]
        part[...] = part.astype(np.float16)
    return x


def _writable_float32(x: Any) -> bool:
    return (
        isinstance(x, np.ndarray) and x.dtype == np.float32 and x.flags.owndata
        and x.flags.writeable and x.flags.c_contiguous
    )


@dataclass(frozen=True)
class _Step:
    op: Any  # coremltools Operation
    fn: ops.OpFn
    inputs: tuple[tuple[str, str | tuple[str, ...]], ...]  # (parameter, var name or names of a list input)
    outputs: tuple[_Value, ...]


SHARED_MIN_ELEMENTS = 1 << 16  # constants this large are pooled across evaluators (the weights)


class ConstantPool:
    """Large constant values shared by the evaluators of one multifunction program.

    Each function of a loaded package has its own const ops, so two evaluators (prefill, decode)
    would each hold a float32 copy of every weight: 12 GB instead of 6 at the 1b preset. A value is
    shared when its name, shape and a strided sample of its contents all match."""

    def __init__(self):
        self._values: dict[tuple, np.ndarray] = {}

    @staticmethod
    def _key(name: str, value: np.ndarray) -> tuple:
        flat = value.reshape(-1)
        sample = flat[:: max(1, flat.size // 4096)].tobytes()
        return name, value.shape, value.dtype.str, hash(sample)

    def intern(self, name: str, value: Any) -> Any:
        if not isinstance(value, np.ndarray) or value.size < SHARED_MIN_ELEMENTS:
            return value
        return self._values.setdefault(self._key(name, value), value)


class MilEvaluator:
    """Evaluate `function` of a MIL program (or anything `load_program` takes) on numpy inputs."""

    def __init__(self, program: Any, function: str = "main", pool: ConstantPool | None = None):
        program = load_program(program)
        self._pool = pool
        if function not in program.functions:
            raise SfError(
                f"the MIL program has no function '{function}'",
                f"pick one of: {', '.join(program.functions)}",
            )
        self.function = function
        func = program.functions[function]
        self._types = import_coremltools().converters.mil.mil.types
        _check_supported(func, function)
        described = {n: (self._describe(v), self._types.is_state(v.sym_type)) for n, v in func.inputs.items()}
        self._inputs = {n: value for n, (value, is_state) in described.items() if not is_state}
        self._states = {n: value for n, (value, is_state) in described.items() if is_state}
        self.input_names = list(self._inputs)
        self.state_names = list(self._states)
        self.output_names = [v.name for v in func.outputs]
        self._output_dtypes = {v.name: self._types.nptype_from_builtin(v.dtype) for v in func.outputs}
        steps = [self._step(op) for op in func.operations]
        self._static_steps, self._steps = _split_static(steps, self.input_names + self.state_names)
        self._dead_after = _last_readers(self._steps, set(self.output_names))
        self._keep = _static_needed(self._steps, self.output_names)
        self._static: dict[str, Any] | None = None
        self._constant_id_set: frozenset[int] | None = None
        self._writes = _StateWrites(self._steps, self.state_names)

    # --- building ----------------------------------------------------------------------------------

    def _describe(self, var: Any) -> _Value:
        t = self._types
        sym = var.sym_type.wrapped_type() if t.is_state(var.sym_type) else var.sym_type
        if not (t.is_tensor(sym) or t.is_scalar(sym)) or t.is_str(sym):
            return _Value(var.name, None, False, None)
        dtype, dims = (sym.get_primitive(), sym.get_shape()) if t.is_tensor(sym) else (sym, ())
        shape = tuple(d if isinstance(d, (int, np.integer)) else None for d in dims)
        fp16 = dtype == t.fp16
        return _Value(var.name, np.float32 if fp16 else t.nptype_from_builtin(dtype), fp16, shape)

    def _step(self, op: Any) -> _Step:
        inputs = tuple(
            (param, var.name if not isinstance(var, (list, tuple)) else tuple(v.name for v in var))
            for param, var in op.inputs.items()
        )
        return _Step(op, ops.OPS[op.op_type], inputs, tuple(self._describe(v) for v in op.outputs))

    # --- running -----------------------------------------------------------------------------------

    def make_state(self) -> dict[str, np.ndarray]:
        """Zero-filled arrays in each state's declared shape and dtype (fp16 for Core ML states)."""
        return {n: np.zeros(v.shape, np.float16 if v.fp16 else v.dtype) for n, v in self._states.items()}

    def predict(
        self, inputs: dict[str, Any], state: dict[str, np.ndarray] | None = None, report: Callable[[str], None] | None = None
    ) -> dict[str, np.ndarray]:
        """Outputs by name, in their declared dtypes. Writes to states land in `state`'s arrays in place
        (a fresh zero state is used, and dropped, when `state` is None). `report` hears "op i/N" every
        REPORT_EVERY ops (a 128-frame vision tower runs for many minutes)."""
        env = dict(self._static_values())
        given = self._bind_inputs(inputs)
        env.update(given)
        # arrays no op may overwrite: the constants and the caller's own input arrays
        protected = self._constant_ids() | {id(v) for v in given.values()}
        state = self.make_state() if state is None else state
        # Each state is widened once per call and written back once at the end; in between,
        # coreml_update_state rebinds it to the written array instead of copying (see _StateWrites).
        bound = self._bind_states(state)
        current = {name: spec.hold(bound[name]) for name, spec in self._states.items()}
        env.update(current)
        for index, (step, dead) in enumerate(zip(self._steps, self._dead_after)):
            if report is not None and index % REPORT_EVERY == 0:
                report(f"MIL function '{self.function}': op {index}/{len(self._steps)}")
            if step.op.op_type == "coreml_update_state":
                value = env[dict(step.inputs)["value"]]
                current[dict(step.inputs)["state"]] = env[dict(step.inputs)["state"]] = value
                env[step.outputs[0].name] = value
            elif step.op.op_type == "slice_update" and self._writes.may_mutate(index, step, dead, env, current, protected):
                env[step.outputs[0].name] = ops.slice_update_into(_args(step, env), env[dict(step.inputs)["x"]])
            elif step.op.op_type in ops.IN_PLACE_OPS:
                _run(step, env, self.function, out=_reusable_x(step, dead, env, current, protected))
            else:
                _run(step, env, self.function)
            for name in dead:
                del env[name]
        for name, value in current.items():
            np.copyto(state[name], value, casting="unsafe")  # values are fp16-exact: no rounding here
        # outputs are the run's own arrays unless a constant or an input is returned as is
        return {n: np.asarray(env[n]).astype(self._output_dtypes[n], copy=id(env[n]) in protected) for n in self.output_names}

    def _constant_ids(self) -> frozenset[int]:
        if self._constant_id_set is None:
            self._constant_id_set = frozenset(id(v) for v in self._static_values().values())
        return self._constant_id_set

    def constant_values(self) -> dict[str, np.ndarray]:
        """The constant-only values a run reads (const, decompressed constexpr_*, ops of them) by Var
        name, computed once; fp16 ones are held exactly in float32. Do not modify them."""
        return dict(self._static_values())

    def _static_values(self) -> dict[str, Any]:
        if self._static is None:
            env: dict[str, Any] = {}
            for step in self._static_steps:
                _run(step, env, self.function)
                if self._pool is not None:  # swap in the pooled copy at once: never two copies alive
                    for spec in step.outputs:
                        env[spec.name] = self._pool.intern(spec.name, env[spec.name])
            self._static = {n: env[n] for n in self._keep if n in env}
        return self._static

    def _bind_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise SfError(
                f"missing input(s) {', '.join(map(repr, missing))} for MIL function '{self.function}'",
                f"pass all of: {', '.join(self.input_names)}",
            )
        bound = {}
        for name, spec in self._inputs.items():
            value = np.asarray(inputs[name])
            _check_shape(spec, value.shape, "input", self.function)
            bound[name] = spec.hold(value)
        return bound

    def _bind_states(self, state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for name, spec in self._states.items():
            if not isinstance(state.get(name), np.ndarray):
                raise SfError(
                    f"state '{name}' of MIL function '{self.function}' is missing or not a numpy array",
                    "pass the dict from make_state() (its arrays are updated in place)",
                )
            _check_shape(spec, state[name].shape, "state", self.function)
        return {name: state[name] for name in self._states}


def _check_supported(func: Any, function: str) -> None:
    """Fail before running anything, naming every op type without an implementation."""
    missing = {}  # op type -> the first op of that type
    for op in func.operations:
        if op.op_type not in ops.OPS or op.blocks:  # ops with nested blocks (cond, while_loop): none
            missing.setdefault(op.op_type, op.name)
    if missing:
        listed = ", ".join(f"'{t}' (op '{name}' in function '{function}')" for t, name in missing.items())
        raise UnsupportedOpError(
            f"the MIL evaluator has no implementation of op {listed}",
            "add it to sf_mobile/runtimes/mil/ops.py",
        )


def _split_static(steps: list[_Step], runtime_names: list[str]) -> tuple[list[_Step], list[_Step]]:
    """(steps whose inputs are all constant, the rest), each in program order."""
    dynamic_names = set(runtime_names)
    static, dynamic = [], []
    for step in steps:
        if any(n in dynamic_names for n in _input_names(step)):
            dynamic.append(step)
            dynamic_names.update(v.name for v in step.outputs)
        else:
            static.append(step)
    return static, dynamic


def _input_names(step: _Step) -> list[str]:
    return [n for _, ref in step.inputs for n in ((ref,) if isinstance(ref, str) else ref)]


def _static_needed(steps: list[_Step], output_names: list[str]) -> set[str]:
    """Names a run reads (a superset of the static values worth keeping)."""
    return {n for step in steps for n in _input_names(step)} | set(output_names)


def _last_readers(steps: list[_Step], keep: set[str]) -> list[list[str]]:
    """For each step, the values no later step reads (freed right after it, outputs excepted)."""
    last = {}
    for i, step in enumerate(steps):
        for n in _input_names(step):
            last[n] = i
    dead: list[list[str]] = [[] for _ in steps]
    for name, i in last.items():
        if name not in keep:
            dead[i].append(name)
    return dead


class _StateWrites:
    """When a KV-cache `slice_update` may write into its input instead of a copy.

    A converted decoder chains, per layer, `slice_update` on the whole cache and
    `coreml_update_state`: copying and re-rounding a 1b cache (44M values) twice per layer made one
    prefill chunk cost seconds. Writing in place is safe when nothing can see the old value: the
    input is not read after this op, no other live name holds the same array, it is no constant, and
    if it is a state's current value, that state is updated again before anything reads it."""

    def __init__(self, steps: list[_Step], state_names: list[str]):
        self._states = set(state_names)
        self._updates: dict[str, list[int]] = {n: [] for n in state_names}
        self._reads: dict[str, list[int]] = {n: [] for n in state_names}
        for index, step in enumerate(steps):
            kind, refs = step.op.op_type, dict(step.inputs)
            if kind == "coreml_update_state":
                self._updates[refs["state"]].append(index)
            elif kind == "read_state":
                self._reads[refs["input"]].append(index)

    def may_mutate(self, index: int, step: _Step, dead: list[str], env: dict[str, Any], current: dict[str, Any], protected) -> bool:
        name = dict(step.inputs)["x"]
        x = env[name]
        if not isinstance(x, np.ndarray) or not _sole_holder(name, x, dead, env, protected, self._states):
            return False
        for state, value in current.items():
            if value is x and not self._rewritten_before_read(state, index):
                return False
        return True

    def _rewritten_before_read(self, state: str, index: int) -> bool:
        update = next((i for i in self._updates[state] if i > index), None)
        read = next((i for i in self._reads[state] if i > index), None)
        return update is not None and (read is None or update < read)


def _sole_holder(name: str, x: np.ndarray, dead: list[str], env: dict[str, Any], protected, skip=()) -> bool:
    """True when no step reads `name` after this one, no other live name (outside `skip`) holds the
    same array, and it is neither a constant nor a caller's input (`protected` ids): then the
    array may be overwritten."""
    if name not in dead or id(x) in protected:
        return False
    return not any(v is x for k, v in env.items() if k != name and k not in skip)


def _reusable_x(step: _Step, dead: list[str], env: dict[str, Any], current: dict[str, Any], protected) -> np.ndarray | None:
    """The op's input `x` as a buffer for its result, when nothing can see the old value."""
    name = dict(step.inputs).get("x")
    x = env.get(name) if isinstance(name, str) else None
    if not _writable_float32(x) or step.outputs[0].dtype != np.float32:
        return None
    if not _sole_holder(name, x, dead, env, protected) or any(v is x for v in current.values()):
        return None
    return x


def _args(step: _Step, env: dict[str, Any], out: np.ndarray | None = None) -> ops.Args:
    return ops.Args(step.op, {p: env[ref] if isinstance(ref, str) else [env[n] for n in ref] for p, ref in step.inputs}, out)


def _run(step: _Step, env: dict[str, Any], function: str, out: np.ndarray | None = None) -> None:
    args = _args(step, env, out)
    try:
        result = step.fn(args)
    except Exception as e:  # numpy's message alone does not say which op failed
        e.add_note(f"while evaluating MIL op '{step.op.name}' ({step.op.op_type}) in function '{function}'")
        raise
    moves_data = step.op.op_type in DATA_MOVEMENT_OPS
    for spec, value in zip(step.outputs, result if isinstance(result, tuple) else (result,)):
        # Every value in `env` is already rounded to its dtype, so an op that only moves values
        # needs no rounding pass (the pass costs more than the op on a 1b attention tensor).
        if moves_data and isinstance(value, np.ndarray) and value.dtype == spec.dtype:
            held = value
        else:
            held = spec.hold(value, owned=_writable_float32(value) and (value is out or not args.holds(value)))
        if spec.shape is not None and not _shape_matches(spec.shape, np.shape(held)):
            raise AssertionError(
                f"MIL evaluator bug: op '{step.op.name}' ({step.op.op_type}) gave shape {np.shape(held)}, "
                f"the program declares {spec.shape}"
            )
        env[spec.name] = held


def _shape_matches(declared: tuple[int | None, ...], actual: tuple[int, ...]) -> bool:
    return len(declared) == len(actual) and all(d is None or d == a for d, a in zip(declared, actual))


def _check_shape(spec: _Value, shape: tuple[int, ...], kind: str, function: str) -> None:
    if not _shape_matches(spec.shape, shape):
        wanted = tuple("?" if d is None else d for d in spec.shape)
        raise SfError(
            f"{kind} '{spec.name}' of MIL function '{function}' has shape {tuple(shape)}, "
            f"the program declares {wanted}",
            f"pass an array of shape {wanted} ('?': any size)",
        )
