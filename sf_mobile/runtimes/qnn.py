"""ONNX Runtime sessions on Qualcomm's HTP through the `onnxruntime-qnn` plugin execution provider.

On an x86-64 host the plugin's `libQnnHtp.so` is a simulator of the NPU's kernels: its numbers are
what a phone computes, its speed (30-200x slower than the CPU provider) means nothing. Sessions are
created with CPU fallback disabled: a node HTP rejects fails the session instead of running quietly
on the CPU, and each session records which provider took which node (`node_assignment`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sf_mobile.errors import MissingDependencyError, SfError
from sf_mobile.runtimes.onnx import OnnxBackend, import_onnxruntime

QNN_PROVIDER = "QNNExecutionProvider"
SIMULATOR_NAME = "qnn-htp-simulator"
ASSIGNMENT_KEY = "session.record_ep_graph_assignment_info"  # ORT >= 1.23: get_provider_graph_assignment_info()


def import_qnn():
    try:
        import onnxruntime_qnn
    except ImportError:
        raise MissingDependencyError("onnxruntime-qnn", "qnn") from None
    return onnxruntime_qnn


def qnn_devices(ort) -> list:
    """The QNN plugin's OrtEpDevices, registering the plugin library on first use (once per process:
    ONNX Runtime refuses a second registration under the same name)."""
    qnn = import_qnn()
    devices = [d for d in ort.get_ep_devices() if d.ep_name == QNN_PROVIDER]
    if not devices:
        ort.register_execution_provider_library(QNN_PROVIDER, qnn.get_library_path())
        devices = [d for d in ort.get_ep_devices() if d.ep_name == QNN_PROVIDER]
    if not devices:
        raise SfError("onnxruntime-qnn registered no QNN device", "reinstall it: pip install 'sf-mobile[qnn]'")
    return devices


def htp_session_options(soc_model: int, threads: int = 0):
    """SessionOptions that put every node on HTP for the SoC `soc_model` (QNN's id: 57 = SM8650) or
    fail, and record the assignment."""
    ort = import_onnxruntime()
    qnn = import_qnn()
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # the plugin warns about Windows-only features on every session
    options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
    options.add_session_config_entry(ASSIGNMENT_KEY, "1")
    options.add_provider_for_devices(
        qnn_devices(ort), {"backend_path": qnn.get_qnn_htp_path(), "soc_model": str(soc_model)}
    )
    return options


def node_assignment(session) -> dict[str, int]:
    """{provider: nodes it runs} of a session created with ASSIGNMENT_KEY set."""
    counts: Counter = Counter()
    for subgraph in session.get_provider_graph_assignment_info():
        counts[subgraph.ep_name] += len(subgraph.get_nodes())
    return dict(counts)


class QnnHtpBackend(OnnxBackend):
    """An export folder's compiled EPContext graphs (`context_folder`, relative to `folder`) on the
    HTP simulator; the embedding table and metadata are the folder's own."""

    def __init__(self, folder: Path, context_folder: str, soc_model: int):
        folder = Path(folder)
        super().__init__(
            folder,
            graph_folder=folder / context_folder,
            session_options=lambda threads: htp_session_options(soc_model, threads),
            prepack=False,
        )
        self.name = SIMULATOR_NAME
        self.assignments = {name: node_assignment(session) for name, session in self.sessions.items()}
