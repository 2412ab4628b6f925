"""JUnit results (and Playwright's JSON report, for flakiness) -> one immutable `Results`.

JUnit is the verdict's source: any producer's files can be judged (`verification-runner
report`). Playwright's JUnit reporter writes one <testsuite> per spec file whose `hostname` is
the project name; a test that passed on a retry is a plain passing <testcase> unless
`includeRetries` adds <flakyFailure> children (docs/platform-facts.md). The JSON report marks such a
test "flaky" as well; both are read so neither setting can hide a flaky test.
"""

from __future__ import annotations

import gc
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import junitparser
from junitparser import Error, Failure, JUnitXmlError, Skipped, TestCase
from junitparser.xunit2 import FlakyError, FlakyFailure, JUnitXml

from runner.contract import jsontext
from runner.contract.errors import InfrastructureError
from runner.volume.regular import read_regular

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
    # (project, passed, failed, skipped) per project, from each suite's `hostname`: what each
    # test tree (and setup project) really executed.
    projects: tuple[tuple[str, int, int, int], ...] = ()

    @property
    def executed(self) -> int:
        return self.total - self.skipped

    def of_project(self, project: str) -> tuple[int, int, int]:
        """passed, failed, skipped of one project (zeros when it ran nothing)."""
        for name, passed, failed, skipped in self.projects:
            if name == project:
                return passed, failed, skipped
        return 0, 0, 0

    def flaky_of(self, project: str) -> int:
        return sum(label.startswith(f"[{project}] ") for label in self.flaky)


class ResultsBroken(InfrastructureError):
    """Result files are missing, empty or not valid JUnit: no verdict can be trusted."""


def read_junit(paths: Sequence[Path]) -> Results:
    """Merge several JUnit files into one `Results`; a broken file raises `ResultsBroken`.

    Every <testcase> counts, at any depth: in nested suites (PHPUnit's data providers), directly
    under <testsuites>, or inside another element. A producer's layout must never hide a failure.
    """
    if not paths:
        raise ResultsBroken("no JUnit file to read")
    tally = _Tally()
    # The tree and junitparser's wrappers hold no reference cycles, yet every 700 allocations
    # make Python's collector walk them all again: pausing it saves a sixth of a large read.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for path in paths:
            for suite in _parse(path):
                project = str(suite.hostname or "")
                for case in suite:  # junitparser walks nested suites too
                    tally.add(case, project, str(suite.name or ""))
    finally:
        if collecting:
            gc.enable()
    return Results(
        total=tally.total,
        passed=tally.count(PASSED),
        failed=tally.count(FAILED),
        skipped=tally.count(SKIPPED),
        failures=tuple(tally.failures),
        flaky=tuple(tally.flaky),
        sources=tuple(str(p) for p in paths),
        projects=tuple((name, p, f, s) for name, (p, f, s) in tally.projects.items()),
    )


PASSED, FAILED, SKIPPED = range(3)


class _Tally:
    def __init__(self) -> None:
        self.total = 0
        self.failures: list[FailedTest] = []
        self.flaky: list[str] = []
        self.projects: dict[str, list[int]] = {}  # passed, failed, skipped

    def count(self, kind: int) -> int:
        return sum(counts[kind] for counts in self.projects.values())

    def add(self, case: TestCase, project: str, suite_name: str) -> None:
        self.total += 1
        counts = self.projects.get(project)
        if counts is None:
            counts = self.projects[project] = [0, 0, 0]
        counts[self._kind(case, project, suite_name)] += 1

    def _kind(self, case: TestCase, project: str, suite_name: str) -> int:
        # One pass over the case's result elements (junitparser wraps each one); a passing
        # Playwright testcase has none, so it costs one wrapper: the case itself.
        entries = list(case)
        if not entries:
            return PASSED
        failed = [e for e in entries if isinstance(e, Failure | Error)]
        if failed:
            message = failed[0].message or failed[0].text or ""
            self.failures.append(
                FailedTest(
                    name=str(case.name or "(unnamed)"),
                    file=str(case.classname or suite_name),
                    project=project,
                    message=_first_line(str(message)),
                )
            )
            return FAILED
        if any(isinstance(e, Skipped) for e in entries):
            return SKIPPED
        if any(isinstance(e, FlakyFailure | FlakyError) for e in entries):
            self.flaky.append(_label(project, str(case.classname or suite_name), case.name))
        return PASSED


