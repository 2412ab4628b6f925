"""The verification Job's pod, run for real: as close to a cluster as this machine gets.

`overlays/local` is rendered with `kubectl kustomize`; the Job is built from the AnalysisTemplate
the way Argo Rollouts v1.9.1 builds it (metricproviders/job/job.go: `{{args.X}}` substituted, the
name `<AnalysisRun UID>.<metric>.<n>`, the metric's Job labels plus `analysisrun.argoproj.io/uid`
on the Job, the annotations, the pod template copied unchanged), then the pod the way the Job
controller makes it (`<job>-<5 chars>`, plus the `batch.kubernetes.io/job-name` and
`controller-uid` labels). `podman kube play` (4.3) runs that pod: uid 10001, read-only root,
dropped capabilities, the `/tmp` and `/dev/shm` emptyDirs, the artifact claim, downward-API env.

What podman cannot do is filled in the way the kubelet would, and `for_podman` lists every change
(a test checks that nothing else differs): the image is the test build; `spec.nodeName` and
`metadata.namespace` are refused as fieldRefs, so they become the values the kubelet would put
there; the claim is a podman volume bound to a host directory (what overlays/local's hostPath PV
is), under a unique name because podman's volumes are host-wide; an optional Secret volume
whose Secret does not exist is an empty directory, as the kubelet mounts it. The tests: when the
AnalysisTemplate declares a `tests-repo` arg, the Job fetches them itself, from a repository on
the test Git server (tests/helpers/git_server.py) holding the suite; before that, they are a
read-only volume at /workspace (the image's TESTS_WORKSPACE). The pod shares the host's network, so BASE_URL reaches the test site on 127.0.0.1 (a cluster pod
reaches its deployment through a Service). KUBERNETES_SERVICE_HOST is not set: there is no API
server here (the promotion lookup has its own tests in tests/test_kube.py).

Needs root, podman and the image (tests/test_container.py builds it; set VR_TEST_IMAGE), and nginx
for the artifact server. Run under `flock /tmp/heavy.lock`: each pod starts Chromium.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import test_container
from tests.helpers.git_server import serve
from tests.test_artifact_server import kargo_log_url, running_server
from tests.test_manifests import RUNNER_IMAGE, job_metrics, render

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "workspaces"
NAMESPACE = "backstage"
NODE = "kind-worker"  # what spec.nodeName would hold once the pod is scheduled
# Kargo names the AnalysisRun <stage>.<ULID>.<freight collection id>.
ANALYSIS_RUN = "test.01jdq8zk5b3m9v7w2x4y6t8r0p.4f1c0de"
FREIGHT_ARGS = {
    "stage": "test",
    "project": NAMESPACE,
    "image": "1.4.2",
    "commit": "4f1c0de2b1a9c8d7e6f5a4b3c2d1e0f9a8b7c6d5",
    # No API server beside a played pod to prove the deployment with: the Stage passes "" for
    # each, as a Stage that proves nothing does (README "Prove the deployment").
    "prove-workload": "",
    "prove-namespace": "",
    "prove-image": "",
    "prove-image-digest": "",
}

Obj = dict[str, Any]

# The one image build, shared with tests/test_container.py (a module fixture: built per module).
image = test_container.image
podman = test_container.podman


# -- what Argo Rollouts and the Job controller make ------------------------------------------


def resolve_args(metric: Obj, declared: list[Obj], given: Mapping[str, str]) -> Obj:
    """The metric with every `{{args.NAME}}` replaced, as Rollouts does before it makes the Job
    (a textual substitution over the metric; every arg must have a value)."""
    values = {arg["name"]: arg.get("value") for arg in declared} | dict(given)
    missing = sorted(name for name, value in values.items() if value is None)
    assert not missing, f"the AnalysisRun would fail: no value for args {missing}"
    text = re.sub(
        r"\{\{\s*args\.([-\w]+)\s*\}\}",
        lambda match: json.dumps(values[match.group(1)])[1:-1],
        json.dumps(metric),
    )
    return json.loads(text)  # type: ignore[no-any-return]


def rollouts_job(template: Obj, metric: Obj, *, uid: str, args: Mapping[str, str]) -> Obj:
    """The Job Argo Rollouts v1.9.1 creates for the first measurement of `metric`."""
    resolved = resolve_args(metric, template["spec"]["args"], args)
    provider = resolved["provider"]["job"]
    meta = provider.get("metadata", {})
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": f"{uid}.{metric['name']}.1",
            "namespace": template["metadata"]["namespace"],
            "labels": {**meta.get("labels", {}), "analysisrun.argoproj.io/uid": uid},
            "annotations": {
                **meta.get("annotations", {}),
                "analysisrun.argoproj.io/name": ANALYSIS_RUN,
                "analysisrun.argoproj.io/namespace": template["metadata"]["namespace"],
                "analysisrun.argoproj.io/metric-name": metric["name"],
            },
        },
        "spec": provider["spec"],
    }


def job_pod(job: Obj) -> Obj:
    """The pod the Job controller creates: the template unchanged (v1.9 adds no uid label to
    it), named `<job>-<5 chars>`, with the job-name and controller-uid labels."""
    name, controller_uid = job["metadata"]["name"], str(uuid.uuid4())
    template = copy.deepcopy(job["spec"]["template"])
    labels = {
        **template.get("metadata", {}).get("labels", {}),
        "batch.kubernetes.io/job-name": name,
        "job-name": name,
        "batch.kubernetes.io/controller-uid": controller_uid,
        "controller-uid": controller_uid,
    }
    suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
    metadata = {"name": f"{name}-{suffix}", "namespace": job["metadata"]["namespace"]}
    metadata["labels"] = labels
    if template.get("metadata", {}).get("annotations"):
        metadata["annotations"] = template["metadata"]["annotations"]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]}


def _claim(name: str, host_dir: Path) -> Obj:
    """A PVC that podman turns into a volume bound to `host_dir` (like a hostPath PV)."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": name,
            "annotations": {
                "volume.podman.io/driver": "local",
                "volume.podman.io/device": str(host_dir),
                "volume.podman.io/type": "none",
                "volume.podman.io/mount-options": "bind",
            },
        },
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }


