"""torch modules -> Core ML programs (coremltools 9, iOS 18 / macOS 15, fp16 compute).

The vision model goes through `torch.export`: it traces with fake tensors, so no activation is
held (`torch.jit.trace` keeps every intermediate alive until the trace ends: 0.6 GB per frame at
the 1b preset, 80 GB at its 128 frames). That frontend lowers tanh-GELU as exact GELU, so the
tanh form is spelled out first. The language model goes through `torch.jit.trace` (its chunk is
small): it keeps the cache writes as `slice_update` with a begin read from `position_ids`, where
torch.export specialises the data-dependent slice start and fails. The language model is
converted ONCE with a symbolic query length, compressed once, then materialised into two
fixed-shape functions, `prefill` (C rows) and `decode` (1 row), that share every weight: half the
conversion time and memory of converting twice.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import torch

from sf_mobile.export.coreml.modules import KEY_CACHE, VALUE_CACHE, CoreMLDecoderStep, CoreMLVision

QUERY_LENGTH = "query_length"  # the symbol materialised as C (prefill) and 1 (decode)
LM_FUNCTIONS = ("prefill", "decode")


def require_coremltools():
    from sf_mobile.runtimes.coremltools_import import import_coremltools

    return import_coremltools()


@contextlib.contextmanager
def quiet_conversion():
    """coremltools' per-pass progress bars go to stderr; our stage lines say where the export is."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # tracing calls the HF modules, which log config notices
    try:
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        hf_logging.set_verbosity(verbosity)


def _convert(traced, inputs, outputs, states=None):
    ct = require_coremltools()
    with quiet_conversion():
        return ct.convert(
            traced,
            inputs=inputs,
            outputs=outputs,
            states=states,
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.iOS18,
            compute_precision=ct.precision.FLOAT16,
            skip_model_load=True,  # loading needs macOS; the package is checked by reloading its program
        )


def convert_vision(vision: CoreMLVision, num_frames: int, image_size: int):
    """frames fp16 [T, 3, S, S] holding 0..255 (Core ML inputs cannot be uint8; fp16 holds every
    uint8 exactly) -> visual_embeds fp16 [1, N_vis, D]."""
    from sf_mobile.exportable.vision import spell_out_tanh_gelu

    ct = require_coremltools()
    spell_out_tanh_gelu(vision.vision_tower)  # the same function, as plain ops the frontend keeps
    example = torch.zeros(num_frames, 3, image_size, image_size)
    with torch.no_grad(), quiet_conversion():
        exported = torch.export.export(vision.eval(), (example,)).run_decompositions({})
    return _convert(
        exported,
        inputs=[ct.TensorType(name="frames", shape=tuple(example.shape), dtype=np.float16)],
        outputs=[ct.TensorType(name="visual_embeds", dtype=np.float16)],
    )


def lm_input_shapes(decoder: CoreMLDecoderStep, rows: int, hidden_size: int) -> dict[str, tuple[int, ...]]:
    return {
        "inputs_embeds": (1, rows, hidden_size),
        "position_ids": (rows,),
        "causal_mask": (1, 1, rows, decoder.context_padded),
    }


def convert_language_model(decoder: CoreMLDecoderStep, chunk: int, hidden_size: int):
    """The decoder with a symbolic query length 1..chunk and fp16 states keyCache/valueCache."""
    ct = require_coremltools()
    with torch.no_grad(), quiet_conversion():
        traced = torch.jit.trace(decoder.eval(), decoder.example_inputs(chunk), check_trace=False)
    decoder.reset()  # tracing ran the step once and wrote into the cache buffers
    rows = ct.RangeDim(lower_bound=1, upper_bound=chunk, default=chunk, symbol=QUERY_LENGTH)
    dtypes = {"inputs_embeds": np.float16, "position_ids": np.int32, "causal_mask": np.float16}
    shapes = lm_input_shapes(decoder, rows, hidden_size)
    inputs = [ct.TensorType(name=name, shape=shapes[name], dtype=dtypes[name]) for name in dtypes]
    states = [
        ct.StateType(wrapped_type=ct.TensorType(shape=decoder.cache_shape, dtype=np.float16), name=name)
        for name in (KEY_CACHE, VALUE_CACHE)
    ]
    return _convert(traced, inputs, [ct.TensorType(name="logits", dtype=np.float16)], states)


def materialize_functions(dynamic_model, decoder: CoreMLDecoderStep, chunk: int, hidden_size: int):
    """One program with fixed-shape `prefill` (chunk rows) and `decode` (1 row) functions and no
    dynamic function left; constants are shared between the two. Returns an unsaved MLModel."""
    ct = require_coremltools()
    from coremltools.converters.mil.converter import mil_convert
    from coremltools.converters.mil.frontend.milproto import load as milproto_load
    from coremltools.converters.mil.mil.passes.pass_pipeline import PassPipelineManager

    program = dynamic_model._mil_program
    if program is None:
        program = milproto_load.load(dynamic_model._spec, dynamic_model._spec.specificationVersion, dynamic_model.weights_dir)
    materialization = {
        "prefill": lm_input_shapes(decoder, chunk, hidden_size),
        "decode": lm_input_shapes(decoder, 1, hidden_size),
    }
    pipeline = ct.PassPipeline.DEFAULT
    pipeline.insert_pass(0, "common::materialize_symbolic_shape_program")
    pipeline.set_options(
        "common::materialize_symbolic_shape_program",
        {"function_name_to_materialization_map": materialization, "source_function_name": "main"},
    )
    with quiet_conversion():
        PassPipelineManager.apply_pipeline(program, pipeline)
        del program.functions["main"]  # the symbolic-shape source: the Neural Engine wants static shapes
        program.default_function_name = "decode"
        program.export_as_multifunction = True
        program.skip_all_passes = True
        return mil_convert(
            program,
            convert_from="milinternal",
            convert_to="mlprogram",
            specification_version=ct.target.iOS18,
            compute_units=ct.ComputeUnit.CPU_ONLY,
            skip_model_load=True,
        )
