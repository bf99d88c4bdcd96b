"""A graph's interface (functions or methods, inputs, outputs, states) read from the graph itself
(ExecuTorch metadata, a Core ML spec, an ONNX model without its weights) against the manifest."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.errors import MissingDependencyError
from sf_mobile.verify.findings import Finding

PTE_SUFFIXES = (".pte",)
COREML_SUFFIXES = (".mlpackage", ".mlmodel")
ONNX_SUFFIXES = (".onnx",)
ONNX_FUNCTION = "main"  # an ONNX model has one graph: the manifest declares it as function "main"
# Dynamic dims are written "min..max"; graphs report their upper bound, so max is what is compared.
DYNAMIC_DIM = re.compile(r"\s*(\d+)\s*\.\.\s*(\d+)\s*")
# ExecuTorch's ScalarType codes (the c10 numbering) as the manifest's dtype names.
PTE_DTYPES = {0: "uint8", 1: "int8", 2: "int16", 3: "int32", 4: "int64", 5: "float16", 6: "float32", 7: "float64",
              11: "bool", 15: "bfloat16"}
# Core ML's ArrayDataType names as the manifest's dtype names.
COREML_DTYPES = {"FLOAT16": "float16", "FLOAT32": "float32", "DOUBLE": "float64", "INT32": "int32", "INT8": "int8"}
DTYPE_ALIASES = {"half": "float16", "fp16": "float16", "float": "float32", "fp32": "float32", "double": "float64",
                 "long": "int64", "byte": "uint8"}
# Loggers that print import-time noise when executorch pulls in torchao; none of it is actionable here.
NOISY_LOGGERS = ("torchao", "torch.utils._pytree")


# --- graph inputs and outputs -----------------------------------------------------------------


@dataclass(frozen=True)
class Tensor:
    """One declared or actual graph value: shape dims are ints, "min..max" or symbols; dtype may be
    unknown (None) when the manifest leaves it out; `kind` names a value that is not a tensor."""

    name: str
    shape: tuple | None
    dtype: str | None
    kind: str = "tensor"


class DeclarationError(ValueError):
    """The manifest declares a graph's inputs/outputs in a form this checker cannot read."""


def check_graph_io(path: Path, entry: dict) -> list[Finding]:
    """Findings for the graph at `path` against the entry's methods/functions, inputs, outputs, states."""
    name = entry["path"]
    if path.name.endswith(PTE_SUFFIXES):
        return _check_pte(path, name, entry)
    if path.name.endswith(COREML_SUFFIXES):
        return _check_coreml(path, name, entry)
    if path.name.endswith(ONNX_SUFFIXES):
        return _check_onnx(path, name, entry)
    return [Finding(name, "io", True, f"not run: no input/output check for {path.suffix or 'this'} files yet", ran=False)]


def _skipped(name: str, library: str, extra: str) -> Finding:
    return Finding(name, "io", True, f"skipped: {library} not installed (pip install 'sf-mobile[{extra}]')", ran=False)


def _declared_names(entry: dict, list_key: str) -> list[str]:
    """The graph's declared entry points: the list under `list_key`, then any only named by inputs/outputs."""
    names = entry.get(list_key) or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise DeclarationError(f"{list_key} is not a list of names")
    names = list(names)
    for key in ("inputs", "outputs"):
        by_function = entry.get(key)
        for function in by_function if isinstance(by_function, dict) else ():
            if function not in names:
                names.append(function)
    return names


def _declared_tensors(spec) -> list[Tensor]:
    """The manifest's forms of a function's inputs or outputs, as a list of Tensors:
    a bare shape [..]; one unnamed tensor {"shape", "dtype"}; named tensors {name: shape | {"shape", "dtype"}}."""
    if isinstance(spec, list):
        return [Tensor("0", tuple(spec), None)]
    if not isinstance(spec, dict):
        raise DeclarationError(f"a JSON {type(spec).__name__} where a shape or a tensor map belongs")
    if isinstance(spec.get("shape"), list):
        return [Tensor("0", tuple(spec["shape"]), spec.get("dtype"))]
    tensors = []
    for name, value in spec.items():
        if isinstance(value, list):
            tensors.append(Tensor(name, tuple(value), None))
        elif isinstance(value, dict) and isinstance(value.get("shape"), list):
            tensors.append(Tensor(name, tuple(value["shape"]), value.get("dtype")))
        else:
            raise DeclarationError(f"{name!r} has no shape list")
    return tensors


