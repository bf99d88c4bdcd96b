"""Android build files: every dependency and plugin pinned to an exact version, a fixed Gradle wrapper.

A dynamic version (`1.+`, `latest.release`, a range, a -SNAPSHOT) makes two builds of the same
commit link different runtimes, which breaks the promise that the app ran the `.pte` it was built
for. The `*.gradle.kts` files are read with the tree-sitter Kotlin grammar (comments never count)
and `gradle/libs.versions.toml` with tomllib.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from syntax_checks import language, parse

# dependency configurations: implementation, api, ..., and their variants (testImplementation, debugApi)
CONFIGURATION = re.compile(
    r"(?:implementation|api|compileOnly|runtimeOnly|kapt|ksp|annotationProcessor|classpath|coreLibraryDesugaring|lintChecks)"
    r"|[a-z]\w*(?:Implementation|Api|CompileOnly|RuntimeOnly)"
)
EXACT = re.compile(r"\d+(?:\.\d+)*(?:[.-][A-Za-z0-9]+)*")  # 1.0.0, 2.0.21-1.0.27, 1.10.0-alpha02
WRAPPER = re.compile(r"/gradle-(\d+(?:\.\d+)+(?:-rc-\d+)?)-(?:bin|all)\.zip")
PIN = "write an exact version such as 1.2.3"


def version_problem(version: object) -> str | None:
    """Why `version` is not pinned, or None when it is an exact version."""
    if not isinstance(version, str) or not version:
        return "has no version"
    if version.upper().endswith("SNAPSHOT"):
        return f"has the moving version {version!r} (a SNAPSHOT)"
    if not EXACT.fullmatch(version):  # +, latest.release, [1,2), (,1.0]
        return f"has the dynamic version {version!r}"
    return None


def _where(path: Path, root: Path, node) -> str:
    return f"{path.relative_to(root.parent)}:{node.start_point[0] + 1}:{node.start_point[1] + 1}"


def _walk(node):
    stack = [node]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def _callee(call) -> str | None:
    head = call.children[0] if call.children else None
    return head.text.decode() if head is not None and head.type == "identifier" else None


def _arguments(call) -> list:
    """The value_argument nodes of `name(...)`, with or without a trailing lambda."""
    for child in call.children:
        if child.type == "value_arguments":
            return [a for a in child.children if a.type == "value_argument"]
    return []


def _string_constants(tree) -> dict[str, str]:
    """`val name = "literal"` anywhere in the file: what "$name" in a coordinate stands for."""
    constants = {}
    for node in _walk(tree.root_node):
        if node.type == "property_declaration":
            names = [c for c in node.children if c.type == "variable_declaration"]
            values = [c for c in node.children if c.type == "string_literal"]
            if names and values and "$" not in values[0].text.decode():
                constants[names[0].text.decode()] = values[0].text.decode()[1:-1]
    return constants


def _string(node, constants: dict[str, str]) -> str | None:
    """A string literal's value with `$name` / `${name}` filled in; None when one stays unknown."""
    raw = node.text.decode()[1:-1]
    filled = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: constants.get(m[1] or m[2], "\0"), raw)
    return None if "\0" in filled else filled


