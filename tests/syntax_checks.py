"""Swift and Kotlin syntax checks with the tree-sitter grammars from PyPI (no compiler needed).

tree-sitter recovers from errors instead of failing: a bad file still yields a tree, with ERROR
nodes where text was skipped and MISSING nodes where a token was invented. A missing token of a
hidden grammar rule (tree-sitter-kotlin's `_class_member_semi`) is not exposed as a node at all;
its only trace is `has_error` on the enclosing node, so that node is reported instead.
"""

from __future__ import annotations

from pathlib import Path

INSTALL = "install the test tools: pip install -e '.[dev]'"
SWIFT_SUFFIXES = (".swift",)
KOTLIN_SUFFIXES = (".kt", ".kts")


def language(name: str):
    """The tree-sitter Language for "swift" or "kotlin"."""
    try:
        import tree_sitter
        import tree_sitter_kotlin
        import tree_sitter_swift
    except ImportError as err:
        raise RuntimeError(f"{err.name} is not installed; {INSTALL}") from None
    module = {"swift": tree_sitter_swift, "kotlin": tree_sitter_kotlin}[name]
    return tree_sitter.Language(module.language())


def parse(source: bytes, lang):
    import tree_sitter

    return tree_sitter.Parser(lang).parse(source)


def syntax_errors(source: bytes, lang) -> list[tuple[int, int, str]]:
    """(line, column, what), 1-based, for every syntax error tree-sitter found in `source`."""
    found: list[tuple[int, int, str]] = []
    stack = [parse(source, lang).root_node]
    while stack:
        node = stack.pop()
        row, column = node.start_point
        if node.is_missing:
            found.append((row + 1, column + 1, f"missing {node.type!r}"))
        elif node.is_error:
            text = source[node.start_byte : node.end_byte].decode("utf-8", "replace").split("\n")[0][:40]
            found.append((row + 1, column + 1, f"unexpected {text!r}"))
        elif node.has_error:
            broken = [child for child in node.children if child.has_error or child.is_missing]
            if broken:
                stack.extend(reversed(broken))
            else:  # a hidden missing token: only the enclosing node knows
                found.append((row + 1, column + 1, f"a token is missing in this {node.type}"))
    return sorted(found)


def file_errors(files: list[Path], root: Path, lang) -> list[str]:
    """One `path:line:column: problem` line per syntax error, paths relative to `root`."""
    lines = []
    for path in files:
        for row, column, what in syntax_errors(path.read_bytes(), lang):
            lines.append(f"{path.relative_to(root)}:{row}:{column}: {what}")
    return lines
