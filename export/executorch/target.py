"""The ExecuTorch target's command-line surface: its flags and how they become options."""

from __future__ import annotations

import argparse

from sf_mobile.export import parse_choice
from sf_mobile.export.executorch.options import GROUP_SIZES, EmbeddingQuant, ExecuTorchOptions, Quant, VisionQuant


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("executorch")
    group.add_argument("--quant", default=Quant.FP32.value, help=f"LLM weights: {', '.join(q.value for q in Quant)}")
    group.add_argument("--group-size", type=int, default=32, help=f"8da4w group size: {', '.join(map(str, GROUP_SIZES))}")
    group.add_argument(
        "--embedding-quant", default=EmbeddingQuant.NONE.value, help=f"{', '.join(q.value for q in EmbeddingQuant)}"
    )
    group.add_argument("--vision-quant", default=VisionQuant.FP32.value, help=f"{', '.join(q.value for q in VisionQuant)}")
    group.add_argument("--max-context", type=int, help="KV-cache positions (default: visual tokens + 1024, rounded to 256)")



def options_from(args: argparse.Namespace) -> ExecuTorchOptions:
    return ExecuTorchOptions(
        quant=parse_choice(Quant, args.quant, "--quant"),
        group_size=args.group_size,
        embedding_quant=parse_choice(EmbeddingQuant, args.embedding_quant, "--embedding-quant"),
        vision_quant=parse_choice(VisionQuant, args.vision_quant, "--vision-quant"),
        max_context=args.max_context,
    )


def run(request, options: ExecuTorchOptions):
    from sf_mobile.export.executorch.pipeline import export_executorch

    return export_executorch(request, options)
