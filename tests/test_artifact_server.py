"""The artifact server's nginx config, served by a real nginx over a real artifact tree.

kustomize/components/artifact-server/artifact-server.conf is included unchanged except for two
lines: `listen` moves to a free port on 127.0.0.1 and the `/artifacts` path points at a
temporary artifact root. That root is written by real `verification-runner run` invocations
(a passing Job, a second measurement of the same AnalysisRun, a failing Job) with the stand-in
Playwright of tests/helpers/fake_playwright.py; only the hostile extras (symlinks out of the
root, markers in the state files) are added by hand. Install nginx with scripts/setup-nginx.sh.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

import pytest
import yaml

from runner.volume.artifacts import ACTIVE_LOCK, LEDGER_LOCK
from tests.conftest import FAKE_PLAYWRIGHT, FakePlaywright, playwright_shim, runner_command

REPO = Path(__file__).resolve().parents[1]
SERVER_CONF = REPO / "kustomize" / "components" / "artifact-server" / "artifact-server.conf"
AUTH_INCLUDE = "include /tmp/nginx-auth/*.conf;"
KARGO_TOKEN = "kargo-logs-token.7f3a9c_2b~e1+d/0="  # noqa: S105 - the test's own token

NAMESPACE = "backstage"
# Argo Rollouts names each measurement's Job <AnalysisRun UID>.<metric>.<n> and labels its pod
# with the UID; the runner names the run after the UID, so both measurements share one run.
UID = "8cb745cb-554b-4141-80ee-e0df181cd56e"
RUN = "8cb745cb554b"
JOB = f"{UID}.acceptance.1"
RETRY_JOB = f"{UID}.acceptance.2"
FAILED_UID = "5d0f7a2e-9b3c-4e1d-8a6f-0c1b2d3e4f50"
FAILED_JOB = f"{FAILED_UID}.acceptance.1"
# What the stand-in's `html` action writes, as Playwright's html reporter titles its page.
REPORT_MARK = "<title>Playwright Test Report</title>"
OUTSIDE_TEXT = "FILE-OUTSIDE-THE-ARTIFACT-ROOT"
# Runner state beside the evidence (attempts.py); a marker is appended so a leak would show.
STATE = (ACTIVE_LOCK, LEDGER_LOCK)
STATE_MARK = "STATE-FILE-CONTENT"

pytestmark = pytest.mark.nginx


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Server:
    port: int
    root: Path

    def request(
        self, path: str, method: str = "GET", body: str | None = None, token: str | None = None
    ) -> Response:
        # http.client sends the path exactly as given: no client-side "../" clean-up.
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return Response(
                response.status,
                response.getheader("Content-Type", ""),
                response.read().decode("utf-8", "replace"),
                dict(response.getheaders()),
            )
        finally:
            connection.close()


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        pytest.fail("nginx is not installed: run scripts/setup-nginx.sh")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _verify(base: Path, root: Path, job: str, script: str) -> int:
    """One verification Job's pod: `verification-runner run` with the Job's downward-API env."""
    bin_dir = base / "fake-bin"
    fake = FakePlaywright(bin_dir, base / "fake-bin-record.json")
    if not bin_dir.exists():
        fake = playwright_shim(bin_dir, FAKE_PLAYWRIGHT)
    uid = job.partition(".")[0]
    env = fake.env(
        root,
        script,
        ANALYSIS_RUN_UID=uid,
        JOB_NAME=job,
        POD_NAME=f"{job}-x7k2p",
        POD_NAMESPACE=NAMESPACE,
        TERMINATION_MESSAGE_PATH=str(base / "termination-log"),
    )
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )
    return done.returncode


def _artifact_tree(base: Path) -> Path:
    """$ARTIFACT_ROOT as real runs leave it, plus a file outside it and links that point there."""
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE_TEXT)

    root = base / "artifacts"
    assert _verify(base, root, JOB, "discovery:3,html,junit:pass:3") == 0
    assert _verify(base, root, RETRY_JOB, "discovery:3,html,junit:pass:3") == 0
    assert _verify(base, root, FAILED_JOB, "discovery:3,junit:fail:3,exit:1") == 1
    for name in STATE:
        with (root / RUN / name).open("a") as state:
            state.write(STATE_MARK)
    jobs = root / "_jobs" / NAMESPACE
    # Written onto the volume by someone: must not expose what they point at.
    (root / "link-file").symlink_to(outside / "secret.txt")
    (root / "link-dir").symlink_to(outside, target_is_directory=True)
    (jobs / "linked-job.log").symlink_to(outside / "secret.txt")
    return root


def _config(base: Path, root: Path, port: int) -> Path:
    server = SERVER_CONF.read_text(encoding="utf-8")
    rewrites = {
        "listen 8080;": f"listen 127.0.0.1:{port};",
        "root /artifacts;": f"root {root};",
        "alias /artifacts/;": f"alias {root}/;",
    }
    for old, new in rewrites.items():
        assert server.count(old) == 1, f"expected exactly one `{old}` in {SERVER_CONF.name}"
        server = server.replace(old, new)
    # Where require-token.sh writes the token check (the pod's /tmp emptyDir).
    assert server.count(AUTH_INCLUDE) == 2, "/logs/ and /runs/ include the token check"
    server = server.replace(AUTH_INCLUDE, f"include {base}/auth/*.conf;")
    (base / "artifact-server.conf").write_text(server)
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (base / temp).mkdir()
    # Root runs workers as `nobody`, who cannot enter pytest's 0700 temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    main = f"""
        {user}
        daemon off;
        worker_processes 1;
        pid {base}/nginx.pid;
        error_log {base}/error.log info;
        events {{ worker_connections 64; }}
        http {{
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            access_log {base}/access.log;
            client_body_temp_path {base}/client_body;
            proxy_temp_path {base}/proxy;
            fastcgi_temp_path {base}/fastcgi;
            uwsgi_temp_path {base}/uwsgi;
            scgi_temp_path {base}/scgi;
            include {base}/artifact-server.conf;
        }}
    """
    conf = base / "nginx.conf"
    conf.write_text(main)
    return conf


@contextlib.contextmanager
def running_server(base: Path, root: Path, token_file: Path | None = None) -> Iterator[Server]:
    """A real nginx with the component's config, serving `root` on a free 127.0.0.1 port (its
    own files under `base`), behind the component's require-token.sh with `token_file`; also
    used by tests/test_played_pod.py."""
    started = _require_token(base, token_file)
    assert started.returncode == 0, started.stderr
    port = _free_port()
    conf = _config(base, root, port)
    nginx = _nginx()
    check = subprocess.run(
        [nginx, "-t", "-p", f"{base}/", "-e", f"{base}/error.log", "-c", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, f"nginx rejects the config:\n{check.stderr}"
    process = subprocess.Popen(
        [nginx, "-p", f"{base}/", "-e", f"{base}/error.log", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    live = Server(port, root)
    try:
        deadline = time.monotonic() + 10
        while True:
            if process.poll() is not None:
                log = (base / "error.log").read_text(errors="replace")
                pytest.fail(f"nginx exited with {process.returncode}:\n{log}")
            try:
                if live.request("/healthz").status == 200:
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield live
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _require_token(
    base: Path, token_file: Path | None, **env: str
) -> subprocess.CompletedProcess[str]:
    """The component's entry point, as the pod runs it, starting `true` instead of nginx."""
    return subprocess.run(
        ["sh", str(SERVER_CONF.with_name("require-token.sh")), "true"],
        env={
            "PATH": "/usr/bin:/bin",
            "TOKEN_FILE": str(token_file or base / "no-token"),
            "AUTH_DIR": str(base / "auth"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("artifact-server")
    with running_server(base, _artifact_tree(base)) as live:
        yield live


def kargo_log_url(namespace: str, job: str, project_namespace: str) -> SplitResult:
    """The log URL Kargo's API server GETs: kustomize/README.md's urlTemplate, filled in."""
    readme = (REPO / "kustomize" / "README.md").read_text(encoding="utf-8")
    (template,) = re.findall(r'^\s*urlTemplate: "([^"]+)"', readme, re.MULTILINE)
    return urlsplit(
        str(template)
        .replace("${{jobNamespace}}", namespace)
        .replace("${{jobName}}", job)
        .replace("${{namespace}}", project_namespace)
    )


@pytest.mark.parametrize(
    ("job", "attempt", "verdict"),
    [
        (JOB, f"{RUN}/attempt-1", "VERIFICATION PASSED"),
        (RETRY_JOB, f"{RUN}/attempt-2", "VERIFICATION PASSED"),
        (FAILED_JOB, f"{FAILED_UID.replace('-', '')[:12]}/attempt-1", "VERIFICATION FAILED"),
    ],
)
def test_job_log_by_name(server: Server, job: str, attempt: str, verdict: str) -> None:
    """Kargo's urlTemplate .../logs/${{jobNamespace}}/${{jobName}} gets that Job's whole log:
    the attempt's verification.log, ending with the runner's verdict line."""
    response = server.request(f"/logs/{NAMESPACE}/{job}")
    assert response.status == 200
    assert response.content_type.startswith("text/plain")
    assert response.body == (server.root / attempt / "verification.log").read_text()
    assert verdict in response.body.splitlines()[-1]
    if "FAILED" in verdict:
        assert "fails on purpose" in response.body.splitlines()[-1]


def test_kargo_log_url_from_the_readme_reaches_the_log(server: Server) -> None:
    """The Helm value kustomize/README.md tells operators to set, filled in as Kargo's API server
    does, names the artifact Service and a path this nginx answers with the Job's log."""
    service = yaml.safe_load(SERVER_CONF.with_name("service.yaml").read_text())
    url = kargo_log_url(NAMESPACE, JOB, "kargo-project")
    assert url.hostname == f"{service['metadata']['name']}.kargo-project.svc"
    assert (url.port or 80) == service["spec"]["ports"][0]["port"]
    response = server.request(url.path)
    assert response.status == 200
    assert "VERIFICATION PASSED" in response.body


def test_head_of_a_log(server: Server) -> None:
    assert server.request(f"/logs/{NAMESPACE}/{JOB}", method="HEAD").status == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/logs/{NAMESPACE}/no-such-job.acceptance.1",
        f"/logs/other-namespace/{JOB}",
        f"/logs/{NAMESPACE}",
        f"/logs/{NAMESPACE}/",
        f"/logs/{NAMESPACE}/{JOB}.log",
    ],
)
def test_missing_job_is_404(server: Server, path: str) -> None:
    response = server.request(path)
    assert response.status == 404
    assert_one_plain_line(response)


def assert_one_plain_line(response: Response) -> str:
    """Kargo's log view shows any answer's body as the log (pkg/server get_analysisrun_logs):
    a refusal is one line of plain text, never nginx's HTML page."""
    assert response.content_type.startswith("text/plain"), response.content_type
    assert "<" not in response.body.replace("<namespace>", "").replace("<jobName>", "")
    assert response.body.endswith("\n") and response.body.count("\n") == 1, response.body
    assert response.body.startswith("verification-artifacts: ")
    return response.body


def test_a_job_without_a_log_yet_says_so_by_name(server: Server) -> None:
    """What Kargo's log view shows for a Job whose pod has not written its log yet: the Job's
    namespace and name and why there is none, as text."""
    job = f"{UID}.acceptance.3"
    response = server.request(f"/logs/{NAMESPACE}/{job}")
    assert response.status == 404
    body = assert_one_plain_line(response)
    assert f"no log of Job {NAMESPACE}/{job} on the artifact volume (yet)" in body
    assert f"kubectl -n {NAMESPACE} logs job/{job}" in body
    assert response.headers.get("Cache-Control") == "no-cache"  # it may appear any moment


@pytest.mark.parametrize("path", ["/index.html", "/runs/no-such-run/", "/runs/_jobs/"])
def test_other_404s_are_plain_text(server: Server, path: str) -> None:
    body = assert_one_plain_line(server.request(path))
    assert "404 Not Found" in body and "/logs/<namespace>/<jobName>" in body


def test_refusals_are_plain_text(server: Server) -> None:
    body = assert_one_plain_line(server.request(f"/runs/{RUN}/{ACTIVE_LOCK}"))
    assert "403 Forbidden" in body and STATE_MARK not in body
    refused = server.request(f"/logs/{NAMESPACE}/{JOB}", method="POST", body="x")
    assert refused.status == 403
    assert "403 Forbidden" in assert_one_plain_line(refused)


def test_report_page(server: Server) -> None:
    for path in (
        f"/runs/{RUN}/attempt-1/html-report/",
        f"/runs/{RUN}/attempt-1/html-report/index.html",
    ):
        response = server.request(path)
        assert response.status == 200, path
        assert response.content_type.startswith("text/html")
        assert REPORT_MARK in response.body


def test_attempt_evidence_is_served(server: Server) -> None:
    summary = server.request(f"/runs/{RUN}/attempt-1/summary.json")
    assert summary.status == 200
    assert json.loads(summary.body)["passed"] == 3
    log = server.request(f"/runs/{RUN}/attempt-2/verification.log")
    assert log.status == 200
    assert "VERIFICATION PASSED" in log.body
    assert "attempt=2" in log.body


def test_runs_and_attempts_are_browsable_without_state_files(server: Server) -> None:
    runs = server.request("/runs/")
    assert runs.status == 200
    assert f'href="{RUN}/"' in runs.body
    run = server.request(f"/runs/{RUN}/")
    assert run.status == 200
    assert 'href="attempt-1/"' in run.body
    for name in STATE:
        assert name not in run.body


@pytest.mark.parametrize("name", sorted(STATE))
def test_hidden_state_files_are_denied(server: Server, name: str) -> None:
    for path in (f"/runs/{RUN}/{name}", f"/{RUN}/{name}", f"/runs/{RUN}/attempt-1/../{name}"):
        response = server.request(path)
        assert response.status in {403, 404}, path
        assert STATE_MARK not in response.body


def test_jobs_index_is_only_reachable_through_logs(server: Server) -> None:
    assert server.request("/runs/_jobs/").status == 404
    assert server.request(f"/runs/_jobs/{NAMESPACE}/{JOB}.log").status == 404


@pytest.mark.parametrize(
    "path",
    [
        "/runs/../outside/secret.txt",
        "/runs/../../outside/secret.txt",
        "/runs/..%2foutside/secret.txt",
        "/runs/%2e%2e/outside/secret.txt",
        "/runs/%2e%2e%2f%2e%2e%2foutside%2fsecret.txt",
        "/runs../outside/secret.txt",
        "/runs/..;/outside/secret.txt",
        "/logs/../outside/secret.txt",
        f"/logs/{NAMESPACE}/..%2f..%2f..%2foutside%2fsecret",
        f"/logs/{NAMESPACE}/../../outside/secret",
        "/logs/..%2f..%2foutside/secret",
        "/outside/secret.txt",
        "/../outside/secret.txt",
        "/runs/link-file",
        "/runs/link-dir/secret.txt",
        "/runs/link-dir/",
        f"/logs/{NAMESPACE}/linked-job",
    ],
)
def test_paths_outside_the_root_are_refused(server: Server, path: str) -> None:
    response = server.request(path)
    assert response.status in {400, 403, 404}, (path, response.status)
    assert OUTSIDE_TEXT not in response.body


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_nothing_is_written(server: Server, method: str) -> None:
    response = server.request(f"/runs/{RUN}/attempt-1/new.txt", method=method, body="x")
    assert response.status in {403, 405}
    log = server.request(f"/logs/{NAMESPACE}/{JOB}", method=method, body="x")
    assert log.status in {403, 405}
    assert not (server.root / RUN / "attempt-1" / "new.txt").exists()
    before = (server.root / RUN / "attempt-1" / "verification.log").read_text()
    assert server.request(f"/logs/{NAMESPACE}/{JOB}").body == before


def test_root_redirects_to_runs(server: Server) -> None:
    response = server.request("/")
    assert response.status == 302


def test_unknown_paths_are_404(server: Server) -> None:
    for path in ("/index.html", f"/{RUN}/run.json", "/_jobs/"):
        assert server.request(path).status == 404, path


# -- Kargo's bearer token (the cluster overlay) ---------------------------------------------
@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    base = tmp_path_factory.mktemp("artifact-server-token")
    token = base / "token"
    token.write_text(KARGO_TOKEN + "\n")  # as `kubectl create secret --from-file` may keep it
    with running_server(base, _artifact_tree(base), token) as live:
        yield live


@pytest.mark.parametrize("path", [f"/logs/{NAMESPACE}/{JOB}", f"/runs/{RUN}/attempt-1/", "/runs/"])
def test_with_a_token_nothing_is_served_without_it(token_server: Server, path: str) -> None:
    for token in (None, "", "wrong", KARGO_TOKEN + "x", KARGO_TOKEN[:-1]):
        response = token_server.request(path, token=token)
        assert response.status == 401, (path, token)
        assert JOB not in response.body and "VERIFICATION" not in response.body
        # What Kargo's log view shows: the reason in one line, never the token itself.
        body = assert_one_plain_line(response)
        assert "Authorization: Bearer token is missing or wrong" in body
        assert "api.rollouts.logs.tokenSecret" in body
        assert KARGO_TOKEN not in body
        assert response.headers.get("WWW-Authenticate") == 'Bearer realm="verification-artifacts"'


def test_with_the_token_a_missing_log_is_still_named(token_server: Server) -> None:
    job = f"{UID}.acceptance.3"
    response = token_server.request(f"/logs/{NAMESPACE}/{job}", token=KARGO_TOKEN)
    assert response.status == 404
    assert f"no log of Job {NAMESPACE}/{job}" in assert_one_plain_line(response)


def test_kargos_token_reads_the_log(token_server: Server) -> None:
    response = token_server.request(f"/logs/{NAMESPACE}/{JOB}", token=KARGO_TOKEN)
    assert response.status == 200 and "VERIFICATION PASSED" in response.body
    assert token_server.request("/healthz").status == 200  # probes carry no token


@pytest.mark.parametrize("token", ['a"b', "a b", "a;b", "a\nb", "a$b"])
def test_a_token_that_could_break_the_config_is_refused(tmp_path: Path, token: str) -> None:
    (tmp_path / "token").write_text(token)
    done = _require_token(tmp_path, tmp_path / "token")
    assert done.returncode == 1 and "refusing to start" in done.stderr
    assert not (tmp_path / "auth" / "token.conf").exists()


def test_the_cluster_overlay_requires_the_token(tmp_path: Path) -> None:
    done = _require_token(tmp_path, None, REQUIRE_TOKEN="true")  # noqa: S106 - a switch
    assert done.returncode == 1 and "verification-artifacts-token" in done.stderr
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(REPO / "kustomize" / "overlays" / "cluster")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (deployment,) = [
        d
        for d in yaml.safe_load_all(rendered)
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "verification-artifacts"
    ]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:2] == ["sh", "/etc/nginx/conf.d/require-token.sh"]
    assert {"name": "REQUIRE_TOKEN", "value": "true"} in container["env"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {
        "name": "artifact-token",
        "secret": {"secretName": "verification-artifacts-token"},
    } in volumes
