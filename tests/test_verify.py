"""sf-verify on real tiny exports: clean folders pass; tampering, escapes, missing files and wrong
declarations fail (all reported in one run); unlisted files warn; a missing runtime library skips."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sf_mobile.verify import folder as verify_folder_module
from sf_mobile.verify import graphs as verify_graphs
from sf_mobile.cli.verify import main
from sf_mobile.manifest import MANIFEST_NAME, hash_artifact
from sf_mobile.verify import verify_folder

LM_WEIGHTS = Path("language_model.mlpackage/Data/com.apple.CoreML/weights/weight.bin")
VISION_WEIGHTS = Path("vision.mlpackage/Data/com.apple.CoreML/weights/weight.bin")


def _export(tmp_path_factory, target: str) -> Path:
    from sf_mobile.cli.export import main as export_main

    out = tmp_path_factory.mktemp(f"verify-{target}") / "export"
    assert export_main(["--target", target, "--size", "tiny", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def et_export(tmp_path_factory, cache_dir):
    pytest.importorskip("executorch", reason="the ExecuTorch export needs the [executorch] extra")
    return _export(tmp_path_factory, "executorch")


@pytest.fixture(scope="module")
def coreml_export(tmp_path_factory, cache_dir):
    pytest.importorskip("coremltools", reason="the Core ML export needs the [coreml] extra")
    return _export(tmp_path_factory, "coreml")


@pytest.fixture(params=["executorch", "coreml"])
def any_export(request):
    return request.getfixturevalue("et_export" if request.param == "executorch" else "coreml_export")


def _copy(export: Path, tmp_path: Path) -> Path:
    """A private copy for a test that changes the folder (the module's export stays clean)."""
    return Path(shutil.copytree(export, tmp_path / "copy", symlinks=True))


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_manifest(folder: Path, edit) -> None:
    path = folder / MANIFEST_NAME
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest, indent=2))


def _artifact(manifest: dict, name: str) -> dict:
    return next(entry for entry in manifest["artifacts"] if entry["path"] == name)


def _failed(report) -> set[tuple[str, str]]:
    return {(f.artifact, f.check) for f in report.failures}


@pytest.fixture
def reads(monkeypatch):
    """(reader, resolved path) for every path sf-verify hashes or hands to a graph reader."""
    seen: list[tuple[str, Path]] = []

    def watch(name, function):
        def watched(path, *args, **kwargs):
            seen.append((name, Path(path).resolve()))
            return function(path, *args, **kwargs)

        return watched

    for module, name in ((verify_folder_module, "hash_artifact"), (verify_graphs, "read_pte_signature"),
                         (verify_graphs, "read_coreml_signature"), (verify_graphs, "read_onnx_signature")):
        monkeypatch.setattr(module, name, watch(name, getattr(module, name)))
    return seen


def _assert_read_only_inside(reads, folder: Path) -> None:
    root = folder.resolve()
    assert reads, "nothing was read at all"
    outside = [(reader, path) for reader, path in reads if not path.is_relative_to(root)]
    assert not outside, outside


# --- clean folders ----------------------------------------------------------------------------


