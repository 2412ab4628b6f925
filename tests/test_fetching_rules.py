"""The pure rules of fetching (runner/fetching/revisions.py, failures.py), property-tested:
what a revision is, that a URL's userinfo never shows, that no path leaves the repository and
that an option-looking value never reaches git's argument list."""

from __future__ import annotations

import dataclasses
import re
import threading
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from runner.contract.errors import DeadlineExceeded
from runner.fetching.failures import explain
from runner.fetching.revisions import (
    Kind,
    Revision,
    check_relative_path,
    check_repo_url,
    display_url,
    redact_userinfo,
    sparse_patterns,
)
from runner.fetching.scratch import Scratch
from runner.processes.bounds import Deadline, StopRequest
from tests.strategies import (
    full_shas,
    hex_prefixes,
    hostile_strings,
    near_ref_names,
    ref_names,
    url_passwords,
)


@given(full_shas)
def test_a_full_sha_is_fetched_as_it_is(sha: str) -> None:
    revision = Revision.parse(sha.upper())
    assert (revision.kind, revision.text) == (Kind.FULL_SHA, sha)


@given(hex_prefixes)
def test_a_hex_prefix_is_tried_as_a_ref_first_then_as_an_abbreviation(prefix: str) -> None:
    revision = Revision.parse(prefix)
    assert revision.kind is Kind.REF and revision.could_be_abbreviation


@given(ref_names)
def test_ref_names_are_accepted(name: str) -> None:
    assert Revision.parse(name).text == name


@given(st.one_of(hostile_strings, near_ref_names))
@example("a..b")
@example("0\n")  # `$` matches before a final newline: found by this test, kept here
@example("main\n")
def test_no_revision_can_be_read_as_an_option_or_a_range(text: str) -> None:
    try:
        revision = Revision.parse(text)
    except ValueError:
        return
    assert not revision.text.startswith("-")
    assert ".." not in revision.text and "@{" not in revision.text
    assert not any(c.isspace() or ord(c) < 0x20 for c in revision.text)


@given(near_ref_names)
@example("main..feature")  # a range: `git fetch origin a..b` is no single revision
@example("release//1")
@example("-main")
@example("v1.lock")
def test_a_ref_name_with_a_refused_part_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expected a commit id"):
        Revision.parse(text)


@pytest.mark.parametrize(
    ("text", "kind", "abbreviation"),
    [
        ("a" * 64, Kind.FULL_SHA, False),  # a SHA-256 object name
        ("A" * 40, Kind.FULL_SHA, False),
        ("a" * 63, Kind.REF, False),  # too long for a SHA-1 abbreviation: a ref only
        ("a" * 65, Kind.REF, False),
        ("a" * 41, Kind.REF, False),
        ("a" * 39, Kind.REF, True),
        ("abcd", Kind.REF, True),  # git's shortest abbreviation
        ("abc", Kind.REF, False),
        ("cafeX", Kind.REF, False),
    ],
)
def test_hex_lengths(text: str, kind: Kind, abbreviation: bool) -> None:
    revision = Revision.parse(text)
    assert (revision.kind, revision.could_be_abbreviation) == (kind, abbreviation)
    assert revision.text == (text.lower() if kind is Kind.FULL_SHA else text)


@pytest.mark.parametrize(
    ("value", "allow_glob", "error"),
    [
        ("tests\x01x", False, "control characters"),
        ("tests\x1fx", False, "control characters"),  # the last control character
        ("tests\\x", False, "backslashes"),
        ("!tests", False, "must not start with"),
        ("#tests", False, "must not start with"),
        ("plugins/*/t", False, "wildcards are not allowed"),
        ("plugins/[ab]/t", True, "[ ] ? are not allowed"),
        ("plugins/?/t", True, "[ ] ? are not allowed"),
        ("a/../../b", True, "no '..'"),
    ],
)
def test_a_relative_path_is_refused(value: str, allow_glob: bool, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        check_relative_path(value, allow_glob=allow_glob)
    if not allow_glob:  # the default
        with pytest.raises(ValueError, match=re.escape(error)):
            check_relative_path(value)


@pytest.mark.parametrize(
    ("value", "allow_glob", "path"),
    [
        (" /packages/app/e2e/ ", False, "packages/app/e2e"),
        ("./a//./b", False, "a/b"),
        ("", False, "."),
        ("/", False, "."),
        ("plugins/*/t", True, "plugins/*/t"),
        ("a b/c!#", False, "a b/c!#"),  # spaces and signs inside a path are fine
    ],
)
def test_a_relative_path_is_normalised(value: str, allow_glob: bool, path: str) -> None:
    assert check_relative_path(value, allow_glob=allow_glob) == path


@given(url_passwords)
def test_a_password_in_the_url_is_refused_and_never_shown(password: str) -> None:
    url = f"https://kargo:{password}@git.example.com/org/tests.git"
    with pytest.raises(ValueError, match="password"):
        check_repo_url(url)
    assert display_url(url) == "https://git.example.com/org/tests.git"
    assert f":{password}@" not in redact_userinfo(f"TESTS_REPO={url!r}: bad")


@pytest.mark.parametrize(
    "url",
    [
        "ext::sh -c id",
        "file:///etc",
        "git://git.example.com/x.git",
        "/srv/git/x.git",
        "-uhttps://x",
        "https://",
        "http://user@git.example.com/x.git",
        "https://git.example.com/x .git",
    ],
)
def test_transports_that_run_commands_or_read_local_files_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_repo_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://git.example.com/x.git", "https://git.example.com/x.git"),
        ("ssh://git@git.example.com/org/x.git", "ssh://git.example.com/org/x.git"),
        ("git@github.com:org/x.git", "github.com:org/x.git"),
    ],
)
def test_urls_are_shown_without_userinfo(url: str, shown: str) -> None:
    assert check_repo_url(url) == url
    assert display_url(url) == shown


