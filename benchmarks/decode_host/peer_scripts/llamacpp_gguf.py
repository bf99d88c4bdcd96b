"""Hugging Face Qwen2 folder -> F32 (or F16) GGUF -> Q4_0 GGUF by llama.cpp's own quantizer.

Runs in the llama.cpp peer venv (gguf, llama_cpp, numpy, safetensors), never in sf-mobile's:
    python llamacpp_gguf.py HF_FOLDER OUT.gguf [--intermediate f32|f16] [--no-quantize] [--threads N]
Prints one JSON line on stdout: sizes, seconds, and the tensor types in the written file.
With --no-quantize OUT is the unquantized GGUF itself (the parity check reads that one).

The third-party imports sit inside the functions that need them, so the pure parts (name mapping,
argument parsing) import anywhere; sf-mobile's tests check them without this venv.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

# Hugging Face Qwen2 names -> llama.cpp's GGUF names (gguf.constants.TENSOR_NAMES, MODEL_ARCH.QWEN2).
# convert() also asks gguf's own TensorNameMap and stops on any disagreement, so a gguf release
# that renames a tensor fails loudly here instead of producing a file llama.cpp rejects.
GLOBAL_NAMES = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",  # only present when the embeddings are untied
}
LAYER_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
    "input_layernorm": "attn_norm",
    "post_attention_layernorm": "ffn_norm",
}
LAYER_RE = re.compile(r"model\.layers\.(\d+)\.(.+)\.(weight|bias)")


def gguf_name(hf_name: str) -> str:
    """llama.cpp's name for a Hugging Face Qwen2 tensor; ValueError for one it has no place for."""
    if hf_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[hf_name]
    m = LAYER_RE.fullmatch(hf_name)
    if m and m.group(2) in LAYER_NAMES:
        return f"blk.{m.group(1)}.{LAYER_NAMES[m.group(2)]}.{m.group(3)}"
    raise ValueError(f"no GGUF name for the tensor {hf_name!r}")


def padded_vocab(tokenizer: dict, vocab_size: int) -> tuple[list[str], list[int]]:
    """(tokens, token types) by id, padded to the model's vocab_size.

    Token types are gguf.TokenType values: 1 normal, 3 control (special added tokens), 4 user-defined
    (other added tokens), 5 unused. llama.cpp requires one token per embedding row, so ids the
    tokenizer lacks become unused "[PAD<id>]" placeholders (what llama.cpp's converter writes too).
    """
    by_id = {i: (t, 1) for t, i in tokenizer["model"]["vocab"].items()}
    for added in tokenizer.get("added_tokens", []):
        by_id[added["id"]] = (added["content"], 3 if added.get("special") else 4)
    if by_id and max(by_id) >= vocab_size:
        raise ValueError(f"the tokenizer has ids up to {max(by_id)} but the model's vocab_size is {vocab_size}")
    tokens, types = [], []
    for i in range(vocab_size):
        token, kind = by_id.get(i, (f"[PAD{i}]", 5))
        tokens.append(token)
        types.append(kind)
    return tokens, types


def merges_of(tokenizer: dict) -> list[str]:
    # tokenizers >= 0.20 saves merges as pairs, older ones as "a b" strings; GGUF wants the strings.
    return [m if isinstance(m, str) else " ".join(m) for m in tokenizer["model"].get("merges", [])]