def for_podman(
    pods: list[Obj], *, image: str, artifacts: Path, workspace: Path | None
) -> tuple[list[Obj], list[str]]:
    """The pods as podman 4.3 can play them, and what was changed to get there (see above).
    `workspace`: the tests as a mounted volume, or None when the Job fetches them."""
    key = secrets.token_hex(4)
    claims = {"artifacts": f"vr-played-artifacts-{key}", "workspace": f"vr-played-tests-{key}"}
    notes = [f"image -> {image}", f"claim -> podman volume {claims['artifacts']} on {artifacts}"]
    played = []
    for original in pods:
        pod = copy.deepcopy(original)
        spec = pod["spec"]
        (runner,) = [c for c in spec["containers"] if c["image"].startswith(RUNNER_IMAGE)]
        runner["image"] = image
        filled = {"spec.nodeName": NODE, "metadata.namespace": pod["metadata"]["namespace"]}
        for entry in runner["env"]:
            path = entry.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
            if path in filled:
                del entry["valueFrom"]
                entry["value"] = filled[path]
                notes.append(f"{entry['name']}: fieldRef {path} -> {filled[path]!r}")
        for volume in spec["volumes"]:
            if "persistentVolumeClaim" in volume:
                volume["persistentVolumeClaim"]["claimName"] = claims["artifacts"]
            if volume.get("secret", {}).get("optional"):
                volume.pop("secret")
                volume["emptyDir"] = {}
                notes.append(f"volume {volume['name']}: optional Secret, absent -> empty dir")
        if workspace is not None:
            spec["volumes"].append(
                {"name": "tests", "persistentVolumeClaim": {"claimName": claims["workspace"]}}
            )
            mount = {"name": "tests", "mountPath": "/workspace", "readOnly": True}
            runner["volumeMounts"].append(mount)
        played.append(pod)
    objs = [_claim(claims["artifacts"], artifacts)]
    if workspace is not None:
        notes.append(f"tests workspace -> read-only volume at /workspace from {workspace}")
        objs.append(_claim(claims["workspace"], workspace))
    return [*objs, *played], sorted(set(notes))


