"""sf-export --target executorch: one multimodal `.pte` plus tokenizer, manifest and parity bundle.

Stages: validate -> load -> parity inputs -> float reference -> quantize (+ its eager reference)
-> torch.export -> XNNPACK lowering -> save -> parity on the host ExecuTorch runtime -> manifest.
Everything is written into a staging folder that is renamed to --out only at the end.
"""

from __future__ import annotations

import gc


from sf_mobile.checkpoints import resolve_config
from sf_mobile.export.common import (
    PARITY_DECODE_STEPS,
    ExportRequest,
    ExportResult,
    Progress,
    load_and_reference,
    write_prompt_files,
)
from sf_mobile.export.executorch.options import ExecuTorchOptions, Quant, VisionQuant
from sf_mobile.manifest import artifact_entry, build_manifest, write_manifest
from sf_mobile.output_dir import atomic_output_dir
from sf_mobile.parity.bundle import compute_reference, write_bundle
from sf_mobile.parity.compare import compare
from sf_mobile.parity.driver import run_backend
from sf_mobile.runtimes.eager import EagerBackend

PTE_NAME = "model.pte"


def _tensor(shape: list, dtype: str) -> dict:
    return {"shape": shape, "dtype": dtype}


def constant_methods(loaded, max_context: int, max_seq_len: int) -> dict:
    """What the stock runner reads (`get_max_seq_len` ... `get_eos_ids`) plus the frame geometry."""
    config, codec = loaded.config, loaded.codec
    frames, side = config.sampling.max_frames, config.vision.image_size
    # Qwen prompts carry no BOS; the runner still reads an id, so give Qwen's own bos_token_id
    # (<|endoftext|>, the last stop token of the ChatML preset). The runner prepends none (num_bos=0).
    bos = codec.bos_id if codec.bos_id is not None else codec.stop_ids[-1]
    return {
        "get_max_seq_len": max_seq_len,
        "get_max_context_len": max_context,
        "use_kv_cache": True,
        "enable_dynamic_shape": True,
        "get_bos_id": bos,
        "get_eos_ids": list(codec.stop_ids),
        "get_vocab_size": config.llm.vocab_size,
        "get_num_frames": frames,
        "get_frame_size": side,
        "get_image_height": frames * side,  # the packed [3, T*S, S] image the vision_encoder takes
        "get_image_width": side,
        "get_visual_tokens": config.visual_tokens().total,
        "get_hidden_size": config.llm.hidden_size,
    }


def _precision(options: ExecuTorchOptions) -> str:
    quantized = options.quant is Quant.A8W4 or options.vision_quant is VisionQuant.A8W8
    return "8da4w" if quantized else "fp32"


def export_executorch(request: ExportRequest, options: ExecuTorchOptions) -> ExportResult:
    from sf_mobile.export.executorch.decoder import ExecuTorchDecoderStep
    from sf_mobile.export.executorch.lower import export_programs, lower_to_executorch, require_executorch
    from sf_mobile.export.executorch.methods import build_method_modules
    from sf_mobile.runtimes.executorch import ExecuTorchBackend

    require_executorch()
    config = resolve_config(request.preset, request.checkpoint, request.frames)
    options.validate(config)  # every option checked before any work
    max_context = options.resolved_context(config)
    max_seq_len = max_context - 1  # torch.export's bound for a dynamic length must stay below the cache size
    precision = _precision(options)
    quantized = precision != "fp32"
    progress = Progress(total=8 if quantized else 7)

    with atomic_output_dir(request.out, overwrite=request.overwrite) as staging:
        loaded, inputs, reference = load_and_reference(request, config, max_context, progress)
        model = loaded.model
        with progress.stage("build method modules" + (" and quantize" if quantized else "")):
            modules = build_method_modules(model, options, ExecuTorchDecoderStep, max_context)
        same_quant = None
        if quantized:
            with progress.stage("eager run of the quantized modules"):
                eager = EagerBackend.from_modules(
                    modules.vision_encoder, modules.token_embedding, modules.text_decoder, max_seq_len
                )
                same_quant = compute_reference(eager, inputs, PARITY_DECODE_STEPS, progress.note)
                modules.text_decoder.reset()
                del eager
        with progress.stage("torch.export"):
            programs = export_programs(modules.as_dict(), max_seq_len, inputs.packed_frames)
            # From here the exported programs hold the only needed reference to the weights.
            del modules, model
            loaded.release_weights()
            gc.collect()
        with progress.stage("lower to XNNPACK and ExecuTorch"):
            lowered = {
                "vision_encoder": options.vision_quant is VisionQuant.A8W8,
                "token_embedding": False,
                "text_decoder": options.quant is Quant.A8W4,
            }
            program, stats = lower_to_executorch(programs, lowered, constant_methods(loaded, max_context, max_seq_len))
            del programs
            gc.collect()
        with progress.stage("save"):
            pte = staging / PTE_NAME
            with pte.open("wb") as handle:
                program.write_to_file(handle)
            del program
            gc.collect()
            files = write_prompt_files(staging, loaded)
        with progress.stage("parity on the host ExecuTorch runtime"):
            outputs = run_backend(ExecuTorchBackend(pte), inputs, PARITY_DECODE_STEPS, progress.note)
            reports = [compare(outputs, reference, precision, "float")]
            if same_quant is not None:
                reports.insert(0, compare(outputs, same_quant, precision, "same-quantization"))
            # The bundle holds what the gate compared against: the float model for fp32 graphs, the
            # same quantization run eagerly for quantized ones (quantization error is not an export error).
            gate_reference = same_quant if same_quant is not None else reference
            meta = {"target": "executorch", "reference": "same-quantization eager" if quantized else "float eager"}
            write_bundle(
                staging, inputs, gate_reference, meta=meta, precision=precision,
                against="same-quantization" if quantized else "float",
            )
        rows = f"1..{max_seq_len}"
        artifacts = [
            artifact_entry(
                staging, PTE_NAME, methods=["vision_encoder", "token_embedding", "text_decoder"],
                # {method: {value: {shape, dtype}}} as in the Core ML manifest; a .pte keeps no value
                # names, so these name the positions; "1..N": a dynamic length up to N
                inputs={
                    "vision_encoder": {"frames": _tensor([3, config.sampling.max_frames * config.vision.image_size, config.vision.image_size], "uint8")},
                    "token_embedding": {"ids": _tensor([1, rows], "int64")},
                    "text_decoder": {"embeds": _tensor([1, rows, config.llm.hidden_size], "float32"), "cache_position": _tensor([rows], "int64")},
                },
                outputs={
                    "vision_encoder": {"visual_embeds": _tensor([1, config.visual_tokens().total, config.llm.hidden_size], "float32")},
                    "token_embedding": {"embeds": _tensor([1, rows, config.llm.hidden_size], "float32")},
                    "text_decoder": {"logits": _tensor([1, 1, config.llm.vocab_size], "float32")},  # the last position's
                },
                delegation=stats.to_dict(),
                host_timings=outputs.timings.to_dict(),
            ),
            *(artifact_entry(staging, name) for name in files),
        ]
        manifest = build_manifest(
            loaded,
            target="executorch",
            backend="xnnpack",
            quantization=options.to_dict(config),
            artifacts=artifacts,
            max_context=max_context,
            parity=reports,
        )
        write_manifest(staging, manifest)
    return ExportResult(
        out=request.out,
        manifest=manifest,
        reports=reports,
        timings=progress.timings, peaks=progress.peaks,
        details={"delegation": stats.to_dict()},
    )
