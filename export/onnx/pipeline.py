"""sf-export --target onnx: vision.onnx, prefill.onnx + decode.onnx (one shared weight file),
token_embeddings.f32|f16, tokenizer, manifest and parity bundle.

Stages: validate -> load -> parity inputs and float reference -> export vision -> export the
decoder (prefill and decode) -> parity through ONNX Runtime -> manifest. `--backend qnn` exports the
float graphs into a work folder, then calibrates, quantizes, compiles for the SoC and checks parity
on the HTP simulator (qnn_stages.py). Everything is written into a staging folder that is renamed
to --out only at the end.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from sf_mobile.checkpoints import resolve_config
from sf_mobile.export.common import (
    PARITY_DECODE_STEPS,
    ExportRequest,
    ExportResult,
    Progress,
    load_and_reference,
    mib,
    release_memory,
    write_prompt_files,
)
from sf_mobile.export.onnx.embedding import TOKEN_EMBEDDING_NAME, write_token_embedding_graph
from sf_mobile.export.onnx.options import OPSET, OnnxOptions
from sf_mobile.manifest import artifact_entry, build_manifest, write_manifest
from sf_mobile.output_dir import atomic_output_dir
from sf_mobile.parity.bundle import write_bundle
from sf_mobile.parity.compare import compare
from sf_mobile.parity.driver import run_backend
from sf_mobile.runtimes.onnx import DECODE_NAME, PREFILL_NAME, VISION_NAME
from sf_mobile.export.onnx.qnn_stages import QDQ_REFERENCE, QnnStages

VISION_DATA = "vision.onnx.data"
DECODER_DATA = "decoder.onnx.data"  # prefill and decode read every weight from this one file
TABLE_SUFFIX = {"float32": "f32", "float16": "f16"}


def embedding_table_name(dtype: str) -> str:
    return f"token_embeddings.{TABLE_SUFFIX[dtype]}"


def write_embedding_table(path: Path, model, dtype: str) -> None:
    """Raw [V, D] rows, row-major little-endian: an app memory-maps it and reads the prompt's rows.
    (A Gather graph would hold the whole table in the session's memory: 0.9 GB at 1b in fp32.)"""
    table = model.llm.get_input_embeddings().weight.detach().numpy()
    np.ascontiguousarray(table).astype(np.dtype(dtype).newbyteorder("<")).tofile(path)


def vision_metadata(loaded, dtype: str) -> dict:
    config = loaded.config
    return {
        "preset": config.name,
        "weights": loaded.origin.weights,
        "frames": config.sampling.max_frames,
        "frame_size": config.vision.image_size,
        "visual_tokens": config.visual_tokens().total,
        "dtype": dtype,
    }


def decoder_metadata(loaded, options: OnnxOptions, context: int, rows: int, dtype: str, table: str) -> dict:
    config, codec = loaded.config, loaded.codec
    llm = config.llm
    return {
        "preset": config.name,
        "weights": loaded.origin.weights,
        "rows": rows,
        "prefill_chunk": options.prefill_chunk,
        "max_context": context,
        "mask_value": options.mask_value,
        "quant": options.quant.value,
        "mask_layout": "[1, 1, R, max_context + R]: columns 0..max_context-1 are cache slots, then the call's R rows; "
        "0 where a row may look, mask_value elsewhere",
        "hidden_size": llm.hidden_size,
        "vocab_size": llm.vocab_size,
        "num_layers": llm.num_layers,
        "num_kv_heads": llm.num_kv_heads,
        "head_dim": llm.head_dim,
        "dtype": dtype,
        "bos_id": codec.bos_id,
        "eos_ids": list(codec.stop_ids),
        "special_tokens": codec.special_token_ids(),
        "embedding_table": {
            "path": table, "dtype": dtype, "shape": [llm.vocab_size, llm.hidden_size], "layout": "row-major, little-endian"
        },
    }


def decoder_io(config, context: int, rows: int, dtype: str) -> tuple[dict, dict]:
    """(inputs, outputs) of one decoder graph, in the manifest's {value: {shape, dtype}} form."""
    llm = config.llm
    cache = [llm.num_layers, 1, llm.num_kv_heads, context, llm.head_dim]
    new_rows = [llm.num_layers, 1, llm.num_kv_heads, rows, llm.head_dim]
    inputs = {
        "inputs_embeds": {"shape": [1, rows, llm.hidden_size], "dtype": dtype},
        "position_ids": {"shape": [rows], "dtype": "int64"},
        "attention_mask": {"shape": [1, 1, rows, context + rows], "dtype": dtype},
        "past_keys": {"shape": cache, "dtype": dtype},
        "past_values": {"shape": cache, "dtype": dtype},
    }
    outputs = {
        "logits": {"shape": [1, 1, llm.vocab_size], "dtype": dtype},
        "new_keys": {"shape": new_rows, "dtype": dtype},
        "new_values": {"shape": new_rows, "dtype": dtype},
    }
    return inputs, outputs


def export_onnx(request: ExportRequest, options: OnnxOptions) -> ExportResult:
    from sf_mobile.export.onnx import convert
    from sf_mobile.export.onnx.modules import (
        DECODER_INPUTS, DECODER_OUTPUTS, VISION_INPUTS, VISION_OUTPUTS, OnnxDecoder, OnnxVision,
    )
    from sf_mobile.runtimes.onnx import OnnxBackend, import_onnxruntime

    convert.require_onnx()
    import_onnxruntime()  # parity runs the graphs: fail now, not after the export
    if options.is_qnn:
        from sf_mobile.runtimes.qnn import import_qnn

        import_qnn()
    config = resolve_config(request.preset, request.checkpoint, request.frames)
    options.validate(config)  # every option checked before any work
    context = options.resolved_context(config)
    dtype = options.float_quant.numpy_dtype
    torch_dtype = getattr(torch, dtype)
    table_name = embedding_table_name(dtype)
    frames, side, hidden = config.sampling.max_frames, config.vision.image_size, config.llm.hidden_size
    progress = Progress(total=9 if options.is_qnn else 5)

    with atomic_output_dir(request.out, overwrite=request.overwrite) as staging:
        qnn = QnnStages(staging, options, progress) if options.is_qnn else None
        graphs = qnn.float_folder if qnn else staging  # a QNN export quantizes these, then drops them
        graphs.mkdir(exist_ok=True)
        loaded, inputs, reference = load_and_reference(request, config, context, progress)
        model = loaded.model
        with progress.stage(f"export vision + SlowFast ({dtype})"):
            vision = OnnxVision(model, frames, torch_dtype)  # casts the tower in place: the reference is done
            convert.export_graph(vision, vision.example_inputs(), VISION_INPUTS, VISION_OUTPUTS, graphs / VISION_NAME)
            with convert.DataPool(graphs, VISION_DATA) as pool:
                convert.finish_graph(graphs, VISION_NAME, vision_metadata(loaded, dtype), pool)
            # The tower is done with (the reference holds its output): dropping it lowers the decoder export's peak.
            del vision
            for part in (model.vision_tower, model.projector):
                convert.drop_weights(part)
            model.vision_tower = model.projector = None
            release_memory()
        with progress.stage(f"export prefill ({options.prefill_chunk} rows) and decode (1 row)"):
            model.llm.to(torch_dtype)  # in place (the reference is done): the table gets the LM head's very values
            write_embedding_table(graphs / table_name, model, dtype)
            # A tied LM head is the embedding table byte for byte: the graphs read it from the table file.
            with convert.DataPool(graphs, DECODER_DATA, reuse=(table_name,)) as pool:
                for name, rows in ((PREFILL_NAME, options.prefill_chunk), (DECODE_NAME, 1)):
                    decoder = OnnxDecoder(model, context, rows, torch_dtype)
                    convert.export_graph(decoder, decoder.example_inputs(), DECODER_INPUTS, DECODER_OUTPUTS, graphs / name)
                    del decoder
                    release_memory()
                    metadata = decoder_metadata(loaded, options, context, rows, dtype, table_name)
                    convert.finish_graph(graphs, name, metadata, pool)
            pooled = pool.report
            files = write_prompt_files(staging, loaded)
            convert.drop_weights(model)  # the graphs and the table hold them now
        del model
        loaded.release_weights()
        release_memory()
        compiled, quantized = {}, {}
        if qnn:
            metadata = {
                VISION_NAME: vision_metadata(loaded, dtype),
                **{
                    name: decoder_metadata(loaded, options, context, rows, dtype, table_name)
                    for name, rows in ((PREFILL_NAME, options.prefill_chunk), (DECODE_NAME, 1))
                },
            }
            quantized = qnn.calibrate_and_quantize(loaded.codec, inputs.frames, request.question, metadata, table_name)
            pooled = qnn.pooled
            compiled = qnn.compile()
            reports, same_quant, assignments, plan = qnn.parity(inputs, reference, config)
            meta = {
                "target": "onnx", "reference": QDQ_REFERENCE, "engine": reports[0].backend, "soc": options.soc.value,
                "simulator": plan.to_dict(),
            }
            write_bundle(staging, inputs, same_quant, meta=meta, precision=options.precision, against="same-quantization")
            providers = ["CPUExecutionProvider"]  # what ran the top-level QDQ graphs at export
        else:
            with progress.stage("parity through ONNX Runtime"):
                backend = OnnxBackend(staging, prepack=False)  # numbers, not speed: one copy of the weights for both sessions
                outputs = run_backend(backend, inputs, PARITY_DECODE_STEPS, progress.note)
                reports = [compare(outputs, reference, options.precision, "float")]
                meta = {"target": "onnx", "reference": "float eager", "engine": backend.name, "providers": backend.providers}
                write_bundle(staging, inputs, reference, meta=meta, precision=options.precision)
                providers = backend.providers
                del backend

        def graph_entry(name: str, graph_inputs: dict, graph_outputs: dict, **extra) -> dict:
            return artifact_entry(
                staging, name, functions=["main"], inputs={"main": graph_inputs}, outputs={"main": graph_outputs},
                opset=OPSET, external_data=convert.external_files(staging / name), providers=providers, **extra,
            )

        write_token_embedding_graph(staging, table_name, config.llm.vocab_size, hidden, dtype, OPSET)
        visual_shape = [1, config.visual_tokens().total, hidden]
        artifacts = [
            graph_entry(
                VISION_NAME,
                {"frames": {"shape": [frames, 3, side, side], "dtype": "uint8"}},
                {"visual_embeds": {"shape": visual_shape, "dtype": dtype}},
            ),
            artifact_entry(staging, VISION_DATA),
            *(
                graph_entry(name, *decoder_io(config, context, rows, dtype))
                for name, rows in ((PREFILL_NAME, options.prefill_chunk), (DECODE_NAME, 1))
            ),
            artifact_entry(staging, DECODER_DATA),
            artifact_entry(
                staging, table_name, dtype=dtype, shape=[config.llm.vocab_size, hidden], layout="row-major, little-endian"
            ),
            graph_entry(  # S: any length (a CPU lookup over the table file above, which it reads in place)
                TOKEN_EMBEDDING_NAME,
                {"ids": {"shape": [1, "S"], "dtype": "int64"}},
                {"embeds": {"shape": [1, "S", hidden], "dtype": dtype}},
            ),
            *(artifact_entry(staging, name) for name in files),
            *(
                entry
                for name, done in compiled.items()
                for entry in (
                    artifact_entry(
                        staging, done.graph, compiled_from=name, **done.manifest_fields(options.soc),
                        providers=sorted(assignments[name]), simulator_node_assignment=assignments[name],
                    ),
                    *(artifact_entry(staging, b, compiled_from=name, soc=options.soc.value) for b in done.binaries),
                )
            ),
        ]
        if quantized:
            for entry in artifacts:
                if entry["path"] in quantized:
                    entry["quantization"] = quantized[entry["path"]]
        manifest = build_manifest(
            loaded,
            target="onnx",
            backend=options.backend.value,
            quantization=options.to_dict(config),
            artifacts=artifacts,
            max_context=context,
            parity=reports,
        )
        write_manifest(staging, manifest)
    shared = (
        f"{pooled.written} tensors in {DECODER_DATA}, {pooled.reused} graph references reuse stored bytes "
        f"({mib(pooled.reused_bytes)} not duplicated)"
    )
    if table_name in pooled.shared_with:
        shared += f"; the tied LM head reads {table_name}"
    details = {"weights": shared, "providers": ", ".join(providers), "opset": OPSET}
    if compiled:
        details["htp"] = (
            f"{options.soc.value} ({options.soc.htp_arch}, soc_model {options.soc.soc_model}): "
            + ", ".join(f"{name} {sum(done.qdq_nodes.values())} nodes on {'/'.join(done.qdq_nodes)}" for name, done in compiled.items())
        )
    return ExportResult(
        out=request.out, manifest=manifest, reports=reports, timings=progress.timings, peaks=progress.peaks, details=details
    )
