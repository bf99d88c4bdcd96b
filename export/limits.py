"""Checks every target makes before any work: the KV-cache length and how a group/block size
divides the LLM's linear layers. Light (no torch), so `--help` stays fast."""

from __future__ import annotations

from sf_mobile.config import ModelConfig
from sf_mobile.errors import SfError

CONTEXT_HEADROOM = 1024  # text + answer positions the default context leaves after the video


def default_context(config: ModelConfig, limit: int | None = None) -> int:
    """Visual tokens + CONTEXT_HEADROOM, rounded up to 256, capped at the LLM's positions (and `limit`)."""
    wanted = config.visual_tokens().total + CONTEXT_HEADROOM
    return min(-(-wanted // 256) * 256, config.llm.max_position_embeddings, limit or config.llm.max_position_embeddings)


def check_context(config: ModelConfig, context: int, limit: int | None = None) -> None:
    needed = config.visual_tokens().total + 16
    if context < needed:
        raise SfError(
            f"max context {context} cannot hold the {config.visual_tokens().total} visual tokens plus a prompt",
            f"use --max-context {-(-needed // 256) * 256} or more, or fewer --frames",
        )
    top = min(config.llm.max_position_embeddings, limit or config.llm.max_position_embeddings)
    if context > top:
        raise SfError(f"max context {context} exceeds the {top} positions this export supports", f"use --max-context {top} or less")


def check_divides(config: ModelConfig, size: int, sizes: tuple[int, ...], what: str, flag: str, fallback: str) -> None:
    """`size` must divide the LLM's hidden and MLP sizes (the input widths of its linears)."""
    llm = config.llm
    for name, width in (("hidden size", llm.hidden_size), ("MLP size", llm.intermediate_size)):
        if width % size:
            valid = [s for s in sizes if llm.hidden_size % s == 0 and llm.intermediate_size % s == 0]
            raise SfError(
                f"{what} {size} do not divide the {config.name} LLM {name} {width}",
                f"use {flag} {' or '.join(map(str, valid))}" if valid else fallback,
            )
