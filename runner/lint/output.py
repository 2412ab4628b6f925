"""Findings as text for people, JSON for scripts, SARIF 2.1.0 for code-scanning UIs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from typing import Any

import click

from runner import __version__
from runner.lint.model import Finding, Severity
from runner.lint.rules import BY_ID, RULES

FORMATS = ("text", "json", "sarif")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/example/verification-runner#lint"
_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow"}


def render(findings: Sequence[Finding], *, fmt: str, documents: int) -> str:
    if fmt == "json":
        return as_json(findings)
    if fmt == "sarif":
        return as_sarif(findings)
    return as_text(findings, documents=documents)


def _where(finding: Finding) -> str:
    return f"line {finding.line} of the rendered output" if finding.rendered else ""


def as_text(findings: Sequence[Finding], *, documents: int) -> str:
    """Grouped by source; styled with ANSI colours that click.echo strips when not on a TTY."""
    lines: list[str] = []
    for source, group in itertools.groupby(findings, key=lambda f: f.source):
        lines.append(click.style(source, bold=True))
        for finding in group:
            rule = BY_ID[finding.rule_id]
            severity = click.style(f"{finding.severity.value:<7}", fg=_COLOURS[finding.severity])
            lines.append(f"  {finding.line:>4}  {severity} {finding.rule_id}: {finding.message}")
            lines.append(f"        fix: {rule.fix} (why: {rule.facts_ref})")
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    files = len({f.source for f in findings})
    if findings:
        lines.append(f"{errors} error(s), {warnings} warning(s) in {files} source(s)")
    else:
        lines.append(f"no findings in {documents} document(s)")
    return "\n".join(lines)


def as_json(findings: Sequence[Finding]) -> str:
    rows = [
        {
            "rule": f.rule_id,
            "severity": f.severity.value,
            "source": f.source,
            "uri": f.uri,
            "line": f.line,
            "rendered": f.rendered,
            "message": f.message,
            "why": BY_ID[f.rule_id].why,
            "fact": BY_ID[f.rule_id].fact,
            "facts": BY_ID[f.rule_id].facts_ref,
            "fix": BY_ID[f.rule_id].fix,
        }
        for f in findings
    ]
    errors = sum(f.severity is Severity.ERROR for f in findings)
    summary = {"errors": errors, "warnings": len(findings) - errors}
    return json.dumps({"findings": rows, "summary": summary}, indent=2)


def rules_catalogue(*, fmt: str) -> str:
    """Every rule: its id, severity, why, the upstream fact, the fix and, for a rule that is a
    policy choice, what that choice is and how to waive it (text); all its fields (json)."""
    if fmt != "text":
        rows = [
            {
                "id": rule.id,
                "severity": rule.severity.value,
                "why": rule.why,
                "fact": rule.fact,
                "facts": rule.facts_ref,
                "fix": rule.fix,
                "policy": rule.policy or None,
            }
            for rule in RULES
        ]
        return json.dumps({"rules": rows}, indent=2)
    lines = []
    for rule in RULES:
        severity = click.style(rule.severity.value, fg=_COLOURS[rule.severity])
        choice = ", policy choice" if rule.policy else ""
        lines += [
            f"{rule.id} ({severity}{choice})",
            f"  why: {rule.why}",
            f"  fact: {rule.fact} ({rule.facts_ref})",
            f"  fix: {rule.fix}",
        ]
        if rule.policy:
            lines.append(
                f"  policy: {rule.policy}; a team that chooses otherwise waives it knowingly"
                f" with --ignore {rule.id} (or an inline ignore comment)"
            )
    return "\n".join(lines)


def _sarif_rule(index: int) -> dict[str, Any]:
    rule = RULES[index]
    return {
        "id": rule.id,
        "shortDescription": {"text": rule.why.split(":")[0]},
        "fullDescription": {"text": f"{rule.why} {rule.fact}"},
        "help": {"text": f"{rule.fix} See {rule.facts_ref}."},
        "defaultConfiguration": {"level": rule.severity.value},
        "properties": {"facts": rule.facts_ref},
    }


def _sarif_result(finding: Finding) -> dict[str, Any]:
    location: dict[str, Any] = {"artifactLocation": {"uri": finding.uri}}
    message = finding.message
    if finding.rendered:
        # The line counts in kustomize's output, not in the kustomization file: say so instead
        # of pointing a reviewer at the wrong line.
        message = f"{message} ({_where(finding)})"
    else:
        location["region"] = {"startLine": finding.line}
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": [r.id for r in RULES].index(finding.rule_id),
        "level": finding.severity.value,
        "message": {"text": message},
        "locations": [{"physicalLocation": location}],
    }


def as_sarif(findings: Sequence[Finding]) -> str:
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "verification-runner lint",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_sarif_rule(i) for i in range(len(RULES))],
                    }
                },
                "results": [_sarif_result(f) for f in findings],
            }
        ],
    }
    return json.dumps(log, indent=2)