def _parse(path: Path) -> junitparser.JUnitXml:
    try:
        if path.stat().st_size == 0:
            raise ResultsBroken(f"{path} is empty: the test run wrote no results")
        return JUnitXml.fromfile(str(path), parse_func=_reachable_tree)
    except FileNotFoundError as exc:
        raise ResultsBroken(f"{path} does not exist: the test run wrote no JUnit results") from exc
    except ET.ParseError as exc:
        line, column = exc.position
        raise ResultsBroken(f"{path}:{line}:{column}: not valid XML ({exc})") from exc
    except JUnitXmlError as exc:
        raise ResultsBroken(f"{path}: root element is not JUnit (<testsuites>): {exc}") from exc
    except (LookupError, ValueError) as exc:  # an unknown or unsupported declared encoding
        raise ResultsBroken(f"{path}: not readable XML: {exc}") from exc
    except OSError as exc:
        raise ResultsBroken(f"cannot read {path}: {exc.strerror or exc}") from exc


def _reachable_tree(source: str) -> ET.ElementTree[ET.Element]:
    """Parse, then move every <testcase> that junitparser would not reach (it walks
    <testsuites> -> <testsuite> -> nested <testsuite> -> <testcase>) into a suite of its own
    under the root, named after its nearest enclosing suite. Iterative: a hostile file nested
    a million levels deep must not exhaust Python's stack."""
    tree = ET.parse(source)  # noqa: S314 - expat refuses external entities and entity bombs
    root = tree.getroot()
    if root.tag not in ("testsuites", "testsuite"):
        return tree  # junitparser refuses it: not JUnit
    # A count off by one (these mutants) only sends the file down the slow path below, which
    # finds no stray and leaves the tree as it is.
    if _reachable_count(root) == sum(1 for _ in root.iter("testcase")):  # pragma: no mutate
        return tree  # every testcase sits in a suite junitparser walks: the usual case
    strays: list[tuple[ET.Element | None, ET.Element, ET.Element]] = []
    stack: list[tuple[ET.Element, bool, ET.Element | None]] = [(root, True, None)]
    while stack:
        elem, reachable, suite = stack.pop()
        suite = elem if elem.tag == "testsuite" else suite
        for child in elem:
            if child.tag == "testcase":
                if not (reachable and elem.tag == "testsuite"):
                    strays.append((suite, elem, child))
                if len(child):  # results, output, or a testcase nested in a testcase
                    stack.append((child, False, suite))
            elif len(child):
                stack.append((child, reachable and child.tag == "testsuite", suite))
    homes: dict[int, ET.Element] = {}
    for suite, parent, case in strays:
        parent.remove(case)
        home = homes.get(id(suite))
        if home is None:
            attrs = {
                k: v
                for k, v in (suite.attrib if suite is not None else {}).items()
                if k in ("name", "hostname")
            }
            home = homes[id(suite)] = ET.SubElement(root, "testsuite", attrs)
        home.append(case)
    return tree


def read_flaky_from_json(path: Path) -> tuple[str, ...]:
    """Tests Playwright's JSON report marks "flaky"; empty when the report is absent or bad."""
    try:
        report = jsontext.loads(read_regular(path))
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


def _reachable_count(root: ET.Element) -> int:
    """Testcases that are children of the suites junitparser walks (findall by a plain tag
    runs in C: this costs a few milliseconds for 100,000 testcases)."""
    # A count off by one only sends the file down the slow path, which finds no stray to move
    # and returns the same tree: that mutant cannot be told apart by what is read.
    count = 0  # pragma: no mutate
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    while suites:
        suite = suites.pop()
        count += len(suite.findall("testcase"))
        suites.extend(suite.findall("testsuite"))
    return count
