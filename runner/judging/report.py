"""What people read: the summary line, `summary.json` and the Kubernetes termination message.

Every failed test is named in all three. Names are made single-line and printable; the
termination message is cut to fit Kubernetes' 4 KiB limit, saying how many names it left out.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from runner.contract.exitcodes import ExitCode
from runner.judging.pertree import TreeCount
from runner.judging.results import Results, read_junit
from runner.judging.verdict import FlakyPolicy, RunFacts, Verdict, decide
from runner.log.masking import Redactor
from runner.volume.artifacts import atomic_write_text

TERMINATION_LIMIT = 4096  # bytes; Kubernetes truncates a longer message
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str, limit: int = 300) -> str:
    """Printable, single-line, at most `limit` characters."""
    flat = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class FailedTestModel(BaseModel):
    name: str
    file: str
    project: str
    message: str


class TreeCountModel(BaseModel):
    """What one configured test tree executed (runner/judging/pertree.py)."""

    project: str
    tree: str
    discovered: int | None = None
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    flaky: int = 0

    @classmethod
    def of(cls, count: TreeCount) -> TreeCountModel:
        return cls(
            project=count.project,
            tree=count.tree,
            discovered=count.discovered,
            passed=count.passed,
            failed=count.failed,
            skipped=count.skipped,
            flaky=count.flaky,
        )

    def describe(self) -> str:
        text = f"{self.project} {self.passed} passed, {self.failed} failed, {self.skipped} skipped"
        return text + (f", {self.flaky} flaky" if self.flaky else "")


class Summary(BaseModel):
    schema_version: int = 1
    verdict: str  # "passed" or the outcome word of the exit code
    exit_code: int
    reason: str
    warnings: list[str] = []
    run_name: str
    attempt: int
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    flaky: list[str] = []
    failures: list[FailedTestModel] = []
    html_report: str | None = None
    log: str
    finished_at: datetime
    # Where the tests came from, when fetched from Git (TESTS_REPO): no userinfo, the revision
    # asked for, the full commit that ran.
    tests_repo: str | None = None
    tests_revision: str | None = None
    tests_commit: str | None = None
    # What each configured test tree executed (setup projects are not trees), and what was
    # tested: BASE_URL without credentials, or "local site" (runner/target.py).
    trees: list[TreeCountModel] = []
    target: str | None = None
    # Whether the target was proven to serve the Freight before the tests (README "Prove the
    # deployment"): "proven: <what was seen>", or "not proven..." saying why.
    deployment: str | None = None


def build_summary(
    *,
    verdict: Verdict,
    results: Results | None,
    run_name: str,
    attempt: int,
    html_report: Path | None,
    log: Path,
    finished_at: datetime,
    tests: Mapping[str, str] | None = None,
    trees: Sequence[TreeCount] = (),
    target: str | None = None,
    deployment: str | None = None,
) -> Summary:
    """`tests`: tests_repo, tests_revision and tests_commit of fetched tests."""
    counts: dict[str, object] = dict(tests or {})
    counts |= {
        "trees": [TreeCountModel.of(t) for t in trees],
        "target": target,
        "deployment": deployment,
    }
    if results is not None:
        counts |= {
            "total": results.total,
            "passed": results.passed,
            "failed": results.failed,
            "skipped": results.skipped,
            "flaky": list(results.flaky),
            "failures": [
                FailedTestModel(name=f.name, file=f.file, project=f.project, message=f.message)
                for f in results.failures
            ],
        }
    return Summary(
        verdict=verdict.code.outcome,
        exit_code=int(verdict.code),
        reason=verdict.reason,
        warnings=list(verdict.warnings),
        run_name=run_name,
        attempt=attempt,
        # The folder: `npx playwright show-report` wants it, not its index.html.
        html_report=str(html_report) if html_report else None,
        log=str(log),
        finished_at=finished_at,
        **counts,
    )


NAME_LIMIT = 200


def _failure_names(summary: Summary) -> list[str]:
    """`[project] file > name` with Playwright's separator; one line; name cut at NAME_LIMIT."""
    return [
        one_line(f"[{f.project}] " if f.project else "", 100)
        + one_line(f.file, 200)
        + " \u203a "
        + one_line(f.name, NAME_LIMIT)
        for f in summary.failures
    ]