def test_a_clean_export_passes_with_every_graph_checked(any_export, capsys):
    assert main([str(any_export)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("PASSED")
    assert not [line for line in out[:-1] if ": ok" not in line], out
    report = verify_folder(any_export)
    manifest = json.loads((any_export / MANIFEST_NAME).read_text())
    assert {f.artifact for f in report.findings if f.check == "hash"} == {a["path"] for a in manifest["artifacts"]}
    io_checks = {(f.artifact, f.check) for f in report.findings if f.check.startswith("io ") and f.ran}
    if manifest["target"] == "executorch":
        assert io_checks == {("model.pte", f"io {m}") for m in ("vision_encoder", "token_embedding", "text_decoder")}
    else:
        assert io_checks == {
            ("vision.mlpackage", "io main"), ("language_model.mlpackage", "io prefill"),
            ("language_model.mlpackage", "io decode"),
        }


def test_json_output_is_one_valid_object(any_export, capsys):
    assert main([str(any_export), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is True and report["verdict"].startswith("PASSED")
    assert all(set(f) >= {"artifact", "check", "ok", "message"} for f in report["findings"])


def test_no_io_checks_hashes_only_and_loads_no_graph(et_export, reads, capsys):
    assert main([str(et_export), "--no-io"]) == 0
    out = capsys.readouterr().out
    assert " io " not in out and "--no-io" in out.splitlines()[-1]
    assert [path.name for reader, path in reads if reader == "hash_artifact"].count("model.pte") == 1
    assert not [path for reader, path in reads if reader != "hash_artifact"]  # no graph was loaded


# --- tampering and missing files --------------------------------------------------------------


def test_a_flipped_byte_in_the_pte_fails_and_every_other_problem_is_reported_too(et_export, tmp_path, capsys):
    folder = _copy(et_export, tmp_path)
    _flip_byte(folder / "model.pte")
    (folder / "tokenizer.json").unlink()
    assert main([str(folder)]) == 1
    out = capsys.readouterr().out
    assert "model.pte: hash: FAIL" in out and "changed after export" in out
    assert "tokenizer.json: present: FAIL" in out
    assert "chat_template.json: hash: ok" in out  # the run went on past the failures
    assert out.splitlines()[-1].startswith("FAILED")


def test_a_flipped_byte_inside_an_mlpackage_fails_naming_the_package(coreml_export, tmp_path, capsys):
    folder = _copy(coreml_export, tmp_path)
    _flip_byte(folder / LM_WEIGHTS)
    assert main([str(folder)]) == 1
    out = capsys.readouterr().out
    assert "language_model.mlpackage: hash: FAIL" in out
    assert "vision.mlpackage: hash: ok" in out
    assert _failed(verify_folder(folder)) == {("language_model.mlpackage", "hash")}


def test_a_missing_package_fails(coreml_export, tmp_path, capsys):
    folder = _copy(coreml_export, tmp_path)
    shutil.rmtree(folder / "vision.mlpackage")
    assert main([str(folder)]) == 1
    assert "vision.mlpackage: present: FAIL" in capsys.readouterr().out


# --- paths that leave the folder --------------------------------------------------------------


def _outside_copy(tmp_path: Path, source: Path, name: str) -> Path:
    """A file outside the export with the listed artifact's exact bytes: reading it would pass the hash."""
    outside = tmp_path / "outside"
    outside.mkdir(exist_ok=True)
    target = outside / name
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


def test_manifest_paths_outside_the_folder_are_refused_unread(et_export, tmp_path, reads, capsys):
    folder = _copy(et_export, tmp_path)
    shutil.copyfile(folder / "tokenizer.json", folder.parent / "outside.bin")  # folder/../outside.bin, same bytes
    absolute = _outside_copy(tmp_path, folder / "chat_template.json", "absolute.json")

    def add_escapes(manifest):
        manifest["artifacts"] += [
            dict(_artifact(manifest, "tokenizer.json"), path="../outside.bin"),
            dict(_artifact(manifest, "chat_template.json"), path=str(absolute)),
            {"path": "/etc/passwd", "sha256": "0" * 64, "bytes": 1},
        ]

    _edit_manifest(folder, add_escapes)
    assert main([str(folder)]) == 1
    out = capsys.readouterr().out
    for path in ("../outside.bin", str(absolute), "/etc/passwd"):
        assert f"{path}: path: FAIL" in out
    assert "refused, not read" in out
    _assert_read_only_inside(reads, folder)


def test_symlinks_leading_outside_are_refused_unread(et_export, tmp_path, reads, capsys):
    folder = _copy(et_export, tmp_path)
    for name in ("model.pte", "tokenizer.json"):  # byte-identical targets: following them would pass
        outside = _outside_copy(tmp_path, folder / name, name)
        (folder / name).unlink()
        (folder / name).symlink_to(outside)
    assert main([str(folder)]) == 1
    out = capsys.readouterr().out
    assert "model.pte: path: FAIL" in out and "tokenizer.json: path: FAIL" in out and "symlink" in out
    assert "model.pte: io" not in out  # never handed to ExecuTorch either
    _assert_read_only_inside(reads, folder)


def test_a_linked_package_folder_or_a_link_inside_a_package_is_refused_unread(coreml_export, tmp_path, reads):
    folder = _copy(coreml_export, tmp_path)
    package = folder / "language_model.mlpackage"  # the parent of every file in the package
    outside = _outside_copy(tmp_path, package, "language_model.mlpackage")
    shutil.rmtree(package)
    package.symlink_to(outside, target_is_directory=True)
    inner = folder / VISION_WEIGHTS  # one file inside a package
    inner_outside = _outside_copy(tmp_path, inner, "weight.bin")
    inner.unlink()
    inner.symlink_to(inner_outside)
    report = verify_folder(folder)
    assert _failed(report) == {("language_model.mlpackage", "path"), ("vision.mlpackage", "path")}
    _assert_read_only_inside(reads, folder)


def test_a_symlink_that_stays_inside_the_folder_is_followed(et_export, tmp_path, capsys):
    folder = _copy(et_export, tmp_path)
    (folder / "templates").mkdir()
    shutil.move(folder / "chat_template.json", folder / "templates" / "chat.json")
    (folder / "chat_template.json").symlink_to(Path("templates") / "chat.json")
    assert main([str(folder)]) == 0
    out = capsys.readouterr().out
    assert "chat_template.json: hash: ok" in out
    assert "templates/chat.json: listed: WARNING" in out


# --- declared inputs and outputs --------------------------------------------------------------


def test_a_wrong_declared_pte_shape_or_dtype_fails_the_io_check(et_export, tmp_path, capsys):
    folder = _copy(et_export, tmp_path)

    def break_declarations(manifest):
        pte = _artifact(manifest, "model.pte")
        pte["inputs"]["vision_encoder"]["frames"]["shape"][1] += 1  # a wrong static dim
        pte["inputs"]["token_embedding"]["ids"]["dtype"] = "int32"  # a wrong dtype
        pte["inputs"]["text_decoder"]["cache_position"]["shape"] = ["1..7"]  # a wrong dynamic maximum
        pte["methods"].append("image_encoder")  # a method the program lacks

    _edit_manifest(folder, break_declarations)
    assert main([str(folder)]) == 1
    out = capsys.readouterr().out
    assert "model.pte: hash: ok" in out  # the graph is intact; its declaration is wrong
    report = verify_folder(folder)
    assert _failed(report) == {("model.pte", f"io {m}") for m in ("vision_encoder", "token_embedding", "text_decoder", "image_encoder")}
    messages = {f.check: f.message for f in report.failures}
    assert "shape [3, 512, 64] in the graph, declared [3, 513, 64]" in messages["io vision_encoder"]
    assert "dtype int64 in the graph, declared int32" in messages["io token_embedding"]
    assert "declared [1..7]" in messages["io text_decoder"]


def test_a_wrong_declared_core_ml_shape_dtype_or_state_fails_the_io_check(coreml_export, tmp_path):
    folder = _copy(coreml_export, tmp_path)

    def break_declarations(manifest):
        lm = _artifact(manifest, "language_model.mlpackage")
        lm["inputs"]["prefill"]["causal_mask"]["shape"][3] += 64
        lm["inputs"]["decode"]["position_ids"]["dtype"] = "int64"
        lm["states"]["keyCache"]["shape"][0] += 1
        vision = _artifact(manifest, "vision.mlpackage")
        vision["outputs"]["main"]["embeds"] = vision["outputs"]["main"].pop("visual_embeds")  # a renamed output

    _edit_manifest(folder, break_declarations)
    report = verify_folder(folder)
    assert _failed(report) == {
        ("language_model.mlpackage", "io prefill"), ("language_model.mlpackage", "io decode"), ("vision.mlpackage", "io main")
    }
    messages = {(f.artifact, f.check): f.message for f in report.failures}
    prefill, decode = messages[("language_model.mlpackage", "io prefill")], messages[("language_model.mlpackage", "io decode")]
    assert "input causal_mask has shape" in prefill and "state keyCache has shape" in prefill
    assert "input position_ids has dtype int32 in the graph, declared int64" in decode
    assert "output embeds is declared but the graph has none" in messages[("vision.mlpackage", "io main")]
    assert "output visual_embeds is in the graph but not declared" in messages[("vision.mlpackage", "io main")]


def test_an_undeclared_core_ml_function_fails(coreml_export, tmp_path):
    folder = _copy(coreml_export, tmp_path)

    def forget_decode(manifest):
        lm = _artifact(manifest, "language_model.mlpackage")
        lm["functions"].remove("decode")
        for key in ("inputs", "outputs"):
            del lm[key]["decode"]

    _edit_manifest(folder, forget_decode)
    assert _failed(verify_folder(folder)) == {("language_model.mlpackage", "io decode")}


@pytest.mark.parametrize(("module", "library", "extra"), [("executorch.runtime", "executorch", "executorch"), ("coremltools", "coremltools", "coreml")])
def test_a_missing_runtime_library_skips_the_io_check_without_failing(
    module, library, extra, et_export, coreml_export, monkeypatch, capsys
):
    folder = et_export if library == "executorch" else coreml_export
    monkeypatch.setitem(sys.modules, module, None)  # `import` now raises ImportError, as when not installed
    assert main([str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"io: skipped: {library} not installed (pip install 'sf-mobile[{extra}]')" in out
    assert "not run" in out.splitlines()[-1] and out.splitlines()[-1].startswith("PASSED")


# --- unlisted files ---------------------------------------------------------------------------


def test_unlisted_files_warn_but_pass(et_export, tmp_path, capsys):
    folder = _copy(et_export, tmp_path)
    (folder / "notes.txt").write_text("hello")
    (folder / "extra").mkdir()
    (folder / "extra" / "blob.bin").write_bytes(b"\0" * 8)
    (folder / "parity" / "more.json").write_text("{}")  # the parity bundle is never listed
    assert main([str(folder)]) == 0
    out = capsys.readouterr().out
    assert "notes.txt: listed: WARNING" in out and "extra/blob.bin: listed: WARNING" in out
    assert "parity" not in out and MANIFEST_NAME + ":" not in out
    assert "2 warnings" in out.splitlines()[-1]


# --- unusable manifests and usage -------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "has no sf_manifest.json"), ("{not json", "is not valid JSON"), ('{"schema_version": 99, "artifacts": []}', "schema_version 99")],
    ids=["missing", "not-json", "wrong-schema"],
)
def test_an_unreadable_manifest_exits_2_with_one_line(tmp_path, capsys, content, expected):
    if content is not None:
        (tmp_path / MANIFEST_NAME).write_text(content)
    assert main([str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sf-verify: error:") and expected in lines[0]


def test_a_malformed_artifact_entry_fails_without_stopping_the_run(et_export, tmp_path, capsys):
    folder = _copy(et_export, tmp_path)
    _edit_manifest(folder, lambda manifest: manifest["artifacts"].append({"path": "x.bin"}))
    assert main([str(folder)]) == 1
    out = capsys.readouterr().out
    assert "x.bin: manifest: FAIL" in out and "model.pte: hash: ok" in out


def test_help_is_fast_and_imports_no_heavy_library():
    code = (
        "import sys; from sf_mobile.cli import verify; verify.build_parser().format_help(); "
        "print([m for m in ('torch', 'executorch', 'coremltools', 'sf_mobile.verify') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_hash_artifact_is_what_the_manifest_recorded(et_export):
    """The checker and the exporter hash the same way (a guard for the watched-reads fixture)."""
    manifest = json.loads((et_export / MANIFEST_NAME).read_text())
    entry = _artifact(manifest, "model.pte")
    assert hash_artifact(et_export / "model.pte") == (entry["sha256"], entry["bytes"])
