"""The parity bundle every export writes to `parity/`, so that any runtime or app can check itself.

Layout (safetensors and JSON only; nothing is pickled):
    parity/inputs.safetensors     frames uint8 [T, 3, S, S], frames_packed uint8 [3, T*S, S],
                                  prefix_ids / suffix_ids / forced_tokens int64 [n]
    parity/reference.safetensors  visual [1, N_vis, D], prefill_last_logits [V],
                                  decode_logits [N_forced, V], greedy_tokens int64 [n]
    parity/parity.json            question, ids and tokens as lists, tensor shapes and dtypes,
                                  the tolerances used, and the caller's meta
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import torch

from sf_mobile.checkpoints import LoadedModel
from sf_mobile.errors import SfError
from sf_mobile.parity.data import ParityInputs, ReferenceOutputs
from sf_mobile.parity.driver import Report, decode_step, greedy_decode, no_report, prefill, prompt_embeddings, run_backend
from sf_mobile.parity.tolerances import parse_against, tolerances_for
from sf_mobile.runtimes.base import GraphBackend
from sf_mobile.runtimes.eager import EagerBackend

BUNDLE_DIR = "parity"
INPUTS_FILE = "inputs.safetensors"
REFERENCE_FILE = "reference.safetensors"
JSON_FILE = "parity.json"
BUNDLE_SCHEMA_VERSION = 1
ID_NAMES = ("prefix_ids", "suffix_ids", "forced_tokens")
REEXPORT = "re-run the export that wrote this folder"


def make_inputs(loaded: LoadedModel, frames: torch.Tensor, question: str, num_forced: int = 16) -> ParityInputs:
    """Inputs whose forced tokens are the reference's own greedy answer, so teacher forcing follows
    a realistic path. Greedy runs through the eager backend: the same path `compute_reference` takes."""
    ids = loaded.codec.encode(question)
    visual_tokens = loaded.config.visual_tokens(frames.shape[0]).total
    prompt_len = len(ids.prefix) + visual_tokens + len(ids.suffix)
    backend = EagerBackend(loaded.model, frames.shape[0], max_context=prompt_len + num_forced, max_seq_len=prompt_len)
    inputs = ParityInputs(frames=frames, question=question, prefix_ids=ids.prefix, suffix_ids=ids.suffix, forced_tokens=[])
    visual = backend.vision_encoder(inputs.packed_frames)
    embeds = prompt_embeddings(backend, ids.prefix, ids.suffix, visual)
    forced, _, _ = greedy_decode(backend, embeds, num_forced)  # no stop ids: always num_forced tokens
    return dataclasses.replace(inputs, forced_tokens=forced)


def reference_run(
    backend: GraphBackend, codec, frames: torch.Tensor, question: str, num_forced: int = 16, report: Report = no_report
) -> tuple[ParityInputs, ReferenceOutputs]:
    """`make_inputs` and `compute_reference` in ONE pass of the reference backend.

    Teacher forcing the reference's own greedy tokens feeds it exactly what its greedy decode fed
    it, so the greedy run already yields the teacher-forced logits: the second pass (a whole
    vision + prefill, minutes at real size) computed nothing new. Equal to the two-pass result
    (tested)."""
    ids = codec.encode(question)
    inputs = ParityInputs(frames=frames, question=question, prefix_ids=ids.prefix, suffix_ids=ids.suffix, forced_tokens=[])
    report(f"{backend.name}: vision encoder on {frames.shape[0]} frames")
    visual = backend.vision_encoder(inputs.packed_frames).detach()
    embeds = prompt_embeddings(backend, ids.prefix, ids.suffix, visual)
    backend.reset()
    logits = prefill(backend, embeds, report)
    prefill_last = logits
    report(f"{backend.name}: greedy decode, {num_forced} steps")
    tokens, rows = [], []
    for step in range(num_forced):
        tokens.append(int(torch.argmax(logits)))
        logits = decode_step(backend, tokens[-1], embeds.shape[1] + step)  # the logits after feeding it
        rows.append(logits)
    decode_logits = torch.stack(rows) if rows else torch.empty(0, prefill_last.shape[0])
    reference = ReferenceOutputs(
        visual=visual, prefill_last_logits=prefill_last, decode_logits=decode_logits, greedy_tokens=list(tokens)
    )
    return dataclasses.replace(inputs, forced_tokens=list(tokens)), reference


def compute_reference(
    backend: GraphBackend, inputs: ParityInputs, num_decode: int = 16, report: Report = no_report
) -> ReferenceOutputs:
    """The reference outputs: the reference backend driven exactly as every other backend is."""
    out = run_backend(backend, inputs, num_decode, report)
    return ReferenceOutputs(
        visual=out.visual,
        prefill_last_logits=out.prefill_last_logits,
        decode_logits=out.decode_logits,
        greedy_tokens=out.greedy_tokens,
    )


def _long(values: list[int]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


def _describe(tensors: dict[str, torch.Tensor], file: str) -> dict[str, dict]:
    return {
        name: {"file": file, "shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch.")}
        for name, t in tensors.items()
    }


def write_bundle(
    folder: Path,
    inputs: ParityInputs,
    reference: ReferenceOutputs,
    meta: dict,
    precision: str = "fp32",
    against: str = "float",
) -> Path:
    """Write `folder/parity/`; returns that folder. `meta` must be JSON-serialisable; `against` says
    what the reference is ("float", or "same-quantization" for a compressed export) and goes into
    meta["against"], where device apps read it (sf_mobile/bench/devices/protocol.py 4b)."""
    from safetensors.torch import save_file

    out = Path(folder) / BUNDLE_DIR
    out.mkdir(parents=True, exist_ok=True)
    input_tensors = {
        "frames": inputs.frames.contiguous(),
        "frames_packed": inputs.packed_frames.contiguous(),
        **{name: _long(getattr(inputs, name)) for name in ID_NAMES},
    }
    reference_tensors = {
        "visual": reference.visual.detach().contiguous(),
        "prefill_last_logits": reference.prefill_last_logits.detach().contiguous(),
        "decode_logits": reference.decode_logits.detach().contiguous(),
        "greedy_tokens": _long(reference.greedy_tokens),
    }
    document = {
        "schema_version": BUNDLE_SCHEMA_VERSION,
        "question": inputs.question,
        **{name: list(getattr(inputs, name)) for name in ID_NAMES},
        "greedy_tokens": list(reference.greedy_tokens),
        "tensors": {**_describe(input_tensors, INPUTS_FILE), **_describe(reference_tensors, REFERENCE_FILE)},
        "precision": precision,
        "tolerances": tolerances_for(precision),
        "meta": {**meta, "against": parse_against(against).value},
    }
    text = json.dumps(document, indent=2, allow_nan=False)  # fails before any file is written
    save_file(input_tensors, str(out / INPUTS_FILE))
    save_file(reference_tensors, str(out / REFERENCE_FILE))
    (out / JSON_FILE).write_text(text + "\n")
    return out


def _load(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        raise SfError(f"parity bundle file {path} is missing", REEXPORT)
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as err:
        raise SfError(f"{path} is not a readable safetensors file ({err})", REEXPORT) from None


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise SfError(f"parity bundle file {path} is missing", REEXPORT)
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise SfError(f"{path} is not valid JSON ({err})", REEXPORT) from None
    if not isinstance(document, dict) or document.get("schema_version") != BUNDLE_SCHEMA_VERSION:
        raise SfError(
            f"{path} is not a version-{BUNDLE_SCHEMA_VERSION} parity bundle",
            "re-export with this version of sf-mobile",
        )
    return document


def read_bundle(folder: Path) -> tuple[ParityInputs, ReferenceOutputs, dict]:
    """Read `folder/parity/`: (inputs, reference, the meta given to write_bundle)."""
    root = Path(folder) / BUNDLE_DIR
    document = _read_json(root / JSON_FILE)
    tensors = _load(root / INPUTS_FILE)
    ref = _load(root / REFERENCE_FILE)
    names = ("frames", *ID_NAMES)
    missing = [n for n in names if n not in tensors] + [
        n for n in ("visual", "prefill_last_logits", "decode_logits", "greedy_tokens") if n not in ref
    ]
    if missing:
        raise SfError(f"parity bundle {root} lacks tensor(s) {missing}", REEXPORT)
    for name in ID_NAMES:  # the JSON copy is what apps read first: it must agree with the tensors
        if tensors[name].tolist() != document.get(name):
            raise SfError(f"{root / JSON_FILE} and {INPUTS_FILE} disagree on {name}", REEXPORT)
    inputs = ParityInputs(
        frames=tensors["frames"],
        question=document.get("question", ""),
        **{name: tensors[name].tolist() for name in ID_NAMES},
    )
    reference = ReferenceOutputs(
        visual=ref["visual"],
        prefill_last_logits=ref["prefill_last_logits"],
        decode_logits=ref["decode_logits"],
        greedy_tokens=ref["greedy_tokens"].tolist(),
    )
    return inputs, reference, document.get("meta", {})
