"""Masking values, not markup (runner/log/structured.py, issue 22 item 7): whatever a secret
is, a masked JUnit file stays XML with the run's own verdict, and a masked JSON report stays
JSON with its keys; a short secret is masked as a whole word only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from runner.judging.results import read_junit
from runner.log.masking import Redactor, maskable
from runner.log.scrub import scrub_tree
from runner.log.structured import mask_json, mask_xml
from tests.strategies import junit_layouts, secret_values
from tests.test_results import PLAYWRIGHT_JUNIT

PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RESULTS_JSON = {
    "config": {"metadata": {"actualWorkers": 1}, "projects": [{"name": "central"}]},
    "suites": [
        {
            "title": "home.spec.ts",
            "file": "home.spec.ts",
            "specs": [
                {
                    "title": "logs in",
                    "tests": [{"projectName": "central", "status": "flaky", "results": []}],
                }
            ],
        }
    ],
    "stats": {"expected": 3, "unexpected": 1, "flaky": 1, "skipped": 0},
}


@PROPERTY
@given(secret=secret_values)
def test_a_masked_junit_file_keeps_its_verdict(
    secret: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("x")
    plain, masked = folder / "plain.xml", folder / "masked.xml"
    plain.write_text(PLAYWRIGHT_JUNIT, encoding="utf-8")
    masked.write_bytes(mask_xml(PLAYWRIGHT_JUNIT.encode(), Redactor([secret]).bytes))
    before, after = read_junit([plain]), read_junit([masked])
    assert (after.total, after.passed, after.failed, after.skipped, len(after.flaky)) == (
        before.total,
        before.passed,
        before.failed,
        before.skipped,
        len(before.flaky),
    )


@PROPERTY
@given(layout=junit_layouts, secret=secret_values)
def test_any_junit_layout_stays_xml_with_its_counts(
    layout: tuple[str, int, int], secret: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    text, cases, failures = layout
    path = tmp_path_factory.mktemp("x") / "j.xml"
    path.write_bytes(mask_xml(text.encode(), Redactor([secret]).bytes))
    results = read_junit([path])
    assert (results.total, results.failed) == (cases, failures)


def _keys(value: object) -> list[str]:
    if isinstance(value, dict):
        return [k for k, v in value.items() for k in (k, *_keys(v))]
    if isinstance(value, list):
        return [k for v in value for k in _keys(v)]
    return []


@PROPERTY
@given(secret_values)
def test_a_masked_json_report_keeps_its_keys(secret: str) -> None:
    text = json.dumps(RESULTS_JSON, indent=2).encode()
    masked = json.loads(mask_json(text, Redactor([secret]).bytes))
    assert _keys(masked) == _keys(RESULTS_JSON)
    lines = b"\n".join(json.dumps(RESULTS_JSON).encode() for _ in range(3))
    for line in mask_json(lines, Redactor([secret]).bytes).splitlines():  # JSON Lines (a blob)
        assert _keys(json.loads(line)) == _keys(RESULTS_JSON)


@PROPERTY
@given(secret_values)
def test_a_secret_in_a_value_is_masked_in_every_format(secret: str) -> None:
    if not maskable(secret):
        return
    redactor = Redactor([secret])
    xml_value = secret.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    xml = f'<testsuites><testcase name="x {xml_value} y">{xml_value}</testcase></testsuites>'
    case = ET.fromstring(mask_xml(xml.encode(), redactor.bytes))[0]  # noqa: S314 - our own text
    assert secret not in case.attrib["name"] and secret not in (case.text or "")
    data = json.loads(mask_json(json.dumps({"message": f"x {secret} y"}).encode(), redactor.bytes))
    assert secret not in data["message"]


def test_a_short_secret_is_masked_as_a_whole_word_only() -> None:
    redactor = Redactor(["test"])
    assert redactor.text("1 of 2 tests failed") == "1 of 2 tests failed"
    assert redactor.text('fill("test") then test') == 'fill("****") then ****'
    long = Redactor(["hunter2hunter2"])
    assert long.text("xhunter2hunter2x") == "x****x"  # a long one: wherever it is


def test_e2e_password_test_leaves_the_reports_whole(tmp_path: Path) -> None:
    """The issue's case through the real scrub and the real `report`: the JUnit file of a run
    with E2E_PASSWORD=test is judged as the run was, 1 of 4 failed, exit 1; the test names
    are masked where `test` is a word of its own, and nowhere else."""
    (tmp_path / "junit.xml").write_text(PLAYWRIGHT_JUNIT.replace("home page", "test page"))
    (tmp_path / "results.json").write_text(json.dumps(RESULTS_JSON))
    scrub_tree(tmp_path, Redactor(["test"]))
    masked = (tmp_path / "junit.xml").read_text()
    assert "<testsuites" in masked and "****" in masked  # the name masked, the markup kept
    assert _keys(json.loads((tmp_path / "results.json").read_text())) == _keys(RESULTS_JSON)
    done = subprocess.run(
        [sys.executable, "-m", "runner", "report", str(tmp_path / "junit.xml")],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ["PATH"], "E2E_PASSWORD": "test"},
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 of 4 tests failed" in done.stdout and "****s" not in done.stdout
    assert "home.spec.ts \u203a **** page \u203a fails" in done.stdout
