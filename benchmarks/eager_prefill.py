"""The eager reference's prefill: attending to the written slots only vs to the whole masked cache.

    python -m sf_mobile.benchmarks.eager_prefill --size 1b --layers 4 --prompt 9216 --record

The same DecoderStep (the preset's LLM cut to --layers layers, random weights) prefills the same
--prompt random embeddings in EAGER_PREFILL_ROWS-row calls twice in one run: as it runs eagerly
(keys and values sliced to the slots written so far) and in the form traced graphs keep (the whole
cache, masked; forced by making the step believe it is being compiled). Rows go to
benchmarks/results/eager_prefill.md with both times, their ratio and the largest logit difference.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from unittest import mock

from sf_mobile.benchmarks import record

HEADER = (
    "# Eager reference prefill: written slots only vs the whole masked cache (same step, one run)\n\n"
    "| date | command | layers | prompt | context | written-slots s | whole-cache s | ratio | max abs logit diff | peak RSS GiB |\n"
    "|---|---|---|---|---|---|---|---|---|---|\n"
)


def main(argv=None) -> int:
    import torch

    from sf_mobile.exportable import DecoderStep
    from sf_mobile.model.slowfast_llava import build_model
    from sf_mobile.parity.driver import prefill
    from sf_mobile.presets import get_preset
    from sf_mobile.runtimes.eager import EAGER_PREFILL_ROWS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1b")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--prompt", type=int, default=9216, help="prompt rows (128-frame 1b: ~9.3K)")
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args(argv)

    preset = get_preset(args.size)
    config = dataclasses.replace(preset, llm=dataclasses.replace(preset.llm, num_layers=args.layers))
    model = build_model(config)
    context = -(-(args.prompt + 16) // 256) * 256
    embeds = torch.randn(1, args.prompt, config.llm.hidden_size, generator=torch.Generator().manual_seed(0)) * 0.02

    class Rows:  # the driver's view of a backend: feed the step in EAGER_PREFILL_ROWS-row calls
        name, max_seq_len = "eager", EAGER_PREFILL_ROWS

        def __init__(self, step):
            self.step = step

        def text_decoder(self, chunk, positions):
            return self.step(chunk, positions)

    seconds, logits = {}, {}
    for form in ("written-slots", "whole-cache"):
        step = DecoderStep(model, context)
        forced = mock.patch.object(torch.compiler, "is_compiling", return_value=form == "whole-cache")
        with torch.inference_mode(), forced:
            start = time.perf_counter()
            logits[form] = prefill(Rows(step), embeds)
            seconds[form] = time.perf_counter() - start
        print(f"{form}: {seconds[form]:.1f} s", flush=True)
        del step
    diff = float((logits["written-slots"] - logits["whole-cache"]).abs().max())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    shown = record.command_line("eager_prefill", argv)
    row = (f"| {record.today()} | `{shown}` | {args.layers} | {args.prompt} | {context} | {seconds['written-slots']:.1f} | "
           f"{seconds['whole-cache']:.1f} | {seconds['whole-cache'] / seconds['written-slots']:.2f}x | {diff:.1e} | {peak:.1f} |")
    print(HEADER + row)
    if args.record:
        record.append_row("eager_prefill.md", HEADER, row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
