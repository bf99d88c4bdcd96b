"""The ONNX target's command-line surface: its flags and how they become options."""

from __future__ import annotations

import argparse

from sf_mobile.export import parse_choice
from sf_mobile.export.onnx.options import DEFAULT_PREFILL_CHUNK, Backend, OnnxOptions, Quant


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("onnx")
    group.add_argument(
        "--backend", default=Backend.CPU.value, help=f"{', '.join(b.value for b in Backend)} (qnn: not built yet)"
    )
    group.add_argument(
        "--quant", default=Quant.FP32.value, help=f"{', '.join(q.value for q in Quant)} (a16w8/a8w8 need the QNN path: not built yet)"
    )
    group.add_argument(
        "--prefill-chunk", type=int, default=DEFAULT_PREFILL_CHUNK, help=f"rows of the prefill graph (default {DEFAULT_PREFILL_CHUNK})"
    )
    group.add_argument("--max-context", type=int, help="KV-cache positions (default: visual tokens + 1024, rounded to 256)")


def options_from(args: argparse.Namespace) -> OnnxOptions:
    """Parsed and checked for the QNN names here, before the CLI starts any work."""
    return OnnxOptions(
        backend=parse_choice(Backend, args.backend, "--backend"),
        quant=parse_choice(Quant, args.quant, "--quant"),
        prefill_chunk=args.prefill_chunk,
        max_context=args.max_context,
    )


def run(request, options: OnnxOptions):
    from sf_mobile.export.onnx.pipeline import export_onnx

    return export_onnx(request, options)
