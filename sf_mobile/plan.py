"""sf-plan's arithmetic: the largest frame budget whose estimated TTFT and memory fit a phone.

Everything here is an estimate on paper: the preset's shapes (`sf_mobile.cost`) against a device
profile from `sf_mobile/data/device_profiles.json`, in which every number names its source and
whether it was stated by a vendor, reported by a third party, derived or assumed.

Model of one question about one video, on the export recipe the profile names:
  TTFT = vision compute (frames x tower FLOPs + projector) / (peak x efficiency)
       + one read of the vision weights
       + prefill compute (sf_mobile.cost.prefill_flops) / (peak x efficiency)
       + one read of the streamed LLM weights per prefill call (ceil(rows / chunk) calls)
       + the KV cache of earlier chunks, read by every later chunk
  with bytes / (bandwidth x efficiency), and no overlap of compute and memory traffic.
  memory = weights (LLM and vision at the recipe's bits) + KV cache at the export's default
  context + the fp32 vision features of every frame, against RAM x the app's fraction.
Pooling is the trained model's: only the frame count varies.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from importlib import resources

from sf_mobile import cost
from sf_mobile.config import ModelConfig, SamplingStrategy
from sf_mobile.errors import SfError

PROFILES_FILE = "device_profiles.json"
BASES = ("vendor", "third-party", "derived", "assumed")
QUANTITIES = (
    "ram_bytes",
    "app_memory_fraction",
    "peak_ops_per_s",
    "compute_efficiency",
    "memory_bandwidth_bytes_per_s",
    "bandwidth_efficiency",
)
FEATURE_BYTES = 4  # vision features held until pooling, counted as fp32 (an upper bound for fp16 graphs)
GIB = 2**30


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str
    basis: str  # one of BASES
    source: str


@dataclass(frozen=True)
class ExportRecipe:
    command: str  # with {preset} and {frames} to fill in
    llm_weight_bits: int
    llm_group_size: int | None
    vision_weight_bits: int
    vision_group_size: int | None
    kv_bytes_per_element: int
    prefill_chunk: int | None  # rows per prefill call; None: the whole prompt in one call
    attention: str  # "causal": a call reads the slots written so far; "whole_cache": every slot, masked
    source: str


@dataclass(frozen=True)
class DeviceProfile:
    key: str
    name: str
    soc: str
    compute_unit: str
    export: ExportRecipe
    quantities: dict[str, Quantity] = field(hash=False)

    @property
    def ram_bytes(self) -> float:
        return self.quantities["ram_bytes"].value

    @property
    def app_memory_fraction(self) -> float:
        return self.quantities["app_memory_fraction"].value

    @property
    def peak_ops_per_s(self) -> float:
        return self.quantities["peak_ops_per_s"].value

    @property
    def compute_efficiency(self) -> float:
        return self.quantities["compute_efficiency"].value

    @property
    def memory_bandwidth_bytes_per_s(self) -> float:
        return self.quantities["memory_bandwidth_bytes_per_s"].value

    @property
    def bandwidth_efficiency(self) -> float:
        return self.quantities["bandwidth_efficiency"].value

    @property
    def effective_ops_per_s(self) -> float:
        return self.peak_ops_per_s * self.compute_efficiency

    @property
    def effective_bandwidth(self) -> float:
        return self.memory_bandwidth_bytes_per_s * self.bandwidth_efficiency

    @property
    def memory_budget(self) -> float:
        return self.ram_bytes * self.app_memory_fraction


def profiles_text() -> str:
    """The installed data file (package data of sf_mobile)."""
    return resources.files("sf_mobile").joinpath("data", PROFILES_FILE).read_text()


def load_profiles() -> dict[str, DeviceProfile]:
    data = json.loads(profiles_text())
    profiles = {}
    for key, entry in data["profiles"].items():
        profiles[key] = DeviceProfile(
            key=key,
            name=entry["name"],
            soc=entry["soc"],
            compute_unit=entry["compute_unit"],
            export=ExportRecipe(**entry["export"]),
            quantities={name: Quantity(**entry[name]) for name in QUANTITIES},
        )
    return profiles


def get_profile(key: str) -> DeviceProfile:
    profiles = load_profiles()
    if key not in profiles:
        raise SfError(f"unknown device {key!r}", f"valid devices: {', '.join(profiles)}")
    return profiles[key]


@dataclass(frozen=True)
class Estimate:
    """One frame budget on one device, on paper."""

    frames: int
    sampling: str  # "fps" or "uniform"
    slow_tokens: int
    fast_tokens: int
    prompt_rows: int
    context: int  # KV-cache positions of the export's default context
    prefill_calls: int
    flops: dict[str, int]
    ttft_ms: dict[str, float]  # the breakdown and "total"
    memory_bytes: dict[str, int]  # the breakdown and "total"

    @property
    def visual_tokens(self) -> int:
        return self.slow_tokens + self.fast_tokens

    def fits(self, ttft_target_ms: float, budget_bytes: float) -> bool:
        return self.ttft_ms["total"] <= ttft_target_ms and self.memory_bytes["total"] <= budget_bytes

    def to_dict(self) -> dict:
        return {
            "frames": self.frames,
            "sampling": self.sampling,
            "visual_tokens": {"slow": self.slow_tokens, "fast": self.fast_tokens, "total": self.visual_tokens},
            "prompt_rows": self.prompt_rows,
            "context": self.context,
            "prefill_calls": self.prefill_calls,
            "flops": self.flops,
            "ttft_ms": {k: round(v, 1) for k, v in self.ttft_ms.items()},
            "memory_bytes": self.memory_bytes,
        }


def estimate(config: ModelConfig, profile: DeviceProfile, frames: int, video_seconds: float) -> Estimate:
    """TTFT and memory of `frames` frames sampled from a `video_seconds` video (module docstring)."""
    from sf_mobile.export.limits import default_context

    framed = config.with_frames(frames)
    recipe = profile.export
    budget = framed.visual_tokens(frames)
    rows = cost.prompt_rows(framed, frames)
    context = default_context(framed)
    llm_blocks = cost.parameter_counts(config)["llm_blocks"]

    vision_flops = frames * cost.vision_flops_per_frame(config)["total"] + cost.projector_flops(framed, frames)
    prefill = cost.prefill_flops(config, llm_blocks, rows)
    chunk = recipe.prefill_chunk or rows
    calls = math.ceil(rows / chunk)
    kv_per_position = config.llm.kv_cache_bytes(1, recipe.kv_bytes_per_element)
    if recipe.attention == "whole_cache":
        # fixed shapes: every call scores and reads all `context` slots (a short last chunk is padded)
        prefill["attention"] = cost.whole_cache_attention_flops(config, calls, chunk, context)
        kv_read = kv_per_position * context * calls
    else:
        # call i reads the i * chunk positions written before it (its own rows stay in the graph)
        kv_read = kv_per_position * chunk * calls * (calls - 1) // 2
    prefill_flops = prefill["linear"] + prefill["attention"] + prefill["lm_head"]
    vision_weights = cost.part_weight_bytes(config, "vision", recipe.vision_weight_bits, recipe.vision_group_size)
    llm_weights = cost.part_weight_bytes(config, "llm", recipe.llm_weight_bits, recipe.llm_group_size)
    streamed = cost.streamed_llm_weight_bytes(config, recipe.llm_weight_bits, recipe.llm_group_size)

    ops, bandwidth = profile.effective_ops_per_s, profile.effective_bandwidth
    ttft = {
        "vision_compute": vision_flops / ops * 1e3,
        "vision_weights_read": vision_weights / bandwidth * 1e3,
        "prefill_compute": prefill_flops / ops * 1e3,
        "prefill_weights_read": calls * streamed / bandwidth * 1e3,
        "kv_cache_read": kv_read / bandwidth * 1e3,
    }
    ttft["total"] = sum(ttft.values())
    memory = {
        "llm_weights": llm_weights,
        "vision_weights": vision_weights,
        "kv_cache": cost.kv_cache_bytes(config, context, recipe.kv_bytes_per_element),
        "vision_features": frames * config.vision.tokens_per_frame * config.vision.hidden_size * FEATURE_BYTES,
    }
    memory["total"] = sum(memory.values())
    return Estimate(
        frames=frames,
        sampling=cost.frames_sampled(framed, video_seconds).mode,
        slow_tokens=budget.slow_tokens,
        fast_tokens=budget.fast_tokens,
        prompt_rows=rows,
        context=context,
        prefill_calls=calls,
        flops={"vision": vision_flops, "prefill": prefill_flops},
        ttft_ms=ttft,
        memory_bytes=memory,
    )


@dataclass(frozen=True)
class Plan:
    preset: str
    profile: DeviceProfile
    video_seconds: float
    ttft_target_ms: float
    max_frames: int  # the most frames the preset's sampler takes from this video
    choice: Estimate
    next_larger: Estimate | None  # choice.frames + 1, which does not fit (None: choice is max_frames)
    assumptions: list[str]

    @property
    def export_command(self) -> str:
        return self.profile.export.command.format(preset=self.preset, frames=self.choice.frames)

    def why_not(self, other: Estimate) -> str:
        reasons = []
        if other.ttft_ms["total"] > self.ttft_target_ms:
            reasons.append(f"TTFT {other.ttft_ms['total']:.0f} ms > {self.ttft_target_ms:g} ms")
        if other.memory_bytes["total"] > self.profile.memory_budget:
            reasons.append(f"memory {other.memory_bytes['total'] / GIB:.2f} GiB > {self.profile.memory_budget / GIB:.2f} GiB")
        return " and ".join(reasons)

    def to_dict(self) -> dict:
        p = self.profile
        return {
            "schema": "sf-plan/1",
            "estimate_on_paper": True,
            "preset": self.preset,
            "device": {"key": p.key, "name": p.name, "soc": p.soc, "compute_unit": p.compute_unit},
            "video_seconds": self.video_seconds,
            "ttft_target_ms": self.ttft_target_ms,
            "max_frames": self.max_frames,
            "choice": self.choice.to_dict(),
            "next_larger": None
            if self.next_larger is None
            else {**self.next_larger.to_dict(), "does_not_fit": self.why_not(self.next_larger)},
            "memory_budget_bytes": int(p.memory_budget),
            "export_command": self.export_command,
            "pooling_varied": False,
            "assumptions": self.assumptions,
            "profile": {name: dataclasses.asdict(q) for name, q in p.quantities.items()}
            | {"export": dataclasses.asdict(p.export)},
        }


def plan(config: ModelConfig, profile: DeviceProfile, video_seconds: float, ttft_target_ms: float) -> Plan:
    """The most frames (so the most visual tokens) whose estimate fits both the TTFT target and the
    app's memory. Both grow with the frame count, so the first fit from the top is the largest."""
    if not (math.isfinite(video_seconds) and video_seconds > 0):
        raise SfError(f"--video-seconds is {video_seconds:g}", "pass the video's length in seconds, > 0")
    if not (math.isfinite(ttft_target_ms) and ttft_target_ms > 0):
        raise SfError(f"--ttft-ms is {ttft_target_ms:g}", "pass a time-to-first-token target in ms, > 0")
    top = cost.frames_sampled(config, video_seconds).frames
    budget = profile.memory_budget
    larger = None
    for frames in range(top, 0, -1):
        current = estimate(config, profile, frames, video_seconds)
        if current.fits(ttft_target_ms, budget):
            return Plan(config.name, profile, video_seconds, ttft_target_ms, top, current, larger,
                        assumptions(config, profile, video_seconds))
        larger = current
    raise _nothing_fits(config, profile, larger, ttft_target_ms)


