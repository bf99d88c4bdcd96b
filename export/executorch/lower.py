"""torch.export -> XNNPACK lowering -> one ExecuTorch program with several methods.

Stages are plain functions: `export_programs` (ExportedProgram per method) -> `lower_to_executorch`
(edge dialect, XNNPACK delegation, memory planning) -> `delegation_stats` (what ran where).
"""

from __future__ import annotations

import collections
from dataclasses import dataclass

import torch
from torch.export import Dim, ExportedProgram



@dataclass(frozen=True)
class DelegationStats:
    """Per method: how many XNNPACK delegate calls, and which aten ops stayed on portable kernels."""

    delegates: dict[str, int]
    portable_ops: dict[str, dict[str, int]]

    def to_dict(self) -> dict:
        return {"xnnpack_delegates": self.delegates, "portable_ops": self.portable_ops}


def export_programs(methods: dict[str, torch.nn.Module], max_seq_len: int, frames_example: torch.Tensor | None):
    """{method: ExportedProgram}. Token and decoder methods take 1..max_seq_len positions per call.
    Without `frames_example` (and a vision_encoder) only the two language-model methods are exported."""
    seq = Dim("seq", min=1, max=max_seq_len)
    decoder = methods["text_decoder"]
    embeds, positions = decoder.example_inputs(min(8, max_seq_len))
    with torch.no_grad():
        vision = {}
        if frames_example is not None:
            vision["vision_encoder"] = torch.export.export(methods["vision_encoder"], (frames_example,), strict=False)
        return {
            **vision,
            "token_embedding": torch.export.export(
                methods["token_embedding"], (torch.zeros(1, positions.numel(), dtype=torch.long),),
                dynamic_shapes=({1: seq},), strict=False,
            ),
            "text_decoder": torch.export.export(
                decoder, (embeds, positions), dynamic_shapes=({1: seq}, {0: seq}), strict=False
            ),
        }


def _partitioners(quantized: bool, per_op_mode: bool = False) -> list:
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner

    # One partitioner over every precision: a dynamically quantized linear and the fp32 ops around
    # it (residual adds, RMSNorm's scale, RoPE, SiLU) land in the same XNNPACK partition. A separate
    # DYNAMIC_QUANT partitioner first (ExecuTorch's llama recipe) cut every layer into ~13 delegate
    # calls instead of ~6 on the tiny decoder, which doubled lowering time (it scales with the partition
    # count) and added a delegate crossing per cut to every decode step.
    # per_op_mode: one partition per op (benchmarks/lowering_modes.py measures it; much slower).
    return [XnnpackPartitioner(per_op_mode=per_op_mode and quantized)]


def lower_to_executorch(
    programs: dict[str, ExportedProgram], quantized: dict[str, bool], constant_methods: dict, per_op_mode: bool = False
):
    """Edge dialect + XNNPACK delegation + memory planning; returns (ExecutorchProgramManager, edge manager)."""
    from executorch.exir import EdgeCompileConfig, ExecutorchBackendConfig, to_edge_transform_and_lower
    from executorch.exir.passes import MemoryPlanningPass
    from executorch.exir.passes.sym_shape_eval_pass import ConstraintBasedSymShapeEvalPass

    edge = to_edge_transform_and_lower(
        programs,
        partitioner={name: _partitioners(quantized[name], per_op_mode) for name in programs},
        constant_methods=constant_methods,
        compile_config=EdgeCompileConfig(_check_ir_validity=False),
    )
    stats = delegation_stats(edge)
    program = edge.to_executorch(
        ExecutorchBackendConfig(
            # inputs come from the caller's buffers (the runner's tensors), not planned memory
            memory_planning_pass=MemoryPlanningPass(alloc_graph_input=False),
            # plan dynamic sequence lengths for their upper bound
            sym_shape_eval_pass=ConstraintBasedSymShapeEvalPass(),
        )
    )
    return program, stats


def _op_name(target) -> str:
    """'aten.native_layer_norm.default' -> 'native_layer_norm'; python operators by name."""
    name = getattr(target, "__name__", str(target))
    parts = name.split(".")
    return parts[1] if len(parts) >= 3 else parts[0]


def delegation_stats(edge) -> DelegationStats:
    delegates, portable = {}, {}
    for name in edge.methods:
        graph = edge.exported_program(name).graph
        calls = [n for n in graph.nodes if n.op == "call_function"]
        delegates[name] = sum(1 for n in calls if "executorch_call_delegate" in str(n.target))
        ops = collections.Counter(
            _op_name(n.target) for n in calls if "executorch_call_delegate" not in str(n.target)
        )
        ops.pop("getitem", None)
        portable[name] = dict(sorted(ops.items()))
    return DelegationStats(delegates=delegates, portable_ops=portable)


def require_executorch() -> None:
    try:
        import executorch  # noqa: F401
        import torchao  # noqa: F401
    except ImportError:
        from sf_mobile.errors import MissingDependencyError

        raise MissingDependencyError("executorch", "executorch") from None

