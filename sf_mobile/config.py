"""Model configuration: one frozen dataclass per concern, `str` enums for every choice.

`ModelConfig` = vision tower + SlowFast pooling + LLM + prompt + frame sampling. Derived
values (patch grid, visual token counts, head dim) are properties, so a config can never
disagree with itself; cross-field rules live in `__post_init__` and raise `PresetError`
naming the fields. Named presets live in `sf_mobile.presets`.
"""

from __future__ import annotations

import dataclasses
import enum
import typing
from dataclasses import dataclass, field

from sf_mobile.errors import PresetError

SCHEMA_VERSION = 1


class VisionArch(str, enum.Enum):
    SIGLIP = "siglip"  # no CLS token; SlowFast-LLaVA-1.5 (Oryx-ViT is a SigLIP-so400m body)
    CLIP = "clip"  # CLS token dropped after the tower; SlowFast-LLaVA v1 (LLaVA-NeXT)


class LLMArch(str, enum.Enum):
    QWEN2 = "qwen2"  # q/k/v projections carry a bias
    LLAMA = "llama"


class PoolOp(str, enum.Enum):
    MAX = "max"
    AVG = "avg"


class ProjectorOrder(str, enum.Enum):
    # v1 is training-free: the LLaVA projector was trained on unpooled tokens, so it runs first.
    PROJECT_THEN_POOL = "project_then_pool"
    # Pooling first projects ~8x fewer tokens: the cheap order on a phone.
    POOL_THEN_PROJECT = "pool_then_project"


class SamplingStrategy(str, enum.Enum):
    UNIFORM = "uniform"  # exactly `max_frames` frames spread over the whole video
    FPS = "fps"  # one frame every 1/fps s; uniform over the video when that exceeds max_frames


class ResizeMode(str, enum.Enum):
    SQUASH = "squash"  # resize straight to image_size x image_size (SigLIP processors)
    SHORTEST_EDGE_CROP = "shortest_edge_crop"  # resize the short side, centre crop (CLIP processors)


@dataclass(frozen=True)
class VisionConfig:
    arch: VisionArch
    image_size: int  # square input side in pixels
    patch_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    # Which hidden state feeds the projector: -1 = last layer, -2 = penultimate (LLaVA's CLIP choice).
    select_layer: int = -1
    hidden_act: str = "gelu_pytorch_tanh"
    layer_norm_eps: float = 1e-6
    resize: ResizeMode = ResizeMode.SQUASH
    image_mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    image_std: tuple[float, float, float] = (0.5, 0.5, 0.5)

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise PresetError(
                f"vision.image_size {self.image_size} is not a multiple of vision.patch_size {self.patch_size}",
                "pick an image size that the patch size divides",
            )
        if self.hidden_size % self.num_heads:
            raise PresetError(
                f"vision.hidden_size {self.hidden_size} is not divisible by vision.num_heads {self.num_heads}",
                "pick a head count that divides the width",
            )
        if not (-self.num_layers <= self.select_layer <= -1):
            raise PresetError(
                f"vision.select_layer {self.select_layer} is outside [-{self.num_layers}, -1]",
                "count layers from the end: -1 is the last, -2 the penultimate",
            )

    @property
    def grid(self) -> int:
        """Patches per side: the token grid is grid x grid."""
        return self.image_size // self.patch_size

    @property
    def tokens_per_frame(self) -> int:
        return self.grid * self.grid


@dataclass(frozen=True)
class SlowFastConfig:
    generation: str  # "v1" (arXiv 2407.15841) or "1.5" (arXiv 2503.18943)
    num_slow: int  # frames kept by the slow pathway, chosen by linspace over the T frames
    slow_pool: tuple[int, int]  # (rows, cols) kernel and stride of the slow spatial pool
    slow_pool_op: PoolOp
    fast_grid: tuple[int, int]  # (rows, cols) every frame is average-pooled to on the fast pathway
    order: ProjectorOrder

    def __post_init__(self) -> None:
        if self.generation not in ("v1", "1.5"):
            raise PresetError(f"slowfast.generation {self.generation!r} is unknown", "use 'v1' or '1.5'")
        if self.num_slow < 1:
            raise PresetError(f"slowfast.num_slow is {self.num_slow}", "keep at least one slow frame")
        if min(self.slow_pool) < 1 or min(self.fast_grid) < 1:
            raise PresetError(
                f"slowfast.slow_pool {self.slow_pool} / fast_grid {self.fast_grid} must be positive",
                "use kernel and grid sizes >= 1",
            )

    def slow_grid(self, grid: int) -> tuple[int, int]:
        return grid // self.slow_pool[0], grid // self.slow_pool[1]

    def slow_tokens_per_frame(self, grid: int) -> int:
        rows, cols = self.slow_grid(grid)
        return rows * cols

    def fast_tokens_per_frame(self) -> int:
        return self.fast_grid[0] * self.fast_grid[1]


@dataclass(frozen=True)
class SamplingConfig:
    strategy: SamplingStrategy
    max_frames: int  # the frame budget T; exported graphs are built for exactly this many frames
    fps: float = 1.0  # used by the FPS strategy only

    def __post_init__(self) -> None:
        if self.max_frames < 1:
            raise PresetError(f"sampling.max_frames is {self.max_frames}", "use a frame budget >= 1")
        if self.fps <= 0:
            raise PresetError(f"sampling.fps is {self.fps}", "use a positive sampling rate")


