"""Checkpoints: load a Hugging Face-layout folder, save one, or build a preset with random weights.

A checkpoint folder holds `config.json`, safetensors weights (one file, several, or shards
with an index) and `tokenizer.json`. Weight names from the supported layouts (LLaVA's original
`model.mm_projector.*` / `model.vision_tower.vision_tower.*`, transformers' Llava classes) are
rewritten onto this package's canonical names before any shape is compared. Pickled weights
(`.bin`, `.pt`) are refused: unpickling runs arbitrary code.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from sf_mobile.config import LLMArch, LLMConfig, ModelConfig
from sf_mobile.errors import CheckpointError, PresetError
from sf_mobile.model.slowfast_llava import DEFAULT_SEED, SlowFastLlava, build_model
from sf_mobile.output_dir import atomic_output_dir
from sf_mobile.presets import get_preset
from sf_mobile.tokenizer import PromptCodec, build_standin_tokenizer, load_tokenizer

# (checkpoint prefix, canonical prefix), most specific first.
NAME_RULES: tuple[tuple[str, str], ...] = (
    ("model.vision_tower.vision_tower.vision_model.", "vision_tower.model."),  # LLaVA (original repo)
    ("model.vision_tower.vision_model.", "vision_tower.model."),
    ("model.vision_tower.", "vision_tower.model."),  # transformers 5 Llava
    ("vision_tower.vision_model.", "vision_tower.model."),  # transformers 4 Llava
    ("vision_tower.", "vision_tower.model."),
    ("model.mm_projector.", "projector."),
    ("model.multi_modal_projector.linear_1.", "projector.0."),
    ("model.multi_modal_projector.linear_2.", "projector.2."),
    ("multi_modal_projector.linear_1.", "projector.0."),
    ("multi_modal_projector.linear_2.", "projector.2."),
    ("model.language_model.", "llm.model."),
    ("language_model.model.", "llm.model."),
    ("language_model.lm_head.", "llm.lm_head."),
    ("model.", "llm.model."),
    ("lm_head.", "llm.lm_head."),
)
# The layout `save_checkpoint` writes: LLaVA's original names.
SAVE_RULES: tuple[tuple[str, str], ...] = (
    ("vision_tower.model.", "model.vision_tower.vision_tower.vision_model."),
    ("projector.", "model.mm_projector."),
    ("llm.model.", "model."),
    ("llm.lm_head.", "lm_head."),
)
# Present in real checkpoints, unused by LLaVA-style feature extraction: SigLIP's attention-pool
# head (features are read before it) and RoPE tables older exports saved.
IGNORED_SUFFIXES = ("rotary_emb.inv_freq",)
IGNORED_PREFIXES = ("vision_tower.model.head.",)
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")

LLM_FIELDS = {  # LLMConfig field <- config.json key
    "hidden_size": "hidden_size",
    "intermediate_size": "intermediate_size",
    "num_layers": "num_hidden_layers",
    "num_heads": "num_attention_heads",
    "num_kv_heads": "num_key_value_heads",
    "vocab_size": "vocab_size",
    "max_position_embeddings": "max_position_embeddings",
    "rms_norm_eps": "rms_norm_eps",
    "tie_word_embeddings": "tie_word_embeddings",
}


@dataclass(frozen=True)
class WeightsOrigin:
    """Where the weights and tokenizer came from; recorded in every manifest."""

    weights: str  # "checkpoint" or "random"
    tokenizer: str  # "checkpoint" or "stand-in"
    path: str | None = None
    sha256: str | None = None  # of the safetensors files, in name order
    seed: int | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class LoadedModel:
    model: SlowFastLlava | None  # None once `release_weights` ran
    codec: PromptCodec
    origin: WeightsOrigin
    config: ModelConfig | None = None  # the model's; kept when the weights are released

    def __post_init__(self) -> None:
        if self.config is None:
            self.config = self.model.config

    def release_weights(self) -> None:
        """Drop this reference to the weights (an exporter past torch.export no longer needs them:
        at 1B size they are gigabytes of peak memory during lowering and serialization)."""
        self.model = None


def canonical_name(name: str) -> str:
    for prefix, replacement in NAME_RULES:
        if name.startswith(prefix):
            return replacement + name[len(prefix) :]
    return name


def _saved_name(name: str) -> str:
    for prefix, replacement in SAVE_RULES:
        if name.startswith(prefix):
            return replacement + name[len(prefix) :]
    raise ValueError(f"no saved name for parameter {name}")


def _read_config_json(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise CheckpointError(f"{folder} has no config.json", "point --checkpoint at a Hugging Face-layout model folder")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not valid JSON ({err})", "restore the checkpoint's config.json") from None


def _llm_overrides(text: dict) -> dict:
    """LLMConfig fields named in a config.json, type-checked (a string where an int belongs is an error)."""
    types = {field.name: field.type for field in dataclasses.fields(LLMConfig)}
    overrides = {}
    for field, key in LLM_FIELDS.items():
        if key not in text:
            continue
        value = text[key]
        wanted = {"int": int, "float": (int, float), "bool": bool}[types[field]]
        if isinstance(value, bool) != (wanted is bool) or not isinstance(value, wanted):
            raise CheckpointError(
                f"config.json field {key!r} is {value!r}, not a {types[field]}", f"give {key} as a JSON {types[field]}"
            )
        overrides[field] = value
    rope = text.get("rope_parameters") or {}
    theta = rope.get("rope_theta", text.get("rope_theta"))
    if theta is not None:
        overrides["rope_theta"] = float(theta)
    scaling = text.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or scaling.get("rope_type") or scaling.get("type") or "default"
    if rope_type != "default":
        raise CheckpointError(f"RoPE type {rope_type!r} is not supported", "use a checkpoint with default RoPE")
    model_type = text.get("model_type", "")
    if "qwen" in model_type:
        overrides["arch"] = LLMArch.QWEN2
    elif "llama" in model_type or "vicuna" in model_type:
        overrides["arch"] = LLMArch.LLAMA
    return overrides


def config_from_checkpoint(raw: dict, fallback_preset: str) -> ModelConfig:
    """The checkpoint's own sf-mobile config if it has one, else the preset with the LLM shape
    (and vision select layer) taken from config.json: a checkpoint's config wins over the preset."""
    if not isinstance(raw, dict):
        raise CheckpointError(f"config.json holds a JSON {type(raw).__name__}, not an object", "restore the checkpoint's config.json")
    fallback = get_preset(fallback_preset)  # an unknown --size is the user's error, not the checkpoint's
    try:
        base = ModelConfig.from_dict(raw["sf_mobile"]) if "sf_mobile" in raw else fallback
        text = raw.get("text_config", raw)  # transformers' Llava nests the LLM config
        llm = dataclasses.replace(base.llm, **_llm_overrides(text))
        vision = base.vision
        # LLaVA's key, then transformers' Llava key
        select_layer = raw.get("mm_vision_select_layer", raw.get("vision_feature_layer"))
        if isinstance(select_layer, int) and not isinstance(select_layer, bool):
            vision = dataclasses.replace(vision, select_layer=select_layer)
        if raw.get("mm_hidden_size", vision.hidden_size) != vision.hidden_size:
            raise CheckpointError(
                f"config.json mm_hidden_size {raw['mm_hidden_size']} does not match the {base.name} vision width "
                f"{vision.hidden_size}",
                "pass the --size whose vision tower this checkpoint was trained with",
            )
        return dataclasses.replace(base, vision=vision, llm=llm)
    except CheckpointError:
        raise
    except PresetError as err:
        raise CheckpointError(f"config.json describes an invalid model: {err}", "fix config.json") from None


