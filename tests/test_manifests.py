"""The manifests under kustomize/: they render, they validate, and they encode the domain facts.

Rendering uses the real `kubectl kustomize`; built-in kinds are validated by kubernetes-validate
in strict mode, custom resources by runner/lint/schema.py against the CRDs vendored in
runner/lint/crds. The semantic tests below each name the fact in docs/platform-facts.md that they
protect.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from runner.lint.checks_pods import RESTRICTED_VOLUME_TYPES
from runner.lint.schema import CrdRegistry, SchemaError
from runner.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[1]
KUSTOMIZE = REPO / "kustomize"
# Vendored byte for byte, with their sources and licences (runner/lint/crds/SOURCES.md).
CRDS = REPO / "runner" / "lint" / "crds"
K8S_VERSION = "1.33"

RUNNER_IMAGE = "ghcr.io/example/verification-runner"
TEMPLATE_NAME = "verification-runner"
ARGS_TO_ENV = {
    "stage": "KARGO_STAGE",
    "project": "KARGO_PROJECT",
    "base-url": "BASE_URL",
    "image": "FREIGHT_IMAGE",
    "commit": "FREIGHT_COMMIT",
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
        pytest.fail("kubectl is not on PATH: install it (kustomize v5 is built in) to render")
    result = subprocess.run(
        [kubectl, "kustomize", str(KUSTOMIZE / directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return result.stdout


@functools.cache
def registry() -> CrdRegistry:
    assert CRDS.is_dir(), f"CRD schemas not found at {CRDS}"
    return CrdRegistry(CRDS)


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
    return container


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
    assert not missing, f"runner.settings.Settings no longer reads {sorted(missing)}"
    return {field.upper(): path for field, path in DOWNWARD_API.items()}


def kargo_objs() -> tuple[Obj, ...]:
    return render("kargo")


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
    problems: list[str] = []
    for obj in render(directory):
        label = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        if registry().knows(obj["apiVersion"], obj["kind"]):
            problems += [f"{label}: {error}" for error in registry().validate(obj)]
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


# -- the validators themselves can fail ------------------------------------------------------


def _stage() -> Obj:
    return yaml.safe_load(
        """
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Stage
        metadata: {name: test, namespace: demo}
        spec:
          requestedFreight:
            - origin: {kind: Warehouse, name: demo}
              sources: {direct: true}
          verification:
            analysisTemplates: [{name: t}]
            args: [{name: a, value: b}]
        """
    )


def _errors(obj: Obj) -> list[str]:
    return [str(error) for error in registry().validate(obj)]


def test_validator_accepts_a_valid_stage() -> None:
    assert _errors(_stage()) == []


def test_validator_rejects_verification_reuse() -> None:
    stage = _stage()
    stage["spec"]["verification"]["reuse"] = True
    assert _errors(stage) == ["spec.verification.reuse: unknown field"]


def test_validator_rejects_unknown_fields_at_any_depth() -> None:
    stage = _stage()
    stage["spec"]["requestedFreight"][0]["origin"]["colour"] = "blue"
    stage["specs"] = {}
    stage["metadata"]["labelz"] = {}
    assert sorted(_errors(stage)) == [
        "metadata.labelz: unknown field",
        "spec.requestedFreight[0].origin.colour: unknown field",
        "specs: unknown field",
    ]


def test_validator_checks_required_enum_and_types() -> None:
    stage = _stage()
    origin = stage["spec"]["requestedFreight"][0]["origin"]
    origin["kind"] = "Shed"
    del origin["name"]
    stage["spec"]["verification"]["args"][0]["value"] = 3
    assert sorted(_errors(stage)) == [
        "spec.requestedFreight[0].origin.kind: 'Shed' not one of ['Warehouse']",
        "spec.requestedFreight[0].origin.name: required",
        "spec.verification.args[0].value: expected string, got int",
    ]


def test_validator_int_or_string_and_preserved_fields() -> None:
    template = the_template()
    metric = job_metrics(template)[0]
    for count in (1, "{{args.count}}"):
        metric["count"] = count
        assert registry().validate(template) == []
    metric["count"] = 1.5
    assert registry().validate(template) == [
        SchemaError(("spec", "metrics", 0, "count"), "expected integer or string, got float")
    ]


def test_kubernetes_validate_strict_rejects_unknown_fields() -> None:
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "bogus": True,
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(config_map, K8S_VERSION, strict=True)


# -- the job metric (domain facts: "Argo Rollouts job metric") -------------------------------


def test_job_metric_runs_once_and_fails_on_one_failure() -> None:
    # count 1 + failureLimit 1 lets a failed Job end Successful (analysis.go assessMetricStatus).
    for metric in job_metrics(the_template()):
        assert metric.get("count") == 1
        assert metric.get("failureLimit", 0) in (0, "0")
        # Not evaluated for the job provider: writing them only misleads readers.
        assert "successCondition" not in metric
        assert "failureCondition" not in metric


def test_job_spec_keeps_one_pod_per_run() -> None:
    (metric,) = job_metrics(the_template())
    job = metric["provider"]["job"]["spec"]
    assert job["backoffLimit"] == 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert isinstance(job["activeDeadlineSeconds"], int)
    assert job["activeDeadlineSeconds"] > 0
    assert job["ttlSecondsAfterFinished"] >= 3600, "keep finished Jobs for hours"
    rules = job["podFailurePolicy"]["rules"]
    assert {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    } in rules


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


@pytest.mark.parametrize("count", [2, 4])
def test_sharded_metrics_render_validate_and_are_distinct(tmp_path: Path, count: int) -> None:
    directory = sharded_overlay(tmp_path, count)
    problems = [
        f"{obj['kind']}: {error}"
        for obj in render(directory)
        if registry().knows(obj["apiVersion"], obj["kind"])
        for error in registry().validate(obj)
    ]
    assert not problems, "\n".join(problems)
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


def test_run_deadline_leaves_room_before_the_job_deadline() -> None:
    (metric,) = job_metrics(the_template())
    active_deadline = metric["provider"]["job"]["spec"]["activeDeadlineSeconds"]
    run_deadline = float(env_of(runner_container(the_template()))["RUN_DEADLINE_SECONDS"]["value"])
    assert run_deadline < active_deadline
    assert active_deadline - run_deadline >= 60, "margin to stop Playwright and flush results"


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
    assert env - not_settings <= known, f"unknown to runner.settings: {env - known - not_settings}"


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


def test_stage_verification_matches_the_template() -> None:
    template = the_template()
    declared = {arg["name"] for arg in template["spec"]["args"]}
    required = {arg["name"] for arg in template["spec"]["args"] if "value" not in arg}
    used = set(re.findall(r"\{\{\s*args\.([-\w]+)\s*\}\}", yaml.safe_dump(template)))
    assert used <= declared, f"{{{{args.X}}}} used but not declared: {used - declared}"

    stages = [s for s in of_kind(kargo_objs(), "Stage") if "verification" in s["spec"]]
    assert stages, "no Stage runs the verification"
    for stage in stages:
        verification = stage["spec"]["verification"]
        names = {ref["name"] for ref in verification["analysisTemplates"]}
        assert TEMPLATE_NAME in names
        passed = {arg["name"] for arg in verification.get("args", [])}
        assert passed <= declared, f"{stage['metadata']['name']} passes undeclared {passed}"
        assert required <= passed, f"{stage['metadata']['name']} misses {required - passed}"


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
    }
    for stage in of_kind(kargo_objs(), "Stage"):
        verification = stage["spec"].get("verification", {})
        args = {arg["name"]: arg["value"] for arg in verification.get("args", [])}
        for name, value in args.items():
            assert value.startswith("${{") and value.endswith("}}"), value
            # Verification cannot see the Promotion.
            assert "ctx.promotion" not in value
            assert expected.get(name, "") in value, (name, value)
        if args:
            # .Tag and .Annotations are fields of imageFrom()'s result.
            assert args["image"].removesuffix("}}").strip().endswith(".Tag")
            for name in ("commit", "tests-repo", "tests-revision"):
                assert args[name].startswith("${{ imageFrom(vars.imageRepo).Annotations["), name


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
        aliases = {step["as"] for step in steps if "as" in step}
        referenced = set(re.findall(r"outputs(?:\['([-\w]+)'\]|\.([-\w]+))", yaml.safe_dump(steps)))
        assert {a or b for a, b in referenced} <= aliases


def test_health_checks_use_the_pushed_commit() -> None:
    """git-push rebases by default and outputs what it pushed; git-commit's output is not on the
    remote when the branch moved (platform-facts.md, "Kargo verification")."""
    for stage in of_kind(kargo_objs(), "Stage"):
        steps = stage["spec"]["promotionTemplate"]["spec"]["steps"]
        pushes = [step for step in steps if step["uses"] == "git-push"]
        assert [step.get("as") for step in pushes] == ["push"], stage["metadata"]["name"]
        revisions = re.findall(r"desiredRevision: (.*)", yaml.safe_dump(steps))
        assert revisions, stage["metadata"]["name"]
        for revision in revisions:
            assert revision.replace(" ", "") == "${{outputs.push.commit}}", revision


def test_kargo_names_resolve() -> None:
    objs = kargo_objs()
    (project,) = of_kind(objs, "Project")
    namespace = project["metadata"]["name"]
    ns = named(objs, "Namespace")[namespace]
    assert ns["metadata"]["labels"]["kargo.akuity.io/project"] == "true"
    for obj in objs:
        if obj["kind"] not in {"Project", "Namespace"}:
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


def test_template_and_stage_share_a_namespace() -> None:
    stage_namespaces = {s["metadata"]["namespace"] for s in of_kind(kargo_objs(), "Stage")}
    for deployment in DEPLOYMENTS:
        assert {the_template(deployment)["metadata"]["namespace"]} == stage_namespaces


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
def test_pods_meet_restricted_pod_security(directory: str) -> None:
    specs = list(pod_specs(render(directory)))
    assert len(specs) >= 2, "expected the runner Job and the artifact server"
    for name, pod in specs:
        pod_ctx = pod.get("securityContext", {})
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(flag), f"{name}: {flag}"
        for volume in pod.get("volumes", []):
            kinds = set(volume) - {"name"}
            assert kinds <= RESTRICTED_VOLUME_TYPES, f"{name}: volume {volume['name']} {kinds}"
        for container in pod["containers"] + pod.get("initContainers", []):
            ctx = container.get("securityContext", {})
            where = f"{name} {container['name']}"
            assert ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is True, where
            assert ctx.get("runAsUser", pod_ctx.get("runAsUser", 1)) != 0, where
            assert ctx.get("allowPrivilegeEscalation") is False, where
            assert not ctx.get("privileged"), where
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not ctx.get("capabilities", {}).get("add"), where
            seccomp = ctx.get("seccompProfile", pod_ctx.get("seccompProfile", {}))
            assert seccomp.get("type") in {"RuntimeDefault", "Localhost"}, where
            assert ctx.get("readOnlyRootFilesystem") is True, where


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


# -- kustomize hygiene --------------------------------------------------------------------


@pytest.mark.parametrize("directory", KUSTOMIZATIONS)
def test_labels_never_rewrite_selectors(directory: str) -> None:
    kustomization = yaml.safe_load((KUSTOMIZE / directory / "kustomization.yaml").read_text())
    assert "commonLabels" not in kustomization
    for entry in kustomization.get("labels", []):
        assert entry.get("includeSelectors") is False


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


def test_kyverno_generate_rules_do_not_match_on_operations() -> None:
    """Background generation (generateExisting, synchronize) carries no admission operation, so a
    generate rule matching on `operations` is skipped there (platform-facts.md, "Kyverno")."""
    generating = [
        (policy["metadata"]["name"], rule)
        for policy in of_kind(render("kyverno"), "ClusterPolicy")
        for rule in policy["spec"]["rules"]
        if "generate" in rule
    ]
    assert generating
    for name, rule in generating:
        for block in ("match", "exclude"):
            for kind in ("any", "all"):
                for entry in rule.get(block, {}).get(kind, []):
                    assert "operations" not in entry.get("resources", {}), (name, block)


def test_kyverno_docs_say_existing_namespaces_and_sync_need_no_operations() -> None:
    readme = (KUSTOMIZE / "README.md").read_text(encoding="utf-8")
    (section,) = re.findall(r"## Shared secrets.*?(?=\n## )", readme, re.DOTALL)
    flat = " ".join(section.split())
    assert "`generateExisting: true` (namespaces that opted in earlier are covered)" in flat
    assert "must never list `operations`" in flat
    policy = (KUSTOMIZE / "kyverno" / "sync-secrets.yaml").read_text(encoding="utf-8")
    assert "No `operations` here" in policy


def test_verification_namespaces_enforce_restricted() -> None:
    """Pod Security "restricted" is enforced only where the namespace carries the label
    (platform-facts.md, "Pod Security"): every namespace a deployment puts the verification
    into is declared with enforce, warn and audit at restricted."""
    namespaces = named(kargo_objs(), "Namespace")
    for deployment in (*DEPLOYMENTS, "overlays/sharded"):
        where = the_template(deployment)["metadata"]["namespace"]
        assert where in namespaces, f"{deployment}: namespace {where} is not declared"
        labels = namespaces[where]["metadata"]["labels"]
        for mode in ("enforce", "warn", "audit"):
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
    }
    settings = load_settings({**env, **args, "HOME": "/tmp"})
    assert settings.ready_checks
    (metric,) = job_metrics(template)
    active_deadline = metric["provider"]["job"]["spec"]["activeDeadlineSeconds"]
    assert settings.ready_deadline_seconds < settings.run_deadline_seconds < active_deadline
