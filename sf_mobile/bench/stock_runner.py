"""The stock ExecuTorch `MultimodalRunner` on the host: the exact C++ runner an Android or iOS app
links, fed [text, frames, text] and the folder's tokenizer.json.

It returns text pieces, not logits, so its parity is the greedy component alone: its pieces
against the bundle's greedy tokens decoded one by one (up to the first stop token, where the
runner stops). Its latency comes from the runner's own `Stats`, kept under their field names.
"""

from __future__ import annotations

import json
import statistics

from sf_mobile.bench.context import BenchContext
from sf_mobile.bench.entry import PeakMemory, entry
from sf_mobile.bench.host import HostBackend
from sf_mobile.bench.latency import nearest_rank
from sf_mobile.errors import SfError
from sf_mobile.parity.compare import compare_greedy
from sf_mobile.reports.schema import METRICS


def prompt_halves(folder, question: str) -> tuple[str, str]:
    """The text before and after the video, from the folder's chat_template.json."""
    path = folder / "chat_template.json"
    if not path.is_file():
        raise SfError(f"{folder} has no chat_template.json", "re-export the folder with sf-export")
    template = json.loads(path.read_text())
    text = template["template"].format(system=template["system"], question=question)
    before, _, after = text.partition(template["placeholder"])
    return before, after


STATS_TIMESTAMPS = (
    "model_load_start_ms", "model_load_end_ms", "inference_start_ms", "token_encode_end_ms",
    "model_execution_start_ms", "model_execution_end_ms", "prompt_eval_end_ms", "first_token_ms", "inference_end_ms",
)
STATS_DURATIONS = ("aggregate_sampling_time_ms", "aggregate_model_execution_time_ms")


def stats_dict(stats) -> dict:
    """A runner `Stats` under its own field names, timestamps rebased to model_load_start_ms = 0
    (the runner's clock has an arbitrary origin)."""
    origin = stats.model_load_start_ms
    values = {name: getattr(stats, name) - origin for name in STATS_TIMESTAMPS}
    values.update({name: getattr(stats, name) for name in STATS_DURATIONS})
    values.update(
        SCALING_FACTOR_UNITS_PER_SECOND=stats.SCALING_FACTOR_UNITS_PER_SECOND,
        num_prompt_tokens=stats.num_prompt_tokens,
        num_generated_tokens=stats.num_generated_tokens,
    )
    return values


def stats_metrics(stats: dict) -> dict[str, float]:
    """Prefill/decode rates and time to first token from one `Stats` (timestamps in ms)."""
    prompt_ms = stats["prompt_eval_end_ms"] - stats["inference_start_ms"]
    decode_ms = stats["inference_end_ms"] - stats["first_token_ms"]
    values = {"time_to_first_token_ms": float(stats["first_token_ms"] - stats["inference_start_ms"])}
    if prompt_ms > 0:
        values["prefill_tok_s"] = stats["num_prompt_tokens"] / (prompt_ms / 1000.0)
    if decode_ms > 0 and stats["num_generated_tokens"] > 1:
        values["decode_tok_s"] = (stats["num_generated_tokens"] - 1) / (decode_ms / 1000.0)
    return values


def summarize_stats(all_stats: list[dict], warmup: int) -> dict:
    by_metric: dict[str, list[float]] = {}
    for stats in all_stats:
        for name, value in stats_metrics(stats).items():
            by_metric.setdefault(name, []).append(value)
    metrics = {
        name: {"unit": METRICS[name][0], "median": round(statistics.median(v), 3), "p90": round(nearest_rank(v, 0.9), 3),
               "samples": [round(x, 3) for x in v]}
        for name, v in by_metric.items()
    }
    return {"repeats": len(all_stats), "warmup": warmup, "metrics": {n: metrics[n] for n in METRICS if n in metrics}}


class StockRunner(HostBackend):
    name = "executorch-runner"

    def availability(self, ctx: BenchContext) -> str | None:
        if ctx.target != "executorch":
            return f"the folder is a {ctx.target} export; the stock runner runs --target executorch exports"
        try:
            from executorch.extension.llm.runner import MultimodalRunner  # noqa: F401
        except ImportError:
            return "executorch's LLM runner bindings are not installed; pip install 'sf-mobile[executorch]'"
        return None

    @staticmethod
    def _generate(runner, frames, before: str, after: str, tokens: int) -> tuple[list[str], dict]:
        """One greedy generation over [text, packed frames, text]: (text pieces, its Stats)."""
        from executorch.extension.llm.runner import GenerationConfig, make_image_input, make_text_input

        pieces: list[str] = []
        stats: list[dict] = []
        runner.generate(
            [make_text_input(before), make_image_input(frames), make_text_input(after)],
            GenerationConfig(max_new_tokens=tokens, temperature=0.0, echo=False),
            token_callback=pieces.append,
            stats_callback=lambda s: stats.append(stats_dict(s)),
        )
        runner.reset()
        return pieces, stats[-1] if stats else {}

    def _evaluate(self, ctx: BenchContext) -> dict:
        from executorch.extension.llm.runner import MultimodalRunner
        from tokenizers import Tokenizer

        before, after = prompt_halves(ctx.folder, ctx.inputs.question)
        expected_ids = list(ctx.reference.greedy_tokens)
        stop_ids = set(ctx.manifest.get("eos_ids", []))
        cut = next((i for i, t in enumerate(expected_ids) if t in stop_ids), len(expected_ids))
        tokenizer = Tokenizer.from_file(str(ctx.folder / "tokenizer.json"))
        expected = [tokenizer.decode([t]) for t in expected_ids[:cut]]
        with PeakMemory() as peak:
            ctx.report(f"{self.name}: loading")
            runner = MultimodalRunner(str(ctx.folder / "model.pte"), str(ctx.folder / "tokenizer.json"))
            # Parity on the bundle's own frames: the reference's greedy tokens were made from them.
            pieces, _ = self._generate(runner, ctx.inputs.packed_frames, before, after, len(expected_ids))
            all_stats = []
            for index in range(ctx.settings.warmup + ctx.settings.repeats):
                ctx.report(f"{self.name}: run {index + 1}/{ctx.settings.warmup + ctx.settings.repeats}")
                _, stats = self._generate(runner, ctx.frames(), before, after, ctx.settings.decode_tokens)
                if index >= ctx.settings.warmup:
                    all_stats.append(stats)
        pieces = pieces[: len(expected)]
        # Pieces compare as token positions: index i of each list is the i-th generated token.
        ids = {piece: i for i, piece in enumerate(dict.fromkeys(expected + pieces))}
        against = "float" if ctx.reference_is_float else "same-quantization"
        report = compare_greedy(self.name, [ids[p] for p in pieces], [ids[p] for p in expected], ctx.precision, against)
        latency_entry = summarize_stats(all_stats, ctx.settings.warmup) if all_stats else None
        median = sorted(all_stats, key=lambda s: s["first_token_ms"] - s["inference_start_ms"])[len(all_stats) // 2] if all_stats else None
        return entry(
            self.name, self.kind, "ok" if report.passed else "parity_failed",
            parity=[report.to_dict()], latency=latency_entry, stats=median,
            peak_rss_mib=peak.mib, memory_method=peak.method,
        )
