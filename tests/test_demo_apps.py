"""Static checks of the demo apps: what can be verified here without Xcode, Swift or the Android SDK.

The first block checks the real ios_demo/ and android_demo/; the rest proves that each checker
catches what it is meant to catch, on the small projects of tests/fixtures/demo_apps copied into
tmp_path and broken one way at a time.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# the helper modules beside this file (tests/ is on sys.path, as for export_cli_helpers)
from app_files import app_files
from gradle_checks import binary_problems, build_problems, wrapper_problems
from pbxproj_parser import PbxprojError, parse
from syntax_checks import KOTLIN_SUFFIXES, SWIFT_SUFFIXES, file_errors, language, syntax_errors
from xcode_checks import project_problems

REPO = Path(__file__).resolve().parents[1]
IOS, ANDROID = REPO / "ios_demo", REPO / "android_demo"
FIXTURES = Path(__file__).parent / "fixtures" / "demo_apps"
# valid Kotlin that the pinned grammar rejects: said in every Kotlin failure, since it looks like a real error
KOTLIN_HINT = (
    " (tree-sitter-kotlin 1.1.0 also rejects a one-line class body with members, `class A { val a = 1 }`: "
    "put each member on its own line)"
)


def sources(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return [p for p in app_files(folder) if p.name.endswith(suffixes)]


# --- the real apps ---------------------------------------------------------------------------
def test_ios_swift_sources_parse():
    files = sources(IOS, SWIFT_SUFFIXES)
    assert files, "ios_demo/ holds no .swift files; the iOS demo app is missing"
    errors = file_errors(files, REPO, language("swift"))
    assert not errors, f"Swift syntax errors: {'; '.join(errors)}; fix them (tree-sitter-swift 0.7.4 parsed the files)"


def test_android_kotlin_sources_parse():
    files = sources(ANDROID, KOTLIN_SUFFIXES)
    assert files, "android_demo/ holds no .kt or .kts files; the Android demo app is missing"
    errors = file_errors(files, REPO, language("kotlin"))
    assert not errors, f"Kotlin syntax errors: {'; '.join(errors)}; fix them{KOTLIN_HINT}"


def test_xcode_project_compiles_every_swift_source():
    projects = sorted(IOS.glob("*.xcodeproj/project.pbxproj"))
    assert len(projects) == 1, f"expected one ios_demo/*.xcodeproj/project.pbxproj, found {len(projects)}; keep exactly one project"
    problems = project_problems(projects[0], sources(IOS, SWIFT_SUFFIXES))
    assert not problems, "; ".join(problems)


def test_android_build_pins_every_version_and_commits_no_binary():
    files = app_files(ANDROID)
    assert files, "android_demo/ is missing or empty; the Android demo app is missing"
    problems = build_problems(ANDROID, files) + wrapper_problems(ANDROID) + binary_problems(ANDROID, files)
    assert not problems, "; ".join(problems)


# --- the syntax checker ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "grammar, source, where",
    [
        ("swift", "import Foundation\nfunc f(x: Int {\n    return x\n}\n", (2, 14)),
        ("swift", "struct A {\n    let a = [1, 2\n}\n", (2, 18)),
        ("kotlin", "package a\n\nfun f(x: Int {\n    return x\n}\n", (3, 13)),
        ("kotlin", "val a = listOf(1, 2\nval b = 3\n", (1, 15)),
    ],
)
def test_syntax_errors_are_found_with_their_position(tmp_path, grammar, source, where):
    path = tmp_path / ("Broken.swift" if grammar == "swift" else "Broken.kt")
    path.write_text(source)
    errors = file_errors([path], tmp_path, language(grammar))
    assert errors, f"the {grammar} grammar accepted broken code"
    assert errors[0].startswith(f"{path.name}:{where[0]}:{where[1]}: "), errors


@pytest.mark.parametrize("grammar, name", [("swift", "modern.swift"), ("kotlin", "modern.kt")])
def test_grammars_accept_the_modern_syntax_the_apps_use(grammar, name):
    # async/await, actors, property wrappers, macros; coroutines, data/sealed classes, `when`
    assert file_errors([FIXTURES / name], FIXTURES, language(grammar)) == []


def test_a_missing_token_hidden_by_the_grammar_is_still_reported():
    # tree-sitter-kotlin 1.1.0 wants a newline before `}` after a class member. Here it records the
    # missing hidden `_class_member_semi` only as has_error on the class body, with no node for it.
    # Valid Kotlin, so a known false positive: the apps put class members on their own lines.
    kotlin = language("kotlin")
    assert syntax_errors(b"class A { companion object {} }\n", kotlin) == [(1, 9, "a token is missing in this class_body")]
    assert syntax_errors(b"class A { val a = 1 }\n", kotlin) == [(1, 11, "unexpected 'val a = 1'")]  # the same limit
    assert syntax_errors(b"class A {\n    companion object {}\n    val a = 1\n}\n", kotlin) == []


# --- the pbxproj parser ----------------------------------------------------------------------
def test_pbxproj_parser_reads_the_old_style_plist():
    text = r"""// !$*UTF8*$!
{
    archiveVersion = 1;
    /* a block comment */ objects = {
        A1B2 /* ContentView.swift */ = {isa = PBXFileReference; path = "Views/Content View.swift"; sourceTree = "<group>"; };
    };
    list = (a, "b c", (), {}, );
    escapes = "quote \" backslash \\ newline \n tab \t e-acute \U00e9 octal \101";
    words = ( "$(SRCROOT)/x", 1.5, -2, a_b.c-d+e/f:g, $x, ); // trailing comment
    "quoted key" = "";
}
"""
    assert parse(text) == {
        "archiveVersion": "1",
        "objects": {"A1B2": {"isa": "PBXFileReference", "path": "Views/Content View.swift", "sourceTree": "<group>"}},
        "list": ["a", "b c", [], {}],
        "escapes": 'quote " backslash \\ newline \n tab \t e-acute \u00e9 octal A',
        "words": ["$(SRCROOT)/x", "1.5", "-2", "a_b.c-d+e/f:g", "$x"],
        "quoted key": "",
    }


@pytest.mark.parametrize(
    "text, message",
    [
        ("{\n  a = 1\n}", "project.pbxproj:3:1: expected ';', found '}'"),
        ('{\n  a = "open;\n}', "project.pbxproj:2:7: unterminated string"),
        ("{ a = 1; /* open\n}", "project.pbxproj:1:10: unterminated /* comment"),
        ("{ a = 1; a = 2; }", "project.pbxproj:1:10: key 'a' appears twice"),
        ("{ a = (1 2); }", "project.pbxproj:1:10: expected ',', found '2'"),
        ("{ a = 1; } }", "project.pbxproj:1:12: unexpected '}' after the root value"),
        ('{ a = "\\q"; }', "project.pbxproj:1:8: unknown escape \\q"),
        ("{ a = ; }", "project.pbxproj:1:7: expected a value, found ';'"),
    ],
)
def test_pbxproj_parser_errors_name_line_and_column(text, message):
    with pytest.raises(PbxprojError) as err:
        parse(text)
    assert str(err.value) == message


# --- the Xcode project check -----------------------------------------------------------------
# tests/fixtures/demo_apps/ios_demo: a two-target project as Xcode writes it, the app's sources in
# nested groups (one group without a path), a SOURCE_ROOT reference, a product in BUILT_PRODUCTS_DIR.
PBXPROJ = (FIXTURES / "ios_demo" / "SfDemo.xcodeproj" / "project.pbxproj").read_text()
SWIFT_FILES = ("SfDemo/App.swift", "SfDemo/ContentView.swift", "Shared/Sampling.swift", "SfDemoTests/VectorTests.swift")


@pytest.fixture
def ios_app(tmp_path):
    """An ios_demo-like folder; returns (folder, a function that rewrites the pbxproj)."""
    folder = shutil.copytree(FIXTURES / "ios_demo", tmp_path / "ios_demo")
    pbxproj = folder / "SfDemo.xcodeproj" / "project.pbxproj"

    def problems(old: str = "", new: str = "") -> list[str]:
        if old:
            assert old in PBXPROJ, old  # the mutation must hit: a typo here would test nothing
            pbxproj.write_text(PBXPROJ.replace(old, new))
        return project_problems(pbxproj, sorted(folder.rglob("*.swift")))

    return folder, problems


def test_xcode_check_accepts_a_consistent_project(ios_app):
    assert ios_app[1]() == []


def test_xcode_check_finds_a_swift_file_the_project_does_not_reference(ios_app):
    folder, problems = ios_app
    (folder / "SfDemo" / "Extra.swift").write_text("")
    assert problems() == [
        "ios_demo/SfDemo/Extra.swift is not referenced by ios_demo/SfDemo.xcodeproj/project.pbxproj; "
        "add a PBXFileReference in a group and a PBXBuildFile in the target's Sources phase"
    ]


def test_xcode_check_resolves_paths_through_the_groups(ios_app):
    folder, problems = ios_app
    # ContentView.swift sits in a path-less group inside SfDemo: moving it out breaks the resolved path
    (folder / "SfDemo" / "ContentView.swift").rename(folder / "ContentView.swift")
    assert problems() == [
        "ios_demo/SfDemo.xcodeproj/project.pbxproj: Swift file reference F0000000000000000000000B points at "
        "ios_demo/SfDemo/ContentView.swift, which does not exist; fix its path or remove it",
        "ios_demo/ContentView.swift is not referenced by ios_demo/SfDemo.xcodeproj/project.pbxproj; "
        "add a PBXFileReference in a group and a PBXBuildFile in the target's Sources phase",
    ]


@pytest.mark.parametrize(
    "old, new, expected",
    [
        (
            "\t\t\t\tB0000000000000000000000C /* Sampling.swift in Sources */,\n",
            "",
            ["ios_demo/Shared/Sampling.swift is in no target's Sources build phase; add a PBXFileReference "
             "in a group and a PBXBuildFile in the target's Sources phase"],
        ),
        (  # the test target dropped from the project: its sources compile nowhere
            "\t\t\t\tT0000000000000000000000B /* SfDemoTests */,\n\t\t\t);",
            "\t\t\t);",
            ["ios_demo/SfDemoTests/VectorTests.swift is in no target's Sources build phase; add a PBXFileReference "
             "in a group and a PBXBuildFile in the target's Sources phase"],
        ),
        (
            "path = Shared/Sampling.swift; sourceTree = SOURCE_ROOT;",
            "path = Shared/Samplin.swift; sourceTree = SOURCE_ROOT;",
            ["ios_demo/SfDemo.xcodeproj/project.pbxproj: Swift file reference F0000000000000000000000C points at "
             "ios_demo/Shared/Samplin.swift, which does not exist; fix its path or remove it",
             "ios_demo/Shared/Sampling.swift is not referenced by ios_demo/SfDemo.xcodeproj/project.pbxproj; "
             "add a PBXFileReference in a group and a PBXBuildFile in the target's Sources phase"],
        ),
        (
            "\t\t\t\tG0000000000000000000000E /* Products */,\n\t\t\t);",
            "\t\t\t\tG0000000000000000000000E /* Products */,\n\t\t\t\tG00000000000000000000099,\n\t\t\t);",
            ["ios_demo/SfDemo.xcodeproj/project.pbxproj: PBXGroup G0000000000000000000000A children names the "
             "missing object G00000000000000000000099; remove or restore it"],
        ),
        (
            "\tobjectVersion = 56;\n",
            "",
            ["ios_demo/SfDemo.xcodeproj/project.pbxproj: no numeric objectVersion; save the project with Xcode"],
        ),
        (
            "isa = PBXFileReference; lastKnownFileType = sourcecode.swift; path = App.swift;",
            "isa = PBXFileReference; lastKnownFileType = sourcecode.swift; path = App.swift",
            ["ios_demo/SfDemo.xcodeproj/project.pbxproj:17:126: expected ';', found 's'; fix the syntax (or re-save the project in Xcode)"],
        ),
    ],
)
def test_xcode_check_finds_each_disagreement(ios_app, old, new, expected):
    assert ios_app[1](old, new) == expected


def test_xcode_check_needs_the_root_object_to_be_the_project(ios_app):
    problems = ios_app[1]("rootObject = P0000000000000000000000A", "rootObject = G0000000000000000000000A")
    # without the project there is no main group, so every Swift reference dangles too
    assert problems[0] == (
        "ios_demo/SfDemo.xcodeproj/project.pbxproj: rootObject 'G0000000000000000000000A' is not a PBXProject; fix rootObject"
    )
    assert len(problems) > 1


# --- the Gradle checks -----------------------------------------------------------------------
ANDROID_FILES = {  # tests/fixtures/demo_apps/android_demo: root and app build files, a catalog, a wrapper
    str(p.relative_to(FIXTURES / "android_demo")): p.read_text() for p in (FIXTURES / "android_demo").rglob("*") if p.is_file()
}


@pytest.fixture
def android_app(tmp_path):
    """An android_demo-like folder; returns (folder, a function that edits one file and checks)."""
    folder = shutil.copytree(FIXTURES / "android_demo", tmp_path / "android_demo")

    def problems(name: str = "", old: str = "", new: str = "") -> list[str]:
        if name:
            assert old in ANDROID_FILES[name], old  # the edit must hit: a typo here would test nothing
            (folder / name).write_text(ANDROID_FILES[name].replace(old, new))
        files = app_files(folder)
        return build_problems(folder, files) + wrapper_problems(folder) + binary_problems(folder, files)

    return folder, problems


def test_gradle_check_accepts_pinned_builds(android_app):
    assert android_app[1]() == []


PIN = "write an exact version such as 1.2.3"
EXECUTORCH = "executorch-android:$executorchVersion"


@pytest.mark.parametrize(
    "name, old, new, expected",
    [
        ("app/build.gradle.kts", EXECUTORCH, "executorch-android:1.+",
         f"android_demo/app/build.gradle.kts:10:5: dependency org.pytorch:executorch-android has the dynamic version '1.+'; {PIN}"),
        ("app/build.gradle.kts", EXECUTORCH, "executorch-android:latest.release",
         f"android_demo/app/build.gradle.kts:10:5: dependency org.pytorch:executorch-android has the dynamic version 'latest.release'; {PIN}"),
        ("app/build.gradle.kts", EXECUTORCH, "executorch-android:[1.0,2.0)",
         f"android_demo/app/build.gradle.kts:10:5: dependency org.pytorch:executorch-android has the dynamic version '[1.0,2.0)'; {PIN}"),
        ("app/build.gradle.kts", '"1.5.1"', '"1.6.0-SNAPSHOT"',
         f"android_demo/app/build.gradle.kts:10:5: dependency org.pytorch:executorch-android has the moving version '1.6.0-SNAPSHOT' (a SNAPSHOT); {PIN}"),
        ("app/build.gradle.kts", "$executorchVersion", "$undefinedVersion",
         f'android_demo/app/build.gradle.kts:10:5: "org.pytorch:executorch-android:$undefinedVersion" uses a variable this check cannot read; {PIN}'),
        ("app/build.gradle.kts", 'version = "4.13.2"', 'version = "4.+"',
         f"android_demo/app/build.gradle.kts:14:5: dependency junit:junit has the dynamic version '4.+'; {PIN}"),
        ("app/build.gradle.kts", 'implementation(project(":core"))', 'implementation(fileTree("libs"))',
         "android_demo/app/build.gradle.kts:13:5: depends on local files; depend on a pinned Maven coordinate instead"),
        ("app/build.gradle.kts", "implementation(platform(libs.androidx.compose.bom))", 'implementation("androidx.compose.ui:ui-util")',
         [f"android_demo/gradle/libs.versions.toml: [libraries] androidx-compose-ui has no version; {PIN}",
          f"android_demo/app/build.gradle.kts:11:5: dependency androidx.compose.ui:ui-util has no version (and no platform BOM supplies one); {PIN}"]),
        ("app/build.gradle.kts", "libs.androidx.compose.ui)", "libs.androidx.compose.material3)",
         "android_demo/app/build.gradle.kts:12:5: libs.androidx.compose.material3 is not in android_demo/gradle/libs.versions.toml; add it there with a pinned version"),
        ("app/build.gradle.kts", 'id("com.android.application")', 'id("com.android.library")',
         'android_demo/app/build.gradle.kts:2:5: plugin com.android.library has no version anywhere; add `version "x.y.z"` where it is first declared'),
        ("build.gradle.kts", 'version "8.13.2"', 'version "8.+"',
         f"android_demo/build.gradle.kts:2:5: plugin com.android.application has the dynamic version '8.+'; {PIN}"),
        ("gradle/libs.versions.toml", 'composeBom = "2025.10.00"', 'composeBom = "2025.+"',
         f"android_demo/gradle/libs.versions.toml: [versions] composeBom has the dynamic version '2025.+'; {PIN}"),
        ("gradle/libs.versions.toml", 'version.ref = "kotlin"', 'version.ref = "kotlinx"',
         f"android_demo/gradle/libs.versions.toml: [plugins] kotlin-android refers to the missing version 'kotlinx'; {PIN}"),
        ("gradle/libs.versions.toml", ', version.ref = "kotlin" }', " }",
         f"android_demo/gradle/libs.versions.toml: [plugins] kotlin-android has no version; {PIN}"),
        ("gradle/wrapper/gradle-wrapper.properties", "gradle-8.14.3-bin.zip", "gradle-8.14-20250101-bin.zip",
         "android_demo/gradle/wrapper/gradle-wrapper.properties: distributionUrl does not name a fixed Gradle version (gradle-X.Y.Z-bin.zip); set one"),
    ],
)  # fmt: skip
def test_gradle_check_names_each_unpinned_version(android_app, name, old, new, expected):
    assert android_app[1](name, old, new) == (expected if isinstance(expected, list) else [expected])


def test_gradle_check_finds_committed_binaries_and_a_missing_wrapper(android_app):
    folder, problems = android_app
    (folder / "app" / "libs").mkdir()
    (folder / "app" / "libs" / "executorch.aar").write_bytes(b"PK")
    (folder / "gradle" / "wrapper" / "gradle-wrapper.properties").unlink()
    assert problems() == [
        "android_demo/gradle/wrapper/gradle-wrapper.properties is missing; run `gradle wrapper --gradle-version X.Y.Z` "
        "and commit the properties file",
        "android_demo/app/libs/executorch.aar: a committed binary; depend on it through Maven "
        "(the wrapper jar comes from `gradle wrapper`)",
    ]


def test_gradle_check_wants_kotlin_dsl_build_files(android_app):
    folder, problems = android_app
    (folder / "app" / "build.gradle").write_text("apply plugin: 'java'\n")
    assert problems() == ["android_demo/app/build.gradle: a Groovy build file; write it in the Kotlin DSL (.gradle.kts)"]
