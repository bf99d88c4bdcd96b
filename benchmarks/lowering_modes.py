"""How long XNNPACK lowering of an 8da4w decoder takes: one partition per linear vs fewer, larger ones.

    python -m sf_mobile.benchmarks.lowering_modes --size 1b --layers 4 --record

Both modes lower the same text_decoder, exported afresh for each, (the preset's LLM cut to --layers layers, random
weights) in one run, side by side; rows go to benchmarks/results/lowering_modes.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time

from sf_mobile.benchmarks import record
HEADER = (
    "# XNNPACK lowering time of an 8da4w text_decoder: per_op_mode on vs off (same program, one run)\n\n"
    "| date | command | layers | per_op_mode=True s | per_op_mode=False s | ratio | delegates True/False | peak RSS GiB |\n"
    "|---|---|---|---|---|---|---|---|\n"
)


def main(argv=None) -> int:
    import torch

    from sf_mobile.export.executorch.decoder import ExecuTorchDecoderStep
    from sf_mobile.export.executorch.lower import delegation_stats, _partitioners
    from sf_mobile.export.executorch.methods import quantize_llm_8da4w
    from sf_mobile.model.slowfast_llava import build_model
    from sf_mobile.presets import get_preset

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1b")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--group-size", type=int, default=32)
    parser.add_argument("--max-context", type=int, default=1024)
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)

    from executorch.exir import EdgeCompileConfig, to_edge_transform_and_lower

    preset = get_preset(args.size)
    config = dataclasses.replace(preset, llm=dataclasses.replace(preset.llm, num_layers=args.layers))
    model = build_model(config)
    quantize_llm_8da4w(model, args.group_size)
    decoder = ExecuTorchDecoderStep(model, args.max_context)
    seq = torch.export.Dim("seq", min=1, max=args.max_context - 1)
    seconds, delegates = {}, {}
    for per_op in (True, False):
        with torch.no_grad():  # a fresh program per mode: lowering consumes the one it is given
            program = torch.export.export(
                decoder, decoder.example_inputs(8), dynamic_shapes=({1: seq}, {0: seq}), strict=False
            )
        start = time.perf_counter()
        edge = to_edge_transform_and_lower(
            {"text_decoder": program},
            partitioner={"text_decoder": _partitioners(True, per_op_mode=per_op)},
            compile_config=EdgeCompileConfig(_check_ir_validity=False),
        )
        seconds[per_op] = time.perf_counter() - start
        delegates[per_op] = delegation_stats(edge).delegates["text_decoder"]
        print(f"per_op_mode={per_op}: {seconds[per_op]:.1f} s, {delegates[per_op]} delegates", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    shown = record.command_line("lowering_modes", argv)
    row = (f"| {record.today()} | `{shown}` | {args.layers} | {seconds[True]:.1f} | "
           f"{seconds[False]:.1f} | {seconds[True] / seconds[False]:.2f}x | {delegates[True]}/{delegates[False]} | {peak:.1f} |")
    print(HEADER + row)
    if args.record:
        record.append_row("lowering_modes.md", HEADER, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