def convert(hf: Path, out: Path, dtype: str) -> None:
    """Write the GGUF, streaming one tensor at a time (the 1b folder's F32 weights would not fit twice in memory)."""
    import gguf
    import numpy as np
    from safetensors import safe_open

    cfg = json.loads((hf / "config.json").read_text())
    tok = json.loads((hf / "tokenizer.json").read_text())
    if tok["model"]["type"] != "BPE":
        raise ValueError(f"expected a BPE tokenizer.json, got {tok['model']['type']}")
    n_layers, n_heads = cfg["num_hidden_layers"], cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_heads

    w = gguf.GGUFWriter(out, gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.QWEN2])
    w.add_name(hf.name)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_block_count(n_layers)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(n_heads)
    w.add_head_count_kv(cfg["num_key_value_heads"])
    if head_dim * n_heads != cfg["hidden_size"]:  # llama.cpp assumes hidden/heads otherwise
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_rope_freq_base(float(cfg["rope_theta"]))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == "f32" else gguf.LlamaFileType.MOSTLY_F16)

    # Byte-level BPE as llama.cpp knows it: model "gpt2", pre-tokenizer regex "qwen2".
    tokens, types = padded_vocab(tok, cfg["vocab_size"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges_of(tok))
    ids = {t: i for i, t in enumerate(tokens)}
    # Qwen2's convention; without them llama.cpp guesses ids (11 for BPE) and warns.
    if "<|endoftext|>" in ids:
        w.add_bos_token_id(ids["<|endoftext|>"])
        w.add_pad_token_id(ids["<|endoftext|>"])
    eos = ids.get("<|im_end|>", ids.get("<|endoftext|>"))
    if eos is not None:
        w.add_eos_token_id(eos)
    w.add_add_bos_token(False)

    tmap = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, n_layers)
    with safe_open(str(hf / "model.safetensors"), framework="numpy") as st:
        names = sorted(st.keys(), key=lambda n: (n.startswith("model.layers."), n))
        plan = []
        for name in names:
            target = gguf_name(name)
            theirs = tmap.get_name(name, try_suffixes=(".weight", ".bias"))
            if theirs != target:
                raise ValueError(f"{name}: this script says {target}, gguf's TensorNameMap says {theirs}")
            shape = st.get_slice(name).get_shape()
            # Matrices in the chosen type; 1-D norms and biases stay F32 (llama.cpp adds them in F32).
            np_type = np.float16 if dtype == "f16" and len(shape) == 2 else np.float32
            plan.append((name, target, np_type))
            w.add_tensor_info(target, shape, np.dtype(np_type), int(np.prod(shape)) * np.dtype(np_type).itemsize)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_ti_data_to_file()
        # No Q/K permutation: HF Qwen2 uses the rotate-half rope layout, which is what llama.cpp's
        # qwen2 graph (NEOX rope) expects; only the Llama converter reorders Q/K rows.
        for name, _, np_type in plan:
            w.write_tensor_data(np.ascontiguousarray(st.get_tensor(name), dtype=np_type))
    w.close()


def quantize(src: Path, dst: Path, threads: int) -> None:
    """Q4_0 by llama.cpp itself (its default rules: some tensors, e.g. the output, get other types)."""
    import ctypes

    import llama_cpp

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if rc != 0:
        raise RuntimeError(f"llama_model_quantize returned {rc}")


def tensor_types(path: Path) -> dict[str, int]:
    import gguf

    counts: dict[str, int] = {}
    for t in gguf.GGUFReader(path).tensors:
        counts[t.tensor_type.name] = counts.get(t.tensor_type.name, 0) + 1
    return counts


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("hf_folder", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--intermediate", choices=("f32", "f16"), default="f32")
    p.add_argument("--no-quantize", action="store_true", help="stop at the F32/F16 GGUF, written to OUT")
    p.add_argument("--threads", type=int, default=0, help="quantizer threads (0: llama.cpp picks)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # Both steps write beside OUT and OUT appears only complete: a killed run leaves no valid-looking file.
    partial = args.out.with_name(args.out.name + ".partial")
    inter = partial if args.no_quantize else args.out.with_name(args.out.name + f".{args.intermediate}.tmp")
    result = {"intermediate": args.intermediate}
    try:
        convert(args.hf_folder, inter, args.intermediate)
        result["intermediate_bytes"] = inter.stat().st_size
        result["convert_seconds"] = time.perf_counter() - started
        if not args.no_quantize:
            quantize(inter, partial, args.threads)
        partial.replace(args.out)
    finally:
        inter.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    result.update(
        bytes=args.out.stat().st_size,
        seconds=time.perf_counter() - started,
        quantized=not args.no_quantize,
        tensor_types=tensor_types(args.out),
    )
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
