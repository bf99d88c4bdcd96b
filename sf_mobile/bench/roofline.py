"""The decode roofline: how fast decode could be if it only had to read its bytes once per token.

Decoding one token reads every weight of the LLM's layers and its output projection (the embedding
table only for one row) plus the KV cache up to the current position. Dividing the host's memory
bandwidth, measured in the same run, by those bytes gives an upper bound on tokens/s; the measured
decode rate over that bound says how much of the bandwidth a backend turns into tokens.

Weight bytes are computed from the preset (exact parameter counts on the meta device) and the
recipe's storage (payload bits plus scales), not read from the artifact, so every backend of one
export is held to the same count.
"""

from __future__ import annotations

import time

import torch

from sf_mobile.config import ModelConfig
from sf_mobile.info import WeightScheme, _meta_model, _unique_parameters

BANDWIDTH_MIB = 256  # far beyond any last-level cache of a laptop/phone-class CPU
BANDWIDTH_REPEATS = 5


def measure_bandwidth_gb_s(mib: int = BANDWIDTH_MIB, repeats: int = BANDWIDTH_REPEATS) -> tuple[float, str]:
    """Read bandwidth: torch.sum over a float32 buffer, with torch's thread count (what the host
    backends use), best of `repeats`. Returns (GB/s, how it was measured)."""
    buffer = torch.ones(mib * 2**20 // 4, dtype=torch.float32)
    buffer.sum()  # page the buffer in before timing
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        buffer.sum()
        best = min(best, time.perf_counter() - start)
    method = f"torch.sum over a {mib} MiB float32 buffer, {torch.get_num_threads()} threads, best of {repeats}"
    return buffer.numel() * 4 / best / 1e9, method


# Storage of the LLM's weight matrices by recipe name (manifest "quantization.llm"); scales are
# counted as fp16 per group (WeightScheme). palettize4: 4-bit indices, its per-group LUTs are
# within a few bytes per row of a per-row scale.
def weight_scheme(recipe: str, group_size: int | None = None) -> WeightScheme:
    bits = {"fp32": 32, "fp16": 16, "int8": 8, "int4": 4, "int4-block": 4, "palettize4": 4, "8da4w": 4}
    if recipe not in bits:
        raise ValueError(f"no weight storage known for recipe {recipe!r}")
    grouped = recipe in ("int4-block", "8da4w")
    return WeightScheme(recipe, bits[recipe], group_size if grouped else None)


def decode_weight_bytes(config: ModelConfig, scheme: WeightScheme) -> int:
    """Bytes of LLM weights one decode step reads: every matrix but the input embedding table
    (one row per token), vectors (norms) at fp32. A tied output projection is read in full."""
    llm = _meta_model(config).llm
    embedding = llm.get_input_embeddings().weight
    total = 0.0
    for _, param in _unique_parameters(llm):
        if param is embedding and not config.llm.tie_word_embeddings:
            continue
        total += scheme.matrix_bytes(param.shape[0], param[0].numel()) if param.dim() >= 2 else param.numel() * 4
    return int(total)


def kv_bytes_per_token(config: ModelConfig, positions: float, bytes_per_element: int) -> int:
    """K and V of every layer up to `positions`, read once per decode step."""
    return config.llm.kv_cache_bytes(round(positions), bytes_per_element)


def roofline(config: ModelConfig, scheme: WeightScheme, kv: int, bandwidth_gb_s: float, measured_tok_s: float | None) -> dict:
    """The schema's `roofline` object; `kv`: cache bytes one decode step reads."""
    weights = decode_weight_bytes(config, scheme)
    bound = bandwidth_gb_s * 1e9 / (weights + kv)
    return {
        "weights_bytes": weights,
        "kv_bytes_per_token": kv,
        "bytes_per_token": weights + kv,
        "bandwidth_gb_s": round(bandwidth_gb_s, 2),
        "decode_tok_s_bound": round(bound, 2),
        "decode_tok_s_measured": measured_tok_s,
        "fraction_of_bound": None if measured_tok_s is None else float(f"{measured_tok_s / bound:.4g}"),
        "weight_storage": f"{scheme.name}: {scheme.bits}-bit payload"
        + (f", fp16 scale per {scheme.group_size}" if scheme.group_size else ""),
    }
