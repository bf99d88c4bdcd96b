"""The Xcode project against the files on disk: what Xcode would find missing when it opens it.

A Swift file compiles only when a PBXFileReference points at it (its path resolved through the
group hierarchy), a PBXBuildFile wraps that reference, and the PBXBuildFile sits in the
PBXSourcesBuildPhase of a target the project lists. Xcode 16's synchronized folders
(PBXFileSystemSynchronizedRootGroup) are not read: files must be referenced one by one.
"""

from __future__ import annotations

import os
from pathlib import Path

from pbxproj_parser import PbxprojError, parse

GROUPS = ("PBXGroup", "PBXVariantGroup", "XCVersionGroup")
# keys whose values are object ids: a dangling one makes Xcode refuse or silently drop the object
REFERENCE_KEYS = (
    "children", "files", "buildPhases", "targets", "fileRef", "mainGroup", "productRefGroup",
    "buildConfigurationList", "buildConfigurations", "productReference", "dependencies", "target",
    "targetProxy", "packageProductDependencies", "packageReferences", "package", "productRef",
)  # fmt: skip
ADD = "add a PBXFileReference in a group and a PBXBuildFile in the target's Sources phase"


def _is_swift(ref: dict) -> bool:
    kind = ref.get("lastKnownFileType", ref.get("explicitFileType", ""))
    return kind == "sourcecode.swift" or str(ref.get("path", "")).endswith(".swift")


class Project:
    """A parsed project.pbxproj; `source_root` is the folder that holds the .xcodeproj."""

    def __init__(self, pbxproj: Path):
        self.path = Path(pbxproj)
        self.source_root = self.path.resolve().parent.parent
        self.name = self.path.resolve().relative_to(self.source_root.parent)  # ios_demo/X.xcodeproj/project.pbxproj
        self.root = parse(self.path.read_text(encoding="utf-8"), str(self.name))
        if not isinstance(self.root, dict):
            raise PbxprojError(f"{self.name}: the root is not a dictionary")
        objects = self.root.get("objects")
        self.objects = objects if isinstance(objects, dict) else {}
        self.project = self.obj(self.root.get("rootObject"))
        self._parents = {
            child: oid
            for oid, obj in self._all()
            if obj.get("isa") in GROUPS
            for child in obj.get("children", [])
            if isinstance(child, str)
        }

    def obj(self, oid: object) -> dict:
        """The object with id `oid`; {} for a missing id or a malformed entry (reported elsewhere)."""
        found = self.objects.get(oid) if isinstance(oid, str) else None
        return found if isinstance(found, dict) else {}

    def _all(self):
        return ((oid, obj) for oid, obj in self.objects.items() if isinstance(obj, dict))

    def structure_problems(self) -> list[str]:
        problems = []
        if not str(self.root.get("objectVersion", "")).isdigit():
            problems.append(f"{self.name}: no numeric objectVersion; save the project with Xcode")
        if not self.objects:
            return problems + [f"{self.name}: no objects dictionary; the file is not an Xcode project"]
        if self.project.get("isa") != "PBXProject":
            problems.append(f"{self.name}: rootObject {self.root.get('rootObject')!r} is not a PBXProject; fix rootObject")
        for oid, obj in self._all():
            for key in REFERENCE_KEYS:
                value = obj.get(key)
                for ref in value if isinstance(value, list) else [value] if isinstance(value, str) else []:
                    if not isinstance(ref, str) or ref not in self.objects:
                        problems.append(f"{self.name}: {obj.get('isa')} {oid} {key} names the missing object {ref}; remove or restore it")
        return problems

    def location(self, oid: str, seen: frozenset = frozenset()) -> Path | None:
        """Where a file reference or group lives on disk; None for SDK/build-product references."""
        obj = self.obj(oid)
        if not obj or oid in seen:
            return None
        tree, path = obj.get("sourceTree"), obj.get("path")
        if tree == "<group>":
            if oid == self.project.get("mainGroup"):
                base = self.source_root / self.project.get("projectDirPath", "")
            elif oid in self._parents:
                base = self.location(self._parents[oid], seen | {oid})
            else:
                return None  # in no group: Xcode does not show it
            if base is None:
                return None
        elif tree == "SOURCE_ROOT":
            base = self.source_root / self.project.get("projectDirPath", "")
        elif tree == "<absolute>":
            base = Path("/")
        else:  # BUILT_PRODUCTS_DIR, SDKROOT, DEVELOPER_DIR: not in the repository
            return None
        return Path(os.path.normpath(base / path)) if path else base

    def swift_references(self) -> dict[str, Path | None]:
        return {oid: self.location(oid) for oid, obj in self._all() if obj.get("isa") == "PBXFileReference" and _is_swift(obj)}

    def compiled_references(self) -> set[str]:
        """File reference ids in the Sources phase of a target the project lists."""
        compiled = set()
        for target in self.project.get("targets", []):
            for phase in self.obj(target).get("buildPhases", []):
                if self.obj(phase).get("isa") == "PBXSourcesBuildPhase":
                    compiled |= {self.obj(f).get("fileRef") for f in self.obj(phase).get("files", [])}
        return compiled


def project_problems(pbxproj: Path, swift_files: list[Path]) -> list[str]:
    """Every way the project and the Swift files on disk disagree; [] when they match."""
    try:
        project = Project(pbxproj)
    except PbxprojError as err:
        return [f"{err}; fix the syntax (or re-save the project in Xcode)"]
    problems = project.structure_problems()
    root, name = project.source_root.parent, project.name
    references = project.swift_references()
    for oid, where in references.items():
        written = project.obj(oid).get("path")
        if where is None:
            problems.append(f"{name}: Swift file reference {oid} ({written}) is in no group; put it in a group")
        elif not where.is_file():
            shown = where.relative_to(root) if where.is_relative_to(root) else where
            problems.append(f"{name}: Swift file reference {oid} points at {shown}, which does not exist; fix its path or remove it")
    compiled = project.compiled_references()
    for path in swift_files:
        path = Path(os.path.normpath(path.resolve()))
        refs = [oid for oid, where in references.items() if where == path]
        if not refs:
            problems.append(f"{path.relative_to(root)} is not referenced by {name}; {ADD}")
        elif not compiled & set(refs):
            problems.append(f"{path.relative_to(root)} is in no target's Sources build phase; {ADD}")
    return problems
