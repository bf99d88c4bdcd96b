"""The preset's language model as a plain Hugging Face Qwen2/Llama folder, the input every engine
of the decode benchmark exports from: config.json, model.safetensors, tokenizer.json.

The weights are the seeded random ones sf-export uses for the same preset, so every engine
quantizes the same numbers. Our LLM's parameter names are already the Hugging Face causal-LM
names under the `llm.` prefix (`model.layers.0.self_attn.q_proj.weight`, `lm_head.weight`).
"""

from __future__ import annotations

import json
from pathlib import Path

from sf_mobile.config import LLMArch, ModelConfig
from sf_mobile.output_dir import atomic_output_dir

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
TOKENIZER = "tokenizer.json"


def causal_lm_config(config: ModelConfig) -> dict:
    """config.json of the text-only model, as transformers writes it for Qwen2 / Llama."""
    llm = config.llm
    qwen = llm.arch is LLMArch.QWEN2
    return {
        "architectures": ["Qwen2ForCausalLM" if qwen else "LlamaForCausalLM"],
        "model_type": "qwen2" if qwen else "llama",
        "hidden_size": llm.hidden_size,
        "intermediate_size": llm.intermediate_size,
        "num_hidden_layers": llm.num_layers,
        "num_attention_heads": llm.num_heads,
        "num_key_value_heads": llm.num_kv_heads,
        "head_dim": llm.hidden_size // llm.num_heads,
        "vocab_size": llm.vocab_size,
        "max_position_embeddings": llm.max_position_embeddings,
        "rope_theta": llm.rope_theta,
        "rms_norm_eps": llm.rms_norm_eps,
        "tie_word_embeddings": llm.tie_word_embeddings,
        "hidden_act": "silu",
        "attention_bias": qwen,  # Qwen2 has q/k/v biases; transformers' Llama reads this key
        "use_sliding_window": False,
        "torch_dtype": "float32",
        "bos_token_id": None,
        "eos_token_id": None,
    }


def write_hf_folder(loaded, folder: Path) -> Path:
    """Write the LLM of `loaded` (sf_mobile.checkpoints.LoadedModel) to `folder`, atomically."""
    from safetensors.torch import save_file

    state = {k[len("llm."):]: v.contiguous() for k, v in loaded.model.state_dict().items() if k.startswith("llm.")}
    if loaded.config.llm.tie_word_embeddings:
        state.pop("lm_head.weight")  # shared with embed_tokens; safetensors refuses aliases
    with atomic_output_dir(Path(folder)) as staging:
        save_file(state, str(staging / WEIGHTS), metadata={"format": "pt"})
        (staging / CONFIG).write_text(json.dumps(causal_lm_config(loaded.config), indent=2) + "\n")
        loaded.codec.tokenizer.save(str(staging / TOKENIZER))
    return Path(folder)
