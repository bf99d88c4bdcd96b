"""Named weight-compression recipes on a converted language model, and what each left uncompressed.

A scheme cannot compress every weight: coremltools skips weights under 2048 elements, grouped
palettization skips weights whose rows do not divide the group, and so on. Skips are not silent:
`compression_report` lists every linear weight left in fp16, with its shape and the likely reason,
and the exporter writes it into the manifest and prints it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sf_mobile.export.coreml.convert import quiet_conversion, require_coremltools
from sf_mobile.export.coreml.options import CoreMLOptions, Recipe

WEIGHT_THRESHOLD = 2048  # coremltools' default: weights of at most this many elements stay fp16
COMPRESSED_OPS = ("constexpr_blockwise_shift_scale", "constexpr_lut_to_dense")


def op_config(options: CoreMLOptions):
    """The coremltools op config of a recipe (None for fp16)."""
    require_coremltools()
    import coremltools.optimize.coreml as cto

    recipe = options.quant
    if recipe is Recipe.FP16:
        return None
    if recipe is Recipe.INT8:
        return cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int8", granularity="per_channel")
    if recipe is Recipe.INT4:
        return cto.OpLinearQuantizerConfig(mode="linear_symmetric", dtype="int4", granularity="per_channel")
    if recipe is Recipe.INT4_BLOCK:
        return cto.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=options.block_size
        )
    return cto.OpPalettizerConfig(nbits=4, mode="kmeans", granularity="per_grouped_channel", group_size=options.palette_group)


def compress(model, options: CoreMLOptions):
    """The recipe applied to every `linear` weight (never to the RoPE tables or other constants)."""
    config = op_config(options)
    if config is None:
        return model
    import coremltools.optimize.coreml as cto

    optimization = cto.OptimizationConfig(op_type_configs={"linear": config})
    with quiet_conversion():
        if options.quant is Recipe.PALETTIZE4:
            return cto.palettize_weights(model, optimization)
        return cto.linear_quantize_weights(model, optimization)


@dataclass
class CompressionReport:
    recipe: str
    compressed: int = 0  # linear weights stored compressed
    compressed_params: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"weight", "shape", "reason"}

    @property
    def skipped_params(self) -> int:
        return sum(item["params"] for item in self.skipped)

    def to_dict(self) -> dict:
        return {**asdict(self), "skipped_params": self.skipped_params}

    def summary(self) -> str:
        if self.recipe == Recipe.FP16.value:
            return "fp16 (no compression)"
        text = f"{self.recipe}: {self.compressed} linear weights compressed ({self.compressed_params:,} params)"
        if self.skipped:
            names = ", ".join(f"{s['weight']} {s['shape']}" for s in self.skipped[:4])
            more = f" and {len(self.skipped) - 4} more" if len(self.skipped) > 4 else ""
            text += f"; {len(self.skipped)} left fp16 ({self.skipped_params:,} params: {names}{more})"
        return text


def _skip_reason(shape: tuple[int, ...], options: CoreMLOptions) -> str:
    size = 1
    for dim in shape:
        size *= dim
    if size <= WEIGHT_THRESHOLD:
        return f"{size} elements, at most {WEIGHT_THRESHOLD} (coremltools keeps small weights in fp16)"
    if options.quant is Recipe.PALETTIZE4 and shape[0] % options.palette_group:
        return f"{shape[0]} rows do not divide into palette groups of {options.palette_group}"
    if options.quant is Recipe.INT4_BLOCK and shape[-1] % options.block_size:
        return f"{shape[-1]} inputs do not divide into blocks of {options.block_size}"
    return "not compressed by coremltools (reason not reported)"


def compression_report(program, options: CoreMLOptions) -> CompressionReport:
    """Every `linear` weight of the first function: stored compressed, or left fp16 and why."""
    report = CompressionReport(recipe=options.quant.value)
    function = next(iter(program.functions.values()))
    for op in function.operations:
        if op.op_type != "linear":
            continue
        weight = op.weight
        params = int(weight.shape[0]) * int(weight.shape[1])
        if weight.op is not None and weight.op.op_type in COMPRESSED_OPS:
            report.compressed += 1
            report.compressed_params += params
        elif options.quant is not Recipe.FP16:
            shape = tuple(int(d) for d in weight.shape)
            report.skipped.append(
                {"weight": weight.name, "shape": list(shape), "params": params, "reason": _skip_reason(shape, options)}
            )
    return report
