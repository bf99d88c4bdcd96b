"""torch modules -> ONNX graphs at opset 21, checked, with their weights in shared data files.

Exporter: `torch.onnx.export(..., dynamo=True)` (torch.export, then onnxscript's torchlib). With
torch 2.13 the TorchScript exporter (`dynamo=False`) stops at opset 20
(`torch.onnx._constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET`) and is deprecated; the dynamo
exporter writes opset 21 directly, with the tanh GELU as one native `Gelu(approximate="tanh")`
(opset 20+), so nothing needs spelling out. It needs the `onnxscript` package.

Weights: each graph is saved with its own external data, then `finish_graphs` moves every tensor
into ONE data file per group of graphs (prefill + decode share `decoder.onnx.data`), storing each
distinct tensor once (matched by content), optionally pointing at a file already written (the raw
embedding table, which a tied LM head equals byte for byte). Tensors of 1 MiB or more start at a
64 KiB boundary: ONNX Runtime maps aligned external initializers instead of copying them
(4 KiB pages, 64 KiB on Windows: onnxruntime/include/.../model_saving_options.h), so two sessions
over one file read the same pages.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import mmap
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from sf_mobile.errors import MissingDependencyError
from sf_mobile.export.onnx.options import OPSET

ALIGN_THRESHOLD = 1 << 20  # bytes: tensors this large start on an ALIGN_LARGE boundary
ALIGN_LARGE = 1 << 16  # mmap granularity on every OS ONNX Runtime runs on (Windows: 64 KiB; Android: 4 or 16 KiB)
ALIGN_SMALL = 64  # cache-line alignment for the rest
INLINE_LIMIT = 1024  # bytes: smaller tensors stay inside the .onnx file (shapes, scalars, biases of tiny models)
METADATA_PREFIX = "sf."
EXPORTED_PREFIX = "exported-"  # the exporter's own graph and data files, until finish_graphs rewrites them


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
    `exported_path(path)`, weights beside it, for `finish_graphs` to write as `path`."""
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


@dataclass
class PoolReport:
    """What pooling stored: distinct tensors written, tensors that reused stored bytes, bytes saved."""

    written: int = 0
    reused: int = 0
    reused_bytes: int = 0
    shared_with: dict[str, int] = field(default_factory=dict)  # file -> tensors whose bytes came from it


class DataPool:
    """One external data file; each distinct tensor's bytes are written once."""

    def __init__(self, folder: Path, name: str, reuse: tuple[str, ...] = ()):
        self.folder, self.name = folder, name
        self.handle = open(folder / name, "wb")
        self.index: dict[tuple[int, str], tuple[str, int, int]] = {}  # (dtype, sha256) -> (file, offset, length)
        self.report = PoolReport()
        for existing in reuse:  # a whole file that already holds a tensor's bytes
            digest, size = _file_sha256(folder / existing)
            self.index[(0, digest)] = (existing, 0, size)

    def place(self, data: memoryview, data_type: int) -> tuple[str, int, int]:
        digest = hashlib.sha256(data).hexdigest()
        for key in ((data_type, digest), (0, digest)):  # dtype 0: a reused file matches on bytes alone
            if key in self.index:
                location = self.index[key]
                self.report.reused += 1
                self.report.reused_bytes += len(data)
                self.report.shared_with[location[0]] = self.report.shared_with.get(location[0], 0) + 1
                return location
        align = ALIGN_LARGE if len(data) >= ALIGN_THRESHOLD else ALIGN_SMALL
        offset = -(-self.handle.tell() // align) * align
        self.handle.write(b"\0" * (offset - self.handle.tell()))
        self.handle.write(data)
        self.index[(data_type, digest)] = location = (self.name, offset, len(data))
        self.report.written += 1
        return location

    def close(self) -> None:
        self.handle.close()


def _file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):  # streamed: a 1b table is 0.9 GB
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _tensor_bytes(tensor, folder: Path, maps: dict) -> memoryview | None:
    """The bytes of an initializer held inline (raw_data) or in an external file; None for typed fields."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    if uses_external_data(tensor):
        info = ExternalDataInfo(tensor)
        if info.location not in maps:
            with open(folder / info.location, "rb") as handle:
                maps[info.location] = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return memoryview(maps[info.location])[info.offset : info.offset + info.length]
    return memoryview(tensor.raw_data) if tensor.HasField("raw_data") else None


def _point_at(tensor, location: tuple[str, int, int]) -> None:
    import onnx

    name, offset, length = location
    del tensor.external_data[:]
    for key, value in (("location", name), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.ClearField("raw_data")


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


def finish_graphs(folder: Path, graphs: dict[str, dict], data_name: str, reuse: tuple[str, ...] = ()) -> PoolReport:
    """Write the exported `graphs` ({file: metadata}) into `folder` as the shipped files: node
    annotations stripped, metadata set, every tensor over INLINE_LIMIT moved into `data_name`
    (distinct bytes once, or in a `reuse` file that holds them); the exporter's files are removed
    and the full checker runs on each saved graph."""
    onnx = require_onnx()
    pool, maps, sources = DataPool(folder, data_name, reuse), {}, set()
    try:
        for graph, metadata in graphs.items():
            exported = exported_path(folder / graph)
            sources.add(exported.name)
            model = onnx.load(str(exported), load_external_data=False)
            _strip_node_metadata(model)
            set_metadata(model, metadata)
            for tensor in model.graph.initializer:
                if tensor.data_location == onnx.TensorProto.EXTERNAL:
                    sources.add(dict((e.key, e.value) for e in tensor.external_data)["location"])
                data = _tensor_bytes(tensor, folder, maps)
                if data is not None and len(data) > INLINE_LIMIT:
                    _point_at(tensor, pool.place(data, tensor.data_type))
                    data.release()
            onnx.save(model, str(folder / graph))
    finally:
        pool.close()
        for mapped in maps.values():
            mapped.close()
    for source in sources:
        (folder / source).unlink()
    for graph in graphs:
        onnx.checker.check_model(str(folder / graph), full_check=True)  # the path form reads external data
    return pool.report


def external_files(path: Path) -> list[str]:
    """The data files a saved graph reads its weights from (the manifest lists them beside it)."""
    onnx = require_onnx()
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(path), load_external_data=False)
    return sorted({ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)})
