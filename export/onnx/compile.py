"""QDQ graph -> offline-compiled HTP context for one Snapdragon SoC.

ONNX Runtime's EPContext flow (session config `ep.context_enable=1`): creating a QNN session on the
QDQ graph compiles it and writes a small ONNX graph of `EPContext` nodes (`ep.context_file_path`)
beside the QNN context binary (`*.bin`, `ep.context_embed_mode=0`: not inlined, so an app can
memory-map it). A phone loads the EPContext graph and skips HTP graph preparation entirely.

Which provider runs each node is recorded twice: while compiling, the QDQ graph's own nodes (ONNX
Runtime's `session.record_ep_graph_assignment_info`, with CPU fallback disabled, so a rejected node
fails the compile); and in the compiled graph, which must hold EPContext nodes only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.export.onnx.options import SoC

EP_CONTEXT_OP = "EPContext"


@dataclass(frozen=True)
class CompiledGraph:
    graph: str  # the EPContext graph, relative to the export folder
    binaries: tuple[str, ...]  # its context binaries, relative to the export folder
    qdq_nodes: dict[str, int]  # {provider: nodes of the QDQ graph it took}, recorded while compiling
    context_nodes: int  # EPContext nodes in the compiled graph (every node of it)

    def manifest_fields(self, soc: SoC) -> dict:
        return {
            "soc": soc.value,
            "soc_model": soc.soc_model,
            "htp_arch": soc.htp_arch,
            "context_binaries": list(self.binaries),
            "node_assignment": {
                "qdq_graph": self.qdq_nodes,
                "compiled_graph": {"EPContext": self.context_nodes},
                "method": "session.record_ep_graph_assignment_info while compiling, CPU fallback disabled; "
                "EPContext node count of the compiled graph",
            },
        }


def context_folder(soc: SoC) -> str:
    return f"qnn/{soc.value}"


def compile_graph(folder: Path, graph: str, soc: SoC) -> CompiledGraph:
    """Compile `folder/graph` (a QDQ graph) for `soc` into `folder/qnn/<soc>/graph` + its binary;
    the compiled graph gets the QDQ graph's `sf.*` metadata (apps read the chunk and mask from it)."""
    import onnx

    from sf_mobile.runtimes.qnn import htp_session_options, node_assignment
    from sf_mobile.runtimes.onnx import import_onnxruntime

    ort = import_onnxruntime()
    out_dir = folder / context_folder(soc)
    out_dir.mkdir(parents=True, exist_ok=True)
    before = set(out_dir.iterdir())
    options = htp_session_options(soc.soc_model)
    options.add_session_config_entry("ep.context_enable", "1")
    options.add_session_config_entry("ep.context_file_path", str(out_dir / graph))
    options.add_session_config_entry("ep.context_embed_mode", "0")
    session = ort.InferenceSession(str(folder / graph), sess_options=options)
    qdq_nodes = node_assignment(session)
    del session
    compiled = onnx.load(str(out_dir / graph), load_external_data=False)
    source = onnx.load(str(folder / graph), load_external_data=False)
    del compiled.metadata_props[:]
    compiled.metadata_props.extend(p for p in source.metadata_props if p.key.startswith("sf."))
    onnx.save(compiled, str(out_dir / graph))
    binaries = sorted(p for p in set(out_dir.iterdir()) - before if p.suffix == ".bin")
    others = [n for n in compiled.graph.node if n.op_type != EP_CONTEXT_OP]
    if others or not binaries:
        raise RuntimeError(
            f"compiling {graph} for {soc.value} left {len(others)} non-EPContext nodes and {len(binaries)} binaries"
        )
    return CompiledGraph(
        graph=f"{context_folder(soc)}/{graph}",
        binaries=tuple(p.relative_to(folder).as_posix() for p in binaries),
        qdq_nodes=qdq_nodes,
        context_nodes=len(compiled.graph.node),
    )


def graph_metadata(path: Path) -> dict:
    """The `sf.*` metadata of a saved graph, decoded (for tests and sf-verify)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {p.key[3:]: json.loads(p.value) for p in model.metadata_props if p.key.startswith("sf.")}