def container_name(pod: Obj) -> str:
    (runner,) = pod["spec"]["containers"]
    return f"{pod['metadata']['name']}-{runner['name']}"


# -- running it ------------------------------------------------------------------------------


def fetches_its_tests(template: Obj) -> bool:
    return any(arg["name"] == "tests-repo" for arg in template["spec"]["args"])


@contextlib.contextmanager
def deployment(
    folder: Path, template: Obj, source: Path
) -> Iterator[tuple[dict[str, str], Path | None]]:
    """The deployment under test (the suite's static site on 127.0.0.1) and where the tests
    come from: the verification args, and the workspace to mount (None: fetched from Git)."""
    workspace = Path(shutil.copytree(source, folder / "workspace"))  # podman may chown it
    with contextlib.ExitStack() as stack:
        args = {
            **FREIGHT_ARGS,
            "base-url": stack.enter_context(site(workspace / "verification-site")),
        }
        if not fetches_its_tests(template):
            yield args, workspace
            return
        server = stack.enter_context(serve(folder / "git"))
        bare = server.repos / "public" / "suite.git"
        subprocess.run(["git", "init", "-q", "-b", "main", str(workspace)], check=True)
        identity = ["-c", "user.name=played", "-c", "user.email=played@example.invalid"]
        for step in (["add", "-A"], [*identity, "commit", "-qm", "suite"], ["tag", "v1.0.0"]):
            subprocess.run(["git", "-C", str(workspace), *step], check=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(workspace), str(bare)], check=True)
        yield {**args, "tests-repo": server.url("suite"), "tests-revision": "v1.0.0"}, None


@contextlib.contextmanager
def site(directory: Path) -> Iterator[str]:
    """The deployment under test: the workspace's static site on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def played(objs: list[Obj], folder: Path) -> Iterator[dict[str, int]]:
    """Play the pods; yield each runner container's exit status once all have ended."""
    kube = folder / "played.yaml"
    kube.write_text(yaml.safe_dump_all(objs))
    pods = [obj for obj in objs if obj["kind"] == "Pod"]
    try:
        done = podman("kube", "play", "--network", "host", str(kube), check=False)
        assert done.returncode == 0, done.stderr
        codes = {}
        for pod in pods:
            name = container_name(pod)
            status = podman("wait", name, timeout=900).stdout.strip()
            codes[pod["metadata"]["name"]] = int(status)
            fields = "{{.State.ExitCode}}|{{.HostConfig.ReadonlyRootfs}}|{{.Config.User}}|"
            fields += "{{.EffectiveCaps}}|{{.HostConfig.SecurityOpt}}"
            facts = podman("inspect", name, "--format", fields).stdout.strip().split("|")
            # The pod's security context, in effect: the exit status is the container's own,
            # read-only root, uid/gid 10001, no capabilities, no privilege escalation.
            assert facts[:4] == [status, "true", "10001:10001", "[]"], facts
            assert "no-new-privileges" in facts[4], facts
        yield codes
    finally:
        podman("kube", "down", str(kube), check=False)
        for obj in objs:
            if obj["kind"] == "PersistentVolumeClaim":
                podman("volume", "rm", "-f", obj["metadata"]["name"], check=False)


def _writable_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    path.chmod(0o777)  # the pod writes as uid 10001 (overlays/local/pv.yaml says the same)
    return path


def _local_template(directory: str = "overlays/local") -> Obj:
    (template,) = [o for o in render(directory) if o["kind"] == "AnalysisTemplate"]
    return template


