"""Our side of the decode benchmark: the preset's language model as an ExecuTorch `.pte`, built
with the same code as `sf-export --target executorch --quant 8da4w --embedding-quant 4w`
(torchao 8da4w linears in groups of 32, ExecuTorch's 4-bit embedding, the fused KV-cache ops,
XNNPACK), but only its two language-model methods: token_embedding and text_decoder. The vision
encoder and the parity run are what make a full export slow, and decode never touches them.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path

import torch

GROUP_SIZE = 32  # the exporter's default; Q4_0 (llama.cpp) also uses blocks of 32


def export_language_model(loaded, out: Path, max_context: int) -> dict:
    """Write `out` (a .pte with token_embedding + text_decoder). `loaded` is quantized in place.
    Returns {"seconds": {stage: s}, "delegation": {...}, "bytes": n}."""
    from sf_mobile.export.executorch.decoder import ExecuTorchDecoderStep
    from sf_mobile.export.executorch.lower import export_programs, lower_to_executorch, require_executorch
    from sf_mobile.export.executorch.methods import quantize_embedding, quantize_llm_8da4w
    from sf_mobile.export.executorch.options import EmbeddingQuant
    from sf_mobile.exportable import TokenEmbedding

    require_executorch()
    seconds: dict[str, float] = {}
    max_seq_len = max_context - 1  # as the exporter: a dynamic length must stay below the cache size
    start = time.perf_counter()
    with torch.no_grad():
        quantize_llm_8da4w(loaded.model, GROUP_SIZE)
        embedding = quantize_embedding(TokenEmbedding(loaded.model), EmbeddingQuant.W4)
        decoder = ExecuTorchDecoderStep(loaded.model, max_context)
    seconds["quantize"] = time.perf_counter() - start

    start = time.perf_counter()
    programs = export_programs({"token_embedding": embedding, "text_decoder": decoder}, max_seq_len, None)
    del embedding, decoder
    loaded.release_weights()
    gc.collect()
    seconds["torch.export"] = time.perf_counter() - start

    start = time.perf_counter()
    constants = {"get_max_seq_len": max_seq_len, "get_max_context_len": max_context}
    program, stats = lower_to_executorch(programs, {"token_embedding": False, "text_decoder": True}, constants)
    del programs
    gc.collect()
    seconds["lower"] = time.perf_counter() - start

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("wb") as handle:
        program.write_to_file(handle)
    partial.replace(out)
    return {"seconds": {k: round(v, 1) for k, v in seconds.items()}, "delegation": stats.to_dict(), "bytes": out.stat().st_size}


def main(argv=None) -> int:
    """Child process of the benchmark: build the preset's seeded random model once, write it as the
    peers' Hugging Face folder, then export our .pte from the same model; prints one JSON line."""
    import argparse
    import json
    import resource

    from sf_mobile.benchmarks.decode_host.hf_folder import write_hf_folder
    from sf_mobile.checkpoints import build_random

    parser = argparse.ArgumentParser(description="decode benchmark: HF folder + our language-model .pte")
    parser.add_argument("--size", required=True)
    parser.add_argument("--max-context", type=int, required=True)
    parser.add_argument("--hf-folder", type=Path, required=True)
    parser.add_argument("--pte", type=Path, required=True)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    loaded = build_random(args.size)
    build_s = time.perf_counter() - start
    if not args.hf_folder.exists():
        write_hf_folder(loaded, args.hf_folder)
    result = export_language_model(loaded, args.pte, args.max_context)
    result["seconds"] = {"build random model": round(build_s, 1), **result["seconds"]}
    result["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
