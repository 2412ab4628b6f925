"""The promotion lookup against a real HTTPS server that answers like the Kubernetes API."""

from __future__ import annotations

import contextlib
import json
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REPO, FakeNpx, runner_command

NS, JOB, AR = "backstage", "3f2b1c4d-5e6f-4a8b-9c0d-112233445566.acceptance.1", "test.01jd8x.abc"
OBJECTS = {
    f"/apis/batch/v1/namespaces/{NS}/jobs/{JOB}": {
        "metadata": {"name": JOB, "annotations": {"analysisrun.argoproj.io/name": AR}}
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


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sa")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(folder / "key.pem"),
            "-out",
            str(folder / "ca.crt"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    (folder / "token").write_text("sa-token-0123456789\n")
    return folder


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
            body = OBJECTS.get(self.path)
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
    tmp_path: Path, fake_npx: FakeNpx, port: int, account: Path, job: str
) -> dict[str, str]:
    return fake_npx.env(
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
    tmp_path: Path, fake_npx: FakeNpx, api: tuple[int, list[str]], account: Path
) -> None:
    port, seen = api
    env = _lookup_env(tmp_path, fake_npx, port, account, JOB)
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
    tmp_path: Path, fake_npx: FakeNpx, api: tuple[int, list[str]], account: Path
) -> None:
    port, _ = api
    env = _lookup_env(tmp_path, fake_npx, port, account, "someone-elses-job")
    done = _run(env)
    assert done.returncode == 0
    assert (
        b"promotion lookup skipped: GET /apis/batch/v1/namespaces/backstage/jobs/"
        b"someone-elses-job: HTTP 404" in done.stdout
    )
    assert _metadata(tmp_path / "a")["promotion"] is None


def test_no_service_account_means_no_lookup_and_a_clear_line(
    tmp_path: Path, fake_npx: FakeNpx
) -> None:
    env = fake_npx.env(
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
    tmp_path: Path, fake_npx: FakeNpx, api: tuple[int, list[str]], account: Path
) -> None:
    port, _ = api
    env = _lookup_env(tmp_path, fake_npx, port, account, TRICKLE)
    started = time.monotonic()
    done = _run(env)
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    assert b"no complete answer within 5s" in done.stdout
    assert time.monotonic() - started < 30  # the trickle lasts 40 s