def _run_dir(artifacts: Path, uid: str) -> Path:
    return artifacts / uid.replace("-", "")[:12]


# -- without podman: the played pod is the Job's pod, changed only where said ---------------


def test_played_pod_differs_from_the_jobs_pod_only_where_said(tmp_path: Path) -> None:
    template = _local_template()
    (metric,) = job_metrics(template)
    uid = str(uuid.uuid4())
    given = {**FREIGHT_ARGS, "base-url": "http://x", "tests-repo": "r", "tests-revision": "v"}
    declared = {arg["name"] for arg in template["spec"]["args"]}
    args = {name: value for name, value in given.items() if name in declared}
    job = rollouts_job(template, metric, uid=uid, args=args)
    assert job["metadata"]["name"] == f"{uid}.acceptance.1"
    assert "{{" not in json.dumps(job), "every arg substituted"
    pod = job_pod(job)
    assert "analysisrun.argoproj.io/uid" not in pod["metadata"]["labels"], "v1.9: Job only"
    assert pod["metadata"]["labels"]["batch.kubernetes.io/job-name"] == job["metadata"]["name"]
    mounted = None if fetches_its_tests(template) else tmp_path
    objs, notes = for_podman([pod], image="img", artifacts=tmp_path, workspace=mounted)
    (played_pod,) = [o for o in objs if o["kind"] == "Pod"]
    assert played_pod["metadata"] == pod["metadata"]
    changed = copy.deepcopy(played_pod["spec"])
    (runner,) = changed["containers"]
    assert runner["image"] == "img"
    runner["image"] = pod["spec"]["containers"][0]["image"]
    if mounted is not None:
        assert runner["volumeMounts"].pop()["mountPath"] == "/workspace"
        assert changed["volumes"].pop()["name"] == "tests"
    for before, after in zip(pod["spec"]["volumes"], changed["volumes"], strict=True):
        if "persistentVolumeClaim" in before:
            claim = before["persistentVolumeClaim"]["claimName"]
            after["persistentVolumeClaim"]["claimName"] = claim
        if before.get("secret", {}).get("optional"):
            assert after.pop("emptyDir") == {}
            after["secret"] = before["secret"]
    fields = {"NODE_NAME": "spec.nodeName", "POD_NAMESPACE": "metadata.namespace"}
    for entry in runner["env"]:
        if entry["name"] in fields:
            entry.pop("value")
            entry["valueFrom"] = {"fieldRef": {"fieldPath": fields[entry["name"]]}}
    assert changed == pod["spec"]
    optional_secrets = sum("secret" in volume for volume in pod["spec"]["volumes"])
    assert len(notes) == 4 + (mounted is not None) + optional_secrets, notes


# -- played ----------------------------------------------------------------------------------


def _play_one(tmp_path: Path, image: str, source: Path) -> tuple[int, Path, str, list[str], Path]:
    artifacts = _writable_dir(tmp_path / "artifacts")
    template = _local_template()
    (metric,) = job_metrics(template)
    uid = str(uuid.uuid4())
    with deployment(tmp_path, template, source) as (args, workspace):
        job = rollouts_job(template, metric, uid=uid, args=args)
        pod = job_pod(job)
        objs, notes = for_podman([pod], image=image, artifacts=artifacts, workspace=workspace)
        with played(objs, tmp_path) as codes:
            (code,) = codes.values()
    return code, artifacts, job["metadata"]["name"], notes, _run_dir(artifacts, uid)


