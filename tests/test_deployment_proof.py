"""The deployment proof through the real CLI: a Kubernetes API stand-in on 127.0.0.1 that
answers with Deployment, ReplicaSet and Pod objects shaped as the real API returns them, and an
HTTP target that says its version. Worlds switch after a number of looks, not after a time."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REPO, FakePlaywright, runner_command
from tests.helpers import kube_objects as k
from tests.helpers.kube_api import KubeApi, World, serve, service_account
from tests.test_readme import sh_blocks

NS = "backstage-test"
NEW, OLD = "ghcr.io/acme/backstage:1.4.2", "ghcr.io/acme/backstage:1.4.1"
D_NEW = "sha256:" + "a" * 64
DEPLOY = f"/apis/apps/v1/namespaces/{NS}/deployments/backstage"
RSETS = f"/apis/apps/v1/namespaces/{NS}/replicasets"
PODS = f"/api/v1/namespaces/{NS}/pods"


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return service_account(tmp_path_factory.mktemp("sa"), "sa-token-proof-0123456789")


def _world(new: int, old: int, *, updated: int | None = None, pull_fails: bool = False) -> World:
    deploy = k.deployment(
        "backstage", NS, NEW, updated=new if updated is None else updated, total=new + old
    )
    rs_new, rs_old = (
        k.replica_set(deploy, "7d4b9c8f6d", new),
        k.replica_set(deploy, "5c6d7e8f9a", old),
    )
    pods = [
        k.pod(
            rs_new,
            f"n{i}",
            NEW,
            digest=D_NEW,
            waiting=("ImagePullBackOff", 'Back-off pulling image "ghcr.io/acme/backstage:1.4.2"')
            if pull_fails
            else None,
        )
        for i in range(new)
    ]
    pods += [k.pod(rs_old, f"o{i}", OLD, digest="sha256:" + "b" * 64) for i in range(old)]
    return World(
        objects={DEPLOY: deploy},
        collections={RSETS: [rs_new, rs_old], PODS: pods},
    )


def _env(tmp_path: Path, api: KubeApi, account: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "ARTIFACT_ROOT": str(tmp_path / "a"),
        "KUBERNETES_SERVICE_HOST": "127.0.0.1",
        "KUBERNETES_SERVICE_PORT": str(api.port),
        "SERVICE_ACCOUNT_DIR": str(account),
        "POD_NAMESPACE": "kargo-project",
        "LOOKUP_PROMOTION": "false",
        "PROVE_WORKLOAD": "deployment/backstage",
        "PROVE_NAMESPACE": NS,
        "PROVE_IMAGE": NEW,
        "READY_SKIP": "true",  # the proof alone: no BASE_URL to probe
        "READY_BACKOFF_INITIAL_SECONDS": "0.05",
        "READY_BACKOFF_MAX_SECONDS": "0.05",
        **extra,
    }


def _call(
    argv: list[str], env: dict[str, str], cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def _wait(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return _call([*runner_command(), "wait"], env)


def test_the_gate_waits_for_the_rollout_then_passes(tmp_path: Path, account: Path) -> None:
    worlds = [_world(1, 2, updated=1), _world(2, 1, updated=2), _world(3, 0)]
    with serve(KubeApi(worlds, DEPLOY), account) as api:
        done = _wait(_env(tmp_path, api, account))
    assert done.returncode == 0, done.stdout + done.stderr
    assert api.looks >= 3
    assert (
        f"not ready: deployment/backstage: 2 of 3 Ready pods still run {OLD}, expected {NEW}"
        in done.stdout
    )
    assert (
        f"3 of 3 Ready pods run ghcr.io/acme/backstage@{D_NEW}" not in done.stdout
        or "ready" in done.stdout
    )
    assert "target ready" in done.stdout
    assert all(line.endswith("Bearer sa-token-proof-0123456789") for line in api.seen)
    assert "sa-token-proof" not in done.stdout + done.stderr


def test_a_rollout_that_never_finishes_is_not_ready_naming_both_images(
    tmp_path: Path, account: Path
) -> None:
    with serve(KubeApi([_world(1, 2, updated=1)], DEPLOY), account) as api:
        done = _wait(_env(tmp_path, api, account, READY_DEADLINE_SECONDS="1"))
    assert done.returncode == 4, done.stdout + done.stderr
    last = done.stdout.strip().splitlines()[-1] + done.stderr
    assert f"deployment/backstage: 2 of 3 Ready pods still run {OLD}, expected {NEW}" in last


def test_a_pod_in_image_pull_back_off_is_named(tmp_path: Path, account: Path) -> None:
    world = _world(1, 0, pull_fails=True)
    with serve(KubeApi([world], DEPLOY), account) as api:
        done = _wait(_env(tmp_path, api, account, READY_DEADLINE_SECONDS="1"))
    assert done.returncode == 4
    assert (
        "1 of 3 new replicas updated (pod backstage-7d4b9c8f6d-n0 waits: ImagePullBackOff: "
        'Back-off pulling image "ghcr.io/acme/backstage:1.4.2")'
    ) in done.stderr


def test_rbac_refusal_is_exit_3_in_one_line(tmp_path: Path, account: Path) -> None:
    api = KubeApi([_world(3, 0)], DEPLOY, forbidden=frozenset({PODS}))
    with serve(api, account):
        done = _wait(_env(tmp_path, api, account))
    assert done.returncode == 3, done.stdout + done.stderr
    assert (
        f"the Kubernetes API refused to list pods in namespace {NS} (HTTP 403): the runner's "
        "ServiceAccount needs get on deployments.apps and list on replicasets.apps and pods there"
    ) in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_a_workload_that_does_not_exist_is_exit_3_naming_the_settings(
    tmp_path: Path, account: Path
) -> None:
    with serve(KubeApi([_world(3, 0)], DEPLOY), account) as api:
        done = _wait(_env(tmp_path, api, account, PROVE_WORKLOAD="deployment/backstgae"))
    assert done.returncode == 3
    assert (
        f"deployment/backstgae does not exist in namespace {NS}: check PROVE_WORKLOAD and "
        "PROVE_NAMESPACE"
    ) in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"PROVE_WORKLOAD": "deploy/backstage"}, "PROVE_WORKLOAD"),
        ({"PROVE_IMAGE": ""}, "PROVE_IMAGE"),
        ({"PROVE_IMAGE": "ghcr.io/acme/Backstage:1"}, "PROVE_IMAGE"),
        ({"PROVE_IMAGE_DIGEST": "sha256:12"}, "PROVE_IMAGE_DIGEST"),
        ({"PROVE_NAMESPACE": "Prod_1"}, "PROVE_NAMESPACE"),
        ({"KUBERNETES_SERVICE_HOST": ""}, "PROVE_WORKLOAD"),
        ({"PROVE_VERSION_URL": "/version"}, "PROVE_VERSION"),
        ({"PROVE_VERSION_URL": "version", "PROVE_VERSION": "1"}, "PROVE_VERSION_URL"),
        ({"PROVE_VERSION_FROM": "regex:(a)(b)"}, "PROVE_VERSION_FROM"),
        ({"PROVE_VERSION": "1.4.2"}, "PROVE_VERSION"),
    ],
)
def test_every_malformed_proof_setting_is_exit_2_in_one_line(
    tmp_path: Path, account: Path, extra: dict[str, str], message: str
) -> None:
    with serve(KubeApi([_world(3, 0)], DEPLOY), account) as api:
        done = _wait(_env(tmp_path, api, account, **extra))
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not api.seen


class _VersionServer:
    """Serves `old` for the first `switch_after` GETs of /version.json, then `new`."""

    def __init__(self, old: str, new: str, switch_after: int) -> None:
        self.gets = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/version.json":
                    outer.gets += 1
                    commit = old if outer.gets <= switch_after else new
                    body = json.dumps({"build": {"commit": commit}}).encode()
                else:
                    body = b"<html>Backstage</html>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def version_server() -> Iterator[_VersionServer]:
    server = _VersionServer("3f2a9c1e00", "9be04d7e5f00112233445566778899aabbccddee", 3)
    yield server
    server.close()


def _http_env(tmp_path: Path, fake_pw: FakePlaywright, url: str, **extra: str) -> dict[str, str]:
    return fake_pw.env(
        tmp_path / "a",
        "discovery:3,junit:pass:3",  # a test in each of the example's 3 trees
        BASE_URL=url,
        PROVE_VERSION_URL="/version.json",
        PROVE_VERSION_FROM="json:/build/commit",
        PROVE_VERSION="9be04d7",
        READY_BACKOFF_INITIAL_SECONDS="0.05",
        READY_BACKOFF_MAX_SECONDS="0.05",
        **extra,
    )


def test_the_http_way_waits_for_the_new_version_then_the_suite_runs(
    tmp_path: Path, fake_pw: FakePlaywright, version_server: _VersionServer
) -> None:
    env = _http_env(
        tmp_path,
        fake_pw,
        version_server.url,
        TERMINATION_MESSAGE_PATH=str(tmp_path / "termination-log"),
    )
    done = _call([*runner_command(), "run"], env)
    assert done.returncode == 0, done.stdout[-3000:]
    assert version_server.gets == 4
    assert (
        f"not ready: {version_server.url}/version.json says 3f2a9c1e00, expected 9be04d7"
        in done.stdout
    )
    (meta_file,) = (tmp_path / "a").glob("*/attempt-1/execution-metadata.json")
    proof = json.loads(meta_file.read_text())["readiness"]["deployment_proof"]
    assert proof["proven"] is True and proof["method"] == "http"
    assert proof["served"] == "9be04d7e5f00112233445566778899aabbccddee"


def test_the_http_way_that_never_switches_is_exit_4_naming_both(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    server = _VersionServer("3f2a9c1e00", "3f2a9c1e00", 0)
    try:
        env = _http_env(tmp_path, fake_pw, server.url, READY_DEADLINE_SECONDS="1")
        done = _call([*runner_command(), "run"], env)
    finally:
        server.close()
    assert done.returncode == 4, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert f"{server.url}/version.json says 3f2a9c1e00, expected 9be04d7" in last
    assert f"| deployment not proven: {server.url}/version.json says 3f2a9c1e00, expected" in last


@pytest.mark.parametrize("blank", [" ", "\t\n"])
def test_a_blank_prove_version_is_exit_2_not_a_green_run_without_the_proof(
    tmp_path: Path, fake_pw: FakePlaywright, version_server: _VersionServer, blank: str
) -> None:
    # A Kargo expression that rendered to blanks must not switch the asked-for proof off.
    env = {**_http_env(tmp_path, fake_pw, version_server.url), "PROVE_VERSION": blank}
    done = _call([*runner_command(), "run"], env)
    assert done.returncode == 2, done.stdout[-3000:]
    assert "PROVE_VERSION" in done.stdout + done.stderr
    assert "blank" in done.stdout + done.stderr
    assert version_server.gets == 0


def test_a_version_url_redirected_to_another_origin_proves_nothing(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    # Another host saying the Freight's version (production, a CDN) is not the target saying it.
    new = "9be04d7e5f00112233445566778899aabbccddee"
    version_server = _VersionServer(new, new, 0)
    elsewhere = version_server.url + "/version.json"

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302 if self.path == "/version.json" else 200)
            self.send_header("Location", elsewhere)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    target = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{target.server_address[1]}"
    try:
        env = _http_env(tmp_path, fake_pw, url, READY_DEADLINE_SECONDS="1")
        done = _call([*runner_command(), "run"], env)
    finally:
        target.shutdown()
        target.server_close()
        version_server.close()
    assert done.returncode == 4, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert f"{url}/version.json: redirected to another origin ({version_server.url}" in last


def test_a_run_without_a_proof_says_the_deployment_is_not_proven(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    env = fake_pw.env(tmp_path / "a", "discovery:3,junit:pass:3")
    done = _call([*runner_command(), "run"], env)
    assert done.returncode == 0, done.stdout[-3000:]
    last = done.stdout.splitlines()[-1]
    assert "| deployment not proven: no PROVE_WORKLOAD or PROVE_VERSION_URL set |" in last
    (meta_file,) = (tmp_path / "a").glob("*/attempt-1/execution-metadata.json")
    assert json.loads(meta_file.read_text())["readiness"]["deployment_proof"] is None


def _readme_block(first_line_prefix: str) -> str:
    (block,) = [b for b in sh_blocks() if b.startswith(first_line_prefix)]
    return block


def _bash(block: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    venv_bin = str(Path(runner_command()[0]).parent)
    env = {**env, "PATH": f"{venv_bin}:{env['PATH']}"}
    return _call(["bash", "-euo", "pipefail", "-c", block], env, cwd)


def test_the_readme_kubernetes_example_runs(tmp_path: Path, account: Path) -> None:
    block = _readme_block("PROVE_WORKLOAD=")
    with serve(KubeApi([_world(3, 0)], DEPLOY), account) as api:
        env = _env(tmp_path, api, account)
        for name in ("PROVE_WORKLOAD", "PROVE_NAMESPACE", "PROVE_IMAGE"):
            del env[name]  # the README's own values, not the test's
        done = _bash(block, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"deployment proven: deployment/backstage: 3 of 3 Ready pods run ghcr.io/acme/backstage@{D_NEW}"
        in done.stdout
    )


def test_the_readme_http_example_runs(tmp_path: Path) -> None:
    block = _readme_block("BASE_URL=https://backstage-test.example.com PROVE_VERSION_URL")
    server = _VersionServer("3f2a9c1", "9be04d7", 2)
    try:
        local = block.replace("https://backstage-test.example.com", server.url)
        local = local.replace(
            "PROVE_VERSION_FROM=json:/commit", "PROVE_VERSION_FROM=json:/build/commit"
        )
        env = {
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/root"),
            "READY_BACKOFF_INITIAL_SECONDS": "0.05",
            "READY_BACKOFF_MAX_SECONDS": "0.05",
        }
        done = _bash(local, env)
    finally:
        server.close()
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"not ready: {server.url}/version.json says 3f2a9c1, expected 9be04d7" in done.stdout
    assert f"deployment proven: {server.url}/version.json says 9be04d7" in done.stdout


def test_the_readme_version_file_is_json(tmp_path: Path) -> None:
    block = _readme_block('echo "{\\"commit')
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(
        [
            "git",
            "-C",
            str(tmp_path),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "x",
        ],
        check=True,
    )
    (tmp_path / "packages/app/public").mkdir(parents=True)
    done = _bash(block, {"PATH": os.environ["PATH"]}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    head = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert json.loads((tmp_path / "packages/app/public/version.json").read_text()) == {
        "commit": head
    }
