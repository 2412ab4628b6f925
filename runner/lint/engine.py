"""Run every check over a set of documents and keep the findings the user asked for."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

from runner.exitcodes import ExitCode
from runner.lint import (
    checks_kargo,
    checks_kustomize,
    checks_kyverno,
    checks_pods,
    checks_rollouts,
    checks_runner,
    checks_schema,
)
from runner.lint.errors import LintInputError
from runner.lint.hits import Hit
from runner.lint.model import Finding, Severity
from runner.lint.rules import BY_ID
from runner.lint.yamldoc import Doc

Check = Callable[[Sequence[Doc]], Iterator[Hit]]

CHECKS: tuple[Check, ...] = (
    *checks_schema.CHECKS,
    *checks_rollouts.CHECKS,
    *checks_kargo.CHECKS,
    *checks_kyverno.CHECKS,
    *checks_pods.CHECKS,
    *checks_kustomize.CHECKS,
    *checks_runner.CHECKS,
)


def validate_rule_ids(ids: Iterable[str], option: str) -> frozenset[str]:
    """The ids as a set; an unknown one is a usage error that lists the real ones."""
    wanted = frozenset(ids)
    unknown = sorted(wanted - set(BY_ID))
    if unknown:
        raise LintInputError(
            f"{option}: unknown rule id {', '.join(unknown)}; the rules are {', '.join(BY_ID)}"
        )
    return wanted


def lint_documents(
    docs: Sequence[Doc],
    *,
    select: Collection[str] = (),
    ignore: Collection[str] = (),
) -> list[Finding]:
    """Every finding, sorted by source and line, without the rules `select`/`ignore` leave out
    and without those an inline `# verification-runner: ignore=RULE` waives on their line."""
    findings: set[Finding] = set()
    for check in CHECKS:
        for hit in check(docs):
            if (select and hit.rule_id not in select) or hit.rule_id in ignore:
                continue
            line = hit.at_line
            waived = hit.doc.ignores.get(line, frozenset()) if not hit.doc.source.rendered else ()
            if hit.rule_id in waived or "all" in waived:
                continue
            findings.add(
                Finding(
                    source=hit.doc.source.label,
                    line=line,
                    rule_id=hit.rule_id,
                    message=hit.message,
                    severity=BY_ID[hit.rule_id].severity,
                    uri=hit.doc.source.uri,
                    rendered=hit.doc.source.rendered,
                )
            )
    return sorted(findings)


def exit_code(findings: Sequence[Finding], *, strict: bool) -> ExitCode:
    """1 when any finding is an error (any finding at all with --strict), else 0."""
    if any(f.severity is Severity.ERROR or strict for f in findings):
        return ExitCode.TESTS_FAILED
    return ExitCode.PASSED
