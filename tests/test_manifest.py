"""sf_manifest.json: contents, hashes, round trip, tamper detection and one-line errors."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys

import pytest
import torch

from sf_mobile.checkpoints import build_random
from sf_mobile.errors import SfError
from sf_mobile.manifest import (
    MANIFEST_NAME,
    MANIFEST_SCHEMA_VERSION,
    artifact_entry,
    build_manifest,
    read_manifest,
    verify_artifacts,
    write_manifest,
)
from sf_mobile.parity import BackendOutputs, ReferenceOutputs, StageTimings, compare


@pytest.fixture(scope="module")
def loaded():
    return build_random("tiny", seed=1)


def _report(noise: float):
    """A real ParityReport from small synthetic tensors: passing at noise 0, failing above 1e-4."""
    generator = torch.Generator().manual_seed(0)
    visual, logits = torch.randn(1, 8, 4, generator=generator), torch.randn(3, 16, generator=generator)
    reference = ReferenceOutputs(visual, logits[0], logits, [1, 2, 3])
    timings = StageTimings(1.0, 0.1, 2.0, 10, 3.0, 2, 3.1)
    outputs = BackendOutputs("fake", visual + noise, logits[0], logits, [1, 2, 3], timings)
    return compare(outputs, reference, "fp32", "float")


def _export_folder(tmp_path, loaded, parity=()):
    (tmp_path / "model.pte").write_bytes(bytes(range(256)) * 41)
    package = tmp_path / "vision.mlpackage" / "Data"
    package.mkdir(parents=True)
    (package / "weights.bin").write_bytes(b"\x01" * 100)
    (package.parent / "Manifest.json").write_text("{}")
    artifacts = [
        artifact_entry(tmp_path, "model.pte", methods=["vision_encoder", "token_embedding", "text_decoder"]),
        artifact_entry(tmp_path, "vision.mlpackage", inputs={"frames": [3, 512, 64]}, outputs={"visual": [1, 72, 64]}),
    ]
    manifest = build_manifest(
        loaded,
        target="executorch",
        backend="xnnpack",
        quantization={"linear": "8da4w", "group_size": 32},
        artifacts=artifacts,
        max_context=512,
        num_frames=2,
        parity=parity,
    )
    write_manifest(tmp_path, manifest)
    return manifest


def test_manifest_contents(tmp_path, loaded):
    manifest = _export_folder(tmp_path, loaded, parity=[_report(0.0)])
    config = loaded.config
    assert manifest["schema_version"] == MANIFEST_SCHEMA_VERSION and manifest["tool"]["name"] == "sf-mobile"
    assert manifest["library_versions"]["torch"] == importlib.metadata.version("torch")
    assert manifest["preset"] == "tiny" and manifest["config"] == config.to_dict()
    assert manifest["weights"] == {"weights": "random", "tokenizer": "stand-in", "path": None, "sha256": None, "seed": 1}
    assert manifest["frame_geometry"] == {
        "frames": 2,
        "height": 64,
        "width": 64,
        "channels": 3,
        "packed_shape": [3, 128, 64],
        "dtype": "uint8",
        "mean": [0.5, 0.5, 0.5],
        "std": [0.5, 0.5, 0.5],
    }
    budget = config.visual_tokens(2)
    assert manifest["visual_tokens"] == {"total": budget.total, "slow": budget.slow_tokens, "fast": budget.fast_tokens}
    codec = loaded.codec
    assert manifest["special_tokens"]["<|im_end|>"] == codec.tokenizer.token_to_id("<|im_end|>")
    assert manifest["eos_ids"] == list(codec.stop_ids) and manifest["bos_id"] is None  # ChatML has no BOS
    assert manifest["status"] == "ok" and manifest["parity"][0]["passed"] is True
    assert manifest["created"].endswith("+00:00")


def test_failed_parity_marks_the_status(tmp_path, loaded):
    assert _export_folder(tmp_path, loaded, parity=[_report(0.0), _report(1.0)])["status"] == "parity_failed"


def test_manifest_round_trip_and_hashes(tmp_path, loaded):
    manifest = _export_folder(tmp_path, loaded)
    assert read_manifest(tmp_path) == json.loads(json.dumps(manifest))
    pte = manifest["artifacts"][0]
    data = (tmp_path / "model.pte").read_bytes()
    assert pte["path"] == "model.pte" and pte["bytes"] == len(data)
    assert pte["sha256"] == hashlib.sha256(data).hexdigest()
    assert pte["methods"] == ["vision_encoder", "token_embedding", "text_decoder"]
    package = manifest["artifacts"][1]
    assert package["bytes"] == 102 and package["inputs"] == {"frames": [3, 512, 64]}
    verify_artifacts(tmp_path, read_manifest(tmp_path))


def test_verify_artifacts_catches_tampering(tmp_path, loaded):
    manifest = _export_folder(tmp_path, loaded)
    path = tmp_path / "model.pte"
    data = bytearray(path.read_bytes())
    data[1000] ^= 0x01  # same size, one bit different
    path.write_bytes(bytes(data))
    with pytest.raises(SfError, match=r"artifact model\.pte differs"):
        verify_artifacts(tmp_path, manifest)
    path.write_bytes(bytes(data[:-1]))
    (tmp_path / "vision.mlpackage" / "Data" / "weights.bin").write_bytes(b"\x02" * 100)
    with pytest.raises(SfError, match="model.pte"):  # the first one that differs is named
        verify_artifacts(tmp_path, manifest)
    path.unlink()
    with pytest.raises(SfError, match="missing"):
        verify_artifacts(tmp_path, manifest)


def test_folder_artifact_hash_sees_inner_changes(tmp_path, loaded):
    before = _export_folder(tmp_path, loaded)["artifacts"][1]["sha256"]
    (tmp_path / "vision.mlpackage" / "Data" / "weights.bin").write_bytes(b"\x02" * 100)
    assert artifact_entry(tmp_path, "vision.mlpackage")["sha256"] != before
    with pytest.raises(SfError, match="vision.mlpackage differs"):
        verify_artifacts(tmp_path, read_manifest(tmp_path))
    changed = artifact_entry(tmp_path, "vision.mlpackage")
    data = tmp_path / "vision.mlpackage" / "Data"
    (data / "weights.bin").rename(data / "renamed.bin")  # same bytes, another name: a different package
    renamed = artifact_entry(tmp_path, "vision.mlpackage")
    assert renamed["bytes"] == changed["bytes"] and renamed["sha256"] != changed["sha256"]


def test_artifact_paths_stay_inside_the_folder(tmp_path):
    with pytest.raises(SfError, match="leaves the output folder"):
        artifact_entry(tmp_path / "out", "../secret")
    with pytest.raises(SfError, match="does not exist"):
        artifact_entry(tmp_path, "missing.pte")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "has no sf_manifest.json"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON list"),
        (json.dumps({"schema_version": 999, "artifacts": []}), "schema_version 999"),
    ],
)
def test_read_manifest_errors_are_one_line(tmp_path, content, message):
    if content is not None:
        (tmp_path / MANIFEST_NAME).write_text(content)
    with pytest.raises(SfError, match=message) as err:
        read_manifest(tmp_path)
    assert "\n" not in str(err.value)


def test_building_a_manifest_imports_no_backend():
    # In a fresh interpreter: this test session has imported executorch elsewhere already.
    import subprocess

    code = (
        "import sys\n"
        "from sf_mobile.checkpoints import build_random\n"
        "from sf_mobile.manifest import build_manifest, library_versions\n"
        "library_versions()\n"
        "build_manifest(build_random('tiny'), target='executorch', backend='xnnpack', quantization={},"
        " artifacts=[], max_context=256)\n"
        "print([m for m in ('executorch', 'coremltools', 'onnxruntime') if m in sys.modules])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