def _nothing_fits(config: ModelConfig, profile: DeviceProfile, smallest: Estimate, target: float) -> SfError:
    memory, budget = smallest.memory_bytes["total"], profile.memory_budget
    if memory > budget:
        return SfError(
            f"{config.name} needs an estimated {memory / GIB:.2f} GiB on {profile.name} even at 1 frame (on paper), "
            f"over the {budget / GIB:.2f} GiB an app may use",
            "use a smaller preset or a device with more memory",
        )
    needed = math.ceil(smallest.ttft_ms["total"])
    return SfError(
        f"no frame count meets a {target:g} ms TTFT for {config.name} on {profile.name}: the smallest estimate "
        f"is {needed} ms at 1 frame (on paper; {smallest.visual_tokens} visual tokens, the slow pathway's fixed part)",
        f"raise --ttft-ms to {needed} or more, or use a smaller preset",
    )


def _quantity_line(label: str, q: Quantity, shown: str) -> str:
    return f"{label}: {shown} [{q.basis}] {q.source}"


def assumptions(config: ModelConfig, profile: DeviceProfile, video_seconds: float) -> list[str]:
    """Every assumption behind the estimate, one line each (printed and in --json)."""
    q, r, sf = profile.quantities, profile.export, config.slowfast
    grid = config.vision.grid
    slow_rows, slow_cols = sf.slow_grid(grid)
    chunk = f"{r.prefill_chunk}-row calls" if r.prefill_chunk else "one call for the whole prompt"
    sampling = config.sampling
    how = (
        f"at {sampling.fps:g} fps, falling back to frames spread uniformly over the whole {video_seconds:g} s "
        "video when that exceeds the frame budget"
        if sampling.strategy is SamplingStrategy.FPS
        else f"the frame budget spread uniformly over the whole {video_seconds:g} s video"
    )
    return [
        "Every figure is an estimate on paper from the preset's shapes and this device profile; nothing was measured on the phone.",
        f"Export recipe: {r.command.format(preset=config.name, frames='T')}. Why: {r.source}",
        _quantity_line("Compute peak", q["peak_ops_per_s"], f"{profile.peak_ops_per_s / 1e12:g} T ops/s"),
        _quantity_line("Compute efficiency", q["compute_efficiency"], f"{profile.compute_efficiency:g}"),
        _quantity_line("Memory bandwidth", q["memory_bandwidth_bytes_per_s"], f"{profile.memory_bandwidth_bytes_per_s / 1e9:g} GB/s"),
        _quantity_line("Bandwidth efficiency", q["bandwidth_efficiency"], f"{profile.bandwidth_efficiency:g}"),
        _quantity_line("RAM", q["ram_bytes"], f"{profile.ram_bytes / GIB:g} GiB"),
        _quantity_line("App memory", q["app_memory_fraction"], f"{profile.app_memory_fraction:g} of RAM"),
        "FLOPs count matrix multiplies only, 2 per multiply-add: the vision tower up to its selected layer "
        "(bidirectional attention 4 x N^2 x C per layer), the projector, the LLM's decoder layers as "
        "2 x block parameters x rows, attention 4 x L x H x hd per attending pair (which pairs: below), and "
        "the vocabulary projection of the last row.",
        f"TTFT = vision compute + one read of the vision weights + prefill compute + one read of the LLM's "
        f"streamed weights per prefill call ({chunk}) + KV-cache reads; compute and memory traffic are not "
        "overlapped. Video decode and resize are not counted.",
        "Attention in prefill: every fixed-shape call scores and reads all cache slots, masked (4 x L x H x hd x "
        "rows x context per call)." if r.attention == "whole_cache" else
        "Attention in prefill: causal over the slots written so far (the runtime's SDPA starts at the call's "
        "position), rows (rows + 1) / 2 attending pairs.",
        f"Prompt = visual tokens + {cost.TEXT_ROWS} text rows (assumed; sf_mobile.cost.TEXT_ROWS).",
        f"Memory = LLM weights at {r.llm_weight_bits} bits + vision weights at {r.vision_weight_bits} bits "
        f"(vectors fp32, tied embeddings once) + the KV cache at {r.kv_bytes_per_element} B per element for the "
        "export's default context (visual tokens + 1024, rounded up to 256) + every frame's vision features "
        "in fp32; runtime scratch buffers, the tokenizer and the app itself are not counted.",
        f"Frames: the preset samples {how} (sf_mobile.video.sampling); the plan searches budgets from 1 frame "
        "up to what that sampler takes from this video, and the export is built for the chosen one.",
        f"Pooling is fixed by the trained model ({sf.num_slow} slow frames pooled {sf.slow_pool[0]}x{sf.slow_pool[1]} "
        f"({sf.slow_pool_op.value}) to {slow_rows}x{slow_cols}, every frame to {sf.fast_grid[0]}x{sf.fast_grid[1]} on "
        "the fast pathway): only the frame count varies here, and other pooling needs a model trained for it. "
        f"Below {sf.num_slow} frames the slow pathway repeats frames, so its "
        f"{sf.num_slow * slow_rows * slow_cols} tokens stay.",
    ]