@given(hostile_strings)
def test_no_path_leaves_the_repository(text: str) -> None:
    try:
        path = check_relative_path(text, allow_glob=True)
    except ValueError:
        return
    assert ".." not in path.split("/")
    assert not path.startswith(("/", "!", "#"))


@given(st.lists(st.from_regex(r"[a-z]{1,8}(/[a-z]{1,8}){0,2}", fullmatch=True), max_size=4))
def test_sparse_patterns_are_anchored_and_include_the_trees(extra: list[str]) -> None:
    patterns = sparse_patterns(
        subdir="suite",
        central="tests/acceptance",
        plugin_globs=("plugins/*/tests/acceptance", "plugins/*/e2e-tests"),
        extra=tuple(extra),
        site=None,
    )
    assert patterns[:2] == ["/suite/*", "!/suite/*/"]  # the root's files, none of its folders
    assert "/suite/tests/acceptance/" in patterns
    assert "/suite/plugins/*/tests/acceptance/" in patterns
    assert "/suite/plugins/*/e2e-tests/" in patterns  # one pattern per glob, never joined
    assert all(f"/suite/{path}/" in patterns for path in extra)
    assert all(p.startswith(("/", "!/")) for p in patterns)


def test_the_local_site_is_checked_out_when_the_run_serves_it() -> None:
    def patterns(site: str | None) -> list[str]:
        return sparse_patterns(subdir=".", central="t", plugin_globs=(), extra=(), site=site)

    assert patterns("site") == ["/*", "!/*/", "/t/", "/site/"]
    assert patterns(None) == ["/*", "!/*/", "/t/"]


def test_an_unparseable_url_is_shown_as_such_and_a_revision_is_a_value() -> None:
    assert display_url("https://[::1/x.git") == "(unparseable URL)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        Revision.parse("main").text = "other"  # type: ignore[misc]


def test_a_dot_checks_out_the_whole_workspace() -> None:
    assert sparse_patterns(
        subdir=".", central="t", plugin_globs=("p/*/t",), extra=(".",), site=None
    ) == ["/*"]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("fatal: Authentication failed for 'https://h/x.git/'", "authentication failed for R"),
        (
            "fatal: could not read Username for 'https://h': terminal prompts disabled",
            "needs credentials",
        ),
        ("fatal: repository 'https://h/x.git/' not found", "repository R not found"),
        ("fatal: remote error: upload-pack: not our ref 0123", "revision V not found in R"),
        (
            "fatal: unable to access 'https://h/': Could not resolve host: h",
            "network error reaching R",
        ),
        ("error: unable to write file x: No space left on device", "the disk is full"),
        ("fatal: unable to access 'https://h/': The requested URL returned error: 403", "HTTP 403"),
        ("fatal: something new", "git fetch failed for R at V: something new"),
    ],
)
def test_git_failures_read_as_one_line_saying_what_to_do(output: str, expected: str) -> None:
    line = explain(output, repo="R", revision="V", what="git fetch")
    assert expected in line and "\n" not in line
    assert "https://h" not in line


def test_a_run_fetches_into_one_fixed_directory_and_a_second_taker_waits_for_it(
    tmp_path: Path,
) -> None:
    said: list[str] = []

    def claim(seconds: float) -> Scratch:
        return Scratch.claim(
            tmp_path,
            "3e0c5a8f1b2d",
            say=said.append,
            deadline=Deadline(seconds),
            stop=StopRequest(),
        )

    first = claim(5)
    assert first.path == tmp_path / "vr-tests-3e0c5a8f1b2d" and not said
    (first.path / "left-over").write_text("x")
    with pytest.raises(DeadlineExceeded, match="waiting for the tests' directory"):
        claim(1)  # held: waits, and the deadline ends the wait
    assert "in use by another process of this run" in said[0]
    release = threading.Timer(1.0, first.remove)
    release.start()
    second = claim(30)  # waits until the first gives the directory back
    release.join()
    assert second.path == first.path and list(second.path.iterdir()) == []
    second.remove()
    assert list(tmp_path.iterdir()) == []  # directory and lock file gone
    stale = tmp_path / "vr-tests-3e0c5a8f1b2d"
    (stale / "old").mkdir(parents=True)  # a killed run's checkout
    again = claim(5)
    assert again.path == stale and list(stale.iterdir()) == []
    again.remove()


@given(st.one_of(full_shas, hex_prefixes, ref_names), st.sampled_from(["\n", "\r\n", " ", "\t"]))
def test_no_revision_passes_with_trailing_whitespace(text: str, tail: str) -> None:
    with pytest.raises(ValueError, match="expected a commit id"):
        Revision.parse(text + tail)