def _dim_matches(declared, actual: int | None) -> bool:
    if isinstance(declared, bool):
        return False
    if isinstance(declared, int):
        return actual == declared
    if isinstance(declared, str):
        if match := DYNAMIC_DIM.fullmatch(declared):
            return actual == int(match[2])
        return True  # a symbol ("S"): a size the manifest names but does not fix
    return False


def _canonical_dtype(dtype: str) -> str:
    lowered = str(dtype).lower()
    return DTYPE_ALIASES.get(lowered, lowered)


def _show(shape) -> str:
    return "[" + ", ".join(str(dim) for dim in shape) + "]"


def _compare(role: str, declared: list[Tensor], actual: list[Tensor], by_name: bool) -> list[str]:
    """Problems between declared and actual tensors: matched by name (Core ML) or position (.pte)."""
    problems = []
    if by_name:
        actual_by_name = {tensor.name: tensor for tensor in actual}
        declared_names = {tensor.name for tensor in declared}
        pairs = []
        for tensor in declared:
            if tensor.name in actual_by_name:
                pairs.append((tensor.name, tensor, actual_by_name[tensor.name]))
            else:
                problems.append(f"{role} {tensor.name} is declared but the graph has none")
        problems += [f"{role} {t.name} is in the graph but not declared" for t in actual if t.name not in declared_names]
    else:
        if len(declared) != len(actual):
            problems.append(f"{len(actual)} {role}s in the graph, {len(declared)} declared")
        pairs = [(t.name if t.name != "0" or len(declared) > 1 else "", t, a) for t, a in zip(declared, actual)]
    for label, want, have in pairs:
        what = f"{role} {label}".rstrip()
        if have.kind != "tensor":
            problems.append(f"{what} is a {have.kind} in the graph, declared a tensor")
            continue
        if len(want.shape) != len(have.shape) or not all(_dim_matches(w, h) for w, h in zip(want.shape, have.shape)):
            problems.append(f"{what} has shape {_show(have.shape)} in the graph, declared {_show(want.shape)}")
        if want.dtype is not None and _canonical_dtype(want.dtype) != have.dtype:
            problems.append(f"{what} has dtype {have.dtype} in the graph, declared {want.dtype}")
    return problems


# --- ExecuTorch .pte ---