def _weight_files(folder: Path) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    pickled = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickled:
        raise CheckpointError(
            f"{folder} holds only pickled weights ({pickled[0]}); they are never loaded because unpickling runs code",
            "convert them to safetensors (e.g. with safetensors.torch.save_file) in a trusted environment",
        )
    raise CheckpointError(f"{folder} has no *.safetensors weights", "add the model's safetensors files")


def _read_tensors(files: list[Path]) -> dict[str, tuple[str, torch.Tensor]]:
    """canonical name -> (name in the file, tensor), in float32."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    tensors: dict[str, tuple[str, torch.Tensor]] = {}
    for path in files:
        try:
            loaded = load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path} is not a readable safetensors file ({err})", "re-download or re-save it") from None
        for name, tensor in loaded.items():
            canonical = canonical_name(name)
            if canonical in tensors:
                raise CheckpointError(f"tensor {name!r} appears twice in {path.parent}", "remove the duplicate shard")
            tensors[canonical] = (name, tensor.to(torch.float32) if tensor.is_floating_point() else tensor)
    return tensors


def _hash_files(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 24), b""):
                digest.update(block)
    return digest.hexdigest()


def load_weights(model: SlowFastLlava, folder: Path, files: list[Path]) -> None:
    """Copy the checkpoint's tensors into `model`, failing on the first one that does not fit."""
    expected = model.state_dict()
    tied = model.config.llm.tie_word_embeddings
    tensors = _read_tensors(files)
    mismatch_fix = "use the config.json that came with these weights, or pass the --size they were trained with"
    if tied:  # the head is the embedding; a stored copy must not overwrite it (as transformers does)
        tensors.pop("llm.lm_head.weight", None)
    for name, (stored, tensor) in tensors.items():
        if name.endswith(IGNORED_SUFFIXES) or name.startswith(IGNORED_PREFIXES):
            continue
        if name not in expected:
            raise CheckpointError(f"checkpoint {folder} has tensor {stored!r} that the config has no place for", mismatch_fix)
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"checkpoint {folder} does not match its config: tensor {stored!r} has shape "
                f"{list(tensor.shape)}, the config expects {list(expected[name].shape)}",
                mismatch_fix,
            )
        _check_values(folder, stored, tensor, expected[name])
    for name in expected:
        if name not in tensors and not (tied and name == "llm.lm_head.weight"):
            raise CheckpointError(f"checkpoint {folder} lacks tensor {_saved_name(name)!r} that its config needs", mismatch_fix)
    state = {name: tensor for name, (_, tensor) in tensors.items() if name in expected}
    model.load_state_dict(state, strict=False)
    if tied:
        model.llm.tie_weights()