class BuildFiles:
    """What the build files of one Android project declare, and every unpinned thing in them."""

    def __init__(self, root: Path, files: list[Path]):
        self.root = root
        self.problems: list[str] = []
        self.plugin_versions: dict[str, str] = {}  # plugin id -> version, from `id(...) version "..."`
        self.bare_plugins: list[tuple[str, str]] = []  # (where, id) applied without a version
        self.catalog_uses: list[tuple[str, str, str]] = []  # (where, "libraries"|"plugins", accessor)
        self.uses_platform = False  # a BOM (platform(...)) may supply versions
        self.versionless: list[tuple[str, str]] = []  # (where, "group:name") without a version
        lang = language("kotlin")
        for path in files:
            tree = parse(path.read_bytes(), lang)
            constants = _string_constants(tree)
            for node in _walk(tree.root_node):
                if node.type == "call_expression":
                    self._call(path, node, constants)

    def _call(self, path: Path, call, constants: dict[str, str]) -> None:
        name, where = _callee(call), _where(path, self.root, call)
        args = _arguments(call)
        if name in ("id", "kotlin") and self._in_plugins(call) and args:
            plugin = _string(args[0].children[-1], constants) if args[0].children[-1].type == "string_literal" else None
            if plugin is None:
                self.problems.append(f"{where}: plugin id is not a plain string; write it literally")
                return
            plugin = f"org.jetbrains.kotlin.{plugin}" if name == "kotlin" else plugin
            parent = call.parent
            if parent is not None and parent.type == "infix_expression" and parent.children[0] == call:
                verb, value = parent.children[1], parent.children[2]
                if verb.text.decode() == "version":
                    version = _string(value, constants) if value.type == "string_literal" else None
                    problem = version_problem(version)
                    if problem:
                        self.problems.append(f"{where}: plugin {plugin} {problem}; {PIN}")
                    self.plugin_versions[plugin] = version  # declared: its bare uses are not reported again
                    return
            self.bare_plugins.append((where, plugin))
        elif name == "alias" and args:
            self._catalog_use(where, args[0].children[-1].text.decode())
        elif name and CONFIGURATION.fullmatch(name) and args:
            self._dependency(where, args, constants)

    @staticmethod
    def _in_plugins(call) -> bool:
        node = call.parent
        while node is not None:
            if node.type == "call_expression" and _callee(node) == "plugins":
                return True
            node = node.parent
        return False

    def _catalog_use(self, where: str, accessor: str) -> None:
        parts = accessor.split(".")
        if parts[0] != "libs":
            self.problems.append(f"{where}: {accessor} is not from the libs catalog; use libs.* or a literal coordinate")
        elif len(parts) > 2 and parts[1] == "plugins":
            self.catalog_uses.append((where, "plugins", ".".join(parts[2:])))
        elif len(parts) > 2 and parts[1] in ("versions", "bundles"):
            pass  # versions are checked in the catalog itself; bundles name libraries that are
        else:
            self.catalog_uses.append((where, "libraries", ".".join(parts[1:])))

    def _dependency(self, where: str, args: list, constants: dict[str, str]) -> None:
        named = {a.children[0].text.decode(): a.children[-1] for a in args if len(a.children) >= 3 and a.children[1].type == "="}
        if "group" in named or "name" in named:  # group = "...", name = "...", version = "..."
            values = {k: _string(v, constants) if v.type == "string_literal" else None for k, v in named.items()}
            self._coordinate(where, f"{values.get('group')}:{values.get('name')}", values.get("version"))
            return
        value = args[0].children[-1]
        if value.type == "call_expression" and _callee(value) in ("platform", "enforcedPlatform"):
            self.uses_platform = True
            inner = _arguments(value)
            value = inner[0].children[-1] if inner else value
        if value.type == "string_literal":
            text = _string(value, constants)
            if text is None:
                self.problems.append(f"{where}: {value.text.decode()} uses a variable this check cannot read; {PIN}")
                return
            parts = text.split("@")[0].split(":")
            self._coordinate(where, ":".join(parts[:2]), parts[2] if len(parts) > 2 else None)
        elif value.type == "navigation_expression":
            self._catalog_use(where, value.text.decode())
        elif value.type == "call_expression" and _callee(value) in ("files", "fileTree"):
            self.problems.append(f"{where}: depends on local files; depend on a pinned Maven coordinate instead")
        elif value.type == "call_expression" and _callee(value) in ("project", "kotlin"):
            pass  # a module of this build; kotlin("x") takes the pinned Kotlin plugin's version
        else:
            self.problems.append(f"{where}: dependency {value.text.decode()!r} is not a coordinate this check can read; {PIN}")

    def _coordinate(self, where: str, module: str, version: str | None) -> None:
        if version is None:
            self.versionless.append((where, module))
            return
        problem = version_problem(version)
        if problem:
            self.problems.append(f"{where}: dependency {module} {problem}; {PIN}")


def _catalog_key(key: str) -> str:
    return re.sub(r"[-_.]", ".", key)  # Gradle maps libs-foo_bar.baz to the accessor libs.foo.bar.baz


REFERENCED = "a [versions] entry"  # version of an entry that uses version.ref: checked in [versions], once