def _import_executorch_runtime():
    """(Runtime, Verification), imported without torchao's import-time noise; ImportError when absent."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        from executorch.runtime import Runtime, Verification
    return Runtime, Verification


def _pte_tensor(meta_of, index: int) -> Tensor:
    try:
        info = meta_of(index)
    except RuntimeError:  # an int, bool or other non-tensor value
        return Tensor(str(index), None, None, kind="non-tensor value")
    code = int(info.dtype())
    return Tensor(str(index), tuple(int(size) for size in info.sizes()), PTE_DTYPES.get(code, f"scalar type {code}"))


def read_pte_signature(path: Path, methods: Iterable[str]) -> dict[str, tuple[list[Tensor], list[Tensor]]]:
    """{method: (inputs, outputs)} for those of `methods` the .pte has, from its metadata: nothing is
    executed, no method is loaded. Dynamic dims read as their upper bound. ImportError without
    executorch; RuntimeError when ExecuTorch cannot load the program."""
    Runtime, Verification = _import_executorch_runtime()
    # Full verification: the file may be damaged, and the flatbuffer checks keep parsing it safe.
    program = Runtime.get().load_program(Path(path), verification=Verification.InternalConsistency)
    signature = {}
    # Only the asked-for methods: the constant methods' non-tensor outputs make ExecuTorch log a line each.
    for method in [m for m in methods if m in program.method_names]:
        meta = program.metadata(method)
        inputs = [_pte_tensor(meta.input_tensor_meta, i) for i in range(meta.num_inputs())]
        outputs = [_pte_tensor(meta.output_tensor_meta, i) for i in range(meta.num_outputs())]
        signature[method] = (inputs, outputs)
    return signature


def _declared_for(entry: dict, key: str, function: str) -> list[Tensor] | None:
    """The tensors the entry declares under `key` ("inputs"/"outputs") for one function, or None
    when it declares none for it (then there is nothing to compare). DeclarationError when unreadable."""
    by_function = entry.get(key)
    if by_function is None:
        return None
    if not isinstance(by_function, dict):
        raise DeclarationError(f"{key} is a JSON {type(by_function).__name__}, not an object")
    return _declared_tensors(by_function[function]) if function in by_function else None


def _check_function(artifact: str, function: str, entry: dict, actual: tuple, *, by_name: bool, states: bool = False) -> Finding:
    """One function/method: declared inputs and outputs (and Core ML states) against the graph's
    `actual` (inputs, outputs[, states]). Core ML and ONNX values are matched by name, a .pte's by position."""
    try:
        declared = {role: _declared_for(entry, role + "s", function) for role in ("input", "output")}
        if states:  # states are declared once, shared by every function; none declared means none expected
            declared["state"] = _declared_tensors(entry.get("states") or {})
    except DeclarationError as err:
        return Finding(artifact, f"io {function}", False, f"the manifest's declaration is unreadable: {err}")
    problems, compared, untyped = [], [], []
    for (role, tensors), graph_tensors in zip(declared.items(), actual):
        if tensors is None:
            continue
        problems += _compare(role, tensors, graph_tensors, by_name=by_name)
        compared.append(role + "s")
        untyped += [f"{role} {t.name}" if t.name != "0" else role for t in tensors if t.dtype is None]
    if problems:
        return Finding(artifact, f"io {function}", False, "; ".join(problems))
    message = f"{_joined(compared)} match" if compared else "present; nothing declared to compare"
    if untyped:
        message += f"; no dtype declared for {', '.join(untyped)}"
    return Finding(artifact, f"io {function}", True, message)


def _joined(words: list[str]) -> str:
    return " and ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " and " + words[-1]


def _check_pte(path: Path, name: str, entry: dict) -> list[Finding]:
    try:
        methods = _declared_names(entry, "methods")
    except DeclarationError as err:
        return [Finding(name, "io", False, f"the manifest's declaration is unreadable: {err}")]
    try:
        signature = read_pte_signature(path, methods)
    except ImportError:
        return [_skipped(name, "executorch", "executorch")]
    except RuntimeError as err:
        return [Finding(name, "io", False, f"ExecuTorch cannot load the program ({err})")]
    findings = []
    for method in methods:
        if method not in signature:
            findings.append(Finding(name, f"io {method}", False, "declared but the program has no such method"))
        else:
            findings.append(_check_function(name, method, entry, signature[method], by_name=False))
    return findings


# --- Core ML .mlpackage ---


def _coreml_tensor(feature) -> Tensor:
    """A Core ML FeatureDescription (input, output, or state) as a Tensor; upper bounds for ranged dims."""
    kind = feature.type.WhichOneof("Type")
    array = feature.type.multiArrayType if kind == "multiArrayType" else None
    if kind == "stateType" and feature.type.stateType.WhichOneof("Type") == "arrayType":
        array = feature.type.stateType.arrayType
    if array is None:
        return Tensor(feature.name, None, None, kind=f"{kind or 'untyped'} feature")
    dims = [int(d) for d in array.shape]
    if array.WhichOneof("ShapeFlexibility") == "shapeRange":
        dims = [int(r.upperBound) for r in array.shapeRange.sizeRanges]  # -1: unbounded
    names = array.DESCRIPTOR.enum_types_by_name["ArrayDataType"].values_by_number
    dtype_name = names[array.dataType].name if array.dataType in names else str(array.dataType)
    return Tensor(feature.name, tuple(dims), COREML_DTYPES.get(dtype_name, dtype_name.lower()))


