"""Greedy and sampled generation over the reference LLM, with or without a KV cache."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from sf_mobile.errors import SfError

from sf_mobile.model.slowfast_llava import SlowFastLlava


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.0  # 0 = greedy
    top_k: int = 0  # 0 = no top-k cut
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise SfError(f"temperature is {self.temperature}", "use 0 for greedy or a positive temperature")
        if not (0 < self.top_p <= 1):
            raise SfError(f"top-p is {self.top_p}", "use a value in (0, 1]; 1 keeps every token")
        if self.top_k < 0:
            raise SfError(f"top-k is {self.top_k}", "use 0 (no cut) or a positive count")


@dataclass
class GenerationResult:
    tokens: list[int]
    prompt_tokens: int
    prefill_s: float
    decode_s: float
    stopped: bool  # True when a stop token ended generation, False when max_new_tokens did
    step_logits: list[torch.Tensor] = field(default_factory=list)  # [V] per generated token

    @property
    def decode_tokens_per_s(self) -> float:
        steps = max(len(self.tokens) - 1, 0)  # the first token comes from the prefill
        return steps / self.decode_s if self.decode_s > 0 else float("nan")

    @property
    def prefill_tokens_per_s(self) -> float:
        return self.prompt_tokens / self.prefill_s if self.prefill_s > 0 else float("nan")


class TokenChooser:
    def __init__(self, params: SamplingParams):
        self.params = params
        self.generator = torch.Generator().manual_seed(params.seed)

    def __call__(self, logits: torch.Tensor) -> int:
        """logits [V] -> next token id."""
        if self.params.temperature <= 0:
            return int(torch.argmax(logits))
        scores = logits.to(torch.float32) / self.params.temperature
        if self.params.top_k > 0:
            kth = torch.topk(scores, min(self.params.top_k, scores.numel())).values[-1]
            scores = scores.masked_fill(scores < kth, float("-inf"))
        if self.params.top_p < 1.0:
            sorted_scores, order = torch.sort(scores, descending=True)
            cumulative = torch.softmax(sorted_scores, dim=-1).cumsum(-1)
            # drop a token once the mass before it already reaches top_p (the top token always stays)
            drop = (cumulative - torch.softmax(sorted_scores, dim=-1)) >= self.params.top_p
            drop[0] = False
            scores = scores.scatter(0, order, sorted_scores.masked_fill(drop, float("-inf")))
        probs = torch.softmax(scores, dim=-1)
        return int(torch.multinomial(probs, 1, generator=self.generator))


@torch.inference_mode()
def generate(
    model: SlowFastLlava,
    inputs_embeds: torch.Tensor,
    max_new_tokens: int,
    stop_ids: tuple[int, ...] = (),
    params: SamplingParams = SamplingParams(),
    use_cache: bool = True,
    keep_logits: bool = False,
) -> GenerationResult:
    """Prefill `inputs_embeds` [1, S, D], then decode up to `max_new_tokens` tokens."""
    choose = TokenChooser(params)
    start = time.perf_counter()
    out = model.llm(inputs_embeds=inputs_embeds, use_cache=use_cache)
    prefill_s = time.perf_counter() - start
    cache = out.past_key_values if use_cache else None
    sequence = inputs_embeds
    logits = out.logits[0, -1]
    tokens: list[int] = []
    kept: list[torch.Tensor] = []
    stopped = False
    start = time.perf_counter()
    while len(tokens) < max_new_tokens:
        if keep_logits:
            kept.append(logits.clone())
        token = choose(logits)
        tokens.append(token)
        if token in stop_ids:
            stopped = True
            break
        if len(tokens) == max_new_tokens:
            break
        embedded = model.embed_tokens(torch.tensor([[token]]))  # [1, 1, D]
        if use_cache:
            out = model.llm(inputs_embeds=embedded, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
        else:
            sequence = torch.cat([sequence, embedded], dim=1)
            out = model.llm(inputs_embeds=sequence, use_cache=False)
        logits = out.logits[0, -1]
    decode_s = time.perf_counter() - start
    return GenerationResult(
        tokens=tokens,
        prompt_tokens=inputs_embeds.shape[1],
        prefill_s=prefill_s,
        decode_s=decode_s,
        stopped=stopped,
        step_logits=kept,
    )
