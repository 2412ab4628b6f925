"""`verification-runner lint` through the real CLI: one fixture pair per rule (a minimal bad
manifest whose offending lines carry `# expect: RULE`, and its corrected twin), the output
formats, the ways in (files, directories, `-k`, stdin) and the ways it refuses input (exit 2)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.cli import main
from runner.lint import RULES, Severity, lint_documents
from runner.lint.loading import load_paths
from tests.strategies import yaml_values

FIXTURES = Path(__file__).parent / "fixtures" / "lint"
RULE_FIXTURES = FIXTURES / "rules"
REPO = Path(__file__).resolve().parents[1]
_EXPECT = re.compile(r"#\s*expect:\s*([-\w, ]+)")

# The exact message of each rule's bad fixture (several lines: all carry the same message
# unless listed more than once).
MESSAGES = {
    "failure-limit": "metric 'acceptance': failureLimit 1 with count 1: 1 failed Job(s) still end"
    " the metric Successful",
    "failure-limit-retry": "metric 'acceptance': failureLimit 2 with count 3: a failed Job"
    " followed by a passing Job ends the metric Successful",
    "inconclusive-limit": "metric 'acceptance': inconclusiveLimit 1: an Inconclusive Job (image"
    " never pulled, run terminated) ends the metric Successful without a test run",
    "dry-run": "dryRun '.*' covers job metric 'acceptance': its failure never fails the"
    " verification",
    "unquoted-expression-arg": "Stage 'test' arg 'commit': '${{ commitFrom(vars.repo).ID }}' is a"
    " number (or bool) whenever its result parses as one, and the verification errors; wrap it"
    " in quote()",
    "unquoted-step-expression": "PromotionTask/update: tag \"${{ imageFrom('ghcr.io/example/app').Tag }}\""
    " is a number whenever its result parses as one, and the step's config fails its schema;"
    " wrap it in quote()",
    "job-metric-condition": "metric 'acceptance': failureCondition is ignored for a job metric;"
    " the Job's own Complete/Failed condition decides",
    "job-backoff-limit": "metric 'acceptance': backoffLimit 2 reruns a failed suite under the same"
    " Job|metric 'acceptance': backoffLimit is not set, so Kubernetes retries a failed run up to"
    " 6 times",
    "job-restart-policy": "metric 'acceptance': restartPolicy OnFailure; the API server refuses a"
    " podFailurePolicy with it",
    "job-disruption": "metric 'acceptance': an evicted pod fails the verification (no"
    " podFailurePolicy rule ignores DisruptionTarget)",
    "job-ttl": "metric 'acceptance': ttlSecondsAfterFinished 600 deletes the Job and its logs"
    " within the hour",
    "job-no-deadline": "metric 'acceptance': no activeDeadlineSeconds; nothing stops a hung run",
    "indexed-job": "metric 'acceptance': an Indexed Job under a job metric is never created",
    "job-name-too-long": "metric name 'acceptance-against-staging' has 26 characters: the Job name"
    " <uid>.acceptance-against-staging.1 passes 63 (keep it to 24)",
    "job-name-collision": "metrics 'acceptance-against-staging-shard-0' and"
    " 'acceptance-against-staging-shard-1' get the same Job name once Rollouts cuts them to 63"
    " characters: 'acceptance-against-staging-shard-1' reuses the Job of"
    " 'acceptance-against-staging-shard-0' and never runs",
    "undeclared-arg": "{{args.base-url}} is used but AnalysisTemplate/verify does not declare it",
    "template-placeholder": "{{ctx.stage}} in AnalysisTemplate/verify is not an arg: Argo"
    " Rollouts fails the AnalysisRun on it (a Kargo ${{ }} expression belongs in the Stage's"
    " verification args)",
    "unused-stage-arg": "Stage 'test' passes arg 'base-url', which AnalysisTemplate/verify does"
    " not declare: Kargo drops it without a word",
    "missing-arg": "Stage 'test' does not pass arg 'base-url', which AnalysisTemplate/verify"
    " declares without a default",
    "template-namespace": "Stage 'test' in namespace 'demo' uses AnalysisTemplate 'verify',"
    " which is only in tools",
    "run-deadline": "metric 'acceptance': RUN_DEADLINE_SECONDS 1800 leaves 0 s before"
    " activeDeadlineSeconds 1800 (needs 60 s to stop and flush)",
    "uid-label-env": "env ANALYSIS_RUN_UID: the pod label analysisrun.argoproj.io/uid is empty on"
    " Argo Rollouts 1.9 and no env carries the Job name to fall back on",
    "unknown-runner-setting": "env FLAKY_POLCY: the runner reads no such setting (did you mean"
    " FLAKY_POLICY?); its default applies",
    "shard-gap": "SHARD_COUNT 3, but no metric runs shard 2: the verification passes without"
    " those tests",
    "rollouts-version": "Deployment/argo-rollouts runs Argo Rollouts v1.9.1: before v1.10 a"
    " terminated job measurement ends Successful, so an aborted verification that Kargo reuses"
    " turns the Freight green",
    "deployment-not-proven": "metric 'acceptance': the verification-runner container sets"
    " neither PROVE_WORKLOAD nor PROVE_VERSION_URL: the runner tests whatever BASE_URL answers,"
    " so a verification of the previous release can turn the new Freight green"
    "|Stage 'test' passes \"\" for prove-workload, which AnalysisTemplate/verify maps into"
    " PROVE_WORKLOAD/PROVE_VERSION_URL: the runner tests whatever BASE_URL answers, so a"
    " verification of the previous release can turn the new Freight green",
    "unknown-field": "Stage/test: spec.verification.reuse: unknown field (not in the Stage CRD"
    " schema; dropped on apply)",
    "schema": "Stage/test: spec.requestedFreight[0].origin.kind: 'Shed' not one of ['Warehouse']",
    "promotion-in-verification": "Stage 'test': ctx.promotion does not exist in verification",
    "commit-output-revision": "Stage/test: desiredRevision from git-commit step 'commit'; use the"
    " git-push step's output (what reached the remote)",
    "unknown-step-output": "Stage/test: outputs of step 'push', but no step has `as: push`",
    "kyverno-generate-operations": "ClusterPolicy/sync-secrets rule 'clone-secret': a generate"
    " rule matching on operations never runs in the background (no generateExisting, no sync)",
    "kyverno-generate-fixed-namespace": "ClusterPolicy/sync-secrets rule 'clone-secret':"
    " triggered by every Namespace but writes only to 'backstage'",
    "pss-not-enforced": "namespace 'demo' runs a verification Job that claims Pod Security"
    " 'restricted' but enforces baseline",
    "pss-violation": "AnalysisTemplate/verify: container 'runner': allowPrivilegeEscalation is not"
    " false; namespace 'demo' enforces 'restricted', so the pod is refused",
    "kustomize-common-labels": "commonLabels also rewrites selectors; use labels: with"
    " includeSelectors: false|labels with includeSelectors: true rewrite selectors",
    "duplicate-key": "key 'backoffLimit' appears twice in one mapping; the earlier value is lost",
}
RULE_IDS = [rule.id for rule in RULES]


def lint(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["lint", *args], input=stdin)


def findings(*args: str, stdin: str | None = None) -> tuple[int, list[dict[str, Any]]]:
    result = lint("--format", "json", *args, stdin=stdin)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)["findings"]


def expected_marks(path: Path) -> set[tuple[str, int]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {
        (rule.strip(), n)
        for n, line in enumerate(lines, 1)
        if (m := _EXPECT.search(line))
        for rule in m.group(1).split(",")
    }


# -- one fixture pair per rule ---------------------------------------------------------------


def test_every_rule_has_a_fixture_pair_and_a_message() -> None:
    assert sorted(p.name for p in RULE_FIXTURES.iterdir()) == sorted(RULE_IDS)
    assert set(MESSAGES) == set(RULE_IDS)
    for rule in RULE_IDS:
        assert (RULE_FIXTURES / rule / "good.yaml").is_file()
        assert rule in {r for r, _ in expected_marks(RULE_FIXTURES / rule / "bad.yaml")}


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_bad_fixture_gives_the_exact_findings_lines_and_exit_code(rule_id: str) -> None:
    bad = RULE_FIXTURES / rule_id / "bad.yaml"
    code, found = findings(str(bad))
    assert {(f["rule"], f["line"]) for f in found} == expected_marks(bad)
    mine = [f for f in found if f["rule"] == rule_id]
    assert {f["message"] for f in mine} == set(MESSAGES[rule_id].split("|"))
    severity = {rule.id: rule.severity for rule in RULES}[rule_id]
    assert {f["severity"] for f in mine} == {severity.value}
    assert code == (1 if severity is Severity.ERROR else 0)
    assert lint("--strict", str(bad)).exit_code == 1


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_corrected_twin_is_clean(rule_id: str) -> None:
    result = lint("--strict", str(RULE_FIXTURES / rule_id / "good.yaml"))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("no findings in ")


# -- silencing and choosing rules ------------------------------------------------------------


def test_inline_ignore_comment_silences_only_its_rule_on_its_line(tmp_path: Path) -> None:
    text = (RULE_FIXTURES / "failure-limit" / "bad.yaml").read_text(encoding="utf-8")
    waived = tmp_path / "waived.yaml"
    waived.write_text(
        text.replace("# expect: failure-limit", "# verification-runner: ignore=failure-limit")
    )
    assert lint(str(waived)).exit_code == 0
    other = tmp_path / "other.yaml"
    other.write_text(
        text.replace("# expect: failure-limit", "# verification-runner: ignore=indexed-job")
    )
    assert [f["rule"] for f in findings(str(other))[1]] == ["failure-limit"]
    every = tmp_path / "every.yaml"
    every.write_text(text.replace("# expect: failure-limit", "# verification-runner: ignore=all"))
    assert findings(str(every))[1] == []


def test_select_and_ignore(tmp_path: Path) -> None:
    both = RULE_FIXTURES / "job-backoff-limit" / "bad.yaml"
    deadline = RULE_FIXTURES / "job-no-deadline" / "bad.yaml"
    _, found = findings(str(both), str(deadline), "--select", "job-no-deadline")
    assert {f["rule"] for f in found} == {"job-no-deadline"}
    _, found = findings(str(both), str(deadline), "--ignore", "job-backoff-limit,job-no-deadline")
    assert found == []


def test_list_rules() -> None:
    text = lint("--list-rules")
    assert text.exit_code == 0
    assert [line for line in text.output.splitlines() if not line.startswith(" ")] == [
        f"{rule.id} ({rule.severity.value}{', policy choice' if rule.policy else ''})"
        for rule in RULES
    ]
    listed = json.loads(lint("--list-rules", "--format", "json").output)["rules"]
    assert [(r["id"], r["severity"], r["fix"], r["policy"]) for r in listed] == [
        (rule.id, rule.severity.value, rule.fix, rule.policy or None) for rule in RULES
    ]


def test_list_rules_says_which_rules_are_policy_choices_and_how_to_waive_them() -> None:
    """backoffLimit: 1 is in Kargo's own verification docs: a team may choose it, knowingly."""
    text = lint("--list-rules").output
    after = text.split("job-backoff-limit (error, policy choice)\n", 1)[1].splitlines()
    block = "\n".join(itertools.takewhile(lambda line: line.startswith("  "), after))
    assert "  policy: Kargo's own verification docs use backoffLimit: 1" in block
    assert "--ignore job-backoff-limit" in block
    policies = {rule.id for rule in RULES if rule.policy}
    assert {"job-backoff-limit", "failure-limit-retry", "deployment-not-proven"} <= policies
    assert not policies & {"failure-limit", "dry-run", "inconclusive-limit", "schema"}


