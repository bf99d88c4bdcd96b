"""torch modules -> ONNX graphs at opset 21: exported, annotated, weights pooled, checked.

Exporter: `torch.onnx.export(..., dynamo=True)` (torch.export, then onnxscript's torchlib). With
torch 2.13 the TorchScript exporter (`dynamo=False`) stops at opset 20
(`torch.onnx._constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET`) and is deprecated; the dynamo
exporter writes opset 21 directly, with the tanh GELU as one native `Gelu(approximate="tanh")`
(opset 20+), so nothing needs spelling out. It needs the `onnxscript` package.

Each graph is saved with its own external data, then `finish_graph` writes the shipped file with
its weights moved into a shared `weights.DataPool` file.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import torch

from sf_mobile.errors import MissingDependencyError
from sf_mobile.export.onnx.options import OPSET
from sf_mobile.export.onnx.weights import INLINE_LIMIT, DataPool, hold_inline, point_at, tensor_bytes

METADATA_PREFIX = "sf."
EXPORTED_PREFIX = "exported-"  # the exporter's own graph and data files, until finish_graph rewrites them


def exported_path(path: Path) -> Path:
    return path.with_name(EXPORTED_PREFIX + path.name)


def require_onnx():
    """(onnx, onnxscript), or the extra to install. onnxscript is what the dynamo exporter runs on."""
    try:
        import onnx
        import onnxscript  # noqa: F401
    except ImportError:
        raise MissingDependencyError("onnx and onnxscript", "onnx") from None
    return onnx


@contextlib.contextmanager
def quiet_export():
    """The exporter prints a progress line per phase and warns about torchvision ops it skips;
    our stage lines say where the export is."""
    import logging

    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch._dynamo", "torch.export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_graph(module: torch.nn.Module, inputs: tuple, input_names, output_names, path: Path) -> None:
    """Trace `module` on `inputs` (static shapes: no dynamic dims are declared) and save it as
    `exported_path(path)`, weights beside it, for `finish_graph` to write as `path`."""
    require_onnx()
    with torch.no_grad(), quiet_export():
        program = torch.onnx.export(
            module.eval(),
            inputs,
            dynamo=True,
            opset_version=OPSET,
            input_names=list(input_names),
            output_names=list(output_names),
            optimize=True,  # folds constants and drops the exporter's identity ops
            verbose=False,
        )
        program.save(str(exported_path(path)), external_data=True)
    del program


def drop_weights(module: torch.nn.Module) -> None:
    """Free the storage of every parameter and buffer of `module`, in place.

    torch.onnx's exporter keeps references to the parameters it traced after `export_graph` returns
    (its IR tensors wrap them; measured at 1b: 5.8 GB of parameters still alive after `del` of the
    module and the model, 6.4 GB of anonymous memory), so dropping our references frees nothing.
    Emptying each tensor's data frees the bytes whoever still holds the tensor object. Only for a
    module nothing will run again."""
    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            tensor.data = torch.empty(0, dtype=tensor.dtype)


def _strip_node_metadata(model) -> None:
    """The exporter annotates every node with its Python stack trace (absolute paths of the build
    machine): left in, the graphs' hashes depend on where the repository was checked out."""
    for node in model.graph.node:
        del node.metadata_props[:]
    model.doc_string = ""


def set_metadata(model, values: dict) -> None:
    """`sf.<key>` model properties (JSON values): what an app reads from the graph itself; ONNX
    Runtime returns them from `session.get_modelmeta().custom_metadata_map`."""
    del model.metadata_props[:]
    for key, value in values.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_PREFIX + key, json.dumps(value)


def finish_graph(folder: Path, graph: str, metadata: dict, pool: DataPool) -> None:
    """Write the exported `graph` into `folder` as the shipped file: node annotations stripped,
    `metadata` set, every tensor over INLINE_LIMIT placed in the pool's data file (or found in a
    file the pool reuses); the exporter's files are removed at once (at 1b they are GBs), then the
    full checker runs on the saved graph."""
    onnx = require_onnx()
    exported = exported_path(folder / graph)
    model = onnx.load(str(exported), load_external_data=False)
    _strip_node_metadata(model)
    set_metadata(model, metadata)
    sources, maps = {exported.name}, {}
    try:
        for tensor in model.graph.initializer:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                sources.add(dict((e.key, e.value) for e in tensor.external_data)["location"])
            data = tensor_bytes(tensor, folder, maps)
            if data is None:
                continue
            if len(data) > INLINE_LIMIT:
                point_at(tensor, pool.place(data, tensor.data_type))
            else:  # small: inside the graph file, also when the exporter had put it in its own (deleted) file
                hold_inline(tensor, data)
            data.release()
    finally:
        for mapped in maps.values():
            mapped.close()
    pool.flush()
    onnx.save(model, str(folder / graph))
    for source in sources:
        (folder / source).unlink()
    onnx.checker.check_model(str(folder / graph), full_check=True)  # the path form resolves external data


def external_files(path: Path) -> list[str]:
    """The data files a saved graph reads its weights from (the manifest lists them beside it)."""
    onnx = require_onnx()
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    return sorted({ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)})
