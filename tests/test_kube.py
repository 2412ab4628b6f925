"""The promotion lookup against a real HTTPS server that answers like the Kubernetes API."""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from runner.kube import job_time_left
from tests.conftest import REPO, FakePlaywright, runner_command
from tests.helpers.kube_api import service_account

AR_ANNOTATION = "analysisrun.argoproj.io/name"
NS, JOB, AR = "backstage", "3f2b1c4d-5e6f-4a8b-9c0d-112233445566.acceptance.1", "test.01jd8x.abc"
OBJECTS = {
    f"/apis/batch/v1/namespaces/{NS}/jobs/{JOB}": {
        "metadata": {"name": JOB, "annotations": {AR_ANNOTATION: AR}}
    },
    f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/analysisruns/{AR}": {
        "metadata": {
            "name": AR,
            "annotations": {"kargo.akuity.io/promotion": "test.01jd.p1"},
            "labels": {
                "kargo.akuity.io/stage": "test",
                "kargo.akuity.io/freight-collection": "fc-1",
            },
        }
    },
}
TRICKLE = "trickling-job"
# Jobs whose pod was replaced late: the Job started long ago (JOB_LEFT: seconds it has left).
JOB_LEFT = {"late-job": 55, "spent-job": 10}


def _late_job(path: str) -> dict[str, object] | None:
    """A Job as the API server returns it (batch/v1), started so that it has JOB_LEFT left."""
    name = path.rsplit("/", 1)[-1]
    if name not in JOB_LEFT or f"/namespaces/{NS}/jobs/" not in path:
        return None
    limit = 600
    started = datetime.now(UTC) - timedelta(seconds=limit - JOB_LEFT[name])
    return {
        "kind": "Job",
        "apiVersion": "batch/v1",
        "metadata": {"name": name, "namespace": NS, "annotations": {AR_ANNOTATION: AR}},
        "spec": {"activeDeadlineSeconds": limit, "backoffLimit": 0, "completions": 1},
        "status": {
            "startTime": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "active": 1,
            "ready": 1,
            "uncountedTerminatedPods": {},
        },
    }


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return service_account(tmp_path_factory.mktemp("sa"), "sa-token-0123456789")


@pytest.fixture
def api(account: Path) -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.path} {self.headers.get('Authorization')}")
            if TRICKLE in self.path:  # headers one byte every 0.5 s, each inside the timeout
                with contextlib.suppress(OSError):  # until the client goes away
                    self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                    for _ in range(80):
                        self.wfile.write(b"X")
                        self.wfile.flush()
                        time.sleep(0.5)
                return
            body = OBJECTS.get(self.path) or _late_job(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body or {"kind": "Status", "code": 404}).encode())

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(account / "ca.crt", account / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )


def _lookup_env(
    tmp_path: Path, fake_pw: FakePlaywright, port: int, account: Path, job: str
) -> dict[str, str]:
    return fake_pw.env(
        tmp_path / "a",
        "discovery:3,junit:pass:3",
        KUBERNETES_SERVICE_HOST="127.0.0.1",
        LOCAL_SITE_DIR="verification-site",  # a Kargo run serves its own site only when told
        KUBERNETES_SERVICE_PORT=str(port),
        POD_NAMESPACE=NS,
        JOB_NAME=job,
        SERVICE_ACCOUNT_DIR=str(account),
        ARTIFACT_ROOT=str(tmp_path / "a"),
    )


def _metadata(root: Path) -> dict[str, object]:
    (meta,) = root.glob("*/attempt-1/execution-metadata.json")
    return json.loads(meta.read_text())  # type: ignore[no-any-return]


def test_promotion_comes_from_the_analysis_run(
    tmp_path: Path, fake_pw: FakePlaywright, api: tuple[int, list[str]], account: Path
) -> None:
    port, seen = api
    env = _lookup_env(tmp_path, fake_pw, port, account, JOB)
    done = _run(env)
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    meta = _metadata(tmp_path / "a")
    assert (
        meta["promotion"],
        meta["stage"],
        meta["analysis_run_name"],
        meta["freight_collection"],
    ) == ("test.01jd.p1", "test", AR, "fc-1")
    assert b"verifying promotion test.01jd.p1 of stage test" in done.stdout
    assert all(line.endswith("Bearer sa-token-0123456789") for line in seen) and len(seen) == 2
    assert b"sa-token-0123456789" not in done.stdout


