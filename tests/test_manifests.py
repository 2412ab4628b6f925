"""The manifests under kustomize/: they render, they validate, they lint clean, and they are
what this project wants.

Rendering uses the real `kubectl kustomize`; built-in kinds are validated by kubernetes-validate
in strict mode. Custom resources and every platform fact (docs/platform-facts.md) are checked by
`verification-runner lint` itself, run here over every kustomization as one set: the rules live
in runner/lint/ (one copy), and a test below breaks our own manifests to show the lint sees it.
What stays here is specific to this project: names, env, mounts, RBAC, storage, docs.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pytest
import yaml
from click.testing import CliRunner

from runner.cli import main
from runner.config.settings import Settings, load_settings
from runner.lint.checks_schema import registry

REPO = Path(__file__).resolve().parents[1]
KUSTOMIZE = REPO / "kustomize"
K8S_VERSION = "1.33"

RUNNER_IMAGE = "ghcr.io/example/verification-runner"
TEMPLATE_NAME = "verification-runner"
ARGS_TO_ENV = {
    "stage": "KARGO_STAGE",
    "project": "KARGO_PROJECT",
    "base-url": "BASE_URL",
    "image": "FREIGHT_IMAGE",
    "commit": "FREIGHT_COMMIT",
    "tests-repo": "TESTS_REPO",
    "tests-revision": "TESTS_REVISION",
    "prove-workload": "PROVE_WORKLOAD",
    "prove-namespace": "PROVE_NAMESPACE",
    "prove-image": "PROVE_IMAGE",
    "prove-image-digest": "PROVE_IMAGE_DIGEST",
}
# Settings fields filled through the downward API, and from where (docs/platform-facts.md: the pod
# carries the label batch.kubernetes.io/job-name, and analysisrun.argoproj.io/uid from Argo
# Rollouts v1.10 only; on v1.9 ANALYSIS_RUN_UID reads empty and the runner uses JOB_NAME).
DOWNWARD_API = {
    "pod_name": "metadata.name",
    "pod_namespace": "metadata.namespace",
    "node_name": "spec.nodeName",
    "job_name": "metadata.labels['batch.kubernetes.io/job-name']",
    "analysis_run_uid": "metadata.labels['analysisrun.argoproj.io/uid']",
}
# Overlays that deploy the runner: base + storage + artifact server.
DEPLOYMENTS = ("overlays/local", "overlays/cluster")

KUSTOMIZATIONS = sorted(
    str(path.parent.relative_to(KUSTOMIZE)) for path in KUSTOMIZE.rglob("kustomization.yaml")
)

Obj = dict[str, Any]


# -- helpers -------------------------------------------------------------------------------


def render(directory: str) -> tuple[Obj, ...]:
    """The objects `kubectl kustomize` renders, parsed afresh: callers may change them."""
    return tuple(doc for doc in yaml.safe_load_all(_kustomize(directory)) if doc)


@functools.cache
def _kustomize(directory: str) -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not on PATH: scripts/setup.sh test installs it (setup-kubectl.sh)")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


def of_kind(objs: tuple[Obj, ...], kind: str) -> list[Obj]:
    return [obj for obj in objs if obj["kind"] == kind]


def named(objs: tuple[Obj, ...], kind: str) -> dict[str, Obj]:
    return {obj["metadata"]["name"]: obj for obj in of_kind(objs, kind)}


def the_template(directory: str = "base") -> Obj:
    templates = named(render(directory), "AnalysisTemplate")
    assert TEMPLATE_NAME in templates, f"no AnalysisTemplate {TEMPLATE_NAME} in {directory}"
    return templates[TEMPLATE_NAME]


def job_metrics(template: Obj) -> list[Obj]:
    return [m for m in template["spec"]["metrics"] if "job" in m["provider"]]


def runner_container(template: Obj) -> Obj:
    (metric,) = job_metrics(template)
    pod = metric["provider"]["job"]["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["image"].startswith(RUNNER_IMAGE)]
    return cast(Obj, container)


def env_of(container: Obj) -> dict[str, Obj]:
    return {entry["name"]: entry for entry in container.get("env", [])}


def pod_specs(objs: tuple[Obj, ...]) -> Iterator[tuple[str, Obj]]:
    """Every pod spec in the objects: workload templates and job-metric Job templates."""
    for obj in objs:
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield name, obj["spec"]["template"]["spec"]
        elif obj["kind"] == "AnalysisTemplate":
            for metric in job_metrics(obj):
                yield name, metric["provider"]["job"]["spec"]["template"]["spec"]


def downward_api_env() -> dict[str, str]:
    """Env name -> downward-API fieldPath: the `Settings` fields the pod fills from its own
    metadata (env name = field name upper-cased, as pydantic-settings reads it)."""
    missing = set(DOWNWARD_API) - set(Settings.model_fields)
    assert not missing, f"runner.config.settings.Settings no longer reads {sorted(missing)}"
    return {field.upper(): path for field, path in DOWNWARD_API.items()}


def kargo_objs() -> tuple[Obj, ...]:
    return render("kargo")


def lint(*args: str, stdin: str | None = None) -> tuple[int, list[tuple[str, int, str]]]:
    """`verification-runner lint --strict --format json ARGS`: exit code, (rule, line, message)."""
    result = CliRunner().invoke(main, ["lint", "--strict", "--format", "json", *args], input=stdin)
    assert result.exit_code in (0, 1), result.output
    findings = json.loads(result.output)["findings"]
    return result.exit_code, [(f["rule"], f["line"], f["message"]) for f in findings]


def rendered_together(*directories: str) -> str:
    """Several kustomizations rendered as one YAML stream (one set for lint)."""
    return "---\n".join(_kustomize(directory) for directory in directories)


# -- rendering and schema validation ---------------------------------------------------------


def test_every_kustomization_is_found() -> None:
    expected = {
        "base",
        "kargo",
        "kyverno",
        "overlays/local",
        "overlays/cluster",
        "components/artifact-server",
        "examples",
    }
    assert expected <= set(KUSTOMIZATIONS)


# Components that only patch render nothing alone; each is rendered through an overlay.
PATCH_ONLY = {"components/sharding": "overlays/sharded"}


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_renders(directory: str) -> None:
    assert render(PATCH_ONLY.get(directory, directory)), f"{directory} renders no objects"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_rendered_objects_validate(directory: str) -> None:
    """Built-in kinds here; custom resources are lint's (rules unknown-field and schema, in
    test_every_kustomization_lints_clean): each must be one whose CRD lint has."""
    problems: list[str] = []
    for obj in render(directory):
        label = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if registry().knows(obj["apiVersion"], obj["kind"]):
            continue
        try:
            kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{label}: {obj['apiVersion']} is neither built in nor a known CRD")
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{label}: {exc.message} at {list(exc.path)}")
    assert not problems, "\n".join(problems)


def test_job_spec_is_a_valid_batch_job() -> None:
    """The Job spec inside the AnalysisTemplate is a real batch/v1 JobSpec (strict)."""
    for metric in job_metrics(the_template()):
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "check", "namespace": "check"},
            "spec": metric["provider"]["job"]["spec"],
        }
        kubernetes_validate.validate(job, K8S_VERSION, strict=True)


# -- lint: every platform fact, one copy (runner/lint/) ---------------------------------------


def test_every_kustomization_lints_clean() -> None:
    """All kustomizations as one set (the Stages with their template, the namespace that
    enforces Pod Security with the pods it runs), and the files themselves (kustomizations)."""
    every = [arg for directory in KUSTOMIZATIONS for arg in ("-k", str(KUSTOMIZE / directory))]
    assert lint(*every) == (0, [])
    assert lint(str(KUSTOMIZE)) == (0, [])


_DEPLOYED = ("overlays/local", "kargo", "kyverno")
# Our manifests, broken the way the platform facts say they break: (what, replaced by, rule).
BREAKAGES = [
    ("backoffLimit: 0", "backoffLimit: 2", "job-backoff-limit"),
    ("  - count: 1\n", "  - count: 1\n    failureLimit: 1\n", "failure-limit"),
    (
        "  - count: 1\n",
        "  - count: 1\n    failureCondition: 'true'\n",
        "job-metric-condition",
    ),
    ("restartPolicy: Never", "restartPolicy: OnFailure", "job-restart-policy"),
    ("ttlSecondsAfterFinished: 86400", "ttlSecondsAfterFinished: 60", "job-ttl"),
    ('value: "2100"', 'value: "2400"', "run-deadline"),
    ("outputs.push.commit", "outputs.commit.commit", "commit-output-revision"),
    ("value: '{{args.stage}}'", "value: '${{ ctx.stage }}'", "template-placeholder"),
    ("value: '{{args.stage}}'", "value: '{{args.stag}}'", "undeclared-arg"),
    ("${{ quote(ctx.stage) }}\n", "${{ quote(ctx.promotion) }}\n", "promotion-in-verification"),
    ("    analysisTemplates:\n", "    reuse: true\n    analysisTemplates:\n", "unknown-field"),
    (
        "pod-security.kubernetes.io/enforce: restricted",
        "pod-security.kubernetes.io/enforce: baseline",
        "pss-not-enforced",
    ),
    ("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true", "pss-violation"),
    (
        "          - Namespace\n",
        "          - Namespace\n          operations: [CREATE]\n",
        "kyverno-generate-operations",
    ),
    ("  - count: 1\n", "  - count: 1\n    inconclusiveLimit: 1\n", "inconclusive-limit"),
]


@pytest.mark.parametrize(("before", "after", "rule"), BREAKAGES, ids=[b[2] for b in BREAKAGES])
def test_lint_sees_our_manifests_broken(before: str, after: str, rule: str) -> None:
    """The clean lint above can fail: each platform fact, broken in our own rendered manifests,
    is reported by its rule (and the other rules stay quiet)."""
    text = rendered_together(*_DEPLOYED)
    assert before in text, f"{before!r} is no longer in the manifests: update this breakage"
    code, found = lint("-", stdin=text.replace(before, after))
    assert code == 1
    assert {r for r, _, _ in found} == {rule}


# -- the validator itself can fail (the CRD validator's own tests: tests/test_lint_schema.py) ---


def test_kubernetes_validate_strict_rejects_unknown_fields() -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "bogus": True,
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(config_map, K8S_VERSION, strict=True)


# -- sharding as parallel metrics (platform-facts.md: no Indexed Job under a job metric) -------

SHARDING = KUSTOMIZE / "components" / "sharding"
# The longest Job name Argo Rollouts makes is <36-char UID>.<metric>.<n>; it must stay a DNS
# label-sized name (63), or Rollouts truncates the metric part and shard names could collide.
ROLLOUTS_UID = "0" * 8 + "-0000-0000-0000-" + "0" * 12
_CONTAINER_ENV = "/provider/job/spec/template/spec/containers/0/env/-"


def shard_patch(count: int) -> list[Obj]:
    """components/sharding/shards.yaml for N = count: the pattern its header describes."""
    ops: list[Obj] = [
        {
            "op": "add",
            "path": f"/spec/metrics/0{_CONTAINER_ENV}",
            "value": {"name": "SHARD_COUNT", "value": str(count)},
        }
    ]
    ops += [{"op": "copy", "from": "/spec/metrics/0", "path": "/spec/metrics/-"}] * (count - 1)
    for index in range(count):
        ops += [
            {
                "op": "replace",
                "path": f"/spec/metrics/{index}/name",
                "value": f"acceptance-{index}",
            },
            {
                "op": "add",
                "path": f"/spec/metrics/{index}{_CONTAINER_ENV}",
                "value": {"name": "SHARD_INDEX", "value": str(index)},
            },
        ]
    return ops


def sharded_overlay(tmp_path: Path, count: int) -> str:
    """overlays/sharded with N = count, changed the way the README says: shards.yaml only."""
    component = tmp_path / "sharding"
    shutil.copytree(SHARDING, component)
    (component / "shards.yaml").write_text(yaml.safe_dump(shard_patch(count)))
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [os.path.relpath(KUSTOMIZE / "overlays" / "cluster", overlay)],
        "components": ["../sharding"],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
    return str(overlay)


@pytest.mark.parametrize("directory", ["base", *DEPLOYMENTS, "overlays/sharded"])
def test_a_terminated_job_cannot_make_the_run_successful(directory: str) -> None:
    """From Argo Rollouts v1.10 a terminated job measurement (Kargo's abort) is Inconclusive;
    nothing in our template may turn that into a pass (docs/platform-facts.md, "Termination, and
    what it records"; analysis/analysis.go, assessMetricStatus and
    assessMetricFailureInconclusiveOrError). Each job metric measures once, at once, and counts."""
    (template,) = [t for t in of_kind(render(directory), "AnalysisTemplate")]
    # A dry-run metric's result is left out of the run's phase (assessRunStatus).
    assert "dryRun" not in template["spec"]
    metrics = job_metrics(template)
    assert metrics
    for metric in metrics:
        name = metric["name"]
        # Inconclusive counts towards `count`; the metric is Inconclusive only when
        # inconclusive > inconclusiveLimit: a limit of 1 makes the one measurement a pass.
        assert metric.get("inconclusiveLimit", 0) == 0, name
        # failed > failureLimit decides Failed; a negative one switches failure off.
        assert metric.get("failureLimit", 0) == 0, name
        # consecutiveSuccessLimit changes what reaching `count` means.
        assert "consecutiveSuccessLimit" not in metric, name
        # Without count the metric runs "indefinitely", which a termination ends Successful;
        # one measurement is one Job.
        assert metric["count"] == 1, name
        # Not measured yet when terminated = Successful: the Job starts at the first reconcile.
        assert "initialDelay" not in metric and "interval" not in metric, name


def test_shipped_shard_patch_follows_the_pattern() -> None:
    shipped = yaml.safe_load((SHARDING / "shards.yaml").read_text(encoding="utf-8"))
    count = int(shipped[0]["value"]["value"])
    assert shipped == shard_patch(count), "shards.yaml no longer follows its own header"


def test_sharding_is_parallel_metrics_not_an_indexed_job() -> None:
    """An Indexed Job under a job metric is never created (its Job name has dots); the sharded
    overlay must be N plain job metrics, one Job each (platform-facts.md)."""
    template = the_template("overlays/sharded")
    metrics = job_metrics(template)
    assert len(metrics) > 1
    for metric in metrics:
        job = metric["provider"]["job"]["spec"]
        assert not {"completionMode", "completions", "parallelism"} & set(job), metric["name"]
        assert "backoffLimitPerIndex" not in job and job["backoffLimit"] == 0
        env = {e["name"]: e for e in job["template"]["spec"]["containers"][0]["env"]}
        assert "JOB_COMPLETION_INDEX" not in env


def test_the_termination_grace_the_runner_assumes_is_the_pods() -> None:
    """A SIGTERMed shard merges what exists within TERMINATION_GRACE_SECONDS (README
    "Sharding"): the pod's terminationGracePeriodSeconds must be that long, or the pod is
    SIGKILLed in the middle of the merge."""
    for metric in job_metrics(the_template("overlays/sharded")):
        pod = metric["provider"]["job"]["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
        runner_grace = float(
            env.get("TERMINATION_GRACE_SECONDS")
            or Settings.model_fields["termination_grace_seconds"].default
        )
        assert pod["terminationGracePeriodSeconds"] == runner_grace, metric["name"]


@pytest.mark.parametrize("count", [2, 4])
def test_sharded_metrics_render_validate_and_are_distinct(tmp_path: Path, count: int) -> None:
    directory = sharded_overlay(tmp_path, count)
    # Valid against the CRD, no Indexed Job, names that fit: lint's rules, with the Stages.
    assert lint("-", stdin=rendered_together(directory, "kargo")) == (0, [])
    template = the_template(directory)
    base = job_metrics(the_template("overlays/cluster"))[0]
    metrics = job_metrics(template)
    names = [metric["name"] for metric in metrics]
    assert names == [f"acceptance-{i}" for i in range(count)]
    known = {field.upper() for field in Settings.model_fields}
    assert {"SHARD_COUNT", "SHARD_INDEX"} <= known
    indexes = []
    for metric in metrics:
        assert len(f"{ROLLOUTS_UID}.{metric['name']}.1") <= 63, metric["name"]
        assert metric.get("count") == 1 and metric.get("failureLimit", 0) in (0, "0")
        job = metric["provider"]["job"]["spec"]
        (container,) = job["template"]["spec"]["containers"]
        env = env_of(container)
        assert env["SHARD_COUNT"] == {"name": "SHARD_COUNT", "value": str(count)}
        indexes.append(int(env["SHARD_INDEX"]["value"]))
        # Apart from the name and the two shard variables, every shard is the base metric.
        plain = copy.deepcopy(metric)
        plain["name"] = base["name"]
        (plain_container,) = plain["provider"]["job"]["spec"]["template"]["spec"]["containers"]
        plain_container["env"] = [e for e in env.values() if not e["name"].startswith("SHARD_")]
        assert plain == base
        check = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "c"}, "spec": job}
        kubernetes_validate.validate(check, K8S_VERSION, strict=True)
    assert indexes == list(range(count))
    for index in indexes:  # and the runner accepts each shard's values
        settings = load_settings(
            {"SHARD_COUNT": str(count), "SHARD_INDEX": str(index), "HOME": "/tmp"}
        )
        assert settings.shard == index


def test_downward_api_env_matches_the_settings() -> None:
    env = env_of(runner_container(the_template()))
    from_fields = {
        name: entry["valueFrom"]["fieldRef"]["fieldPath"]
        for name, entry in env.items()
        if "fieldRef" in entry.get("valueFrom", {})
    }
    assert from_fields == downward_api_env()


def test_verification_args_reach_the_runner_env() -> None:
    env = env_of(runner_container(the_template()))
    for arg, name in ARGS_TO_ENV.items():
        assert env[name].get("value") == f"{{{{args.{arg}}}}}", name


def test_every_env_var_is_a_runner_setting() -> None:
    known = {field.upper() for field in Settings.model_fields}
    # Read by Node, npm and Chromium (writable HOME on a read-only root), not by the runner.
    not_settings = {"HOME"}
    env = set(env_of(runner_container(the_template())))
    assert env - not_settings <= known, (
        f"unknown to runner.config.settings: {env - known - not_settings}"
    )


def test_runner_container_mounts() -> None:
    (metric,) = job_metrics(the_template())
    pod = metric["provider"]["job"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    container = runner_container(the_template())
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container["volumeMounts"]}
    assert mounts["/dev/shm"]["emptyDir"]["medium"] == "Memory"
    assert "emptyDir" in mounts["/tmp"]
    assert mounts["/artifacts"]["persistentVolumeClaim"]["claimName"] == "verification-artifacts"
    assert env_of(container)["ARTIFACT_ROOT"]["value"] == "/artifacts"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "FallbackToLogsOnError"
    assert container["resources"]["requests"]
    assert container["resources"]["limits"]


def test_runner_image_tag_is_set_by_kustomize() -> None:
    image = runner_container(the_template())["image"]
    repository, _, tag = image.rpartition(":")
    assert repository == RUNNER_IMAGE
    assert tag


# -- Kargo (domain facts: "Kargo verification") -------------------------------------------


def test_every_verifying_stage_runs_our_template() -> None:
    """Args declared and passed both ways are lint's (undeclared-arg, missing-arg); here: the
    Stages that verify run this project's template."""
    stages = [s for s in of_kind(kargo_objs(), "Stage") if "verification" in s["spec"]]
    assert stages, "no Stage runs the verification"
    for stage in stages:
        names = {ref["name"] for ref in stage["spec"]["verification"]["analysisTemplates"]}
        assert TEMPLATE_NAME in names, stage["metadata"]["name"]


def test_stage_args_are_kargo_expressions() -> None:
    expected = {
        "stage": "ctx.stage",
        "project": "ctx.project",
        "image": "imageFrom(",
        # The image's own OCI annotations name the commit it was built from (Kargo >= 1.4):
        # the tests are fetched at exactly that commit, never a Warehouse's newest one.
        "commit": "Annotations['org.opencontainers.image.revision']",
        "tests-repo": "Annotations['org.opencontainers.image.source']",
        "tests-revision": "Annotations['org.opencontainers.image.revision']",
        # The deployment proof: the Freight's own image, by reference and by digest.
        "prove-image": 'quote(vars.imageRepo + ":" + imageFrom(vars.imageRepo).Tag)',
        "prove-image-digest": "quote(imageFrom(vars.imageRepo).Digest)",
    }
    for stage in of_kind(kargo_objs(), "Stage"):
        verification = stage["spec"].get("verification", {})
        args = {arg["name"]: arg["value"] for arg in verification.get("args", [])}
        for name, value in args.items():
            assert value.startswith("${{") and value.endswith("}}"), value
            assert expected.get(name, "") in value, (name, value)
        if args:
            # .Tag and .Annotations are fields of imageFrom()'s result.
            assert args["image"].removesuffix("}}").strip().endswith(".Tag)")
            for name in ("commit", "tests-repo", "tests-revision"):
                prefix = "${{ quote(imageFrom(vars.imageRepo).Annotations["
                assert args[name].startswith(prefix), name


# One expression spanning the whole value, wrapped in quote(): `${{ quote(...) }}`.
_QUOTED_ARG = re.compile(r"\$\{\{\s*quote\((?P<inner>.+)\)\s*\}\}", re.DOTALL)


def unquoted_expression_args(stage: Obj) -> list[str]:
    """The verification args of a Stage that hold an expression not wrapped in quote()."""
    args = stage.get("spec", {}).get("verification", {}).get("args", [])
    bad = []
    for arg in args:
        value = str(arg.get("value", ""))
        if "${{" not in value:
            continue  # a literal: Kargo leaves a value without an expression as it is
        match = _QUOTED_ARG.fullmatch(value.strip())
        if match is None or "${{" in match.group("inner") or "}}" in match.group("inner"):
            bad.append(f"{arg['name']}: {value}")
    return bad


def yaml_blocks(markdown: Path) -> Iterator[Obj]:
    """Every mapping in the ```yaml blocks of a Markdown file."""
    text = markdown.read_text(encoding="utf-8")
    for block in re.findall(r"^```yaml\n(.*?)^```", text, re.DOTALL | re.MULTILINE):
        for doc in yaml.safe_load_all(block):
            if isinstance(doc, dict):
                yield doc


def test_every_expression_arg_is_quoted() -> None:
    """Kargo's EvaluateTemplate turns a result that parses as a number, a boolean or JSON into
    that type, and buildArgs then refuses it ("value is not a string but float64"): the
    verification ends in Error. A 7-digit short SHA (0123456, 1234e56) or a tag such as
    20241201 does that, so every verification arg that holds an expression is quote()d: in
    every kustomization and in the README examples (docs/platform-facts.md, "Kargo
    verification")."""
    stages = [
        (directory, stage)
        for directory in KUSTOMIZATIONS
        if directory not in PATCH_ONLY
        for stage in of_kind(render(directory), "Stage")
    ]
    assert stages, "no Stage rendered"
    for directory, stage in stages:
        assert unquoted_expression_args(stage) == [], (directory, stage["metadata"]["name"])
    documented = 0
    for markdown in (REPO / "README.md", KUSTOMIZE / "README.md"):
        for doc in yaml_blocks(markdown):
            stage = doc if doc.get("kind") == "Stage" else {"spec": doc}
            if stage["spec"].get("verification", {}).get("args"):
                documented += 1
                assert unquoted_expression_args(stage) == [], markdown.name
    assert documented, "the READMEs show no verification args"


@pytest.mark.parametrize(
    "value",
    [
        "${{ imageFrom(vars.imageRepo).Annotations['org.opencontainers.image.revision'] }}",
        "${{ ctx.stage }}",
        "${{ quote(ctx.stage) }}-${{ vars.x }}",
        "prefix-${{ quote(ctx.stage) }}",
        "${{ quote(ctx.stage) }} ${{ quote(ctx.project) }}",
    ],
)
def test_an_unquoted_expression_arg_is_seen(value: str) -> None:
    stage = {"spec": {"verification": {"args": [{"name": "x", "value": value}]}}}
    assert unquoted_expression_args(stage) == [f"x: {value}"]


def test_warehouse_does_not_pair_images_with_an_unrelated_newest_commit() -> None:
    """A git subscription next to the image one pairs the newest image with the newest commit,
    independently: the tests could run at a commit the image was not built from. Only with a
    freightCreationCriteria expression that ties the two is it allowed."""
    for warehouse in of_kind(kargo_objs(), "Warehouse"):
        kinds = {next(iter(sub)) for sub in warehouse["spec"]["subscriptions"]}
        if {"git", "image"} <= kinds:
            assert warehouse["spec"].get("freightCreationCriteria", {}).get("expression")


def test_job_mounts_the_git_credentials_read_only_and_optional() -> None:
    template = the_template()
    (metric,) = job_metrics(template)
    pod = metric["provider"]["job"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    container = runner_container(template)
    where = env_of(container)["GIT_CREDENTIALS_DIR"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == where]
    assert mount["readOnly"] is True
    secret = volumes[mount["name"]]["secret"]
    assert secret["optional"] is True
    # The Kyverno policy copies it into every namespace that opts in with this label.
    (namespace,) = of_kind(kargo_objs(), "Namespace")
    name = secret["secretName"]
    assert namespace["metadata"]["labels"].get("secrets.eda/tests-git") == "true", name
    env = env_of(container)
    assert env["TESTS_REPO"]["value"] == "{{args.tests-repo}}"
    assert env["TESTS_REVISION"]["value"] == "{{args.tests-revision}}"


def test_promotion_steps() -> None:
    wanted = ["git-clone", "kustomize-set-image", "git-commit", "git-push", "argocd-update"]
    for stage in of_kind(kargo_objs(), "Stage"):
        steps = stage["spec"]["promotionTemplate"]["spec"]["steps"]
        assert [step["uses"] for step in steps] == wanted


def test_kargo_names_resolve() -> None:
    objs = kargo_objs()
    (project,) = of_kind(objs, "Project")
    namespace = project["metadata"]["name"]
    ns = named(objs, "Namespace")[namespace]
    assert ns["metadata"]["labels"]["kargo.akuity.io/project"] == "true"
    for obj in objs:
        # The proof's Role and RoleBinding live where the application runs (prove-rbac.yaml).
        if obj["kind"] not in {"Project", "Namespace"} and not obj["kind"].startswith("Role"):
            assert obj["metadata"]["namespace"] == namespace, obj["metadata"]["name"]

    (config,) = of_kind(objs, "ProjectConfig")
    assert config["metadata"]["name"] == namespace
    stages = named(objs, "Stage")
    warehouses = named(objs, "Warehouse")
    auto = [p for p in config["spec"]["promotionPolicies"] if p.get("autoPromotionEnabled")]
    assert [p["stageSelector"]["name"] for p in auto] == ["test"]
    assert set(stages) >= {"test"}
    for stage in stages.values():
        for request in stage["spec"]["requestedFreight"]:
            assert request["origin"]["name"] in warehouses
            assert set(request["sources"].get("stages", [])) <= set(stages)


def test_example_freight_matches_its_warehouse() -> None:
    # Kargo's Freight webhook wants exactly one artifact per Warehouse subscription.
    warehouses = named(kargo_objs(), "Warehouse")
    for freight in of_kind(render("examples"), "Freight"):
        subs = warehouses[freight["origin"]["name"]]["spec"]["subscriptions"]
        want = sorted((k, s[k]["repoURL"]) for s in subs for k in s)
        have = sorted(
            [("image", i["repoURL"]) for i in freight.get("images", [])]
            + [("git", c["repoURL"]) for c in freight.get("commits", [])]
            + [("chart", c["repoURL"]) for c in freight.get("charts", [])]
        )
        assert have == want


def test_example_promotion_targets_a_stage() -> None:
    stages = named(kargo_objs(), "Stage")
    for promotion in of_kind(render("examples"), "Promotion"):
        assert promotion["spec"]["stage"] in stages


def test_example_promotion_runs_the_stages_own_steps() -> None:
    """examples/promotion.yaml says its steps copy the Stage's: they must, alias and
    desiredRevision included, or the hand-made promotion tests something else."""
    stages = named(kargo_objs(), "Stage")
    for promotion in of_kind(render("examples"), "Promotion"):
        stage = stages[promotion["spec"]["stage"]]
        assert promotion["spec"]["steps"] == stage["spec"]["promotionTemplate"]["spec"]["steps"]
        verification_only = {"baseURL", "workload", "appNamespace"}
        assert promotion["spec"]["vars"] == [
            var for var in stage["spec"]["vars"] if var["name"] not in verification_only
        ]


def _desired_revisions(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "desiredRevision":
                yield str(value)
            else:
                yield from _desired_revisions(value)
    elif isinstance(node, list):
        for item in node:
            yield from _desired_revisions(item)


@pytest.mark.parametrize("directory", ["kargo", "examples"])
def test_desired_revisions_come_from_git_push(directory: str) -> None:
    """git-push rebases and outputs the commit the remote has; git-commit's may never reach it
    (docs/platform-facts.md, "Kargo verification"): every desiredRevision reads the output of a
    git-push step, in the Stages and in the example Promotion alike."""
    checked = 0
    for obj in render(directory):
        if obj["kind"] == "Stage":
            steps = obj["spec"]["promotionTemplate"]["spec"]["steps"]
        elif obj["kind"] == "Promotion":
            steps = obj["spec"]["steps"]
        else:
            continue
        aliases = {
            step.get("as", f"step-{n}"): step["uses"] for n, step in enumerate(steps, start=1)
        }
        for revision in _desired_revisions(steps):
            (alias,) = re.findall(r"outputs(?:\.([\w-]+)|\['([\w-]+)'\])", revision)
            assert aliases[alias[0] or alias[1]] == "git-push", (obj["metadata"]["name"], revision)
            checked += 1
    assert checked


# -- deployments: references, RBAC, pod security ---------------------------------------------


@pytest.mark.parametrize("directory", DEPLOYMENTS)
def test_names_resolve(directory: str) -> None:
    objs = render(directory)
    accounts = named(objs, "ServiceAccount")
    roles = named(objs, "Role")
    claims = named(objs, "PersistentVolumeClaim")
    config_maps = named(objs, "ConfigMap")
    for name, pod in pod_specs(objs):
        account = pod.get("serviceAccountName")
        assert account is None or account in accounts, f"{name}: no ServiceAccount {account}"
        for volume in pod.get("volumes", []):
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, name
            if "configMap" in volume:
                assert volume["configMap"]["name"] in config_maps, name
    for binding in of_kind(objs, "RoleBinding"):
        assert binding["roleRef"]["name"] in roles
        for subject in binding["subjects"]:
            assert subject["name"] in accounts
    for pv_claim in claims.values():
        volume_name = pv_claim["spec"].get("volumeName")
        assert volume_name is None or volume_name in named(objs, "PersistentVolume")
    deployments = of_kind(objs, "Deployment")
    for service in of_kind(objs, "Service"):
        selector = service["spec"]["selector"].items()
        assert any(
            selector <= d["spec"]["template"]["metadata"]["labels"].items() for d in deployments
        ), service["metadata"]["name"]


def test_the_proof_role_grants_what_the_proof_reads_and_nothing_more() -> None:
    """runner/proof.py GETs the workload and LISTs ReplicaSets and pods in the Stage's
    appNamespace, as the runner's ServiceAccount in the project namespace."""
    objs = kargo_objs()
    (role,) = [
        r for r in of_kind(objs, "Role") if r["metadata"]["name"] == "verification-runner-prove"
    ]
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert granted == {
        ("apps", "deployments", "get"),
        ("apps", "statefulsets", "get"),
        ("argoproj.io", "rollouts", "get"),
        ("apps", "replicasets", "list"),
        ("", "pods", "list"),
    }
    (binding,) = [
        b
        for b in of_kind(objs, "RoleBinding")
        if b["roleRef"]["name"] == "verification-runner-prove"
    ]
    (stage,) = [s for s in of_kind(objs, "Stage") if "verification" in s["spec"]]
    app_namespace = {v["name"]: v["value"] for v in stage["spec"]["vars"]}["appNamespace"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == app_namespace
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "verification-runner",
            "namespace": stage["metadata"]["namespace"],
        }
    ]


def test_runner_role_is_least_privilege() -> None:
    (role,) = of_kind(render("base"), "Role")
    rules = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    assert rules == {("batch", "jobs", "get"), ("argoproj.io", "analysisruns", "get")}


@pytest.mark.parametrize("directory", DEPLOYMENTS)
def test_pods_have_a_read_only_root(directory: str) -> None:
    """Pod Security 'restricted' is lint's (pss-violation, with the enforcing namespace from
    kargo/); a read-only root filesystem is this project's own choice on top."""
    specs = list(pod_specs(render(directory)))
    assert len(specs) >= 2, "expected the runner Job and the artifact server"
    for name, pod in specs:
        for container in pod["containers"] + pod.get("initContainers", []):
            ctx = container.get("securityContext", {})
            assert ctx.get("readOnlyRootFilesystem") is True, f"{name} {container['name']}"


def test_artifact_server_mounts_the_volume_read_only() -> None:
    for directory in DEPLOYMENTS:
        (deployment,) = of_kind(render(directory), "Deployment")
        pod = deployment["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert volume["persistentVolumeClaim"]["readOnly"] is True
        for container in pod["containers"]:
            for mount in container["volumeMounts"]:
                if mount["name"] == volume["name"]:
                    assert mount["readOnly"] is True


def test_storage_overlays() -> None:
    cluster = named(render("overlays/cluster"), "PersistentVolumeClaim")
    assert cluster["verification-artifacts"]["spec"]["accessModes"] == ["ReadWriteMany"]
    local = render("overlays/local")
    (pv,) = of_kind(local, "PersistentVolume")
    assert "hostPath" in pv["spec"]
    claim = named(local, "PersistentVolumeClaim")["verification-artifacts"]
    assert claim["spec"]["volumeName"] == pv["metadata"]["name"]
    assert claim["spec"]["storageClassName"] == pv["spec"]["storageClassName"]


# -- Kyverno ------------------------------------------------------------------------------


def test_kyverno_copies_opted_in_secrets_and_keeps_them_in_sync() -> None:
    policies = named(render("kyverno"), "ClusterPolicy")
    generating = [
        rule
        for policy in policies.values()
        for rule in policy["spec"]["rules"]
        if "generate" in rule
    ]
    assert generating
    for rule in generating:
        generate = rule["generate"]
        assert generate["synchronize"] is True
        assert rule["match"]["any"][0]["resources"]["kinds"] == ["Namespace"]
        for each in generate.get("foreach", [generate]):
            source = each.get("cloneList") or each.get("clone")
            assert source, "copies come from clone/cloneList"
            assert source["namespace"] == "eda-secrets"
            # The target is the trigger Namespace, never a list written into the policy.
            assert each["namespace"] == "{{ request.object.metadata.name }}"
            assert "secrets.eda/" in each.get("list", "")


def test_deleting_the_kyverno_policy_keeps_the_copies() -> None:
    """Kyverno deletes every Secret a synchronizing rule generated when its policy is deleted,
    unless the rule orphans them (kyverno/kyverno pkg/policy/generate.go,
    createURForDownstreamDeletion): every synchronizing rule here orphans them, and the README
    says so, with the command that removes copies on purpose and the first apply's retry."""
    rules = [
        rule
        for policy in named(render("kyverno"), "ClusterPolicy").values()
        for rule in policy["spec"]["rules"]
        if rule.get("generate", {}).get("synchronize")
    ]
    assert rules
    for rule in rules:
        assert rule["generate"]["orphanDownstreamOnPolicyDelete"] is True, rule["name"]
    # The field exists where it is written (a typo would be pruned and the cascade stay on).
    schema = (REPO / "runner" / "lint" / "crds" / "kyverno.io_clusterpolicies.yaml").read_text()
    assert "orphanDownstreamOnPolicyDelete:" in schema
    readme = (KUSTOMIZE / "README.md").read_text(encoding="utf-8")
    flat = " ".join(readme.split())
    assert "**Deleting the policy keeps the copies.**" in flat
    assert "-l generate.kyverno.io/policy-name=eda-sync-secrets" in flat
    assert "**The first apply can refuse the policy once.**" in flat


def test_kyverno_docs_say_existing_namespaces_and_sync_need_no_operations() -> None:
    readme = (KUSTOMIZE / "README.md").read_text(encoding="utf-8")
    (section,) = re.findall(r"## Shared secrets.*?(?=\n## )", readme, re.DOTALL)
    flat = " ".join(section.split())
    assert "`generateExisting: true` (namespaces that opted in earlier are covered)" in flat
    assert "must never list `operations`" in flat
    policy = (KUSTOMIZE / "kyverno" / "sync-secrets.yaml").read_text(encoding="utf-8")
    assert "No `operations` here" in policy


def test_verification_namespaces_enforce_restricted() -> None:
    """Every namespace a deployment puts the verification into is declared here, with warn and
    audit at restricted too (enforce is lint's rule pss-not-enforced; platform-facts.md, "Pod
    Security")."""
    namespaces = named(kargo_objs(), "Namespace")
    for deployment in (*DEPLOYMENTS, "overlays/sharded"):
        where = the_template(deployment)["metadata"]["namespace"]
        assert where in namespaces, f"{deployment}: namespace {where} is not declared"
        labels = namespaces[where]["metadata"]["labels"]
        for mode in ("warn", "audit"):
            assert labels.get(f"pod-security.kubernetes.io/{mode}") == "restricted", (where, mode)


def test_kargo_namespace_opts_in_to_its_secrets() -> None:
    (namespace,) = of_kind(kargo_objs(), "Namespace")
    opted = [key for key in namespace["metadata"]["labels"] if key.startswith("secrets.eda/")]
    assert opted


def test_kyverno_guards_kargo_cred_types() -> None:
    text = yaml.safe_dump(list(render("kyverno")))
    assert "git | helm | image | generic" in text


def test_the_documented_readiness_patch_applies_to_the_base(tmp_path: Path) -> None:
    """kustomize/README.md shows how an overlay sets READY_*: the patch must apply to the base
    and give values the runner accepts, with the run still ending before the Job's deadline."""
    readme = (KUSTOMIZE / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "READY_" in b]
    overlay = yaml.safe_load(block)
    overlay["resources"] = [os.path.relpath(KUSTOMIZE / "base", tmp_path)]
    (tmp_path / "kustomization.yaml").write_text(yaml.safe_dump(overlay))
    template = the_template(str(tmp_path))
    env = {
        name: entry.get("value", "") for name, entry in env_of(runner_container(template)).items()
    }
    assert {"READY_CHECKS", "READY_DEADLINE_SECONDS"} <= set(env)
    # The verification args as Argo Rollouts substitutes them.
    args = {
        "BASE_URL": "https://backstage.example",
        "TESTS_REPO": "https://git.example.com/backstage.git",
        "TESTS_REVISION": "0123abc",
        # A Stage that proves nothing passes "" for each (README "Prove the deployment").
        "PROVE_WORKLOAD": "",
        "PROVE_NAMESPACE": "",
        "PROVE_IMAGE": "",
        "PROVE_IMAGE_DIGEST": "",
    }
    settings = load_settings({**env, **args, "HOME": "/tmp"})
    assert settings.ready_checks
    (metric,) = job_metrics(template)
    active_deadline = metric["provider"]["job"]["spec"]["activeDeadlineSeconds"]
    assert settings.ready_deadline_seconds < settings.run_deadline_seconds < active_deadline
