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
            feeds = capture_feeds(self.float_folder, codec, frames, calibration_questions(question))
        counts = {name: len(f) for name, f in feeds.items()}
        self.progress.note(f"calibration feeds: {counts}")
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

    def parity(self, inputs, reference):
        """(reports, same-quantization reference, simulator node assignment per graph)."""
        from sf_mobile.parity.compare import compare
        from sf_mobile.parity.driver import run_backend
        from sf_mobile.runtimes.onnx import OnnxBackend
        from sf_mobile.runtimes.qnn import QnnHtpBackend

        precision, soc = self.options.precision, self.options.soc
        with self.progress.stage("parity: QDQ graphs on the CPU provider"):
            cpu = OnnxBackend(self.staging, prepack=False)
            cpu_outputs = run_backend(cpu, inputs, PARITY_DECODE_STEPS, self.progress.note)
            same_quant = _as_reference(cpu_outputs)  # what compute_reference returns, without a second run
            del cpu
        # The simulator runs the tiny export's own parity inputs (8 frames of 64 px, a ~130-row prompt,
        # 31 decode calls): it is 30-200x slower than the CPU provider, so only small inputs fit CI.
        with self.progress.stage(f"parity: compiled graphs on the HTP simulator ({soc.value}, accuracy only)"):
            htp = QnnHtpBackend(self.staging, context_folder(soc), soc.soc_model)
            outputs = run_backend(htp, inputs, PARITY_DECODE_STEPS, self.progress.note)
            assignments = htp.assignments
            del htp
        reports = [
            compare(outputs, same_quant, precision, "same-quantization"),  # gated: what HTP adds
            compare(outputs, reference, precision, "float"),  # reported: HTP + quantization
            compare(cpu_outputs, reference, precision, "float"),  # reported: quantization alone
        ]
        return reports, same_quant, assignments


def _as_reference(outputs):
    from sf_mobile.parity.data import ReferenceOutputs

    return ReferenceOutputs(
        visual=outputs.visual,
        prefill_last_logits=outputs.prefill_last_logits,
        decode_logits=outputs.decode_logits,
        greedy_tokens=outputs.greedy_tokens,
    )
