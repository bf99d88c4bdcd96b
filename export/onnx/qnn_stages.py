"""The stages a `--backend qnn` export adds after the float graphs exist: calibrate, quantize,
compile for the SoC, parity on the HTP simulator.

The float graphs are exported into FLOAT_WORK inside the staging folder; the QDQ graphs replace them
at the top (same names, same inputs and outputs: the CPU provider runs them too) and the float ones
are deleted. Parity gates the compiled graphs on the simulator against the same QDQ graphs on the
CPU provider (what HTP's kernels add) and reports both against the float reference (what the
quantization costs).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from sf_mobile.export.common import PARITY_DECODE_STEPS, Progress, release_memory
from sf_mobile.export.onnx import convert
from sf_mobile.export.onnx.compile import CompiledGraph, compile_graph, context_folder
from sf_mobile.export.onnx.options import OnnxOptions
from sf_mobile.runtimes.onnx import DECODE_NAME, GRAPH_NAMES, PREFILL_NAME, VISION_NAME

FLOAT_WORK = "float-graphs"  # inside the staging folder only: never part of the output
CALIBRATION_WORK = "calibration-feeds"  # inside FLOAT_WORK: deleted with it
VISION_DATA = "vision.onnx.data"
DECODER_DATA = "decoder.onnx.data"
QDQ_REFERENCE = "same-quantization (the QDQ graphs on the CPU provider)"


@dataclass
class QnnStages:
    staging: Path
    options: OnnxOptions
    progress: Progress
    pooled: object = None  # the decoder DataPool's PoolReport, once quantized

    @property
    def float_folder(self) -> Path:
        return self.staging / FLOAT_WORK

    def calibrate_and_quantize(self, codec, frames, question: str, metadata: dict[str, dict], table: str) -> dict:
        """QDQ graphs at the top of the staging folder, from the float graphs in FLOAT_WORK;
        `metadata`: graph name -> its sf.* metadata. Returns {graph: QuantizedGraph fields}."""
        from sf_mobile.export.onnx.calibration import calibration_questions, capture_feeds
        from sf_mobile.export.onnx.quantize import quantize_graph

        with self.progress.stage("calibration feeds through the float graphs"):
            feeds = capture_feeds(
                self.float_folder, codec, frames, calibration_questions(question), self.float_folder / CALIBRATION_WORK
            )
        counts = {name: len(f) for name, f in feeds.items()}
        self.progress.note(f"calibration feeds: {counts}", always=True)
        summary = {}
        with self.progress.stage(f"quantize to {self.options.quant.value} (QDQ)"):
            for data, names in ((VISION_DATA, (VISION_NAME,)), (DECODER_DATA, (PREFILL_NAME, DECODE_NAME))):
                with convert.DataPool(self.staging, data) as pool:
                    for name in names:
                        done = quantize_graph(
                            self.float_folder / name, convert.exported_path(self.staging / name), self.options.quant, feeds.pop(name)
                        )
                        summary[name] = done.__dict__
                        convert.finish_graph(self.staging, name, metadata[name], pool)
                self.pooled = pool.report
            del feeds
            (self.float_folder / table).rename(self.staging / table)
            shutil.rmtree(self.float_folder)
            release_memory()
        return summary

    def compile(self) -> dict[str, CompiledGraph]:
        soc = self.options.soc
        with self.progress.stage(f"compile HTP context binaries for {soc.value} ({soc.htp_arch})"):
            return {name: compile_graph(self.staging, name, soc) for name in GRAPH_NAMES}

    def parity(self, inputs, reference, config):
        """(reports, same-quantization reference, simulator node assignment per graph, simulator plan).

        The QDQ graphs run on the CPU provider first (the same-quantization reference); the compiled
        graphs then run on the HTP simulator, the whole sequence when it is small enough, else a
        sample of calls shadowing the CPU run (htp_parity.py)."""
        from sf_mobile.export.onnx.htp_parity import plan_simulator
        from sf_mobile.parity.compare import compare

        precision = self.options.precision
        prompt_rows = len(inputs.prefix_ids) + config.visual_tokens().total + len(inputs.suffix_ids)
        decode_calls = max(PARITY_DECODE_STEPS - 1, 0) + len(inputs.forced_tokens)
        chunk, context = self.options.prefill_chunk, self.options.resolved_context(config)
        plan = plan_simulator(config, chunk, context, prompt_rows, decode_calls)
        self.progress.note(f"HTP simulator: {plan.describe()}", always=True)
        if plan.full:
            cpu_outputs, outputs, assignments = self._full_parity(inputs)
            same_quant = _as_reference(cpu_outputs)  # what compute_reference returns, without a second run
            reports = [
                compare(outputs, same_quant, precision, "same-quantization"),  # gated: what HTP adds
                compare(outputs, reference, precision, "float"),  # reported: HTP + quantization
                compare(cpu_outputs, reference, precision, "float"),  # reported: quantization alone
            ]
        else:
            self.progress.total -= 1  # one parity stage instead of two
            cpu_outputs, sampled, assignments = self._sampled_parity(inputs, plan)
            same_quant = _as_reference(cpu_outputs)
            reports = [sampled, compare(cpu_outputs, reference, precision, "float")]
        return reports, same_quant, assignments, plan

    def _full_parity(self, inputs):
        from sf_mobile.parity.driver import run_backend
        from sf_mobile.runtimes.onnx import OnnxBackend
        from sf_mobile.runtimes.qnn import QnnHtpBackend

        soc = self.options.soc
        with self.progress.stage("parity: QDQ graphs on the CPU provider"):
            cpu = OnnxBackend(self.staging, prepack=False)
            cpu_outputs = run_backend(cpu, inputs, PARITY_DECODE_STEPS, self.progress.note)
            del cpu
        # The simulator runs the tiny export's own parity inputs (8 frames of 64 px, a ~130-row prompt,
        # 31 decode calls): it is 30-200x slower than the CPU provider, so only small inputs fit CI.
        with self.progress.stage(f"parity: compiled graphs on the HTP simulator ({soc.value}, accuracy only)"):
            htp = QnnHtpBackend(self.staging, context_folder(soc), soc.soc_model)
            outputs = run_backend(htp, inputs, PARITY_DECODE_STEPS, self.progress.note)
            assignments = htp.assignments
            del htp
        return cpu_outputs, outputs, assignments

    def _sampled_parity(self, inputs, plan):
        from sf_mobile.export.onnx.htp_parity import ShadowSession, first_outputs
        from sf_mobile.parity.compare import compare_sampled
        from sf_mobile.parity.driver import run_backend
        from sf_mobile.parity.tolerances import Component
        from sf_mobile.runtimes.onnx import OnnxBackend, import_onnxruntime
        from sf_mobile.runtimes.qnn import SIMULATOR_NAME, htp_session_options, node_assignment

        ort, soc = import_onnxruntime(), self.options.soc
        with self.progress.stage(f"parity: QDQ graphs on the CPU provider, sampled calls also on the HTP simulator ({soc.value})"):
            cpu = OnnxBackend(self.staging, prepack=False)
            shadows, assignments = {}, {}
            for name in GRAPH_NAMES:  # every compiled graph loads on HTP: its node assignment is recorded
                simulator = ort.InferenceSession(
                    str(self.staging / context_folder(soc) / name), sess_options=htp_session_options(soc.soc_model)
                )
                assignments[name] = node_assignment(simulator)
                if plan.sampled.get(name):
                    shadows[name] = cpu.sessions[name] = ShadowSession(cpu.sessions[name], simulator, plan.sampled[name])
                del simulator
            cpu_outputs = run_backend(cpu, inputs, PARITY_DECODE_STEPS, self.progress.note)
            del cpu
        components = {VISION_NAME: Component.VISION, PREFILL_NAME: Component.PREFILL_LOGITS, DECODE_NAME: Component.DECODE_LOGITS}
        pairs = {components[name]: first_outputs(shadow) for name, shadow in shadows.items() if shadow.pairs}
        seconds = {name: round(shadow.simulator_seconds, 1) for name, shadow in shadows.items()}
        self.progress.note(f"HTP simulator seconds per sampled graph (accuracy only, never latency): {seconds}", always=True)
        plan.measured_seconds = seconds
        report = compare_sampled(f"{SIMULATOR_NAME} (sampled)", pairs, self.options.precision, "same-quantization")
        return cpu_outputs, report, assignments


def _as_reference(outputs):
    from sf_mobile.parity.data import ReferenceOutputs

    return ReferenceOutputs(
        visual=outputs.visual,
        prefill_last_logits=outputs.prefill_last_logits,
        decode_logits=outputs.decode_logits,
        greedy_tokens=outputs.greedy_tokens,
    )