def read_coreml_signature(path: Path) -> dict[str, tuple[list[Tensor], list[Tensor], list[Tensor]]]:
    """{function: (inputs, outputs, states)} of a saved package's spec; a single-function model's
    one function is "main". Reads the spec only (Core ML itself is not needed: works on Linux).
    MissingDependencyError without coremltools; any other exception means an unreadable package."""
    from sf_mobile.runtimes.coremltools_import import import_coremltools

    ct = import_coremltools()
    description = ct.models.MLModel(str(path), skip_model_load=True).get_spec().description
    functions = list(description.functions) or [description]
    return {
        (function.name if description.functions else "main"): (
            [_coreml_tensor(f) for f in function.input],
            [_coreml_tensor(f) for f in function.output],
            [_coreml_tensor(f) for f in function.state],
        )
        for function in functions
    }


def _check_coreml(path: Path, name: str, entry: dict) -> list[Finding]:
    try:
        functions = _declared_names(entry, "functions")
    except DeclarationError as err:
        return [Finding(name, "io", False, f"the manifest's declaration is unreadable: {err}")]
    try:
        signature = read_coreml_signature(path)
    except MissingDependencyError:
        return [_skipped(name, "coremltools", "coreml")]
    except Exception as err:  # noqa: BLE001  protobuf, JSON and file errors all mean "not a readable package"
        return [Finding(name, "io", False, f"coremltools cannot read the package ({type(err).__name__}: {err})")]
    findings = []
    for function in functions:
        if function not in signature:
            findings.append(Finding(name, f"io {function}", False, f"declared but the package has no such function (it has {sorted(signature)})"))
        else:
            findings.append(_check_function(name, function, entry, signature[function], by_name=True, states=True))
    # A function the manifest does not declare is one the app cannot know how to call.
    for extra in sorted(set(signature) - set(functions)):
        findings.append(Finding(name, f"io {extra}", False, "the package has this function but the manifest does not declare it"))
    return findings


# --- ONNX .onnx ---


def _onnx_tensor(value, onnx) -> Tensor:
    """A graph input/output ValueInfo as a Tensor: fixed dims as ints, symbolic ones as their name."""
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return Tensor(value.name, None, None, kind=f"{kind or 'untyped'} value")
    tensor_type = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor_type.shape.dim)
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name if tensor_type.elem_type else None
    return Tensor(value.name, dims, dtype)


def read_onnx_signature(path: Path) -> dict[str, tuple[list[Tensor], list[Tensor]]]:
    """{"main": (inputs, outputs)} of a saved graph, read without its external data (weights are
    neither loaded nor needed). ImportError without onnx; any other exception means an unreadable file."""
    import onnx

    graph = onnx.load_model(str(path), load_external_data=False).graph
    weights = {tensor.name for tensor in graph.initializer}  # old exporters list initializers as inputs too
    inputs = [_onnx_tensor(value, onnx) for value in graph.input if value.name not in weights]
    return {ONNX_FUNCTION: (inputs, [_onnx_tensor(value, onnx) for value in graph.output])}


def _check_onnx(path: Path, name: str, entry: dict) -> list[Finding]:
    try:
        functions = _declared_names(entry, "functions")
    except DeclarationError as err:
        return [Finding(name, "io", False, f"the manifest's declaration is unreadable: {err}")]
    try:
        signature = read_onnx_signature(path)
    except ImportError:
        return [_skipped(name, "onnx", "onnx")]
    except Exception as err:  # noqa: BLE001  protobuf decode and file errors all mean "not a readable graph"
        return [Finding(name, "io", False, f"onnx cannot read the graph ({type(err).__name__}: {err})")]
    findings = []
    for function in functions or [ONNX_FUNCTION]:
        if function not in signature:
            findings.append(Finding(name, f"io {function}", False, f"declared but an ONNX graph has only {ONNX_FUNCTION!r}"))
        else:
            findings.append(_check_function(name, function, entry, signature[function], by_name=True))
    return findings