def test_a_proof_from_an_expression_a_secret_or_a_literal_is_not_reported(tmp_path: Path) -> None:
    """Only "" for every proof arg (or no proof at all) proves nothing; an expression, a
    valueFrom or literal text around the arg may prove something, and is left alone."""
    text = (RULE_FIXTURES / "deployment-not-proven" / "bad.yaml").read_text(encoding="utf-8")
    variants = {
        "expression": ('value: ""  # expect: deployment-not-proven', "value: ${{ vars.w }}"),
        "literal text": ('"{{args.prove-workload}}"', '"deployment/{{args.prove-workload}}"'),
        "from a secret": (
            'value: ""\n---',
            "valueFrom:\n                          secretKeyRef: {name: s, key: k}\n---",
        ),
    }
    for name, (old, new) in variants.items():
        assert old in text, name
        manifest = tmp_path / f"{name.replace(' ', '-')}.yaml"
        manifest.write_text(text.replace(old, new), encoding="utf-8")
        _, found = findings(str(manifest))
        # The bad fixture's other finding stays: the variant silenced only its own.
        assert len([f for f in found if f["rule"] == "deployment-not-proven"]) == 1, name


@pytest.mark.parametrize(
    ("image", "judged"),
    [
        ("quay.io/argoproj/argo-rollouts:v1.9.1", True),
        ("argoproj/argo-rollouts:v1.8.3@sha256:" + "0" * 64, True),
        ("quay.io/argoproj/argo-rollouts:v1.10.0-rc1", False),
        ("quay.io/argoproj/argo-rollouts:v2.0.0", False),
        ("quay.io/argoproj/argo-rollouts:latest", False),
        ("quay.io/argoproj/argo-rollouts@sha256:" + "0" * 64, False),
        ("ghcr.io/acme/argo-rollouts-fork:v1.9.1", False),
    ],
)
def test_rollouts_version_judges_only_a_version_tag(
    tmp_path: Path, image: str, judged: bool
) -> None:
    text = (RULE_FIXTURES / "rollouts-version" / "bad.yaml").read_text(encoding="utf-8")
    manifest = tmp_path / "set.yaml"
    manifest.write_text(
        text.replace("quay.io/argoproj/argo-rollouts:v1.9.1  # expect: rollouts-version", image),
        encoding="utf-8",
    )
    code, found = findings(str(manifest))
    assert [f["rule"] for f in found] == ["rollouts-version"] * judged
    assert code == int(judged)


