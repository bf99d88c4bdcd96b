"""Metadata, described inputs/outputs and saving of the two `.mlpackage`s.

Apps read shapes, token ids and the prompt geometry from here (and from sf_manifest.json), never
from constants of their own: every user-defined key is prefixed `sf.` and holds a string.
"""

from __future__ import annotations

import json
from pathlib import Path

from sf_mobile import __version__
from sf_mobile.exportable.decoder import MASK_VALUE
from sf_mobile.export.coreml.convert import quiet_conversion, require_coremltools
from sf_mobile.export.coreml.modules import KEY_CACHE, VALUE_CACHE

AUTHOR = "sf-mobile"

VISION_DESCRIPTIONS = {
    "frames": "T RGB frames [T, 3, S, S], pixel values 0..255 as fp16 (uint8 values, resized to SxS; "
    "the model normalises them itself)",
    "visual_embeds": "SlowFast visual tokens [1, N_vis, D] (slow frames first, then fast), to splice into "
    "the prompt embeddings at the <video> placeholder",
}
LM_DESCRIPTIONS = {
    "inputs_embeds": "token / visual embeddings [1, rows, D] (rows = C for prefill, 1 for decode)",
    "position_ids": "int32 [rows]: the cache slot (= position) of each row, consecutive",
    "causal_mask": f"additive fp16 mask [1, 1, rows, ctx]: 0 where row i may attend to slot j (j <= position_ids[i]), "
    f"{MASK_VALUE:g} elsewhere",
    "logits": "fp16 [1, 1, V]: next-token logits after the last row",
    KEY_CACHE: "fp16 state [L, 1, KV heads, ctx, head dim]: keys; written at position_ids, never read past them",
    VALUE_CACHE: "fp16 state [L, 1, KV heads, ctx, head dim]: values",
}


def _describe_features(features, descriptions: dict[str, str]) -> None:
    for feature in features:
        if feature.name in descriptions:
            feature.shortDescription = descriptions[feature.name]


def save_with_metadata(model, path: Path, short_description: str, metadata: dict, descriptions: dict[str, str]) -> None:
    """Set description, author, version, `sf.*` keys and per-feature descriptions, then save.

    Multifunction packages keep inputs/outputs per function, so those are described per function."""
    ct = require_coremltools()
    spec = model.get_spec()
    description = spec.description
    description.metadata.shortDescription = short_description
    description.metadata.author = AUTHOR
    description.metadata.versionString = __version__
    for key, value in metadata.items():
        description.metadata.userDefined[f"sf.{key}"] = value if isinstance(value, str) else json.dumps(value)
    for features in (description.input, description.output, description.state):
        _describe_features(features, descriptions)
    for function in description.functions:
        for features in (function.input, function.output, function.state):
            _describe_features(features, descriptions)
    with quiet_conversion():
        ct.models.MLModel(spec, weights_dir=model.weights_dir, skip_model_load=True).save(str(path))

