"""Weights of several ONNX graphs in one external data file, each distinct tensor stored once.

Prefill and decode hold the same weights: pooled, they read one `decoder.onnx.data` (matched by
content, so names need not agree), and a tensor equal to a whole file already written (the raw
embedding table, which a tied LM head equals byte for byte) points into that file instead.
Tensors of 1 MiB or more start at a 64 KiB boundary: ONNX Runtime memory-maps external
initializers whose offsets are aligned (4 KiB pages, 64 KiB on Windows:
onnxruntime/include/onnxruntime/core/graph/model_saving_options.h) instead of copying them, so
sessions over one file can read the same pages (with the CPU provider's prepacking off: see
`sf_mobile.runtimes.onnx.OnnxBackend`).
"""

from __future__ import annotations

import hashlib
import mmap
from dataclasses import dataclass, field
from pathlib import Path

ALIGN_THRESHOLD = 1 << 20  # bytes: tensors this large start on an ALIGN_LARGE boundary
ALIGN_LARGE = 1 << 16  # mmap granularity on every OS ONNX Runtime runs on (Windows: 64 KiB; Android: 4 or 16 KiB)
ALIGN_SMALL = 64  # cache-line alignment for the rest
INLINE_LIMIT = 1024  # bytes: smaller tensors stay inside the .onnx file (shapes, scalars, biases of tiny models)

Location = tuple[str, int, int]  # (file, offset, length)


@dataclass
class PoolReport:
    """What pooling stored: distinct tensors written, graph tensors that reused stored bytes."""

    written: int = 0
    reused: int = 0
    reused_bytes: int = 0
    shared_with: dict[str, int] = field(default_factory=dict)  # file -> tensors whose bytes came from it


class DataPool:
    """One external data file that several graphs read; each distinct tensor's bytes are written once.
    A context manager: the file is closed however the export ends."""

    def __init__(self, folder: Path, name: str, reuse: tuple[str, ...] = ()):
        self.folder, self.name = folder, name
        self.handle = open(folder / name, "wb")
        self.index: dict[tuple[int, str], Location] = {}  # (ONNX data type, sha256) -> where the bytes are
        self.report = PoolReport()
        for existing in reuse:  # a whole file that already holds a tensor's bytes: matched on bytes alone
            digest, size = _file_sha256(folder / existing)
            self.index[(0, digest)] = (existing, 0, size)

    def place(self, data: memoryview, data_type: int) -> Location:
        digest = hashlib.sha256(data).hexdigest()
        for key in ((data_type, digest), (0, digest)):
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

    def flush(self) -> None:
        self.handle.flush()

    def __enter__(self) -> DataPool:
        return self

    def __exit__(self, *exc) -> None:
        self.handle.close()


def _file_sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):  # streamed: a 1b table is 0.9 GB
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def tensor_bytes(tensor, folder: Path, maps: dict) -> memoryview | None:
    """The bytes of an initializer held inline (raw_data) or in an external file (memory-mapped, the
    map kept in `maps` for the caller to close); None for tensors stored in typed fields."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    if uses_external_data(tensor):
        info = ExternalDataInfo(tensor)
        if info.location not in maps:
            with open(folder / info.location, "rb") as handle:
                maps[info.location] = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        return memoryview(maps[info.location])[info.offset : info.offset + info.length]
    return memoryview(tensor.raw_data) if tensor.HasField("raw_data") else None


def point_at(tensor, location: Location) -> None:
    """Make `tensor` read its bytes from `location` (and hold none itself)."""
    import onnx

    name, offset, length = location
    del tensor.external_data[:]
    for key, value in (("location", name), ("offset", str(offset)), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.ClearField("raw_data")


def hold_inline(tensor, data: memoryview) -> None:
    """Make `tensor` hold its bytes itself (raw_data), reading from no file."""
    import onnx

    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        tensor.raw_data = bytes(data)
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT
