"""Time llama.cpp's single-token decode at several context lengths, through llama_cpp's C API.

Runs in the llama.cpp peer venv (llama_cpp, numpy), never in sf-mobile's:
    python llamacpp_decode.py MODEL.gguf --contexts 128,512 --steps 32 --threads 2 [--logits-out F.npz --kv-type f32 --flash-attn off]
Prints one JSON line on stdout: per context, the median wall time of one llama_decode call.

Decode at context L: the KV cache holds exactly L tokens when the first timed step runs. The
sequence is one fixed array of token ids; position p always holds ids[p], so the contexts extend
each other (ascending) and the logits at any position depend on ids[:p + 1] only, which is what
the parity check (--logits-out) compares against transformers on the same ids. Per context:
  prefill positions up to L-2 in batches (one output: the last token),
  2 untimed single-token warm-up steps at L-2 and L-1 (they fill the cache to L),
  `steps` timed single-token steps at L, L+1, ..., then the timed positions are dropped from the
  cache again so the next context starts from L.
llama_cpp is imported inside run(), so the pure parts import without it (sf-mobile's tests).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

WARMUP = 2
SEED = 0
FLASH_ATTN = {"auto": -1, "off": 0, "on": 1}  # llama.cpp's enum llama_flash_attn_type


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("gguf")
    p.add_argument("--contexts", required=True, help="ascending comma-separated context lengths, each >= 2")
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=512, help="prefill batch (n_batch and n_ubatch)")
    p.add_argument("--logits-out", help="save the checked logits, their positions and the ids (.npz)")
    # The defaults are llama.cpp's own (f16 KV cache, flash attention "auto", which is on for the CPU):
    # what its CLI would time. The parity check asks for --kv-type f32 --flash-attn off: the CPU flash
    # attention works in f16 and alone costs ~1e-3 relative L2 against transformers' float32 logits.
    p.add_argument("--kv-type", choices=("f16", "f32"), default="f16")
    p.add_argument("--flash-attn", choices=tuple(FLASH_ATTN), default="auto")
    args = p.parse_args(argv)
    args.contexts = [int(c) for c in args.contexts.split(",") if c.strip()]
    if not args.contexts or sorted(set(args.contexts)) != args.contexts or args.contexts[0] < WARMUP:
        p.error(f"--contexts must be strictly ascending, each >= {WARMUP}: {args.contexts}")
    if args.steps < 1 or args.threads < 1 or args.batch < 1:
        p.error("--steps, --threads and --batch must be positive")
    return args


def n_ctx_for(contexts: list[int], steps: int) -> int:
    # Room for the longest context, its timed steps, and slack; llama.cpp pads n_ctx up itself.
    return max(contexts) + steps + 8


def prefill_chunks(start: int, end: int, batch: int) -> list[tuple[int, int]]:
    """[start, end) split into batches of at most `batch` positions."""
    return [(p, min(p + batch, end)) for p in range(start, end, batch)]


def run(args: argparse.Namespace) -> dict:
    import llama_cpp as ll
    import numpy as np

    ll.llama_backend_init()
    mparams = ll.llama_model_default_params()
    mparams.load_mode = ll.LLAMA_LOAD_MODE_NONE  # read into RAM: no page faults inside the timed steps
    model = ll.llama_model_load_from_file(args.gguf.encode(), mparams)
    if not model:
        raise RuntimeError(f"llama.cpp could not load {args.gguf}")
    n_vocab = ll.llama_vocab_n_tokens(ll.llama_model_get_vocab(model))
    cparams = ll.llama_context_default_params()
    cparams.n_ctx = n_ctx_for(args.contexts, args.steps)
    cparams.n_batch = cparams.n_ubatch = args.batch
    cparams.n_seq_max = 1
    cparams.n_threads = cparams.n_threads_batch = args.threads
    cparams.type_k = cparams.type_v = ll.GGML_TYPE_F32 if args.kv_type == "f32" else ll.GGML_TYPE_F16
    cparams.flash_attn_type = FLASH_ATTN[args.flash_attn]
    ctx = ll.llama_init_from_model(model, cparams)
    if not ctx:
        raise RuntimeError("llama.cpp could not create a context")
    mem = ll.llama_get_memory(ctx)

    # Token ids away from the special ones at the start of the vocab; fixed so runs compare.
    ids = np.random.default_rng(SEED).integers(min(3, n_vocab - 1), n_vocab, size=max(args.contexts) + args.steps)
    big = ll.llama_batch_init(args.batch, 0, 1)
    one = ll.llama_batch_init(1, 0, 1)
    one.n_tokens = 1
    one.n_seq_id[0] = 1
    one.seq_id[0][0] = 0
    one.logits[0] = 1

    def logits_at(i: int) -> np.ndarray:
        row = np.ctypeslib.as_array(ll.llama_get_logits_ith(ctx, i), shape=(n_vocab,)).copy()
        if not np.isfinite(row).all():
            raise RuntimeError("llama.cpp produced non-finite logits")
        return row

    def decode(batch) -> None:
        rc = ll.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")

    def step(pos: int) -> float:
        one.token[0] = int(ids[pos])
        one.pos[0] = pos
        t0 = time.perf_counter()
        decode(one)
        ll.llama_synchronize(ctx)  # the CPU backend is synchronous, but make the timing not depend on it
        return time.perf_counter() - t0

    checked_pos, checked = [], []
    results, filled = [], 0
    for L in args.contexts:
        for a, b in prefill_chunks(filled, L - WARMUP, args.batch):
            big.n_tokens = b - a
            for j, pos in enumerate(range(a, b)):
                big.token[j] = int(ids[pos])
                big.pos[j] = pos
                big.n_seq_id[j] = 1
                big.seq_id[j][0] = 0
                big.logits[j] = int(pos == L - WARMUP - 1)  # logits only for the last prefill token
            decode(big)
        if L - WARMUP > filled:  # the batched path's logits
            checked_pos.append(L - WARMUP - 1)
            checked.append(logits_at(b - a - 1))
        for pos in range(L - WARMUP, L):
            step(pos)
        checked_pos.append(L - 1)  # the single-token path's logits
        checked.append(logits_at(0))
        times = [step(L + i) for i in range(args.steps)]
        checked_pos.append(L + args.steps - 1)
        checked.append(logits_at(0))
        # Drop the timed positions: the cache holds exactly L tokens again for the next context.
        ll.llama_memory_seq_rm(mem, 0, L, -1)
        filled = L
        ms = statistics.median(times) * 1e3
        results.append({"context": L, "ms_per_token": ms, "tokens_per_s": 1e3 / ms, "steps": args.steps,
                        "ms_min": min(times) * 1e3, "ms_max": max(times) * 1e3})

    if args.logits_out:
        np.savez(args.logits_out, ids=ids, positions=np.array(checked_pos), logits=np.stack(checked))
    ll.llama_batch_free(big)
    ll.llama_batch_free(one)
    ll.llama_free(ctx)
    ll.llama_model_free(model)
    return {"n_ctx": int(cparams.n_ctx), "n_vocab": int(n_vocab), "threads": args.threads, "kv_type": args.kv_type,
            "flash_attn": args.flash_attn, "llama_cpp_python": ll.__version__,
            "system_info": ll.llama_print_system_info().decode(errors="replace").strip(), "results": results}


def main(argv: list[str] | None = None) -> None:
    print(json.dumps(run(parse_args(argv))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
