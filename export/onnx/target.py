"""The ONNX target's command-line surface: its flags and how they become options."""

from __future__ import annotations

import argparse

from sf_mobile.export import parse_choice
from sf_mobile.export.onnx.options import BACKEND_QUANTS, DEFAULT_PREFILL_CHUNK, DEFAULT_SOC, Backend, OnnxOptions, Quant, SoC


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("onnx")
    group.add_argument(
        "--backend", default=Backend.CPU.value,
        help=f"{', '.join(b.value for b in Backend)} (qnn: QDQ graphs and context binaries for a Snapdragon NPU)",
    )
    per_backend = "; ".join(f"{b.value}: {', '.join(q.value for q in quants)}" for b, quants in BACKEND_QUANTS.items())
    group.add_argument("--quant", help=f"{per_backend} (default: the backend's first)")
    group.add_argument(
        "--soc", help=f"qnn: the SoC to compile for, {', '.join(s.value for s in SoC)} (default {DEFAULT_SOC.value})"
    )
    group.add_argument(
        "--prefill-chunk", type=int, default=DEFAULT_PREFILL_CHUNK, help=f"rows of the prefill graph (default {DEFAULT_PREFILL_CHUNK})"
    )
    group.add_argument("--max-context", type=int, help="KV-cache positions (default: visual tokens + 1024, rounded to 256)")


def options_from(args: argparse.Namespace) -> OnnxOptions:
    """Parsed and checked (backend, precision and SoC together) here, before the CLI starts any work."""
    return OnnxOptions(
        backend=parse_choice(Backend, args.backend, "--backend"),
        quant=None if args.quant is None else parse_choice(Quant, args.quant, "--quant"),
        soc=None if args.soc is None else parse_choice(SoC, args.soc, "--soc"),
        prefill_chunk=args.prefill_chunk,
        max_context=args.max_context,
    )


def run(request, options: OnnxOptions):
    from sf_mobile.export.onnx.pipeline import export_onnx

    return export_onnx(request, options)