def test_rollouts_version_needs_a_job_metric_in_the_set(tmp_path: Path) -> None:
    """The fact is about the job provider: a controller linted alone is not judged."""
    text = (RULE_FIXTURES / "rollouts-version" / "bad.yaml").read_text(encoding="utf-8")
    (tmp_path / "controller.yaml").write_text(text.split("---\n", 1)[1], encoding="utf-8")
    assert findings(str(tmp_path / "controller.yaml"))[1] == []
    assert [
        f["rule"] for f in findings(str(RULE_FIXTURES / "rollouts-version" / "bad.yaml"))[1]
    ] == ["rollouts-version"]


def test_unknown_rule_id_is_a_usage_error() -> None:
    result = lint("--ignore", "failure-limt", str(RULE_FIXTURES))
    assert result.exit_code == 2
    assert "--ignore: unknown rule id failure-limt; the rules are failure-limit," in result.output


# -- ways in ---------------------------------------------------------------------------------


def test_a_directory_is_every_yaml_file_under_it(tmp_path: Path) -> None:
    (tmp_path / "deep" / "er").mkdir(parents=True)
    shutil.copy(RULE_FIXTURES / "failure-limit" / "bad.yaml", tmp_path / "template.yml")
    shutil.copy(RULE_FIXTURES / "unknown-field" / "bad.yaml", tmp_path / "deep" / "er" / "s.yaml")
    (tmp_path / "deep" / "notes.txt").write_text("kind: [not yaml at all")
    for skipped in (".git", "node_modules"):
        (tmp_path / skipped).mkdir()
        shutil.copy(RULE_FIXTURES / "indexed-job" / "bad.yaml", tmp_path / skipped / "x.yaml")
    _, found = findings(str(tmp_path))
    assert [(f["source"], f["line"], f["rule"]) for f in found] == [
        (str(tmp_path / "deep" / "er" / "s.yaml"), 16, "unknown-field"),
        (str(tmp_path / "template.yml"), 9, "failure-limit"),
    ]