def summary_line(summary: Summary) -> str:
    """The last line of the pod log: verdict, counts, every failed test, where the report is."""
    head = (
        f"VERIFICATION {summary.verdict.upper()} (exit {summary.exit_code}) "
        f"run={summary.run_name} attempt={summary.attempt}: {one_line(summary.reason)}"
    )
    counts = (
        f"{summary.passed} passed, {summary.failed} failed, {summary.skipped} skipped, "
        f"{len(summary.flaky)} flaky of {summary.total}"
    )
    parts = [head, counts]
    if summary.trees:
        parts.append("trees: " + "; ".join(one_line(t.describe(), 200) for t in summary.trees))
    if summary.target:
        parts.append(f"target: {one_line(summary.target, 200)}")
    if summary.deployment:
        parts.append(f"deployment {one_line(summary.deployment, 300)}")
    if summary.failures:
        parts.append("failed: " + "; ".join(_failure_names(summary)))
    if summary.tests_commit:
        parts.append(
            f"tests: {summary.tests_repo} at {summary.tests_commit[:12]} "
            f"({one_line(summary.tests_revision or '', 100)})"
        )
    if summary.html_report:
        folder = shlex.quote(summary.html_report)
        parts.append(f"report: {folder} (open it: npx playwright show-report {folder})")
    else:
        parts.append("report: none")
    return " | ".join(parts)


def termination_message(summary: Summary) -> str:
    """The summary, cut at a name boundary to fit in TERMINATION_LIMIT bytes of UTF-8."""
    head = (
        f"{summary.verdict}: {one_line(summary.reason, 400)} "
        f"(run {summary.run_name}, attempt {summary.attempt})"
    )
    if summary.target:
        head += f"\ntarget: {one_line(summary.target, 200)}"
    if summary.trees:
        head += "\ntrees: " + one_line("; ".join(t.describe() for t in summary.trees), 1500)
    if summary.deployment:
        head += f"\ndeployment {one_line(summary.deployment, 300)}"
    names = _failure_names(summary)
    text = head
    for shown, name in enumerate(names):
        rest = len(names) - shown - 1
        tail = f"\n... and {rest} more failed test(s), see summary.json" if rest else ""
        candidate = f"{text}\n- {name}"
        if len((candidate + tail).encode()) > TERMINATION_LIMIT:
            more = len(names) - shown
            text += f"\n... and {more} more failed test(s), see summary.json"
            break
        text = candidate
    encoded = text.encode()
    if len(encoded) > TERMINATION_LIMIT:  # only a huge head can get here
        text = encoded[: TERMINATION_LIMIT - 3].decode("utf-8", "ignore") + "..."
    return text


def write_summary(path: Path, summary: Summary, redactor: Redactor) -> None:
    """Test names and failure messages come from the tests: known secrets are masked in them."""
    atomic_write_text(path, redactor.json(summary))


def write_termination_message(path: Path, summary: Summary, redactor: Redactor) -> bool:
    """Write where Kubernetes reads it; False when the path is not writable (not in a pod)."""
    try:
        path.write_text(termination_message(redactor.model(summary)), encoding="utf-8")
    except OSError:
        return False
    return True


def report_junit(
    paths: Sequence[Path],
    *,
    flaky_policy: FlakyPolicy,
    allow_no_tests: bool,
    summary_json: Path | None,
    echo: Callable[[str], None],
    redactor: Redactor,
) -> ExitCode:
    """`verification-runner report`: judge existing JUnit files (any producer) exactly as
    `run` would, running nothing. Broken XML raises ResultsBroken: exit 3 with file:line:col."""
    results = read_junit(paths)
    verdict = decide(
        RunFacts(results=results), flaky_policy=flaky_policy, allow_no_tests=allow_no_tests
    )
    summary = build_summary(
        verdict=verdict,
        results=results,
        run_name="report",
        attempt=0,
        html_report=None,
        log=Path("-"),
        finished_at=datetime.now(UTC),
    )
    if summary_json is not None:
        write_summary(summary_json, summary, redactor)
    for warning in verdict.warnings:
        echo(redactor.text(warning))
    echo(redactor.text(summary_line(summary)))
    return verdict.code
