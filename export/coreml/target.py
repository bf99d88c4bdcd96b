"""The Core ML target's command-line surface: its flags and how they become options."""

from __future__ import annotations

import argparse

from sf_mobile.export import parse_choice
from sf_mobile.export.coreml.options import (
    BLOCK_SIZES,
    DEFAULT_PREFILL_CHUNK,
    PALETTE_GROUPS,
    ComputeUnits,
    CoreMLOptions,
    Recipe,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("coreml")
    group.add_argument("--quant", default=Recipe.FP16.value, help=f"LLM weight recipe: {', '.join(r.value for r in Recipe)}")
    group.add_argument(
        "--compute-units",
        default=ComputeUnits.AUTO.value,
        help=f"{', '.join(c.value for c in ComputeUnits)} (auto: vision and prefill on the Neural Engine, decode on the GPU)",
    )
    group.add_argument(
        "--prefill-chunk", type=int, default=DEFAULT_PREFILL_CHUNK, help=f"rows per prefill call (default {DEFAULT_PREFILL_CHUNK})"
    )
    group.add_argument("--max-context", type=int, help="KV-cache positions (default: visual tokens + 1024, rounded to 256)")
    group.add_argument("--block-size", type=int, default=32, help=f"int4-block block size: {', '.join(map(str, BLOCK_SIZES))}")
    group.add_argument("--palette-group", type=int, default=16, help=f"palettize4 rows per table: {', '.join(map(str, PALETTE_GROUPS))}")



def options_from(args: argparse.Namespace) -> CoreMLOptions:
    return CoreMLOptions(
        quant=parse_choice(Recipe, args.quant, "--quant"),
        compute_units=parse_choice(ComputeUnits, args.compute_units, "--compute-units"),
        prefill_chunk=args.prefill_chunk,
        max_context=args.max_context,
        block_size=args.block_size,
        palette_group=args.palette_group,
    )


def run(request, options: CoreMLOptions):
    from sf_mobile.export.coreml.pipeline import export_coreml

    return export_coreml(request, options)