def test_a_negative_failure_limit_switches_failure_off(tmp_path: Path) -> None:
    text = (RULE_FIXTURES / "failure-limit" / "bad.yaml").read_text(encoding="utf-8")
    path = tmp_path / "template.yaml"
    path.write_text(text.replace("failureLimit: 1", "failureLimit: -1"))
    _, found = findings(str(path))
    assert [(f["rule"], f["line"], f["message"]) for f in found] == [
        (
            "failure-limit",
            9,
            "metric 'acceptance': failureLimit -1 switches failure off: a failed Job never"
            " fails the metric",
        )
    ]


def test_steps_without_as_have_their_default_alias(tmp_path: Path) -> None:
    """Kargo calls a step without `as` step-<n>, from 1: outputs['step-2'] is the git-commit step
    of the fixture (so a health check on it is commit-output-revision), step-9 is no step."""
    text = (RULE_FIXTURES / "commit-output-revision" / "bad.yaml").read_text(encoding="utf-8")
    path = tmp_path / "stage.yaml"
    path.write_text(
        text.replace("          as: commit\n", "").replace("outputs.commit", "outputs['step-2']")
    )
    assert [f["rule"] for f in findings(str(path))[1]] == ["commit-output-revision"]
    path.write_text(text.replace("outputs.commit", "outputs['step-9']"))
    assert [f["rule"] for f in findings(str(path))[1]] == ["unknown-step-output"]


def test_files_given_together_are_one_set() -> None:
    """A Stage and the template it runs, in two files: the missing arg is found."""
    bad = RULE_FIXTURES / "missing-arg" / "bad.yaml"
    docs = bad.read_text(encoding="utf-8").split("---\n")
    assert len(docs) == 2
    code, found = findings("-", str(RULE_FIXTURES / "failure-limit" / "good.yaml"), stdin=docs[1])
    assert code == 0 and found == []  # the good template declares no args
    code, found = findings(
        "-", str(RULE_FIXTURES / "missing-arg" / "good.yaml"), stdin=docs[1].replace("demo", "x")
    )
    assert code == 0  # another namespace: another template


def test_stdin(tmp_path: Path) -> None:
    text = (RULE_FIXTURES / "unknown-field" / "bad.yaml").read_text(encoding="utf-8")
    code, found = findings("-", stdin=text)
    assert code == 1
    assert [(f["source"], f["line"], f["rule"]) for f in found] == [
        ("<stdin>", 16, "unknown-field")
    ]


def test_unknown_kinds_and_non_kubernetes_yaml_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "mixed.yaml"
    path.write_text("---\nkind: Widget\nspec: {count: 1}\n---\n- a\n- b\n---\nplain\n---\n")
    result = lint("--strict", str(path))
    assert result.exit_code == 0
    assert result.output.strip() == "no findings in 3 document(s)"


def _kustomization(tmp_path: Path, *files: str) -> Path:
    directory = tmp_path / "overlay"
    directory.mkdir()
    for name in files:
        shutil.copy(RULE_FIXTURES / name, directory / name.replace("/", "-"))
    resources = "".join(f"  - {name.replace('/', '-')}\n" for name in files)
    (directory / "kustomization.yaml").write_text(f"resources:\n{resources}namespace: demo\n")
    return directory


