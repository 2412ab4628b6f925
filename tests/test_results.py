from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings

from runner.cli import main
from runner.judging.results import (
    FailedTest,
    ResultsBroken,
    read_flaky_from_json,
    read_junit,
    with_flaky,
)
from tests.strategies import junit_layouts

PLAYWRIGHT_JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuites id="" name="" tests="4" failures="1" skipped="1" errors="0" time="3.2">
<testsuite name="apps/backstage/tests/acceptance/home.spec.ts" timestamp="2026-11-26T10:00:00"
  hostname="central" tests="3" failures="1" skipped="1" time="2.0" errors="0">
<testcase name="home page › should have Events link" classname="apps/backstage/tests/acceptance/home.spec.ts" time="1.1">
</testcase>
<testcase name="home page › fails" classname="apps/backstage/tests/acceptance/home.spec.ts" time="0.5">
<failure message="home.spec.ts:12:5 fails" type="FAILURE">
<![CDATA[  Error: expect(locator).toHaveText(expected) failed
    at home.spec.ts:12:5]]>
</failure>
</testcase>
<testcase name="skipped one" classname="apps/backstage/tests/acceptance/home.spec.ts" time="0">
<skipped/>
</testcase>
</testsuite>
<testsuite name="catalog.spec.ts" hostname="plugin:catalog" tests="1" failures="0" skipped="0" time="1.2" errors="0">
<testcase name="lists components" classname="catalog.spec.ts" time="1.2">
<flakyFailure message="timeout" type="FAILURE"></flakyFailure>
</testcase>
</testsuite>
</testsuites>
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_playwright_junit_counts_projects_failures_and_flaky(tmp_path: Path) -> None:
    results = read_junit([_write(tmp_path, "j.xml", PLAYWRIGHT_JUNIT)])
    assert (results.total, results.passed, results.failed, results.skipped) == (4, 2, 1, 1)
    (failure,) = results.failures
    assert failure.project == "central" and failure.name == "home page › fails"
    assert failure.message == "home.spec.ts:12:5 fails"
    assert results.flaky == ("[plugin:catalog] catalog.spec.ts › lists components",)


def test_several_files_are_merged(tmp_path: Path) -> None:
    a = _write(tmp_path, "a.xml", PLAYWRIGHT_JUNIT)
    b = _write(
        tmp_path, "b.xml", '<testsuite name="s"><testcase name="t" classname="c"/></testsuite>'
    )
    results = read_junit([a, b])
    assert results.total == 5 and results.passed == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("<testsuites><testsuite>", "not valid XML"),
        ("not xml", "1:0"),
        ("<html/>", "not JUnit"),
    ],
)
def test_broken_files_are_named_with_position(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, "bad.xml", text)
    with pytest.raises(ResultsBroken) as broken:
        read_junit([path])
    assert str(path) in str(broken.value) and message in str(broken.value)


def test_json_report_supplies_flaky_when_junit_cannot(tmp_path: Path) -> None:
    report = {
        "suites": [
            {
                "file": "a.spec.ts",
                "specs": [],
                "suites": [
                    {
                        "specs": [
                            {
                                "title": "t1",
                                "tests": [{"projectName": "central", "status": "flaky"}],
                            },
                            {
                                "title": "t2",
                                "tests": [{"projectName": "central", "status": "expected"}],
                            },
                        ]
                    }
                ],
            }
        ]
    }
    path = _write(tmp_path, "r.json", json.dumps(report))
    flaky = read_flaky_from_json(path)
    assert flaky == ("[central] a.spec.ts › t1",)
    plain = read_junit(
        [
            _write(
                tmp_path,
                "j.xml",
                '<testsuites><testsuite name="a">'
                '<testcase name="t1" classname="a"/>'
                "</testsuite></testsuites>",
            )
        ]
    )
    assert with_flaky(plain, flaky).flaky == flaky
    assert read_flaky_from_json(tmp_path / "missing.json") == ()


def test_report_command_judges_existing_files(tmp_path: Path) -> None:
    path = _write(tmp_path, "j.xml", PLAYWRIGHT_JUNIT)
    out = tmp_path / "summary.json"
    result = CliRunner().invoke(main, ["report", str(path), "--summary-json", str(out)], env={})
    assert result.exit_code == 1
    assert "home page › fails" in result.output.splitlines()[-1]
    assert json.loads(out.read_text())["failed"] == 1


def test_report_command_malformed_is_exit_3_with_position(tmp_path: Path) -> None:
    path = _write(tmp_path, "j.xml", "<testsuites>\n<testsuite>\n</oops>")
    result = CliRunner().invoke(main, ["report", str(path)], env={})
    assert result.exit_code == 3
    assert f"{path}:3:" in result.output


DEEP_FAILURE = '<testcase name="deep" classname="c"><failure message="boom"/></testcase>'


