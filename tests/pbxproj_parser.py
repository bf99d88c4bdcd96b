"""A reader for Xcode's `project.pbxproj`: an old-style (OpenStep) property list.

Grammar: a value is a dictionary `{ key = value; ... }`, an array `( value, value, )` (trailing
comma allowed), a quoted string with backslash escapes, or an unquoted word (identifiers, numbers,
paths: letters, digits and `_$+/:.-`). `/* ... */` and `// ...` are comments: Xcode writes the
`// !$*UTF8*$!` header and a `/* name */` after every object id. Dictionaries keep their key
order; a repeated key is an error, since Xcode never writes one and a merge conflict does.
"""

from __future__ import annotations

_UNQUOTED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$+/:.-")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\", "'": "'"}


class PbxprojError(ValueError):
    """Malformed text; the message names line:column (1-based) and what was expected."""


class _Reader:
    def __init__(self, text: str, name: str):
        self.text, self.name, self.pos = text, name, 0

    def fail(self, problem: str, at: int | None = None) -> PbxprojError:
        at = self.pos if at is None else at
        line = self.text.count("\n", 0, at) + 1
        column = at - (self.text.rfind("\n", 0, at) + 1) + 1
        return PbxprojError(f"{self.name}:{line}:{column}: {problem}")

    def skip(self) -> None:
        """Skip whitespace and comments."""
        text = self.text
        while self.pos < len(text):
            if text[self.pos].isspace():
                self.pos += 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            else:
                return

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        found = self.peek()
        if found != char:
            raise self.fail(f"expected {char!r}, found {found!r}" if found else f"expected {char!r}, found the end")
        self.pos += 1

    def value(self) -> object:
        char = self.peek()
        if char == "{":
            return self.dictionary()
        if char == "(":
            return self.array()
        if char == '"':
            return self.quoted()
        if char in _UNQUOTED:
            return self.word()
        raise self.fail(f"expected a value, found {char!r}" if char else "expected a value, found the end")

    def dictionary(self) -> dict:
        self.expect("{")
        result: dict = {}
        while self.peek() != "}":
            start = self.pos
            key = self.value()
            if not isinstance(key, str):
                raise self.fail("a dictionary key must be a string", start)
            if key in result:
                raise self.fail(f"key {key!r} appears twice", start)
            self.expect("=")
            result[key] = self.value()
            self.expect(";")
        self.pos += 1
        return result

    def array(self) -> list:
        self.expect("(")
        result = []
        while self.peek() != ")":
            result.append(self.value())
            if self.peek() != ")":
                self.expect(",")
        self.pos += 1
        return result

    def quoted(self) -> str:
        start, self.pos = self.pos, self.pos + 1
        out = []
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                self.pos += 1
                out.append(self.escape())
            else:
                out.append(char)
                self.pos += 1
        raise self.fail("unterminated string", start)

    def escape(self) -> str:
        text, at = self.text, self.pos
        char = text[at : at + 1]
        if char in _ESCAPES:
            self.pos += 1
            return _ESCAPES[char]
        digits = text[at + 1 : at + 5]
        if char in ("U", "u") and len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
            self.pos += 5
            return chr(int(digits, 16))
        if char and char in "01234567":  # up to three octal digits
            digits = char
            while len(digits) < 3 and text[at + len(digits) : at + len(digits) + 1] in tuple("01234567"):
                digits += text[at + len(digits)]
            self.pos += len(digits)
            return chr(int(digits, 8))
        raise self.fail(f"unknown escape \\{char}", at - 1)

    def word(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] in _UNQUOTED:
            self.pos += 1
        return self.text[start : self.pos]


def parse(text: str, name: str = "project.pbxproj") -> object:
    """The plist's root value (a dict for a pbxproj); PbxprojError on malformed text."""
    reader = _Reader(text, name)
    root = reader.value()
    if reader.peek():
        raise reader.fail(f"unexpected {reader.peek()!r} after the root value")
    return root
