"""`verification-runner lint`: find the configurations that make a Kargo verification lie or
never run, in anyone's manifests.

Loading (`loading`, `yamldoc`) turns files, directories, rendered kustomizations and stdin into
documents that remember the line of every field; the rules (`rules`: the catalogue; `checks_*`:
the checks) turn them into findings; `output` prints them as text, JSON or SARIF.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

from runner.contract.exitcodes import ExitCode
from runner.lint.engine import exit_code, lint_documents, validate_rule_ids
from runner.lint.loading import load_paths
from runner.lint.model import Finding, Rule, Severity
from runner.lint.output import FORMATS, render, rules_catalogue
from runner.lint.rendering import render_kustomization
from runner.lint.rules import RULES


def lint_command(
    *,
    paths: Sequence[str],
    kustomizations: Sequence[str],
    read_stdin: Callable[[int], str],
    fmt: str,
    select: Collection[str],
    ignore: Collection[str],
    strict: bool,
    echo: Callable[[str], None],
    notice: Callable[[str], None] = lambda _: None,
) -> ExitCode:
    """Lint everything given as one set (a Stage and its template may sit in different files),
    print the findings and return 0 clean, 1 on an error (any finding with `strict`).
    Unreadable input raises LintInputError (exit 2) before anything is printed; `notice` gets a
    sentence for each kustomization in a directory that could not be rendered."""
    selected = validate_rule_ids(select, "--select")
    ignored = validate_rule_ids(ignore, "--ignore")
    docs = load_paths(paths, read_stdin=read_stdin, render=render_kustomization, notice=notice)
    for directory in kustomizations:
        docs += render_kustomization(directory)
    findings = lint_documents(docs, select=selected, ignore=ignored)
    echo(render(findings, fmt=fmt, documents=len(docs)))
    return exit_code(findings, strict=strict)


def list_rules(*, fmt: str, echo: Callable[[str], None]) -> ExitCode:
    echo(rules_catalogue(fmt=fmt))
    return ExitCode.PASSED


__all__ = [
    "FORMATS",
    "RULES",
    "Finding",
    "Rule",
    "Severity",
    "lint_command",
    "lint_documents",
    "list_rules",
]
