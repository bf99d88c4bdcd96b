"""Run the exportable modules eagerly the way a device runtime does: chunked prefill, then decode.

The same loop, pointed at an exported graph instead of these modules, is what parity checks run.
"""

from __future__ import annotations

import torch

from sf_mobile.errors import SfError
from sf_mobile.exportable.decoder import DecoderStep
from sf_mobile.exportable.vision import TokenEmbedding


@torch.inference_mode()
def prefill(step: DecoderStep, embeds: torch.Tensor, chunk_size: int, start: int = 0) -> torch.Tensor:
    """Feed embeds [1, S, D] in chunks from cache slot `start`; the step's logits of every chunk,
    concatenated: [1, S, V] for a full_logits step, [1, n_chunks, V] otherwise (last one = next token)."""
    if start + embeds.shape[1] > step.max_context:
        raise SfError(
            f"{start + embeds.shape[1]} positions exceed the KV cache's {step.max_context}",
            "raise the maximum context or shorten the prompt",
        )
    outputs = []
    for offset in range(0, embeds.shape[1], chunk_size):
        chunk = embeds[:, offset : offset + chunk_size]
        positions = torch.arange(start + offset, start + offset + chunk.shape[1], dtype=torch.int64)
        outputs.append(step(chunk, positions))
    return torch.cat(outputs, dim=1)


@torch.inference_mode()
def teacher_forced_logits(step: DecoderStep, embed: TokenEmbedding, tokens: list[int], start: int) -> torch.Tensor:
    """Decode `tokens` one at a time from slot `start`; logits [len(tokens), V] after each."""
    rows = []
    for offset, token in enumerate(tokens):
        position = torch.tensor([start + offset], dtype=torch.int64)
        rows.append(step(embed(torch.tensor([[token]])), position)[0, -1])
    return torch.stack(rows)


@torch.inference_mode()
def decode_greedy(
    step: DecoderStep,
    embed: TokenEmbedding,
    prompt_embeds: torch.Tensor,
    max_new_tokens: int,
    chunk_size: int,
    stop_ids: tuple[int, ...] = (),
) -> list[int]:
    """Greedy tokens after a chunked prefill of prompt_embeds [1, S, D] from an empty cache."""
    step.reset()
    logits = prefill(step, prompt_embeds, chunk_size)[0, -1]
    position = prompt_embeds.shape[1]
    tokens: list[int] = []
    while len(tokens) < max_new_tokens and position < step.max_context:
        token = int(torch.argmax(logits))
        tokens.append(token)
        if token in stop_ids or len(tokens) == max_new_tokens:
            break
        logits = step(embed(torch.tensor([[token]])), torch.tensor([position], dtype=torch.int64))[0, -1]
        position += 1
    return tokens
