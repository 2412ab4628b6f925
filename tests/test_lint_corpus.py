"""Precision of `lint` on real public manifests nobody here wrote (tests/fixtures/lint/corpus,
sources and licences in SOURCES.md there): every file reads, and every *error* finding is either
a rule that is a declared policy choice (`--list-rules` says so; Kargo's own docs use
backoffLimit: 1) or one of the findings below, each a configuration that really passes when it
should fail or is really refused, with the reason. Anything else is a false error: fix the rule
that raised it, never the list."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from runner.cli import main
from runner.lint import RULES

CORPUS = Path(__file__).parent / "fixtures" / "lint" / "corpus"
POLICY_RULES = frozenset(rule.id for rule in RULES if rule.policy)

# (file under the corpus, rule, line): why the finding is right.
JUSTIFIED = {
    ("argoproj/argo-rollouts/examples/analysis-templates.yaml", "failure-limit", 15): (
        "metric 'pass': count 1 with failureLimit 1 (Rollouts' own example of a Job that"
        " succeeds): failed 1 is not > 1, so a failed Job would end it Successful too"
    ),
    ("argoproj/argo-rollouts/examples/cluster-analysis-templates.yaml", "failure-limit", 10): (
        "the same 'pass' metric as a ClusterAnalysisTemplate"
    ),
    ("akuity/kargo/pkg/server/testdata/stage.yaml", "unknown-field", 7): (
        "a Stage of Kargo's pre-1.0 API (spec.subscriptions), kept as server test data: the v1.11"
        " CRD has no such field and the API server drops it"
    ),
    ("akuity/kargo/pkg/server/testdata/stage.yaml", "unknown-field", 15): (
        "the same pre-1.0 Stage's spec.promotionMechanisms"
    ),
    ("akuity/kargo/pkg/server/testdata/stage.yaml", "schema", 6): (
        "the same pre-1.0 Stage has no spec.requestedFreight, which the v1.11 CRD requires"
    ),
    (
        "kyverno/kyverno/test/conformance/chainsaw/generate/clusterpolicy/standard/data/sync/"
        "cpol-data-sync-mutate-and-generate/policies.yaml",
        "kyverno-generate-operations",
        47,
    ): (
        "synchronize: true with operations [CREATE]: the conformance test checks the first"
        " generation only; a deleted downstream is never recreated, because the background"
        " request carries no operation (maintainer, kyverno/kyverno#10574)"
    ),
}


def _lint(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(main, ["lint", "--format", "json", *args, str(CORPUS)])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def _relative(source: str) -> str:
    return Path(source).relative_to(CORPUS).as_posix()


def test_the_corpus_is_real_and_sourced() -> None:
    files = sorted(p.relative_to(CORPUS).as_posix() for p in CORPUS.rglob("*.yaml"))
    sources = (CORPUS / "SOURCES.md").read_text(encoding="utf-8")
    assert len(files) >= 120
    for file in files:
        assert f"- `{file}`: " in sources, file
    assert (
        (CORPUS / "LICENSE-Apache-2.0.txt")
        .read_text()
        .startswith("\n                                 Apache License")
    )


def test_no_false_error_on_the_corpus() -> None:
    _, report = _lint()
    findings = report["findings"]
    assert isinstance(findings, list)
    errors = {
        (_relative(f["source"]), f["rule"], f["line"])
        for f in findings
        if f["severity"] == "error" and f["rule"] not in POLICY_RULES
    }
    assert errors == set(JUSTIFIED)


def test_policy_choices_are_all_that_is_left_when_ignored() -> None:
    """What a team that chose Kargo's docs' backoffLimit: 1 (and metric retries) sees once it
    waives those rules: only the justified findings, exit 1 because they are real."""
    code, report = _lint("--ignore", ",".join(sorted(POLICY_RULES)))
    findings = report["findings"]
    assert isinstance(findings, list)
    rules = {f["rule"] for f in findings if f["severity"] == "error"}
    assert rules == {rule for _, rule, _ in JUSTIFIED}
    assert code == 1
    _, everything = _lint()
    raw = everything["findings"]
    assert isinstance(raw, list)
    policy_hits = {f["rule"] for f in raw if f["rule"] in POLICY_RULES}
    assert {"job-backoff-limit", "failure-limit-retry"} <= policy_hits