def test_a_failed_lookup_is_logged_and_never_fatal(
    tmp_path: Path, fake_pw: FakePlaywright, api: tuple[int, list[str]], account: Path
) -> None:
    port, _ = api
    env = _lookup_env(tmp_path, fake_pw, port, account, "someone-elses-job")
    done = _run(env)
    assert done.returncode == 0
    assert (
        b"promotion lookup skipped: GET /apis/batch/v1/namespaces/backstage/jobs/"
        b"someone-elses-job: HTTP 404" in done.stdout
    )
    assert _metadata(tmp_path / "a")["promotion"] is None


def test_no_service_account_means_no_lookup_and_a_clear_line(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    env = fake_pw.env(
        tmp_path / "a",
        "discovery:3,junit:pass:3",
        KUBERNETES_SERVICE_HOST="127.0.0.1",
        LOCAL_SITE_DIR="verification-site",  # a Kargo run serves its own site only when told
        POD_NAMESPACE=NS,
        JOB_NAME=JOB,
        SERVICE_ACCOUNT_DIR=str(tmp_path / "none"),
    )
    done = _run(env)
    assert done.returncode == 0 and b"no usable service account" in done.stdout
    quiet = _run({**env, "LOOKUP_PROMOTION": "false", "ARTIFACT_ROOT": str(tmp_path / "b")})
    assert b"promotion lookup" not in quiet.stdout


@pytest.mark.slow
def test_an_api_server_that_trickles_its_answer_cannot_hold_the_run(
    tmp_path: Path, fake_pw: FakePlaywright, api: tuple[int, list[str]], account: Path
) -> None:
    port, _ = api
    env = _lookup_env(tmp_path, fake_pw, port, account, TRICKLE)
    started = time.monotonic()
    done = _run(env)
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    assert b"no complete answer within 5s" in done.stdout
    assert time.monotonic() - started < 30  # the trickle lasts 40 s


def test_a_job_with_little_time_left_bounds_the_run(
    tmp_path: Path, fake_pw: FakePlaywright, api: tuple[int, list[str]], account: Path
) -> None:
    """Issue 22, item 12: a pod that replaced an evicted one has RUN_DEADLINE_SECONDS (1800)
    from its own start, but the Job ends 10 s from now: less the margin for the verdict, nothing
    is left. Exit 5 with its evidence, before the tests, never killed by the Job mid-verdict."""
    port, _ = api
    env = _lookup_env(tmp_path, fake_pw, port, account, "spent-job")
    done = _run({**env, "FAKE_PW": "discovery:1,sleep:60,junit:pass:1"})
    out = done.stdout.decode()
    assert done.returncode == 5, out[-2000:]
    # 9 or 10 s: the API gives startTime in whole seconds
    assert "run deadline bounded: the Job's activeDeadlineSeconds ends in " in out
    assert "s, less 52s for the verdict" in out
    last = out.rstrip("\n").rsplit("\n", 1)[-1]
    assert "ran out during start-up" in last or "deadline" in last, last
    assert _metadata(tmp_path / "a")["exit_code"] == 5


@pytest.mark.slow
def test_the_job_s_deadline_stops_the_tests_in_time(
    tmp_path: Path, fake_pw: FakePlaywright, api: tuple[int, list[str]], account: Path
) -> None:
    """55 s left, 52 s kept for the verdict: the tests get 3 s, then are stopped (exit 5)."""
    port, _ = api
    env = _lookup_env(tmp_path, fake_pw, port, account, "late-job")
    started = time.monotonic()
    done = _run({**env, "FAKE_PW": "discovery:1,sleep:60,junit:pass:1"})
    assert done.returncode == 5, done.stdout.decode()[-2000:]
    assert time.monotonic() - started < 40
    assert b"promotion test.01jd.p1" in done.stdout  # the same read of the Job served both


def test_job_time_left_reads_what_the_api_returns() -> None:
    now = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)
    job = {"spec": {"activeDeadlineSeconds": 600}, "status": {"startTime": "2026-12-02T15:55:00Z"}}
    assert job_time_left(job, now) == 300.0
    assert job_time_left({"spec": {"activeDeadlineSeconds": 600}, "status": {}}, now) is None
    assert job_time_left({"spec": {}, "status": {"startTime": "2026-12-02T15:55:00Z"}}, now) is None
    bad = {"spec": {"activeDeadlineSeconds": True}, "status": {"startTime": "yesterday"}}
    assert job_time_left(bad, now) is None