def _catalog_version(table: str, entry: object, versions: dict) -> tuple[str | None, str | None]:
    """(version, problem) of a catalog library or plugin entry; (None, None) when it names none."""
    if isinstance(entry, str):  # libraries: "group:name[:version]"; plugins: "plugin.id:version"
        parts = entry.split(":")
        return (parts[-1] if len(parts) == (3 if table == "libraries" else 2) else None), None
    if not isinstance(entry, dict):
        return None, "is neither a string nor a table"
    version = entry.get("version")
    if isinstance(version, dict) and "ref" in version:
        return (REFERENCED, None) if version["ref"] in versions else (None, f"refers to the missing version {version['ref']!r}")
    if isinstance(version, dict):  # {strictly = "1.0"} / {require = "1.0"}: the pin is the strict or required one
        version = version.get("strictly", version.get("require"))
    return version, None


def catalog_problems(path: Path, root: Path, build: BuildFiles) -> list[str]:
    """Unpinned entries of the version catalog, and libs.* references it does not define."""
    where = path.relative_to(root.parent)
    try:
        catalog = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        return [f"{where}: not valid TOML ({err}); fix the syntax"]
    versions, problems, defined = catalog.get("versions", {}), [], {"libraries": set(), "plugins": set()}
    for table in ("libraries", "plugins"):
        for key, entry in catalog.get(table, {}).items():
            defined[table].add(_catalog_key(key))
            version, problem = _catalog_version(table, entry, versions)
            if problem is None and version is None and table == "libraries" and build.uses_platform:
                continue  # a BOM (platform(...)) supplies it
            if version is REFERENCED:
                continue
            problem = problem or version_problem(version)
            if problem:
                problems.append(f"{where}: [{table}] {key} {problem}; {PIN}")
    for key, version in versions.items():
        if isinstance(version, dict):
            version = version.get("strictly", version.get("require"))
        problem = version_problem(version)
        if problem:
            problems.append(f"{where}: [versions] {key} {problem}; {PIN}")
    for use_where, table, accessor in build.catalog_uses:
        if accessor not in defined[table]:
            problems.append(f"{use_where}: libs.{'plugins.' if table == 'plugins' else ''}{accessor} is not in {where}; add it there with a pinned version")
    return problems


def build_problems(root: Path, files: list[Path]) -> list[str]:
    """Every unpinned dependency or plugin of the Android project at `root`; `files` are its files."""
    scripts = [p for p in files if p.name.endswith(".gradle.kts")]
    groovy = [p for p in files if p.name.endswith(".gradle")]
    problems = [f"{p.relative_to(root.parent)}: a Groovy build file; write it in the Kotlin DSL (.gradle.kts)" for p in groovy]
    if not scripts:
        return problems + [f"{root.name}: no *.gradle.kts build files; add settings.gradle.kts and build.gradle.kts"]
    build = BuildFiles(root, scripts)
    problems += build.problems
    catalog = root / "gradle" / "libs.versions.toml"
    if catalog in files:
        problems += catalog_problems(catalog, root, build)
    elif build.catalog_uses:
        where, _, accessor = build.catalog_uses[0]
        problems.append(f"{where}: libs.{accessor} is used but there is no gradle/libs.versions.toml; add the catalog")
    for where, plugin in build.bare_plugins:
        if "." in plugin and plugin not in build.plugin_versions:  # ids without a dot are Gradle's core plugins
            problems.append(f"{where}: plugin {plugin} has no version anywhere; add `version \"x.y.z\"` where it is first declared")
    if not build.uses_platform:
        problems += [f"{where}: dependency {module} has no version (and no platform BOM supplies one); {PIN}" for where, module in build.versionless]
    return problems


def wrapper_problems(root: Path) -> list[str]:
    path = root / "gradle" / "wrapper" / "gradle-wrapper.properties"
    if not path.is_file():
        return [f"{path.relative_to(root.parent)} is missing; run `gradle wrapper --gradle-version X.Y.Z` and commit the properties file"]
    urls = [line.split("=", 1)[1].replace("\\:", ":").strip() for line in path.read_text().splitlines() if line.startswith("distributionUrl=")]
    if not urls or not WRAPPER.search(urls[0]):
        return [f"{path.relative_to(root.parent)}: distributionUrl does not name a fixed Gradle version (gradle-X.Y.Z-bin.zip); set one"]
    return []


def binary_problems(root: Path, files: list[Path]) -> list[str]:
    return [
        f"{p.relative_to(root.parent)}: a committed binary; depend on it through Maven (the wrapper jar comes from `gradle wrapper`)"
        for p in files
        if p.suffix in (".jar", ".aar", ".so", ".apk", ".dex")
    ]
