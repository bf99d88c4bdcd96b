"""Host backends: graphs run in this process behind `GraphBackend`, checked and timed alike.

Each backend says whether it can run this folder (`availability`: None, or the one-line reason it
cannot), opens the folder's graphs, and names its weight storage and KV-cache bytes for the roofline.
The shared `evaluate` runs the parity bundle (one pass, as at export), the timed repeats, and the
roofline, and turns any failure into a `failed` entry with its reason: one broken backend never
hides the others.
"""

from __future__ import annotations

import importlib.util
import sys
import time

from sf_mobile.bench import latency, roofline
from sf_mobile.bench.context import BenchContext
from sf_mobile.bench.entry import PeakMemory, entry, failed, unavailable
from sf_mobile.errors import SfError
from sf_mobile.parity.compare import compare
from sf_mobile.parity.driver import run_backend
from sf_mobile.runtimes.base import GraphBackend


def _missing(module: str, extra: str) -> str | None:
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed; pip install 'sf-mobile[{extra}]'"
    return None


class HostBackend:
    name = "?"
    kind = "host"
    accuracy_only = False  # True: an interpreter or simulator; its latency means nothing for a device
    accuracy_note = ""

    def availability(self, ctx: BenchContext) -> str | None:
        raise NotImplementedError

    def open(self, ctx: BenchContext) -> GraphBackend:
        raise NotImplementedError

    def weight_scheme(self, ctx: BenchContext):
        quant = ctx.quantization
        return roofline.weight_scheme(quant.get("llm", "fp32"), quant.get("group_size") or quant.get("block_size"))

    def kv_bytes_per_token(self, ctx: BenchContext, positions: float) -> int:
        return roofline.kv_bytes_per_token(ctx.config, positions, 4)  # fp32 caches

    def parity_checks(self, ctx: BenchContext) -> list[tuple[str, str]]:
        """(precision, against) pairs to score against the bundle's reference."""
        against = "float" if ctx.reference_is_float else "same-quantization"
        return [(ctx.precision, against)]

    def evaluate(self, ctx: BenchContext) -> dict:
        reason = self.availability(ctx)
        if reason is not None:
            return unavailable(self.name, self.kind, reason, self.accuracy_only)
        try:
            return self._evaluate(ctx)
        except SfError as err:
            return failed(self.name, self.kind, str(err), self.accuracy_only)
        except Exception as err:  # a runtime's own error: reported on this backend, the run goes on
            return failed(self.name, self.kind, f"{type(err).__name__}: {err}".splitlines()[0], self.accuracy_only)

    def _evaluate(self, ctx: BenchContext) -> dict:
        with PeakMemory() as peak:
            ctx.report(f"{self.name}: loading")
            start = time.perf_counter()
            backend = self.open(ctx)
            load_ms = (time.perf_counter() - start) * 1000.0
            outputs = run_backend(backend, ctx.inputs, len(ctx.reference.greedy_tokens), ctx.report)
            reports = [compare(outputs, ctx.reference, precision, against) for precision, against in self.parity_checks(ctx)]
            stats = latency_entry = rate = None
            if not self.accuracy_only:
                runs, _ = latency.measure(
                    backend, ctx.frames, ctx.inputs.prefix_ids, ctx.inputs.suffix_ids,
                    ctx.settings.decode_tokens, ctx.settings.repeats, ctx.settings.warmup, ctx.report,
                )
                latency_entry = latency.summarize(runs, ctx.settings.warmup)
                rate = latency_entry["metrics"].get("decode_tok_s", {}).get("median")
                median_run = sorted(runs, key=lambda r: r.time_to_first_token_ms)[len(runs) // 2]
                stats = latency.executorch_stats(median_run, load_ms)
        positions = len(ctx.inputs.prefix_ids) + ctx.reference.visual.shape[1] + len(ctx.inputs.suffix_ids) + ctx.settings.decode_tokens / 2
        roof = roofline.roofline(
            ctx.config, self.weight_scheme(ctx), self.kv_bytes_per_token(ctx, positions), ctx.bandwidth_gb_s, rate
        ) if not self.accuracy_only else None
        passed = all(report.passed for report in reports)
        return entry(
            self.name, self.kind, "ok" if passed else "parity_failed",
            reason=self.accuracy_note or None,
            accuracy_only=self.accuracy_only,
            parity=[report.to_dict() for report in reports],
            latency=latency_entry,
            stats=stats,
            peak_rss_mib=peak.mib,
            memory_method=peak.method,
            roofline=roof,
        )


class EagerReference(HostBackend):
    """The PyTorch model the export came from, rebuilt from the manifest (seeded random weights, or
    the checkpoint, whose hash must match)."""

    name = "pytorch-eager"

    def availability(self, ctx: BenchContext) -> str | None:
        weights = ctx.manifest.get("weights", {})
        if weights.get("weights") == "checkpoint" and ctx.settings.checkpoint is None:
            return f"the export used the checkpoint {weights.get('path')}; pass --checkpoint DIR to run its reference"
        return None

    def open(self, ctx: BenchContext) -> GraphBackend:
        from sf_mobile.checkpoints import load_or_build
        from sf_mobile.runtimes.eager import EagerBackend

        weights = ctx.manifest.get("weights", {})
        frames = ctx.manifest["frame_geometry"]["frames"]
        loaded = load_or_build(ctx.manifest["preset"], ctx.settings.checkpoint, seed=weights.get("seed") or 0, num_frames=frames)
        if weights.get("sha256") and loaded.origin.sha256 != weights["sha256"]:
            raise SfError(
                f"the checkpoint {ctx.settings.checkpoint} is not the one this folder was exported from (sha256 differs)",
                "pass the checkpoint the export used",
            )
        context = ctx.manifest["max_context"]
        return EagerBackend(loaded.model, frames, context, context)

    def weight_scheme(self, ctx: BenchContext):
        return roofline.weight_scheme("fp32")  # the float model, whatever the export's recipe

    def parity_checks(self, ctx: BenchContext) -> list[tuple[str, str]]:
        # Against a float bundle the reference reproduces itself (fp32 tolerances); against a
        # same-quantization bundle it shows the quantization error, reported and not gated.
        return [("fp32", "float")] if ctx.reference_is_float else [(ctx.precision, "float")]


class ExecuTorchHost(HostBackend):
    name = "executorch-host"

    def availability(self, ctx: BenchContext) -> str | None:
        if ctx.target != "executorch":
            return f"the folder is a {ctx.target} export; ExecuTorch runs --target executorch exports"
        return _missing("executorch", "executorch")

    def open(self, ctx: BenchContext) -> GraphBackend:
        from sf_mobile.runtimes.executorch import ExecuTorchBackend

        return ExecuTorchBackend(ctx.folder / "model.pte")


class CoreMLInterpreter(HostBackend):
    name = "coreml-mil"
    accuracy_only = True
    accuracy_note = "the numpy MIL evaluator (fp16 rounding of every op): accuracy only, its latency means nothing for a device"

    def availability(self, ctx: BenchContext) -> str | None:
        if ctx.target != "coreml":
            return f"the folder is a {ctx.target} export; the MIL evaluator runs --target coreml exports"
        return _missing("coremltools", "coreml")

    def open(self, ctx: BenchContext) -> GraphBackend:
        from sf_mobile.runtimes.coreml import CoreMLBackend

        return CoreMLBackend(ctx.folder, engine="mil", report=ctx.report)


class CoreMLPredict(CoreMLInterpreter):
    """Core ML itself (coremltools predictions on the manifest's compute units): macOS only."""

    name = "coreml"
    accuracy_only = False
    accuracy_note = ""

    def availability(self, ctx: BenchContext) -> str | None:
        reason = super().availability(ctx)
        if reason is None and sys.platform != "darwin":
            reason = "Core ML predictions need macOS (no Core ML framework on this OS); coreml-mil checks accuracy here"
        return reason

    def open(self, ctx: BenchContext) -> GraphBackend:
        from sf_mobile.runtimes.coreml import CoreMLBackend

        return CoreMLBackend(ctx.folder, engine="coreml")

    def kv_bytes_per_token(self, ctx: BenchContext, positions: float) -> int:
        # Every call attends over the whole padded fp16 cache state (the mask hides the rest).
        state = next(a for a in ctx.manifest["artifacts"] if a.get("states"))["states"]["keyCache"]["shape"]
        elements = 1
        for dim in state:
            elements *= dim
        return 2 * elements * 2


class OnnxRuntimeCPU(HostBackend):
    name = "onnxruntime-cpu"

    def availability(self, ctx: BenchContext) -> str | None:
        if ctx.target != "onnx":
            return f"the folder is a {ctx.target} export and holds no ONNX graphs; ONNX Runtime runs --target onnx exports"
        return _missing("onnxruntime", "onnx")

    def open(self, ctx: BenchContext) -> GraphBackend:
        from sf_mobile.runtimes.onnx import OnnxBackend

        return OnnxBackend(ctx.folder)

    def kv_bytes_per_token(self, ctx: BenchContext, positions: float) -> int:
        # Every call takes the whole cache as inputs (static shapes), whatever the position.
        element = 2 if ctx.quantization.get("llm") == "fp16" else 4
        return roofline.kv_bytes_per_token(ctx.config, ctx.manifest["max_context"], element)


class QnnHtpSimulator(HostBackend):
    """A `--backend qnn` export's compiled context graphs for its SoC, on the QNN HTP simulator."""

    name = "qnn-htp-simulator"
    accuracy_only = True
    accuracy_note = "the QNN HTP simulator on x86-64: accuracy only, never latency"

    def availability(self, ctx: BenchContext) -> str | None:
        if ctx.target != "onnx":
            return f"the folder is a {ctx.target} export and holds no QDQ ONNX graphs; the HTP simulator runs --target onnx exports"
        if ctx.manifest.get("backend") != "qnn":
            return "the folder holds float ONNX graphs; the HTP simulator runs --backend qnn exports (QDQ + context binaries)"
        return _missing("onnxruntime_qnn", "qnn")

    def open(self, ctx: BenchContext) -> GraphBackend:
        from sf_mobile.export.onnx.compile import context_folder
        from sf_mobile.export.onnx.options import SoC
        from sf_mobile.runtimes.qnn import QnnHtpBackend

        soc = SoC(ctx.quantization["soc"]["name"])
        return QnnHtpBackend(ctx.folder, context_folder(soc), soc.soc_model)