def test_kustomization_findings_point_at_the_source_file(tmp_path: Path) -> None:
    directory = _kustomization(tmp_path, "failure-limit/bad.yaml")
    code, found = findings("-k", str(directory))
    (finding,) = found
    assert code == 1 and finding["rule"] == "failure-limit" and finding["rendered"] is False
    assert finding["source"] == str(directory / "failure-limit-bad.yaml")
    assert finding["line"] == 9


def test_kustomization_inline_ignore_in_the_source_file_holds(tmp_path: Path) -> None:
    directory = _kustomization(tmp_path, "failure-limit/bad.yaml")
    source = directory / "failure-limit-bad.yaml"
    source.write_text(
        source.read_text().replace("# expect:", "# verification-runner: ignore=failure-limit #")
    )
    assert findings("-k", str(directory)) == (0, [])


def _patched(tmp_path: Path) -> Path:
    """A kustomization whose patch sets failureLimit: the line is in the rendered output."""
    directory = _kustomization(tmp_path, "failure-limit/good.yaml")
    with (directory / "kustomization.yaml").open("a") as file:
        file.write(
            "patches:\n  - target: {kind: AnalysisTemplate}\n    patch: |-\n"
            "      - {op: add, path: /spec/metrics/0/failureLimit, value: 1}\n"
        )
    return directory


def test_a_field_a_patch_set_points_at_the_rendered_output(tmp_path: Path) -> None:
    directory = _patched(tmp_path)
    code, found = findings("-k", str(directory))
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    (finding,) = found
    assert code == 1 and finding["rule"] == "failure-limit" and finding["rendered"] is True
    assert finding["source"] == f"{directory} (rendered)"
    assert rendered[finding["line"] - 1].strip() == "failureLimit: 1"