@pytest.mark.parametrize(
    "text",
    [
        # PHPUnit's data providers: a suite inside the suite
        f'<testsuites><testsuite name="s"><testsuite name="s::data">{DEEP_FAILURE}'
        "</testsuite></testsuite></testsuites>",
        # a testcase directly under <testsuites>
        f"<testsuites>{DEEP_FAILURE}</testsuites>",
        # a root <testsuite> whose case sits in an unknown wrapper element
        f'<testsuite name="s"><group>{DEEP_FAILURE}</group></testsuite>',
        # a testcase nested in a testcase, and a suite hidden in a wrapper
        f'<testsuites><x><testsuite name="s"><testcase name="outer">{DEEP_FAILURE}'
        "</testcase></testsuite></x></testsuites>",
    ],
)
def test_report_counts_a_failure_at_any_depth(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path, "deep.xml", text)
    done = CliRunner().invoke(main, ["report", str(path)])
    assert done.exit_code == 1, done.output
    assert "failed: c \u203a deep" in done.output
    results = read_junit([path])
    assert results.total == text.count("<testcase") and results.failed == 1


def test_every_testcase_counts_once_whatever_the_nesting(tmp_path: Path) -> None:
    """Property: however suites and wrappers nest, total = the number of <testcase> elements
    and each failure is counted once."""

    @given(layout=junit_layouts)
    @settings(max_examples=60, deadline=None)
    def check(layout: tuple[str, int, int]) -> None:
        text, cases, failures = layout
        path = _write(tmp_path, "p.xml", text)
        results = read_junit([path])
        assert (results.total, results.failed) == (cases, failures)
        assert results.passed + results.skipped == cases - failures

    check()


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ('<?xml version="1.0" encoding="x-unknown"?>', "unknown encoding: x-unknown"),
        ('<?xml version="1.0" encoding="shift_jis"?>', "multi-byte encodings are not supported"),
    ],
)
def test_an_unknown_declared_encoding_is_one_line_exit_3(
    tmp_path: Path, declaration: str, message: str
) -> None:
    path = _write(tmp_path, "enc.xml", declaration + "\n<testsuites/>")
    done = subprocess.run(
        [sys.executable, "-m", "runner", "report", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 3
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("allow", "code", "reason"),
    [
        ("false", 6, "no tests discovered: the JUnit results hold no testcase"),
        ("true", 0, "the JUnit results hold no testcase (allowed by ALLOW_NO_TESTS)"),
    ],
)
def test_report_on_a_file_without_testcases_is_no_tests(
    tmp_path: Path, allow: str, code: int, reason: str
) -> None:
    """Issue 22, item 10 (docs/contract.md, "What `report` decides"): the file is valid JUnit
    that says no test ran, the very file a run that discovers nothing leaves: exit 6, as that
    run is, never 3 (nothing is broken) and never the "all 0 tests were skipped" it said."""
    path = _write(tmp_path, "zero.xml", '<?xml version="1.0"?>\n<testsuites tests="0"/>\n')
    done = subprocess.run(
        [sys.executable, "-m", "runner", "report", str(path)],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "ALLOW_NO_TESTS": allow},
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert reason in done.stdout.splitlines()[-1]


def test_a_json_report_nested_too_deeply_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    """Issue 22, item 8's class: a workspace's `metadata` (copied into results.json) nested
    50,000 deep raised RecursionError past `except ValueError` and lost the verdict."""
    deep = '{"config": {"metadata": ' + "[" * 50_000 + "]" * 50_000 + '}, "suites": []}'
    assert read_flaky_from_json(_write(tmp_path, "deep.json", deep)) == ()


def test_each_failure_is_described_from_what_the_file_has(tmp_path: Path) -> None:
    """Name, file, project and the message's first non-blank line (at most 300 characters),
    taken from the attribute, else the element's text; a nameless case is "(unnamed)"."""
    long = "x" * 400
    text = (
        '<testsuites><testsuite name="suite.spec.ts" hostname="central">'
        '<testcase name="a" classname="a.spec.ts"><failure message="  first  "/></testcase>'
        '<testcase name="b"><error>\n \n  from the text\nmore</error></testcase>'
        f'<testcase classname="c.spec.ts"><failure message="{long}"/></testcase>'
        '<testcase name="d" classname="d.spec.ts"><failure/></testcase>'
        "</testsuite>"
        '<testsuite name="other.spec.ts"><testcase name="e" classname="e.spec.ts">'
        '<skipped/></testcase><testcase name="f" classname="f.spec.ts">'
        '<flakyError message="once"/></testcase><testcase name="g"><flakyFailure/></testcase>'
        "</testsuite></testsuites>"
    )
    results = read_junit([_write(tmp_path, "j.xml", text)])
    assert (results.total, results.passed, results.failed, results.skipped) == (7, 2, 4, 1)
    assert [(f.name, f.file, f.project, f.message) for f in results.failures] == [
        ("a", "a.spec.ts", "central", "first"),
        ("b", "suite.spec.ts", "central", "from the text"),
        ("(unnamed)", "c.spec.ts", "central", "x" * 300),
        ("d", "d.spec.ts", "central", ""),
    ]
    assert results.flaky == ("f.spec.ts › f", "other.spec.ts › g")  # no project: no brackets
    assert results.sources == (str(tmp_path / "j.xml"),)
    assert gc.isenabled()  # paused while reading, then as it was: on
    gc.disable()
    try:
        read_junit([_write(tmp_path, "j.xml", text)])
        assert not gc.isenabled()  # or off
    finally:
        gc.enable()


def test_a_missing_file_or_a_directory_is_broken_not_a_crash(tmp_path: Path) -> None:
    with pytest.raises(ResultsBroken, match="does not exist: the test run wrote no JUnit"):
        read_junit([tmp_path / "missing.xml"])
    (tmp_path / "dir.xml").mkdir()
    with pytest.raises(ResultsBroken, match=r"cannot read .*dir\.xml: Is a directory$"):
        read_junit([tmp_path / "dir.xml"])
    with pytest.raises(ResultsBroken, match="no JUnit file to read"):
        read_junit([])


def test_the_junit_files_own_flaky_tests_are_kept(tmp_path: Path) -> None:
    results = read_junit([_write(tmp_path, "j.xml", PLAYWRIGHT_JUNIT)])
    assert with_flaky(results, ("[x] other › t",)) is results
    plain = read_junit(
        [_write(tmp_path, "p.xml", '<testsuite name="s"><testcase name="t"/></testsuite>')]
    )
    assert with_flaky(plain, ()) is plain


def test_flaky_tests_of_a_json_report_at_any_depth(tmp_path: Path) -> None:
    report = {
        "suites": [
            {
                "file": "a.spec.ts",
                "specs": [{"title": "top", "tests": [{"status": "flaky"}]}, "not a spec"],
                "suites": [
                    {
                        "file": "b.spec.ts",
                        "specs": [
                            {"title": "deep", "tests": [{"status": "flaky", "projectName": "p"}]}
                        ],
                    },
                    {"specs": [{"tests": [{"status": "flaky"}]}]},
                ],
            },
            "not a suite",
        ]
    }
    path = _write(tmp_path, "r.json", json.dumps(report))
    assert read_flaky_from_json(path) == ("a.spec.ts › top", "[p] b.spec.ts › deep", "a.spec.ts › ")
    for bad in ("[]", '{"suites": {}}', "not json", '{"suites": [{"specs": {}}]}'):
        assert read_flaky_from_json(_write(tmp_path, "bad.json", bad)) == ()


def test_a_stray_testcase_keeps_the_name_and_project_of_its_nearest_suite(tmp_path: Path) -> None:
    text = (
        '<testsuites><testsuite name="outer.spec.ts" hostname="central">'
        '<testsuite name="inner.spec.ts" hostname="plugin:x"><properties>'
        '<testcase name="stray"><failure message="boom"/></testcase>'
        "</properties></testsuite></testsuite></testsuites>"
    )
    (failure,) = read_junit([_write(tmp_path, "j.xml", text)]).failures
    assert (failure.name, failure.file, failure.project) == ("stray", "inner.spec.ts", "plugin:x")


def test_a_failure_is_described_in_one_line() -> None:
    assert (
        FailedTest("t", "a.spec.ts", "central", "boom").describe()
        == "[central] a.spec.ts › t: boom"
    )
    assert FailedTest("t", "a.spec.ts", "", "").describe() == "a.spec.ts › t"


def test_a_nested_suite_beside_a_stray_keeps_its_project(tmp_path: Path) -> None:
    """Moving a stray must leave the suites junitparser reaches where they are: a nested
    suite's failure keeps the project of the suite it is in."""
    text = (
        '<testsuites><testsuite name="A" hostname="central"><testsuite name="B">'
        '<testcase name="x" classname="c"><failure message="m"/></testcase></testsuite>'
        '<properties><testcase name="stray" classname="s"/></properties></testsuite></testsuites>'
    )
    results = read_junit([_write(tmp_path, "j.xml", text)])
    assert (results.total, results.failed) == (2, 1)
    assert results.failures[0].project == "central"


def test_the_first_of_several_failures_of_a_testcase_is_its_message(tmp_path: Path) -> None:
    text = (
        '<testsuite name="s"><testcase name="t" classname="c">'
        '<failure message="first"/><error message="second"/></testcase></testsuite>'
    )
    (failure,) = read_junit([_write(tmp_path, "j.xml", text)]).failures
    assert failure.message == "first"
