"""sf-export --target coreml: vision.mlpackage, language_model.mlpackage (prefill + decode sharing
weights, KV cache as state), token_embeddings.f16, tokenizer, manifest and parity bundle.

Stages: validate -> load -> parity inputs and float reference -> convert vision -> convert the
language model -> compress -> prefill/decode functions -> save (metadata, descriptions) ->
[same-quantization eager reference] -> parity through the saved packages -> manifest.
Everything is written into a staging folder that is renamed to --out only at the end.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from sf_mobile.checkpoints import resolve_config
from sf_mobile.export.common import (
    PARITY_DECODE_STEPS,
    ExportRequest,
    ExportResult,
    Progress,
    load_and_reference,
    release_memory,
    write_prompt_files,
)
from sf_mobile.export.coreml.options import CoreMLOptions, Recipe
from sf_mobile.exportable.decoder import MASK_VALUE
from sf_mobile.manifest import artifact_entry, build_manifest, write_manifest
from sf_mobile.output_dir import atomic_output_dir
from sf_mobile.parity.bundle import compute_reference, write_bundle
from sf_mobile.parity.compare import compare
from sf_mobile.parity.driver import run_backend
from sf_mobile.runtimes.coreml import EMBEDDINGS_NAME, LM_NAME, VISION_NAME
from sf_mobile.runtimes.eager import EAGER_PREFILL_ROWS, EagerBackend

MACOS_NOTE = (
    "parity ran through the MIL evaluator (numpy, every op rounded to fp16); Core ML predictions on "
    "the chosen compute units need macOS"
)


class FixedVisionBackend(EagerBackend):
    """The eager LLM with a given vision output: the compressed recipes leave vision untouched, so
    the same-quantization reference reuses the float reference's visual embeddings."""

    def __init__(self, model, context: int, visual: torch.Tensor):
        from sf_mobile.exportable import DecoderStep, TokenEmbedding

        self.visual = visual
        self.embedding = TokenEmbedding(model)
        self.decoder = DecoderStep(model, context)
        self.max_context = context
        self.max_seq_len = min(context, EAGER_PREFILL_ROWS)

    def vision_encoder(self, frames: torch.Tensor) -> torch.Tensor:
        return self.visual.clone()


def core_ml_can_predict() -> bool:
    """Core ML predictions exist on macOS only (coremltools' native library is macOS-only)."""
    return sys.platform == "darwin"


def parity_engine() -> str:
    return "MIL evaluator and Core ML predictions" if core_ml_can_predict() else MACOS_NOTE


def lm_metadata(loaded, options: CoreMLOptions, decoder, context: int, compression: dict) -> dict:
    config, codec = loaded.config, loaded.codec
    budget = config.visual_tokens()
    return {
        "preset": config.name,
        "weights": loaded.origin.weights,
        "frames": config.sampling.max_frames,
        "frame_size": config.vision.image_size,
        "visual_tokens": budget.total,
        "hidden_size": config.llm.hidden_size,
        "vocab_size": config.llm.vocab_size,
        "num_layers": config.llm.num_layers,
        "max_context": context,
        "context_padded": decoder.context_padded,
        "head_dim": decoder.head_dim,
        "head_dim_padded": decoder.head_dim_padded,
        "prefill_chunk": options.prefill_chunk,
        "mask_value": MASK_VALUE,
        "bos_id": codec.bos_id,
        "eos_ids": list(codec.stop_ids),
        "special_tokens": codec.special_token_ids(),
        "quantization": compression,
        "compute_units": options.compute_units.per_model(),
        "embedding_table": {"path": EMBEDDINGS_NAME, "dtype": "float16", "shape": [config.llm.vocab_size, config.llm.hidden_size]},
    }


def _write_embedding_table(path, model) -> None:
    table = model.llm.get_input_embeddings().weight.detach().to(torch.float16).numpy()
    np.ascontiguousarray(table).astype("<f2").tofile(path)