def _bin_with(tmp_path: Path, **tools: str) -> str:
    """A PATH holding only the named tools (as shell scripts), so kubectl can be absent."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for name, script in tools.items():
        (folder / name).write_text(f"#!/bin/sh\n{script}\n")
        (folder / name).chmod(0o755)
    return str(folder)


def _lint_process(path: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", "lint", *args],
        capture_output=True,
        text=True,
        env={"PATH": path},
        cwd=REPO,
        check=False,
    )


def test_without_kubectl_the_kustomize_binary_renders(tmp_path: Path) -> None:
    # No standalone kustomize binary is installed here: this stand-in is kubectl's built-in
    # kustomize behind the `kustomize build DIR` command line, so the rendering is still real.
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is missing: scripts/setup.sh test installs it (setup-kubectl.sh)"
    directory = _kustomization(tmp_path, "failure-limit/bad.yaml")
    path = _bin_with(tmp_path, kustomize=f'[ "$1" = build ] && exec {kubectl} kustomize "$2"')
    done = _lint_process(path, "-k", str(directory))
    assert done.returncode == 1, done.stderr
    assert "failure-limit" in done.stdout


def test_without_kubectl_or_kustomize_k_exits_2(tmp_path: Path) -> None:
    directory = _kustomization(tmp_path, "failure-limit/bad.yaml")
    done = _lint_process(_bin_with(tmp_path), "-k", str(directory))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"verification-runner: -k {directory}: neither kubectl nor kustomize is on PATH; install"
        " one, or render the kustomization yourself and lint the output from stdin (`-`)"
    )


# -- refusing input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a: [1, 2\n", "not valid YAML: line 2: "),
        ("a: b\n  c: d\n", "not valid YAML: line 2: mapping values are not allowed"),
        (b"kind: \xff\xfe\n", "not UTF-8 text; is it really a YAML file?"),
    ],
)
def test_unreadable_yaml_exits_2_with_one_line(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = tmp_path / "broken.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = lint(str(path))
    assert result.exit_code == 2
    assert result.output.startswith(f"verification-runner: {path}: {message}")
    assert result.output.count("\n") == 1


def test_other_tags_are_read_as_plain_values_never_as_objects(tmp_path: Path) -> None:
    path = tmp_path / "tags.yaml"
    path.write_text(
        "a: &x [1]\nb: !!python/object/apply:os.system [touch owned]\n"
        "c: !Ref Bucket\nd: !reference [.setup, script]\n"
    )
    result = lint("--strict", str(path))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "owned").exists() and not Path("owned").exists()


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    started = time.process_time()  # this process's CPU: a loaded machine does not count
    result = lint(str(path))
    took = time.process_time() - started
    assert result.exit_code == 2
    assert "expands to more than 1000000 nodes through YAML aliases" in result.output
    # 10**9 nodes if expanded (hours, and memory); refused from the aliases' counts in
    # milliseconds of CPU (about 0.06 s with the first call's imports).
    assert took < 2, f"{took:.1f}s of CPU"


def test_deep_nesting_is_refused_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("".join(f"{'  ' * i}k{i}:\n" for i in range(600)) + "  " * 600 + "end\n")
    result = lint(str(path))
    assert result.exit_code == 2
    assert result.output == (
        f"verification-runner: {path}: line 101: nested more than 100 levels deep: refused"
        " (manifests are not)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "missing.yaml: no such file or directory"),
        (["-k", "."], "-k .: not a directory with a kustomization.yaml"),
    ],
)
def test_bad_paths_exit_2(
    tmp_path: Path, args: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = lint(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_an_empty_directory_or_no_input_exit_2(tmp_path: Path) -> None:
    result = lint(str(tmp_path))
    assert result.exit_code == 2
    assert "no .yaml or .yml files in this directory" in result.output
    assert lint().exit_code == 2


def test_a_failing_kustomization_exits_2_with_kustomize_s_reason(tmp_path: Path) -> None:
    directory = tmp_path / "broken"
    directory.mkdir()
    (directory / "kustomization.yaml").write_text("resources:\n  - missing.yaml\n")
    result = lint("-k", str(directory))
    assert result.exit_code == 2
    assert f"-k {directory}: `" in result.output and "failed: " in result.output
    assert result.output.count("\n") == 1


# -- output formats --------------------------------------------------------------------------


def test_text_output_is_grouped_by_source_with_fix_and_summary() -> None:
    bad = RULE_FIXTURES / "failure-limit" / "bad.yaml"
    result = lint(str(bad), str(RULE_FIXTURES / "unknown-field" / "bad.yaml"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0] == str(bad)
    assert lines[1].split()[:3] == ["9", "error", "failure-limit:"]
    assert lines[2].strip().startswith("fix: Use count: 1 and leave failureLimit out")
    assert "docs/platform-facts.md#" in lines[2]
    assert lines[-1] == "2 error(s), 0 warning(s) in 2 source(s)"
    assert "\x1b[" not in result.output  # no colours when not on a terminal


def test_text_output_is_coloured_on_a_terminal() -> None:
    bad = str(RULE_FIXTURES / "failure-limit" / "bad.yaml")
    result = CliRunner().invoke(main, ["lint", bad], color=True)
    assert "\x1b[31merror" in result.output


def test_json_output_carries_why_fact_and_fix() -> None:
    _, (finding,) = findings(str(RULE_FIXTURES / "indexed-job" / "bad.yaml"))
    assert finding["rule"] == "indexed-job" and finding["severity"] == "error"
    assert finding["fix"].startswith("Run shards as parallel metrics")
    assert finding["facts"].startswith("docs/platform-facts.md#")
    assert finding["why"] and finding["fact"]


def test_sarif_output_validates_against_the_sarif_2_1_0_schema(tmp_path: Path) -> None:
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    directory = _patched(tmp_path)
    bad = [str(RULE_FIXTURES / rule / "bad.yaml") for rule in ("failure-limit", "pss-not-enforced")]
    result = lint("--format", "sarif", *bad, "-k", str(directory))
    assert result.exit_code == 1
    log = json.loads(result.output)
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    assert [e.message for e in validator.iter_errors(log)] == []
    (run,) = log["runs"]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == RULE_IDS
    results = run["results"]
    in_files = [r for r in results if "region" in r["locations"][0]["physicalLocation"]]
    assert [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]) for r in in_files
    ] == [
        ("failure-limit", "error", {"startLine": 9}),
        ("pss-not-enforced", "warning", {"startLine": 6}),
    ]
    (rendered,) = [r for r in results if r not in in_files]
    assert rendered["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        f"{directory.as_posix()}/kustomization.yaml"
    )
    assert "of the rendered output" in rendered["message"]["text"]
    for item in results:
        assert run["tool"]["driver"]["rules"][item["ruleIndex"]]["id"] == item["ruleId"]


def test_sarif_with_no_findings_is_valid_too() -> None:
    schema = json.loads((FIXTURES / "sarif" / "sarif-schema-2.1.0.json").read_text())
    result = lint("--format", "sarif", str(RULE_FIXTURES / "failure-limit" / "good.yaml"))
    assert result.exit_code == 0
    jsonschema.validate(json.loads(result.output), schema, cls=jsonschema.Draft4Validator)


# -- a realistic repository, the README and the facts it cites --------------------------------


def test_a_platform_repository_with_the_seed_style_defects() -> None:
    """count 1 with failureLimit 1, verification.reuse, a Kyverno policy scoped to one namespace
    (and more), across several files: every defect at its line, nothing else."""
    platform = FIXTURES / "platform"
    code, found = findings(str(platform))
    expected = {
        (str(path), rule, line)
        for path in platform.rglob("*.yaml")
        for rule, line in expected_marks(path)
    }
    assert {(f["source"], f["rule"], f["line"]) for f in found} == expected
    assert code == 1
    seed = {(Path(f["source"]).name, f["rule"], f["line"]) for f in found}
    assert {
        ("analysis.yaml", "failure-limit", 13),
        ("stages.yaml", "unknown-field", 54),
        ("copy-registry-secret.yaml", "kyverno-generate-fixed-namespace", 21),
    } <= seed


def _readme_rules() -> dict[str, list[str]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Lint rules", 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {row.split("`")[1]: [c.strip() for c in row.strip("|").split("|")] for row in rows}


def test_readme_has_a_row_per_rule_with_its_severity_why_and_fix() -> None:
    rows = _readme_rules()
    assert list(rows) == RULE_IDS
    for rule in RULES:
        _, severity, why, fix = rows[rule.id]
        assert severity == rule.severity.value
        assert why and fix


def test_every_rule_cites_a_section_that_exists() -> None:
    for rule in RULES:
        text = (REPO / rule.facts_doc).read_text(encoding="utf-8")
        anchors = {
            re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in text.splitlines()
            if line.startswith("## ")
        }
        assert rule.facts_section in anchors, rule.facts_ref
    assert {rule.facts_doc for rule in RULES} == {"docs/platform-facts.md", "README.md"}


# -- pre-commit ------------------------------------------------------------------------------


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.slow
def test_pre_commit_hook_runs_from_a_team_repository(tmp_path: Path) -> None:
    """`pre-commit try-repo` installs this repository's hook (language: python, so pip installs
    the package and its dependencies from PyPI into pre-commit's own environment) and runs it on
    a fixture repository's YAML files."""
    team = tmp_path / "team"
    team.mkdir()
    shutil.copy(RULE_FIXTURES / "failure-limit" / "bad.yaml", team / "analysis.yaml")
    shutil.copy(RULE_FIXTURES / "unknown-field" / "good.yaml", team / "stage.yaml")
    (team / "notes.txt").write_text("failureLimit: 1\n")
    _git(team, "init", "-q")
    _git(team, "add", ".")
    pre_commit = Path(sys.executable).parent / "pre-commit"
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
    }
    command = [str(pre_commit), "try-repo", str(REPO), "verification-runner-lint", "--all-files"]
    done = subprocess.run(command, cwd=team, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "analysis.yaml\n     9  error   failure-limit: metric 'acceptance'" in done.stdout
    assert "stage.yaml" not in done.stdout.split("verification-runner lint")[-1]

    shutil.copy(RULE_FIXTURES / "failure-limit" / "good.yaml", team / "analysis.yaml")
    _git(team, "add", ".")
    done = subprocess.run(command, cwd=team, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Passed" in done.stdout


# -- any value in any field: a finding or nothing, never a crash ------------------------------


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


_CORPUS = [
    doc
    for rule in RULE_IDS
    for doc in load_paths([str(RULE_FIXTURES / rule / "good.yaml")], read_stdin=str)
]


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(doc_index=st.integers(0, len(_CORPUS) - 1), pick=st.integers(0), value=yaml_values)
def test_any_value_in_any_field_never_crashes_the_rules(
    doc_index: int, pick: int, value: Any
) -> None:
    doc = _CORPUS[doc_index]
    data = copy.deepcopy(doc.data)
    paths = _paths(data)[1:]
    *parent_path, key = paths[pick % len(paths)]
    parent = data
    for step in parent_path:
        parent = parent[step]
    parent[key] = value
    broken = dataclasses.replace(doc, data=data)
    for finding in lint_documents([broken, *_CORPUS]):
        assert finding.rule_id in RULE_IDS


# -- precision: what upstream accepts is not reported ------------------------------------------


def _variant(tmp_path: Path, rule: str, which: str, *edits: tuple[str, str]) -> Path:
    text = (RULE_FIXTURES / rule / f"{which}.yaml").read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / f"{rule}-{which}.yaml"
    path.write_text(text)
    return path


def test_failure_limit_minus_one_with_a_success_limit_still_fails(tmp_path: Path) -> None:
    """-1 with consecutiveSuccessLimit: count reached without the successes is Failed."""
    path = _variant(
        tmp_path,
        "failure-limit",
        "bad",
        (
            "failureLimit: 1  # expect: failure-limit",
            "failureLimit: -1\n      consecutiveSuccessLimit: 1",
        ),
    )
    assert findings(str(path)) == (0, [])
    path.write_text(path.read_text().replace("count: 1", "count: 3"))
    assert [f["rule"] for f in findings(str(path))[1]] == ["failure-limit-retry"]


def test_a_stage_s_templates_are_merged_before_its_args(tmp_path: Path) -> None:
    """Kargo flattens every template a Stage names: an arg declared by the second template is
    used, and a value it gives resolves the first template's arg."""
    second = (
        "---\napiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata:\n"
        "  name: smoke\nspec:\n  args:\n    - name: base-url\n      value: https://x.example\n"
        "  metrics: []\n"
    )
    bad = RULE_FIXTURES / "unused-stage-arg" / "bad.yaml"
    text = bad.read_text(encoding="utf-8").replace("# expect: unused-stage-arg", "")
    text = text.replace("      - name: verify\n", "      - name: verify\n      - name: smoke\n")
    path = tmp_path / "two.yaml"
    path.write_text(text + second)
    assert [f["rule"] for f in findings(str(path))[1]] == []


def test_on_failure_with_backoff_limit_0_is_not_a_restart_finding(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        "job-restart-policy",
        "bad",
        ("restartPolicy: OnFailure  # expect: job-restart-policy", "restartPolicy: OnFailure"),
    )
    text = path.read_text()
    start, end = text.index("            podFailurePolicy:"), text.index("            template:")
    path.write_text(text[:start] + text[end:])
    assert "job-restart-policy" not in {f["rule"] for f in findings(str(path))[1]}
    path.write_text(path.read_text().replace("backoffLimit: 0", "backoffLimit: 0\n" + " " * 12))
    path.write_text(path.read_text().replace("restartPolicy: OnFailure", "restartPolicy: Always"))
    (hit,) = [f for f in findings(str(path))[1] if f["rule"] == "job-restart-policy"]
    assert "the API server refuses the Job" in hit["message"]


@pytest.mark.parametrize(
    "edit",
    [
        ('operations: ["CREATE", "UPDATE"]', 'operations: ["DELETE"]'),
        ("        generateExisting: true\n        synchronize: true\n", ""),
    ],
    ids=["generate-on-delete", "no-background"],
)
def test_generate_operations_that_lose_nothing_are_not_reported(
    tmp_path: Path, edit: tuple[str, str]
) -> None:
    path = _variant(tmp_path, "kyverno-generate-operations", "bad", edit)
    assert findings(str(path)) == (0, [])


def test_a_fixed_namespace_with_one_object_per_trigger_is_meant(tmp_path: Path) -> None:
    path = _variant(
        tmp_path,
        "kyverno-generate-fixed-namespace",
        "bad",
        (
            "name: registry\n        namespace: backstage",
            'name: "{{ request.object.metadata.name }}"\n        namespace: backstage',
        ),
    )
    assert findings(str(path)) == (0, [])


@pytest.mark.parametrize("kind", ["Promotion", "PromotionTask"])
def test_promotions_and_tasks_take_desired_revision_from_git_push(
    tmp_path: Path, kind: str
) -> None:
    steps = (
        "  steps:\n    - uses: git-commit\n      as: commit\n      config: {path: ./out}\n"
        "    - uses: git-push\n      as: push\n      config: {path: ./out}\n"
        "    - uses: argocd-update\n      config:\n        apps:\n          - name: demo\n"
        "            sources:\n              - repoURL: https://github.com/example/deploy.git\n"
        "                desiredRevision: ${{ quote(outputs.commit.commit) }}\n"
    )
    head = f"apiVersion: kargo.akuity.io/v1alpha1\nkind: {kind}\nmetadata:\n  name: p\n  namespace: demo\nspec:\n"
    if kind == "Promotion":
        head += "  stage: test\n  freight: abc\n"
    path = tmp_path / "promotion.yaml"
    path.write_text(head + steps)
    assert [(f["rule"], f["line"]) for f in findings(str(path))[1]] == [
        ("commit-output-revision", head.count("\n") + 14)
    ]
    path.write_text(head + steps.replace("outputs.commit.commit", "outputs.push.commit"))
    assert findings(str(path)) == (0, [])


# -- input that is not a file ------------------------------------------------------------------


def test_a_fifo_or_a_device_is_refused_at_once_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "stage.yaml"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        done = subprocess.run(
            [sys.executable, "-m", "runner", "lint", path],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=REPO,
            check=False,
        )
        assert done.returncode == 2
        kind = "a FIFO" if path == str(fifo) else "a character device"
        assert done.stderr == (
            f"verification-runner: {path}: not a regular file ({kind}); give a YAML file, a"
            " directory, or `-` for stdin\n"
        )


# -- a directory with a kustomization ----------------------------------------------------------


def test_a_directory_with_a_kustomization_is_linted_rendered(tmp_path: Path) -> None:
    """The patch that adds failureLimit: 1 is caught by `lint DIR`, not only by `-k DIR`."""
    _patched(tmp_path)
    code, found = findings(str(tmp_path))
    assert code == 1
    assert [(f["rule"], f["rendered"]) for f in found] == [("failure-limit", True)]


def test_a_kustomization_that_cannot_be_rendered_is_said_plainly(tmp_path: Path) -> None:
    directory = _patched(tmp_path)
    done = _lint_process(_bin_with(tmp_path), str(directory))
    assert done.returncode == 0, done.stdout
    assert done.stderr.startswith(
        f"verification-runner: note: {directory}: the kustomization was not rendered, so its"
        " patches are not checked (-k "
    )
    assert "neither kubectl nor kustomize is on PATH" in done.stderr
    assert done.stdout.strip() == "no findings in 2 document(s)"