def _check_values(folder: Path, stored: str, tensor: torch.Tensor, wanted: torch.Tensor) -> None:
    """A tensor of the wrong kind (integers or booleans for a float weight) would be cast silently by
    load_state_dict, and NaN or infinity would only show as a nonsense answer: refuse both."""
    if tensor.is_floating_point() != wanted.is_floating_point():
        kind = "floating-point" if wanted.is_floating_point() else str(wanted.dtype).removeprefix("torch.")
        raise CheckpointError(
            f"checkpoint {folder} has tensor {stored!r} of dtype {str(tensor.dtype).removeprefix('torch.')}, "
            f"the model expects a {kind} tensor",
            "re-save the checkpoint with its original weights (fp32, fp16 or bf16)",
        )
    if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
        raise CheckpointError(
            f"checkpoint {folder} has tensor {stored!r} holding NaN or infinite values",
            "the weights are corrupt or diverged: re-download them or use another checkpoint",
        )


def _check_folder(folder: Path) -> None:
    if not folder.exists():
        raise CheckpointError(f"checkpoint folder {folder} does not exist", "pass the folder that holds config.json")
    if not folder.is_dir():
        raise CheckpointError(f"checkpoint {folder} is a file, not a folder", "pass the folder that holds config.json")


def resolve_config(preset: str, checkpoint: Path | None, num_frames: int | None = None) -> ModelConfig:
    """The config a run will use, read without building any weights (cheap: check inputs first)."""
    if checkpoint is None:
        config = get_preset(preset)
    else:
        _check_folder(Path(checkpoint))
        config = config_from_checkpoint(_read_config_json(Path(checkpoint)), preset)
    return config if num_frames is None else config.with_frames(num_frames)


def load_checkpoint(folder: Path, fallback_preset: str, num_frames: int | None = None) -> LoadedModel:
    folder = Path(folder)
    config = resolve_config(fallback_preset, folder, num_frames)
    files = _weight_files(folder)
    tokenizer = load_tokenizer(folder / "tokenizer.json")
    codec = PromptCodec(tokenizer, config.prompt, config.llm.vocab_size)
    model = build_model(config, seed=None)
    load_weights(model, folder, files)
    origin = WeightsOrigin(weights="checkpoint", tokenizer="checkpoint", path=str(folder), sha256=_hash_files(files))
    return LoadedModel(model=model, codec=codec, origin=origin)


def build_random(preset: str, seed: int = DEFAULT_SEED, num_frames: int | None = None) -> LoadedModel:
    """The preset with seeded random weights and a stand-in tokenizer of its vocab size."""
    config = resolve_config(preset, None, num_frames)
    tokenizer = build_standin_tokenizer(config.llm.vocab_size, config.prompt.special_tokens)
    codec = PromptCodec(tokenizer, config.prompt, config.llm.vocab_size)
    origin = WeightsOrigin(weights="random", tokenizer="stand-in", seed=seed)
    return LoadedModel(model=build_model(config, seed=seed), codec=codec, origin=origin)


def load_or_build(preset: str, checkpoint: Path | None, seed: int = DEFAULT_SEED, num_frames: int | None = None):
    if checkpoint is None:
        return build_random(preset, seed=seed, num_frames=num_frames)
    return load_checkpoint(checkpoint, fallback_preset=preset, num_frames=num_frames)


def llava_config_json(config: ModelConfig) -> dict:
    """config.json in LLaVA's layout, plus the full sf-mobile config under "sf_mobile"."""
    llm = config.llm
    return {
        "architectures": ["LlavaQwenForCausalLM" if llm.arch is LLMArch.QWEN2 else "LlavaLlamaForCausalLM"],
        "model_type": "llava_qwen" if llm.arch is LLMArch.QWEN2 else "llava_llama",
        **{key: getattr(llm, field) for field, key in LLM_FIELDS.items()},
        "rope_theta": llm.rope_theta,
        "hidden_act": "silu",
        "mm_projector_type": "mlp2x_gelu",
        "mm_hidden_size": config.vision.hidden_size,
        "mm_vision_select_layer": config.vision.select_layer,
        "mm_vision_select_feature": "patch",
        "sf_mobile": config.to_dict(),
    }


def save_checkpoint(loaded: LoadedModel, folder: Path) -> Path:
    """Write config.json, model.safetensors (LLaVA names) and tokenizer.json; atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    if folder.exists():
        raise CheckpointError(f"{folder} already exists", "choose a new folder or remove the old one")
    with atomic_output_dir(folder) as staging:  # staged beside `folder`, renamed when complete
        state = loaded.model.state_dict()
        if loaded.config.llm.tie_word_embeddings:
            state.pop("llm.lm_head.weight")  # shared with the embedding; safetensors refuses aliases
        save_file({_saved_name(k): v.contiguous() for k, v in state.items()}, str(staging / "model.safetensors"))
        (staging / "config.json").write_text(json.dumps(llava_config_json(loaded.config), indent=2) + "\n")
        loaded.codec.tokenizer.save(str(staging / "tokenizer.json"))
    return folder

