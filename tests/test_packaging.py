"""Packaging: the package list in pyproject.toml, a real (non-editable) wheel, the pins, and the
README's two fresh-machine commands that `.ci/run` runs."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
# top-level source folder -> the package it installs as
PACKAGE_ROOTS = {"sf_mobile": "sf_mobile", "export": "sf_mobile.export", "benchmarks": "sf_mobile.benchmarks"}


def _packages_on_disk(root: Path) -> dict[str, Path]:
    """dotted package name -> folder, for every folder with an __init__.py under the roots."""
    found = {}
    for folder, package in PACKAGE_ROOTS.items():
        base = root / folder
        for init in sorted(base.rglob("__init__.py")):
            if "__pycache__" in init.parts:
                continue
            rel = init.parent.relative_to(base).parts
            found[".".join((package, *rel))] = init.parent
    return found


def _python_files(root: Path) -> set[str]:
    """Paths inside the wheel that every source .py file should have."""
    files = set()
    for folder, package in PACKAGE_ROOTS.items():
        prefix = package.replace(".", "/")
        for path in (root / folder).rglob("*.py"):
            if "__pycache__" not in path.parts:
                files.add(f"{prefix}/{path.relative_to(root / folder).as_posix()}")
    return files


# --- the package list ---------------------------------------------------------------------------


def test_every_package_folder_is_listed():
    listed = PYPROJECT["tool"]["setuptools"]["packages"]
    on_disk = _packages_on_disk(REPO)
    assert {"sf_mobile", "sf_mobile.cli", "sf_mobile.video", "sf_mobile.export", "sf_mobile.benchmarks"} <= set(on_disk)
    missing = sorted(set(on_disk) - set(listed))
    assert not missing, f"packages with an __init__.py missing from [tool.setuptools] packages: {missing}"
    stale = sorted(set(listed) - set(on_disk))
    assert not stale, f"[tool.setuptools] packages lists folders without an __init__.py: {stale}"
    assert len(listed) == len(set(listed))


def test_no_python_folder_without_init():
    # a folder of modules without __init__.py is silently left out of the wheel
    for folder in PACKAGE_ROOTS:
        for path in (REPO / folder).rglob("*.py"):
            if "__pycache__" in path.parts:
                continue
            assert (path.parent / "__init__.py").is_file(), f"{path.parent} holds {path.name} but no __init__.py"


def test_export_and_benchmarks_are_mapped():
    package_dir = PYPROJECT["tool"]["setuptools"]["package-dir"]
    assert package_dir["sf_mobile.export"] == "export"
    assert package_dir["sf_mobile.benchmarks"] == "benchmarks"
    assert "" not in package_dir  # sf_mobile itself stays at the root
    assert (REPO / "export" / "__init__.py").is_file() and (REPO / "benchmarks" / "__init__.py").is_file()
    assert not (REPO / "sf_mobile" / "export").exists() and not (REPO / "sf_mobile" / "benchmarks").exists()


def test_entry_points_declared():
    assert PYPROJECT["project"]["scripts"] == {
        "sf-run": "sf_mobile.cli.run:main",
        "sf-info": "sf_mobile.cli.info:main",
        "sf-export": "sf_mobile.cli.export:main",
        "sf-bench": "sf_mobile.cli.bench:main",
        "sf-verify": "sf_mobile.cli.verify:main",
        "sf-plan": "sf_mobile.cli.plan:main",
    }


# --- a real wheel -------------------------------------------------------------------------------


def _copy_source_tree(dest: Path) -> Path:
    """The files git would ship (tracked, plus untracked files not ignored), copied to dest."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [n for n in listed.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = []
    if names:
        for name in names:
            src = REPO / name
            if src.is_file():  # tracked files deleted in the work tree are skipped
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
    else:  # not a git checkout
        shutil.copytree(
            REPO,
            dest,
            dirs_exist_ok=True,
            ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"),
        )
    return dest


