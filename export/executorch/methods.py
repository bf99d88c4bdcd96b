"""The three method modules of the `.pte`, quantized as asked (on a copy: the reference stays float)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from sf_mobile.export.executorch.options import EmbeddingQuant, ExecuTorchOptions, Quant, VisionQuant
from sf_mobile.exportable import FrameEncoder, TokenEmbedding
from sf_mobile.exportable.vision import spell_out_tanh_gelu
from sf_mobile.model.slowfast_llava import SlowFastLlava


@dataclass
class MethodModules:
    vision_encoder: FrameEncoder  # uint8 [3, T*S, S] -> [1, N_vis, D]
    token_embedding: nn.Module  # [1, S] -> [1, S, D]
    text_decoder: nn.Module  # ([1, S, D], [S]) -> [1, S, V]

    def as_dict(self) -> dict[str, nn.Module]:
        return {
            "vision_encoder": self.vision_encoder,
            "token_embedding": self.token_embedding,
            "text_decoder": self.text_decoder,
        }


def _linears_in(root: nn.Module, divisor: int = 1):
    ids = {id(m) for m in root.modules() if isinstance(m, nn.Linear) and m.in_features % divisor == 0}
    return lambda module, _fqn: id(module) in ids


def quantize_llm_8da4w(model: SlowFastLlava, group_size: int) -> None:
    """int8 dynamic activations x int4 weights in groups along the input dim, every LLM linear."""
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerGroup

    config = Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int4, weight_granularity=PerGroup(group_size))
    quantize_(model.llm, config, filter_fn=_linears_in(model.llm, group_size))


def quantize_vision_8da8w(model: SlowFastLlava) -> None:
    """int8 dynamic activations x int8 per-channel weights on the vision tower and projector linears."""
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerAxis

    config = Int8DynamicActivationIntxWeightConfig(weight_dtype=torch.int8, weight_granularity=PerAxis(0))
    for part in (model.vision_tower, model.projector):
        quantize_(part, config, filter_fn=_linears_in(part))


def quantize_embedding(module: TokenEmbedding, scheme: EmbeddingQuant) -> nn.Module:
    """ExecuTorch's grouped embedding quantizer (one scale per row); lowers to quantized kernels."""
    from executorch.examples.models.llama.source_transformation.quantize import get_quant_embedding_transform

    bits = {EmbeddingQuant.W8: 8, EmbeddingQuant.W4: 4}[scheme]
    return get_quant_embedding_transform(f"{bits},0")(module)


def build_method_modules(model: SlowFastLlava, options: ExecuTorchOptions, decoder_cls, max_context: int) -> MethodModules:
    """The modules each method exports. Quantization happens IN PLACE on `model`: a copy of a 1B
    model would double the export's peak memory, so callers take the float reference first."""
    spell_out_tanh_gelu(model.vision_tower)
    with torch.no_grad():
        if options.quant is Quant.A8W4:
            quantize_llm_8da4w(model, options.group_size)
        if options.vision_quant is VisionQuant.A8W8:
            quantize_vision_8da8w(model)
        embedding: nn.Module = TokenEmbedding(model)
        if options.embedding_quant is not EmbeddingQuant.NONE:
            embedding = quantize_embedding(embedding, options.embedding_quant)
    return MethodModules(
        vision_encoder=FrameEncoder(model, model.config.sampling.max_frames, packed=True),
        token_embedding=embedding,
        text_decoder=decoder_cls(model, max_context),
    )
