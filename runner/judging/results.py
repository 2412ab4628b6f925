"""JUnit results (and Playwright's JSON report, for flakiness) -> one immutable `Results`.

JUnit is the verdict's source: any producer's files can be judged (`verification-runner
report`). Playwright's JUnit reporter writes one <testsuite> per spec file whose `hostname` is
the project name; a test that passed on a retry is a plain passing <testcase> unless
`includeRetries` adds <flakyFailure> children (docs/platform-facts.md). The JSON report marks such a
test "flaky" as well; both are read so neither setting can hide a flaky test.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, TestCase, TestSuite

from runner.errors import InfrastructureError

_FLAKY_TAGS = frozenset({"flakyFailure", "flakyError"})
_FAILED_TAGS = frozenset({"failure", "error"})
SEP = " \u203a "  # Playwright's title separator


@dataclass(frozen=True)
class FailedTest:
    name: str
    file: str
    project: str
    message: str  # first line only

    def describe(self) -> str:
        where = f"[{self.project}] " if self.project else ""
        return f"{where}{self.file}{SEP}{self.name}" + (f": {self.message}" if self.message else "")


@dataclass(frozen=True)
class Results:
    total: int
    passed: int
    failed: int  # failures and errors
    skipped: int
    failures: tuple[FailedTest, ...]
    flaky: tuple[str, ...]
    sources: tuple[str, ...]

    @property
    def executed(self) -> int:
        return self.total - self.skipped


class ResultsBroken(InfrastructureError):
    """Result files are missing, empty or not valid JUnit: no verdict can be trusted."""


def read_junit(paths: Sequence[Path]) -> Results:
    """Merge several JUnit files into one `Results`; a broken file raises `ResultsBroken`."""
    if not paths:
        raise ResultsBroken("no JUnit file to read")
    total = passed = failed = skipped = 0
    failures: list[FailedTest] = []
    flaky: list[str] = []
    for path in paths:
        for suite in _suites(path):
            project = suite._elem.get("hostname") or ""  # not a junitparser Attr
            # Classify by the children's tags, wrapping only failed cases in junitparser's
            # TestCase: building a wrapper per passing case doubled the cost of a large file.
            for elem in suite._elem.iterfind("testcase"):
                total += 1
                tags = {child.tag for child in elem}
                if tags & _FAILED_TAGS:
                    failed += 1
                    case = TestCase.fromelem(elem)  # type: ignore[no-untyped-call]
                    failures.append(_failed(case, suite, project))
                elif "skipped" in tags:
                    skipped += 1
                else:
                    passed += 1
                    if tags & _FLAKY_TAGS:
                        name, file = elem.get("name") or "", elem.get("classname") or ""
                        flaky.append(_label(project, file, name))
    return Results(
        total=total,
        passed=passed,
        failed=failed,
        skipped=skipped,
        failures=tuple(failures),
        flaky=tuple(flaky),
        sources=tuple(str(p) for p in paths),
    )


def _failed(case: TestCase, suite: TestSuite, project: str) -> FailedTest:
    first = next((r for r in case.result if isinstance(r, Failure | Error)), None)
    message = (first.message or first.text or "") if first is not None else ""
    return FailedTest(
        name=case.name or "(unnamed)",
        file=case.classname or suite.name or "",
        project=project,
        message=_first_line(message),
    )


def _suites(path: Path) -> Iterable[TestSuite]:
    try:
        if path.stat().st_size == 0:
            raise ResultsBroken(f"{path} is empty: the test run wrote no results")
        xml = JUnitXml.fromfile(str(path))
    except FileNotFoundError as exc:
        raise ResultsBroken(f"{path} does not exist: the test run wrote no JUnit results") from exc
    except ET.ParseError as exc:
        line, column = exc.position
        raise ResultsBroken(f"{path}:{line}:{column}: not valid XML ({exc})") from exc
    except JUnitXmlError as exc:
        raise ResultsBroken(f"{path}: root element is not JUnit (<testsuites>): {exc}") from exc
    except OSError as exc:
        raise ResultsBroken(f"cannot read {path}: {exc.strerror or exc}") from exc
    root = xml._elem.tag
    if root == "testsuite":
        return [TestSuite.fromelem(xml._elem)]  # type: ignore[no-untyped-call]  # one suite
    if root != "testsuites":
        raise ResultsBroken(f"{path}: root element <{root}> is not JUnit (<testsuites>)")
    return list(xml)


def read_flaky_from_json(path: Path) -> tuple[str, ...]:
    """Tests Playwright's JSON report marks "flaky"; empty when the report is absent or bad."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    found: list[str] = []

    def walk(suite: dict[str, object], file: str) -> None:
        file = str(suite.get("file") or file)
        for spec in _dicts(suite.get("specs")):
            for test in _dicts(spec.get("tests")):
                if test.get("status") == "flaky":
                    found.append(
                        _label(
                            str(test.get("projectName") or ""), file, str(spec.get("title") or "")
                        )
                    )
        for child in _dicts(suite.get("suites")):
            walk(child, file)

    for suite in _dicts(report.get("suites") if isinstance(report, dict) else None):
        walk(suite, "")
    return tuple(found)


def with_flaky(results: Results, from_json: tuple[str, ...]) -> Results:
    """Use the JSON report's flaky list when the JUnit file could not show any.

    Without `includeRetries` a flaky test is a plain pass in JUnit; the JSON report still knows.
    """
    if results.flaky or not from_json:
        return results
    return Results(**{**results.__dict__, "flaky": from_json})


def _dicts(value: object) -> list[dict[str, object]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _label(project: str, file: str, name: str) -> str:
    return (f"[{project}] " if project else "") + f"{file}{SEP}{name}"


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""
