"""Parity metrics. Tensor metrics are computed in float64 so the metric adds no rounding of its own."""

from __future__ import annotations

import math

import torch


def _pair(actual: torch.Tensor, expected: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if tuple(actual.shape) != tuple(expected.shape):
        raise ValueError(f"shape {list(actual.shape)} != expected {list(expected.shape)}")
    return actual.detach().to(torch.float64).flatten(), expected.detach().to(torch.float64).flatten()


def relative_l2(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """||actual - expected|| / ||expected||; 0 when both are zero, inf when only expected is."""
    a, e = _pair(actual, expected)
    error = float(torch.linalg.vector_norm(a - e))
    scale = float(torch.linalg.vector_norm(e))
    if scale == 0.0:
        return 0.0 if error == 0.0 else math.inf
    return error / scale


def cosine(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Cosine similarity of the flattened tensors; 1 when both are zero, 0 when only one is."""
    a, e = _pair(actual, expected)
    norms = float(torch.linalg.vector_norm(a)) * float(torch.linalg.vector_norm(e))
    if norms == 0.0:
        return 1.0 if bool(torch.equal(a, e)) else 0.0
    return float(a @ e) / norms


def max_abs(actual: torch.Tensor, expected: torch.Tensor) -> float:
    a, e = _pair(actual, expected)
    return float((a - e).abs().max()) if a.numel() else 0.0


def top1_agreement(actual_logits: torch.Tensor, expected_logits: torch.Tensor) -> tuple[int, int]:
    """(rows whose argmax agrees, rows) for logits [N, V]."""
    if actual_logits.dim() != 2 or tuple(actual_logits.shape) != tuple(expected_logits.shape):
        shapes = f"{list(actual_logits.shape)} and {list(expected_logits.shape)}"
        raise ValueError(f"need two [N, V] logits of one shape, got {shapes}")
    matches = actual_logits.argmax(dim=-1) == expected_logits.argmax(dim=-1)
    return int(matches.sum()), int(matches.numel())


def top1_within_noise(actual_logits: torch.Tensor, expected_logits: torch.Tensor, noise_rms: float = 2.0) -> tuple[int, int]:
    """(rows whose pick is the reference's best up to the row's own noise, rows) for logits [N, V].

    A row agrees when the reference logit of the backend's argmax is within `noise_rms` x the RMS
    logit error of that row from the reference's max: a flip between two tokens closer than the
    (separately gated) numeric error is a near tie, not a wrong graph. Random-weight models are full
    of such ties.
    """
    if actual_logits.dim() != 2 or tuple(actual_logits.shape) != tuple(expected_logits.shape):
        raise ValueError(f"need two [N, V] logits of one shape, got {list(actual_logits.shape)}")
    actual, expected = actual_logits.double(), expected_logits.double()
    margin = noise_rms * (actual - expected).pow(2).mean(dim=-1).sqrt()  # [N]
    picked = expected.gather(-1, actual.argmax(dim=-1, keepdim=True)).squeeze(-1)
    agree = picked >= expected.max(dim=-1).values - margin
    return int(agree.sum()), int(agree.numel())


def greedy_agreement(actual: list[int], expected: list[int]) -> tuple[int, int]:
    """(length of the common prefix, len(expected)): tokens after the first miss follow another path."""
    prefix = 0
    for got, want in zip(actual, expected):
        if got != want:
            break
        prefix += 1
    return prefix, len(expected)