def export_coreml(request: ExportRequest, options: CoreMLOptions) -> ExportResult:
    from sf_mobile.export.coreml.compress import compress, compression_report
    from sf_mobile.export.coreml.convert import convert_language_model, convert_vision, materialize_functions, require_coremltools
    from sf_mobile.export.coreml.modules import CoreMLDecoderStep, CoreMLVision
    from sf_mobile.export.coreml.package import LM_DESCRIPTIONS, VISION_DESCRIPTIONS, save_with_metadata
    from sf_mobile.export.coreml.same_quant import apply_package_weights, package_linear_weights
    from sf_mobile.runtimes.coreml import CoreMLBackend
    from sf_mobile.runtimes.mil import load_program

    require_coremltools()
    config = resolve_config(request.preset, request.checkpoint, request.frames)
    options.validate(config)  # every option checked before any work
    context = options.resolved_context(config)
    compressed = options.quant is not Recipe.FP16
    precision = options.quant.value
    progress = Progress(total=8 if compressed else 6)
    frames, side, hidden = config.sampling.max_frames, config.vision.image_size, config.llm.hidden_size

    with atomic_output_dir(request.out, overwrite=request.overwrite) as staging:
        loaded, inputs, reference = load_and_reference(request, config, context, progress)
        model = loaded.model
        with progress.stage("convert vision + SlowFast"):
            vision = convert_vision(CoreMLVision(model), frames, side)
            save_with_metadata(
                vision, staging / VISION_NAME,
                f"{config.name}: {frames} frames -> {config.visual_tokens().total} SlowFast visual tokens",
                {"preset": config.name, "frames": frames, "frame_size": side, "visual_tokens": config.visual_tokens().total,
                 "compute_units": options.compute_units.per_model()["vision"]},
                VISION_DESCRIPTIONS,
            )
            del vision
            # The vision tower is done with: the float reference holds its output, and the
            # compressed recipes leave vision alone. Dropping it lowers the LM conversion's peak.
            model.vision_tower = model.projector = None
            release_memory()
        decoder = CoreMLDecoderStep(model, context)
        with progress.stage("convert the language model"):
            dynamic = convert_language_model(decoder, options.prefill_chunk, hidden)
        if compressed:
            with progress.stage(f"compress ({options.quant.value})"):
                dynamic = compress(dynamic, options)
                release_memory()
        with progress.stage("prefill/decode functions and save"):
            report = compression_report(dynamic._mil_program, options)
            language_model = materialize_functions(dynamic, decoder, options.prefill_chunk, hidden)
            del dynamic
            save_with_metadata(
                language_model, staging / LM_NAME,
                f"{config.name} language model: prefill ({options.prefill_chunk} rows) and decode (1 row) over an fp16 KV-cache state",
                lm_metadata(loaded, options, decoder, context, report.to_dict()),
                LM_DESCRIPTIONS,
            )
            del language_model
            release_memory()
            _write_embedding_table(staging / EMBEDDINGS_NAME, model)
            files = write_prompt_files(staging, loaded)
        same_quant = None
        if compressed:
            with progress.stage("eager run with the package's decompressed weights"):
                weights = package_linear_weights(load_program(staging / LM_NAME), "prefill")
                apply_package_weights(decoder, weights)
                del weights
                eager = FixedVisionBackend(model, context, reference.visual)
                same_quant = compute_reference(eager, inputs, PARITY_DECODE_STEPS, progress.note)
                del eager
        del decoder, model
        loaded.release_weights()
        release_memory()
        with progress.stage("parity through the saved packages (MIL evaluator)"):
            gate_reference = same_quant if same_quant is not None else reference
            gate_against = "same-quantization" if same_quant is not None else "float"
            outputs = run_backend(CoreMLBackend(staging, engine="mil", report=progress.note), inputs, PARITY_DECODE_STEPS, progress.note)
            reports = [compare(outputs, reference, precision, "float")]
            if same_quant is not None:
                reports.insert(0, compare(outputs, same_quant, precision, "same-quantization"))
            if core_ml_can_predict():  # macOS: Core ML itself, on the compute units the app will use
                device_outputs = run_backend(CoreMLBackend(staging, engine="coreml"), inputs, PARITY_DECODE_STEPS, progress.note)
                reports.insert(0, compare(device_outputs, gate_reference, precision, gate_against))
            meta = {
                "target": "coreml",
                "reference": "same-quantization eager" if compressed else "float eager",
                "engine": "mil-evaluator",
            }
            write_bundle(
                staging, inputs, gate_reference, meta=meta, precision=precision, against=gate_against,
            )
        if not core_ml_can_predict():
            print(f"      note: {MACOS_NOTE}", file=sys.stderr)
        state_shape = list(CoreMLDecoderStep.cache_shape_for(config, context))  # [L, 1, KVH, ctx_pad, hd_pad]

        def lm_io(rows: int) -> dict:
            return {
                "inputs_embeds": {"shape": [1, rows, hidden], "dtype": "float16"},
                "position_ids": {"shape": [rows], "dtype": "int32"},
                "causal_mask": {"shape": [1, 1, rows, state_shape[3]], "dtype": "float16"},
            }
        artifacts = [
            artifact_entry(
                staging, VISION_NAME, functions=["main"],
                inputs={"main": {"frames": {"shape": [frames, 3, side, side], "dtype": "float16", "values": "0..255"}}},
                outputs={"main": {"visual_embeds": {"shape": [1, config.visual_tokens().total, hidden], "dtype": "float16"}}},
                compute_units=options.compute_units.per_model()["vision"],
            ),
            artifact_entry(
                staging, LM_NAME, functions=["prefill", "decode"],
                inputs={"prefill": lm_io(options.prefill_chunk), "decode": lm_io(1)},
                outputs={name: {"logits": {"shape": [1, 1, config.llm.vocab_size], "dtype": "float16"}} for name in ("prefill", "decode")},
                states={name: {"shape": state_shape, "dtype": "float16"} for name in ("keyCache", "valueCache")},
                compute_units={k: v for k, v in options.compute_units.per_model().items() if k != "vision"},
                compression=report.to_dict(),
                host_timings=outputs.timings.to_dict(),
                parity_engine=parity_engine(),
            ),
            artifact_entry(staging, EMBEDDINGS_NAME, dtype="float16", shape=[config.llm.vocab_size, hidden], layout="row-major, little-endian"),
            *(artifact_entry(staging, name) for name in files),
        ]
        manifest = build_manifest(
            loaded,
            target="coreml",
            backend="mlprogram-ios18",
            quantization=options.to_dict(config),
            artifacts=artifacts,
            max_context=context,
            parity=reports,
        )
        write_manifest(staging, manifest)
    details = {"compression": report.summary(), "compute units": options.compute_units.per_model(), "parity engine": parity_engine()}
    return ExportResult(out=request.out, manifest=manifest, reports=reports, timings=progress.timings, peaks=progress.peaks, details=details)
