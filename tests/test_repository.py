"""The repository stands on its own: a fresh clone has every fact, schema and licence it needs.

Someone who clones the repository has nothing beside it, so no tracked file may send a reader or a
test outside it; the CRD schemas the manifests are checked against are vendored byte for byte,
and the platform facts the code relies on are written down in docs/platform-facts.md.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CRDS = REPO / "runner" / "lint" / "crds"
FACTS = REPO / "docs" / "platform-facts.md"

# Spelt in pieces so this file does not match itself.
_OUTSIDE = re.compile(
    "|".join(("\\.\\./" + "shared", "shared/" + "domain-facts", "shared/" + "crds"))
)


def _tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [REPO / name for name in listed.split("\0") if name]


def test_no_tracked_file_points_outside_the_repository() -> None:
    offenders = []
    for path in _tracked():
        if not path.is_file():  # deleted in the work tree, not yet committed
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        offenders += [
            f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group()}"
            for m in _OUTSIDE.finditer(text)
        ]
    assert not offenders, (
        "point these at docs/platform-facts.md or runner/lint/crds:\n" + "\n".join(offenders)
    )


def test_the_outside_pattern_catches_what_it_must() -> None:
    for text in (
        "see ../.." + "/shared/x",
        "(shared/" + "domain-facts.md)",
        ".." + "/shared" + "/crds",
    ):
        assert _OUTSIDE.search(text), text
    assert not _OUTSIDE.search("docs/platform-facts.md, shared volume, runner/lint/crds")


def _blob_id(path: Path) -> str:
    return subprocess.run(
        ["git", "hash-object", "--no-filters", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def test_vendored_crds_are_the_upstream_files_named_in_sources() -> None:
    """Each CRD is listed in SOURCES.md with the upstream blob id it was copied from, and is still
    that blob: a local edit (or a new file without a source) fails here."""
    sources = (CRDS / "SOURCES.md").read_text(encoding="utf-8")
    listed = dict(
        re.findall(r"^\| (\S+\.yaml) \| \S+ \| ([0-9a-f]{40}) \|$", sources, re.MULTILINE)
    )
    on_disk = {path.name for path in CRDS.glob("*.yaml")}
    assert on_disk == set(listed), "every vendored CRD, and only those, is listed in SOURCES.md"
    for name, blob in listed.items():
        assert _blob_id(CRDS / name) == blob, f"{name} differs from upstream blob {blob}"
    assert "Apache-2.0" in sources
    licence = (CRDS / "LICENSE-Apache-2.0.txt").read_text(encoding="utf-8")
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence


def test_platform_facts_name_their_sources_and_existing_tests() -> None:
    """Every bullet of docs/platform-facts.md names an upstream source, and every test it cites as
    the guard of a fact exists."""
    text = FACTS.read_text(encoding="utf-8")
    bullets = re.findall(r"^- (.*?)(?=^- |^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert len(bullets) > 20
    for bullet in bullets:
        assert re.search(r"[\w.-]+/[\w.-]+:\s|<https://", bullet), f"no upstream source: {bullet}"
    tests_text = "\n".join(
        path.read_text(encoding="utf-8") for path in (REPO / "tests").rglob("*.py")
    )
    for cited in re.findall(r"\[([^\]]+)\]", text):
        for name in re.split(r",\s*", cited):
            if name.startswith("test_"):
                assert f"def {name}(" in tests_text, f"platform-facts cites missing test {name}"
            elif name.startswith("tests/"):
                assert (REPO / name).exists(), f"platform-facts cites missing file {name}"


def test_the_readme_layout_table_is_the_files() -> None:
    """Every module of runner/ is in the README's "Layout of the code", by its path or by a
    folder row (`runner/lint/`), and every file or folder the table names exists."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("## Layout of the code") :]
    table = table[: table.index("\n## ")]
    named = set(re.findall(r"`(runner/[\w/.]+)`", table))
    folders = {n for n in named if n.endswith("/")}
    modules = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "runner").rglob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    }
    missing = {m for m in modules - named if not any(m.startswith(f) for f in folders)}
    assert missing == set(), "add these to the README's layout table"
    assert {n for n in named if not (REPO / n).exists()} == set(), "the table names lost files"


_REGEX_CALLS = {"compile", "match", "search", "fullmatch"}


def _end_anchored_patterns(source: str) -> list[tuple[int, str]]:
    """Regex literals passed to `re.compile/match/search/fullmatch` that end in `$` without
    re.MULTILINE: in Python `$` also matches before a final newline, so such a pattern passes
    "v1\\n" for "v1" (issue 22, item 11). Whole values are checked with `fullmatch`; a comment
    saying "`$` on purpose" just above the call keeps one (and says why)."""
    found = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _REGEX_CALLS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "re"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str | bytes)
        ):
            continue
        value = node.args[0].value
        pattern = value if isinstance(value, str) else value.decode("latin-1")
        end = pattern.endswith("$")
        said = "`$` on purpose" in "\n".join(lines[max(node.lineno - 3, 0) : node.lineno])
        if end and "MULTILINE" not in ast.unparse(node) and not said:
            found.append((node.lineno, repr(pattern)))
    return found


def test_no_regex_validates_with_a_dollar_anchor() -> None:
    offenders = [
        f"{path.relative_to(REPO)}:{line}: {pattern}"
        for path in sorted((REPO / "runner").rglob("*.py"))
        for line, pattern in _end_anchored_patterns(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "use fullmatch (or \\Z) instead of `$`:\n" + "\n".join(offenders)


def test_the_dollar_anchor_check_catches_what_it_must() -> None:
    assert _end_anchored_patterns('import re\nX = re.compile(r"^[0-9a-f]+$")\n') == [
        (2, "'^[0-9a-f]+$'")
    ]
    assert _end_anchored_patterns('re.search(r"^a$", text, re.MULTILINE)') == []
    assert _end_anchored_patterns('re.compile(r"[0-9a-f]+")') == []