def _build_isolation_flags() -> list[str]:
    """Build with this environment's setuptools when it is new enough (fast, offline); otherwise
    let pip fetch the build requirements into an isolated environment."""
    required = Requirement(PYPROJECT["build-system"]["requires"][0])
    try:
        have = Version(importlib.metadata.version("setuptools"))
    except importlib.metadata.PackageNotFoundError:
        return []
    return ["--no-build-isolation"] if have in required.specifier else []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_source_tree(work / "src")
    out = work / "dist"
    repo_before = sorted(p.name for p in REPO.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *_build_isolation_flags(), "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in REPO.iterdir()) == repo_before, "the build wrote into the repository"
    wheels = list(out.glob("sf_mobile-0.1.0-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    with zipfile.ZipFile(wheels[0]) as archive:
        yield archive


def test_wheel_is_pure_python(wheel):
    assert Path(wheel.filename).name == "sf_mobile-0.1.0-py3-none-any.whl"


def test_wheel_holds_export_and_benchmarks(wheel):
    names = set(wheel.namelist())
    assert "sf_mobile/export/__init__.py" in names
    assert "sf_mobile/benchmarks/__init__.py" in names
    assert not any(n.startswith(("export/", "benchmarks/", "tests/")) for n in names)


def test_wheel_holds_every_module(wheel):
    names = set(wheel.namelist())
    expected = _python_files(REPO)
    assert "sf_mobile/cli/run.py" in expected and "sf_mobile/video/sample_clip.py" in expected
    missing = sorted(expected - names)
    assert not missing, f"modules missing from the wheel: {missing}"
    for package in _packages_on_disk(REPO):
        assert f"{package.replace('.', '/')}/__init__.py" in names


def test_wheel_entry_points(wheel):
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = wheel.read(entry_points).decode()
    lines = {line.replace(" ", "") for line in text.splitlines()}
    assert "[console_scripts]" in lines
    assert "sf-run=sf_mobile.cli.run:main" in lines
    assert "sf-info=sf_mobile.cli.info:main" in lines
    assert "sf-export=sf_mobile.cli.export:main" in lines
    assert "sf-bench=sf_mobile.cli.bench:main" in lines
    assert "sf-verify=sf_mobile.cli.verify:main" in lines
    assert "sf-plan=sf_mobile.cli.plan:main" in lines


def test_wheel_holds_the_device_profiles(wheel):
    # sf-plan reads them with importlib.resources: a wheel without them has a broken sf-plan
    data = wheel.read("sf_mobile/data/device_profiles.json")
    assert data == (REPO / "sf_mobile" / "data" / "device_profiles.json").read_bytes()


def test_wheel_metadata_keeps_the_pins(wheel):
    [metadata] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    text = wheel.read(metadata).decode()
    requires = [Requirement(line.split(":", 1)[1].strip()) for line in text.splitlines() if line.startswith("Requires-Dist:")]
    core = {r.name: str(r.specifier) for r in requires if r.marker is None}
    assert core["torch"] == "==2.13.0"
    assert "Requires-Python: <3.12,>=3.11" in text or "Requires-Python: >=3.11,<3.12" in text


# --- the pins -----------------------------------------------------------------------------------


def _requirements(lines: list[str]) -> dict[str, Requirement]:
    parsed = [Requirement(line) for line in lines]
    by_name = {r.name: r for r in parsed}
    assert len(by_name) == len(parsed), "a requirement is listed twice"
    return by_name


def test_core_pins():
    deps = _requirements(PYPROJECT["project"]["dependencies"])
    torch = deps["torch"].specifier
    assert str(torch) == "==2.13.0"
    assert "2.13.0" in torch and "2.13.1" not in torch and "2.14.0" not in torch
    numpy = deps["numpy"].specifier
    assert "2.3.5" in numpy and "2.4.0" not in numpy and "2.4.1" not in numpy
    transformers = deps["transformers"].specifier
    assert str(transformers) == "==5.23.*"
    assert "5.23.0" in transformers and "5.23.4" in transformers and "5.24.0" not in transformers
    assert {"tokenizers", "safetensors", "av"} <= set(deps)
    assert PYPROJECT["project"]["requires-python"] == ">=3.11,<3.12"


def test_extras():
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert {"executorch", "coreml", "onnx", "qnn", "all", "dev"} <= set(extras)
    pinned = lambda name: {r: str(s.specifier) for r, s in _requirements(extras[name]).items()}  # noqa: E731
    assert pinned("executorch") == {"executorch": "==1.5.1", "torchao": "==0.18.0"}
    assert pinned("coreml") == {"coremltools": "==9.0", "kmeans1d": ">=0.4"}  # kmeans1d: palettization k-means
    assert {"onnx", "onnxruntime"} <= set(pinned("onnx"))
    assert pinned("qnn")["onnxruntime-qnn"] == "==2.7.0"
    assert "pytest" in pinned("dev")
    [everything] = extras["all"]
    req = Requirement(everything)
    assert req.name == "sf-mobile"
    assert req.extras == {"executorch", "coreml", "onnx", "qnn"}


# --- the README's fresh-machine commands --------------------------------------------------------


def _fresh_machine_blocks() -> list[str]:
    readme = (REPO / "README.md").read_text()
    match = re.search(r"^## Fresh machine[^\n]*\n(.*?)(?=^## )", readme, flags=re.M | re.S)
    assert match, "no '## Fresh machine' section in README.md"
    return re.findall(r"^```sh\n(.*?)^```", match.group(1), flags=re.M | re.S)


def test_readme_has_two_fresh_machine_commands():
    blocks = _fresh_machine_blocks()
    assert len(blocks) == 2, blocks
    install_and_run, install_and_test = (b.strip() for b in blocks)
    assert "\n" not in install_and_run and "\n" not in install_and_test  # one command each
    assert "pip install . " in install_and_run and install_and_run.endswith("&& sf-run")
    assert "pip install -q -e '.[dev,executorch,coreml,onnx,qnn]'" in install_and_test and install_and_test.endswith("python -m pytest -q")


def test_ci_runs_the_readme_test_command_verbatim():
    command = _fresh_machine_blocks()[1].strip()
    ci = (REPO / ".ci" / "run").read_text()
    assert command in ci.splitlines(), f"{command!r} is not a line of .ci/run"
