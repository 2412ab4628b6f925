"""Run every check over a set of documents and keep the findings the user asked for."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from typing import Any

from runner.contract.exitcodes import ExitCode
from runner.lint import (
    checks_controller,
    checks_kargo,
    checks_kustomize,
    checks_kyverno,
    checks_pods,
    checks_prove,
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
    *checks_prove.CHECKS,
    *checks_controller.CHECKS,
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
            doc, line = _locate(hit)
            waived = doc.ignores.get(line, frozenset())
            if hit.rule_id in waived or "all" in waived:
                continue
            findings.add(
                Finding(
                    source=doc.source.label,
                    line=line,
                    rule_id=hit.rule_id,
                    message=hit.message,
                    severity=BY_ID[hit.rule_id].severity,
                    uri=doc.source.uri,
                    rendered=doc.source.rendered,
                )
            )
    return sorted(findings)


_MISSING = object()


def _locate(hit: Hit) -> tuple[Doc, int]:
    """The document and line to report: a rendered document's source file when kustomize named
    it and the field reads the same there (no patch or transformer changed it), else the line
    in the rendered output."""
    origin = hit.doc.origin
    if origin is not None and hit.line is None:
        here, there = _resolve(hit.doc.data, hit.path), _resolve(origin.data, hit.path)
        if here == there:
            return origin, origin.line_at(hit.path)
    return hit.doc, hit.at_line


def _resolve(data: Any, path: Sequence[str | int]) -> tuple[int, Any]:
    """How deep `path` goes in `data`, and what is there: a scalar's value, or only the type of
    a mapping or list (kustomize adds labels to a pod template; the finding is about a field
    that is the same in both)."""
    node = data
    for depth, step in enumerate(path):
        if isinstance(node, dict):
            found = step in node
        else:
            found = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if not found:
            return depth, _MISSING
        node = node[step]
    if isinstance(node, dict | list):
        return len(path), type(node)
    return len(path), node


def exit_code(findings: Sequence[Finding], *, strict: bool) -> ExitCode:
    """1 when any finding is an error (any finding at all with --strict), else 0."""
    if any(f.severity is Severity.ERROR or strict for f in findings):
        return ExitCode.TESTS_FAILED
    return ExitCode.PASSED