@pytest.mark.container
@pytest.mark.nginx
def test_pod_played_like_rollouts_1_9(image: str, tmp_path: Path) -> None:
    """The example suite, green: exit 0 as the container's status, the evidence on the volume,
    the UID taken from the Job name (v1.9), and the log at the URL Kargo builds."""
    code, artifacts, job, notes, run = _play_one(tmp_path, image, REPO / "examples" / "workspace")
    attempt = run / "attempt-1"
    log = (attempt / "verification.log").read_text()
    assert code == 0, "\n".join(notes) + "\n" + log[-4000:]
    assert "VERIFICATION PASSED" in log.splitlines()[-1]
    summary = json.loads((attempt / "summary.json").read_text())
    assert (summary["exit_code"], summary["failed"]) == (0, 0) and summary["passed"] > 0
    assert (attempt / "html-report" / "index.html").exists()
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    uid = job.partition(".")[0]
    assert (meta["analysis_run_uid"], meta["analysis_run_uid_source"]) == (uid, "job-name")
    assert (meta["kubernetes_job_name"], meta["kubernetes_namespace"]) == (job, NAMESPACE)
    assert meta["kubernetes_pod_name"].startswith(f"{job}-")
    assert meta["stage"] == FREIGHT_ARGS["stage"]
    assert meta["freight_commit"] == FREIGHT_ARGS["commit"]
    assert (attempt / "verification.log").stat().st_uid == 10001, "the Job's user wrote it"

    base = _writable_dir(tmp_path / "nginx")
    with running_server(base, artifacts) as server:
        url = kargo_log_url(NAMESPACE, job, NAMESPACE)
        response = server.request(url.path)
    assert response.status == 200 and response.content_type.startswith("text/plain")
    assert response.body == log


@pytest.mark.container
def test_played_pod_of_a_broken_suite_fails(image: str, tmp_path: Path) -> None:
    code, artifacts, job, notes, run = _play_one(tmp_path, image, FIXTURES / "failing")
    attempt = run / "attempt-1"
    log = (attempt / "verification.log").read_text()
    assert code == 1, "\n".join(notes) + "\n" + log[-4000:]
    verdict = log.splitlines()[-1]
    assert "VERIFICATION FAILED" in verdict and "fails on purpose" in verdict
    summary = json.loads((attempt / "summary.json").read_text())
    assert [failure["name"] for failure in summary["failures"]] == ["fails on purpose"]
    assert (artifacts / "_jobs" / NAMESPACE / f"{job}.log").samefile(attempt / "verification.log")


@pytest.mark.container
def test_two_played_shards_merge_into_one_verdict(image: str, tmp_path: Path) -> None:
    """overlays/sharded: its two metrics' pods, played together on one volume, are one run;
    the shard that finds the other done merges, and the merged result is the whole suite."""
    artifacts = _writable_dir(tmp_path / "artifacts")
    template = _local_template("overlays/sharded")
    uid = str(uuid.uuid4())
    with deployment(tmp_path, template, REPO / "examples" / "workspace") as (args, workspace):
        jobs = [rollouts_job(template, m, uid=uid, args=args) for m in job_metrics(template)]
        assert len(jobs) == 2
        pods = [job_pod(job) for job in jobs]
        objs, notes = for_podman(pods, image=image, artifacts=artifacts, workspace=workspace)
        with played(objs, tmp_path) as codes:
            pass
    run = _run_dir(artifacts, uid)
    logs = {
        i: (run / f"shard-{i}" / "attempt-1" / "verification.log").read_text() for i in range(2)
    }
    assert list(codes.values()) == [0, 0], "\n".join(notes) + logs[0][-3000:] + logs[1][-3000:]
    merged = json.loads((run / "merged" / "summary.json").read_text())
    # The unsharded Kargo run of the example suite is 18 tests (tests/test_e2e_browser.py).
    assert (merged["total"], merged["passed"], merged["failed"]) == (18, 18, 0)
    assert (merged["shard_count"], merged["missing_shards"]) == (2, [])
    assert sum("merged report:" in log for log in logs.values()) == 1
    for i, job in enumerate(jobs):  # each metric's Job shows its own shard's log
        index = artifacts / "_jobs" / NAMESPACE / f"{job['metadata']['name']}.log"
        assert index.samefile(run / f"shard-{i}" / "attempt-1" / "verification.log")