@dataclass(frozen=True)
class LLMConfig:
    arch: LLMArch
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    vocab_size: int
    max_position_embeddings: int
    rope_theta: float
    rms_norm_eps: float
    tie_word_embeddings: bool

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise PresetError(
                f"llm.hidden_size {self.hidden_size} is not divisible by llm.num_heads {self.num_heads}",
                "pick a head count that divides the width",
            )
        if self.num_heads % self.num_kv_heads:
            raise PresetError(
                f"llm.num_heads {self.num_heads} is not a multiple of llm.num_kv_heads {self.num_kv_heads}",
                "grouped-query attention needs whole query groups",
            )

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    def kv_cache_bytes(self, context: int, bytes_per_element: float) -> int:
        """Bytes of a K and V cache for `context` positions: 2 x L x KVH x ctx x head_dim."""
        return int(2 * self.num_layers * self.num_kv_heads * context * self.head_dim * bytes_per_element)


@dataclass(frozen=True)
class PromptConfig:
    # Rendered with str.format(system=..., question=...); must contain `placeholder` exactly once.
    template: str
    system: str
    placeholder: str = "<video>"
    bos_token: str | None = None  # prepended as a token id when the LLM expects one (Llama)
    stop_tokens: tuple[str, ...] = ()  # generation stops at any of these
    special_tokens: tuple[str, ...] = ()  # tokens the tokenizer must hold as single ids

    def __post_init__(self) -> None:
        rendered = self.template.format(system=self.system, question="{question}")
        if rendered.count(self.placeholder) != 1:
            raise PresetError(
                f"prompt.template holds the placeholder {self.placeholder!r} {rendered.count(self.placeholder)} times",
                "put the placeholder exactly once where the video goes",
            )
        if not self.stop_tokens:
            raise PresetError("prompt.stop_tokens is empty", "name the token(s) that end an answer")


@dataclass(frozen=True)
class ModelConfig:
    name: str
    vision: VisionConfig
    slowfast: SlowFastConfig
    sampling: SamplingConfig
    llm: LLMConfig
    prompt: PromptConfig
    source: str = ""  # where the numbers come from and what is uncertain (shown by sf-info)
    schema_version: int = field(default=SCHEMA_VERSION)

    def __post_init__(self) -> None:
        grid = self.vision.grid
        fast_rows, fast_cols = self.slowfast.fast_grid
        if fast_rows > grid or fast_cols > grid:
            raise PresetError(
                f"slowfast.fast_grid {self.slowfast.fast_grid} is larger than the {grid}x{grid} token grid",
                "use a fast grid no larger than image_size / patch_size",
            )
        if grid % self.slowfast.slow_pool[0] or grid % self.slowfast.slow_pool[1]:
            raise PresetError(
                f"slowfast.slow_pool {self.slowfast.slow_pool} does not divide the {grid}x{grid} token grid",
                "use a kernel whose sides divide the grid",
            )

    def visual_tokens(self, num_frames: int | None = None) -> "VisualTokenBudget":
        """The slow/fast split of the visual tokens for `num_frames` (default: the budget)."""
        frames = self.sampling.max_frames if num_frames is None else num_frames
        if frames < 1:
            raise PresetError(f"frame count is {frames}", "use at least one frame")
        slow = self.slowfast.num_slow * self.slowfast.slow_tokens_per_frame(self.vision.grid)
        fast = frames * self.slowfast.fast_tokens_per_frame()
        return VisualTokenBudget(frames=frames, slow_frames=self.slowfast.num_slow, slow_tokens=slow, fast_tokens=fast)

    def with_frames(self, num_frames: int) -> "ModelConfig":
        return dataclasses.replace(self, sampling=dataclasses.replace(self.sampling, max_frames=num_frames))

    def to_dict(self) -> dict:
        return _to_jsonable(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        return _from_jsonable(cls, data)


@dataclass(frozen=True)
class VisualTokenBudget:
    frames: int
    slow_frames: int  # always num_slow: linspace repeats frames when T < num_slow
    slow_tokens: int
    fast_tokens: int

    @property
    def total(self) -> int:
        return self.slow_tokens + self.fast_tokens


def _to_jsonable(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [_to_jsonable(v) for v in value]
    return value


def _from_jsonable(cls, data):
    """Rebuild a (nested) frozen dataclass from `_to_jsonable` output, rejecting unknown keys."""
    if not isinstance(data, dict):
        raise PresetError(f"expected a mapping for {cls.__name__}, got {type(data).__name__}", "check the config file")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise PresetError(f"unknown {cls.__name__} field(s) {unknown}", f"valid fields: {sorted(names)}")
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(hints[name], value, f"{cls.__name__}.{name}")
    try:
        return cls(**kwargs)
    except TypeError as err:  # a missing required field
        raise PresetError(f"incomplete {cls.__name__}: {err}", "give every field of the config") from None


def _coerce(hint, value, where: str):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _from_jsonable(hint, value)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            return hint(value)
        except ValueError:
            raise PresetError(f"{where} is {value!r}", f"valid values: {[m.value for m in hint]}") from None
    if origin is tuple:
        return tuple(value)
    return value
