"""The readiness gate against real HTTP(S) servers on 127.0.0.1, through the real CLI.

Every case asserts the exit code, the reason in the log and the elapsed time against the
configured deadline (generous bounds: these are wall-clock times on a shared machine). The
backoff and the deadline arithmetic are proved on a fake clock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice, pairwise
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.cli import main
from runner.config.settings import load_settings
from runner.contract.errors import ConfigError, Interrupted
from runner.probe import Check, ProbeResult
from runner.processes.bounds import Deadline, StopRequest
from runner.readiness import (
    JITTER,
    PROGRESS_SECONDS,
    STOP_POLL_SECONDS,
    Backoff,
    NotReady,
    backoff_delays,
    jittered,
    wait_until_ready,
)
from tests import strategies as s
from tests.conftest import REPO, runner_env, write_shim

Response = tuple[int, dict[str, str], bytes]
FAST = {"READY_BACKOFF_INITIAL_SECONDS": "0.05", "READY_BACKOFF_MAX_SECONDS": "0.3"}
# Every variable the gate reads, unset unless a test sets it (None deletes it for CliRunner).
CLEAN: dict[str, str | None] = {
    name: None
    for name in (
        "BASE_URL",
        "READY_CHECKS",
        "READY_SKIP",
        "READY_DEADLINE_SECONDS",
        "READY_INSECURE_TLS",
        "READY_CA_FILE",
        "RUN_DEADLINE_SECONDS",
    )
}


# --- servers --------------------------------------------------------------------------------
@contextmanager
def http_server(
    respond: Callable[[str, Mapping[str, str]], Response],
    *,
    port: int = 0,
    tls: ssl.SSLContext | None = None,
) -> Iterator[str]:
    """A threaded HTTP(S) server on 127.0.0.1; `respond(path, headers)` decides each answer."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, headers, body = respond(self.path, dict(self.headers))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # stdlib's parameter name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        scheme = "https" if tls else "http"
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def raw_server(behaviour: Callable[[socket.socket], None]) -> Iterator[str]:
    """A TCP server that reads each request and then does `behaviour(connection)`."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    done = threading.Event()
    connections: list[socket.socket] = []

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(conn)
            conn.settimeout(5)
            try:
                conn.recv(65536)
                behaviour(conn)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        thread.join()
        for conn in connections:
            conn.close()
        listener.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ok(_path: str, _headers: Mapping[str, str]) -> Response:
    return 200, {}, b"ok"


# --- the CLI --------------------------------------------------------------------------------
def wait(**env: str) -> tuple[int, str, float]:
    """`verification-runner wait` in this process: exit code, output, seconds it took."""
    started = time.monotonic()
    result = CliRunner().invoke(main, ["wait"], env={**CLEAN, **FAST, **env})
    took = time.monotonic() - started
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output, took


def not_ready_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("not ready:")]


# --- the cases of the issue -----------------------------------------------------------------
def test_target_that_comes_up_after_a_delay_is_waited_for() -> None:
    port = free_port()
    with ExitStack() as later:
        timer = threading.Timer(1.0, lambda: later.enter_context(http_server(ok, port=port)))
        timer.start()
        try:
            code, output, took = wait(
                BASE_URL=f"http://127.0.0.1:{port}", READY_DEADLINE_SECONDS="20"
            )
        finally:
            timer.join()
    assert code == 0, output
    assert "connection refused" in output and "target ready after" in output
    assert len(not_ready_lines(output)) == 1  # one line per new reason, not per probe
    assert 0.9 <= took < 10


def test_503_a_few_times_then_200_passes_and_logs_the_status_with_the_body() -> None:
    calls: list[str] = []

    def warming(path: str, _headers: Mapping[str, str]) -> Response:
        calls.append(path)
        if len(calls) <= 3:
            return 503, {}, b"<h1>warming up</h1>\n  please wait"
        return 200, {}, b"ok"

    with http_server(warming) as url:
        code, output, took = wait(BASE_URL=url, READY_DEADLINE_SECONDS="20")
    assert code == 0, output
    assert "status 503 Service Unavailable, body '<h1>warming up</h1> please wait'" in output
    assert "(4 probes)" in output and len(not_ready_lines(output)) == 1
    assert took < 10


@pytest.mark.slow
def test_wrong_body_is_not_ready_and_every_check_reports_its_last_reason() -> None:
    def backstage(path: str, _headers: Mapping[str, str]) -> Response:
        if path == "/healthcheck":
            return 200, {}, b'{"status":"ok"}'
        return 200, {}, b"<html>Welcome to nginx!</html>"

    checks = [
        {"url": "/healthcheck", "body_contains": '"status":"ok"'},
        {"url": "/api/catalog/entities", "body_regex": r"^\s*\["},
    ]
    with http_server(backstage) as url:
        code, output, took = wait(
            BASE_URL=url, READY_CHECKS=json.dumps(checks), READY_DEADLINE_SECONDS="6"
        )
    assert code == 4, output
    final = output.splitlines()[-1]
    assert final.startswith("verification-runner: target not ready after")
    assert f"{url}/healthcheck: status 200" in final
    assert f"{url}/api/catalog/entities: body mismatch" in final
    assert "does not match /^\\s*\\[/; it begins '<html>Welcome to nginx!</html>'" in final
    # About one progress line per PROGRESS_SECONDS, not one line per probe.
    progress = [line for line in output.splitlines() if line.startswith("still waiting")]
    assert 1 <= len(progress) <= 2 and len(not_ready_lines(output)) == 1
    assert "probes" in progress[0] and "body mismatch" in progress[0]
    assert 5.5 <= took < 12


@contextmanager
def _backtracking_target(*, timeout: float, deadline: float) -> Iterator[dict[str, str]]:
    """The environment of a `wait` whose body_regex, ^(a+)+$, backtracks catastrophically
    against the body the target sends (40 a's and a "!")."""
    checks = [{"url": "/", "body_regex": "^(a+)+$", "timeout_seconds": timeout}]
    with http_server(lambda _path, _headers: (200, {}, b"a" * 40 + b"!")) as url:
        env = {k: v for k, v in os.environ.items() if k not in CLEAN}
        env.update(FAST, BASE_URL=url, READY_CHECKS=json.dumps(checks))
        env["READY_DEADLINE_SECONDS"] = str(deadline)
        yield env


def test_a_body_that_makes_body_regex_backtrack_cannot_hold_the_deadline() -> None:
    """`re` holds the GIL while it backtracks: matched in the runner, ^(a+)+$ against 40 a's
    and a "!" froze every thread, the deadline and SIGTERM included, for hours."""
    with _backtracking_target(timeout=1, deadline=2) as env:
        # A child process: before the fix it froze for good, and pytest with it.
        done = subprocess.run(
            [sys.executable, "-m", "runner", "wait"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 4, done.stdout
    assert "did not finish matching within" in done.stdout.splitlines()[-1], done.stdout


def test_sigterm_during_a_backtracking_match_ends_the_wait_promptly() -> None:
    """The README's row: SIGTERM while a `body_regex` backtracks (here for hours: the probe's
    own timeout is 120 s) ends `wait` with 143 promptly, measured from the signal, the match's
    child process killed with it."""
    with _backtracking_target(timeout=120, deadline=300) as env:
        child = subprocess.Popen(
            [sys.executable, "-m", "runner", "wait"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            runner = psutil.Process(child.pid)
            end = time.monotonic() + 60
            while not (matchers := runner.children()):  # the probe is matching now
                assert time.monotonic() < end and child.poll() is None, "no match started"
                time.sleep(0.02)
            sent = time.monotonic()
            child.send_signal(signal.SIGTERM)
            output = child.communicate(timeout=60)[0].decode()
            took = time.monotonic() - sent
        finally:
            child.kill()
            child.wait()
    assert child.returncode == 143, output
    assert "SIGTERM received during readiness" in output
    # A fraction of a second on a quiet machine; 3 s from the signal leaves a loaded one room
    # and still fails a wait that lets the match run on (the probe's 120 s timeout).
    assert took < 3, f"{took:.1f}s after SIGTERM"
    # The kernel kills the matcher when the runner's thread ends: a moment after the exit.
    end = time.monotonic() + 10
    while any(_running(m) for m in matchers):
        assert time.monotonic() < end, "the matching child outlived the runner"
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.slow
def test_server_that_never_answers_times_out_within_the_deadline() -> None:
    checks = [{"url": "/", "timeout_seconds": 0.5}]
    with raw_server(lambda _conn: None) as url:
        code, output, took = wait(
            BASE_URL=url, READY_CHECKS=json.dumps(checks), READY_DEADLINE_SECONDS="2"
        )
    assert code == 4, output
    assert f"timeout: no answer from {url.removeprefix('http://')} within 0.5s" in output
    assert 1.8 <= took < 6


def test_connection_closed_mid_response_is_named() -> None:
    def half(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        conn.close()

    with raw_server(half) as url:
        code, output, took = wait(BASE_URL=url, READY_DEADLINE_SECONDS="1.5")
    assert code == 4, output
    assert "connection closed mid-response" in output and "after 7 bytes" in output
    assert 1.4 <= took < 6


def test_redirect_loop_is_not_followed_forever_and_a_redirect_is_followed() -> None:
    def loop(path: str, _headers: Mapping[str, str]) -> Response:
        targets = {"/a": "/b", "/b": "/a", "/start": "/home"}
        if path in targets:
            return 302, {"Location": targets[path]}, b""
        return 200, {}, b"home"

    with http_server(loop) as url:
        code, output, took = wait(
            BASE_URL=url, READY_CHECKS='[{"url": "/a"}]', READY_DEADLINE_SECONDS="1.5"
        )
        assert code == 4, output
        assert f"redirect loop: {url}/a -> {url}/b -> {url}/a" in output
        assert 1.4 <= took < 6
        code, output, _ = wait(BASE_URL=url, READY_CHECKS='[{"url": "/start"}]')
        assert code == 0, output


def test_target_that_never_starts_is_not_ready_at_the_deadline() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, output, took = wait(BASE_URL=url, READY_DEADLINE_SECONDS="1.5")
    assert code == 4, output
    assert "connection refused" in output and "(READY_DEADLINE_SECONDS: 1.5s)" in output
    assert 1.4 <= took < 5


def test_dns_failure_is_named() -> None:
    code, output, took = wait(BASE_URL="http://no-such-host.invalid", READY_DEADLINE_SECONDS="1")
    assert code == 4, output
    assert "DNS failure: cannot resolve no-such-host.invalid" in output
    assert took < 30  # a slow resolver cannot be cut short; see the README


def test_readiness_deadline_is_part_of_the_run_deadline() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, output, took = wait(
        BASE_URL=url, READY_DEADLINE_SECONDS="300", RUN_DEADLINE_SECONDS="1.5"
    )
    assert code == 4, output
    assert "what was left of the run deadline" in output
    assert took < 5


# --- TLS ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def tls_url(self_signed: tuple[Path, Path]) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    with http_server(ok, tls=context) as url:
        yield url


def test_self_signed_certificate_is_refused_unless_configured(
    tls_url: str, self_signed: tuple[Path, Path]
) -> None:
    code, output, took = wait(BASE_URL=tls_url, READY_DEADLINE_SECONDS="1")
    assert code == 4, output
    assert "TLS error: certificate of 127.0.0.1:" in output and "self-signed" in output
    assert 0.9 <= took < 5

    code, output, _ = wait(BASE_URL=tls_url, READY_INSECURE_TLS="true")
    assert code == 0, output
    assert f"WARNING: the TLS certificate of {tls_url} is not verified" in output

    code, output, _ = wait(BASE_URL=tls_url, READY_CA_FILE=str(self_signed[0]))
    assert code == 0, output and "WARNING" not in output

    per_check = json.dumps([{"url": tls_url, "insecure": True}])
    assert wait(READY_CHECKS=per_check)[0] == 0


def test_plain_http_spoken_to_as_https_is_a_tls_error() -> None:
    with http_server(ok) as url:
        https = url.replace("http://", "https://")
        code, output, _ = wait(BASE_URL=https, READY_DEADLINE_SECONDS="0.5")
    assert code == 4 and "TLS error" in output, output


# --- headers --------------------------------------------------------------------------------
TOKEN = "s3cr3t-readiness-token"  # noqa: S105 - a test value


def _needs_token(_path: str, headers: Mapping[str, str]) -> Response:
    if headers.get("Authorization") == f"Bearer {TOKEN}":
        return 200, {}, b"[]"
    return 401, {}, b'{"error":"Unauthorized"}'


def test_token_from_a_variable_or_a_file_is_sent_and_never_shown(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    from_env = [{"header": "Authorization", "value_from_env": "READY_TOKEN", "prefix": "Bearer "}]
    from_file = [
        {"header": "Authorization", "value_from_file": str(token_file), "prefix": "Bearer "}
    ]
    with http_server(_needs_token) as url:
        for headers in (from_env, from_file):
            checks = json.dumps([{"url": "/api", "headers": headers}])
            code, output, _ = wait(BASE_URL=url, READY_CHECKS=checks, READY_TOKEN=TOKEN)
            assert code == 0, output
            assert TOKEN not in output
        token_file.write_text("wrong-token-value")  # read again at every probe
        checks = json.dumps([{"url": "/api", "headers": from_file}])
        code, output, _ = wait(BASE_URL=url, READY_CHECKS=checks, READY_DEADLINE_SECONDS="0.5")
    assert code == 4 and "status 401 Unauthorized" in output, output
    assert "wrong-token-value" not in output


def test_headers_are_not_sent_to_another_origin_on_redirect() -> None:
    seen: list[str | None] = []

    def elsewhere(_path: str, headers: Mapping[str, str]) -> Response:
        seen.append(headers.get("Authorization"))
        return 200, {}, b"ok"

    with http_server(elsewhere) as other:

        def bounce(_path: str, _headers: Mapping[str, str]) -> Response:
            return 302, {"Location": f"{other}/landing"}, b""

        with http_server(bounce) as url:
            headers = [{"header": "Authorization", "value_from_env": "READY_TOKEN"}]
            checks = json.dumps([{"url": url, "headers": headers}])
            code, output, _ = wait(READY_CHECKS=checks, READY_TOKEN=TOKEN)
    assert code == 0, output
    assert seen == [None]


# --- skipping, configuration, signals -------------------------------------------------------
def test_gate_is_skipped_when_told_or_when_there_is_no_base_url() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    code, output, took = wait(BASE_URL=closed, READY_SKIP="true")
    assert code == 0 and "readiness gate skipped (READY_SKIP)" in output and took < 2
    code, output, _ = wait()
    assert code == 0 and "BASE_URL is unset" in output


def test_bad_readiness_settings_are_one_line_each_and_exit_2(tmp_path: Path) -> None:
    bad = {
        "READY_DEADLINE_SECONDS": "0",
        "READY_BACKOFF_INITIAL_SECONDS": "5",
        "READY_BACKOFF_MAX_SECONDS": "1",
        "READY_CA_FILE": str(tmp_path / "missing.pem"),
        "READY_CHECKS": json.dumps(
            [
                {"url": "ftp://x"},
                {"url": "http://x", "status": [700, "2xy"]},
                {"url": "http://x", "body_regex": "("},
                {"url": "http://x", "headers": [{"header": "X-Key", "value_from_env": "NOPE"}]},
                {"url": "http://x", "bogus": 1},
            ]
        ),
    }
    with pytest.raises(ConfigError) as raised:
        load_settings(bad)
    lines = str(raised.value).splitlines()[1:]
    for expected in (
        "READY_DEADLINE_SECONDS='0'",
        "READY_BACKOFF_MAX_SECONDS='1'",
        "READY_CA_FILE=",
        "READY_CHECKS.0.URL='ftp://x'",
        "READY_CHECKS.1.STATUS",
        "READY_CHECKS.2.BODY_REGEX='('",
        "variable NOPE is unset",
        "READY_CHECKS.4.BOGUS",
    ):
        assert sum(expected in line for line in lines) == 1, (expected, lines)
    for checks in ("not json", "[]", '[{"url": "/healthcheck"}]'):
        with pytest.raises(ConfigError, match="READY_CHECKS"):
            load_settings({"READY_CHECKS": checks})
    code, output, _ = wait(READY_CHECKS="{")
    assert code == 2 and "READY_CHECKS='{'" in output


@pytest.mark.parametrize("header", ["Authorization", "X-Api-Key", "Cookie"])
def test_a_secret_header_may_not_be_given_literally(header: str) -> None:
    checks = [{"url": "http://x", "headers": [{"header": header, "value": "abc"}]}]
    with pytest.raises(ConfigError, match="use value_from_env or value_from_file"):
        load_settings({"READY_CHECKS": json.dumps(checks)})
    plain = [{"url": "http://x", "headers": [{"header": "Accept", "value": "text/html"}]}]
    assert load_settings({"READY_CHECKS": json.dumps(plain)}).ready_checks


def test_sigterm_during_the_wait_exits_143_promptly() -> None:
    env = {
        **os.environ,
        **FAST,
        "BASE_URL": f"http://127.0.0.1:{free_port()}",
        "READY_DEADLINE_SECONDS": "30",
    }
    env.pop("READY_CHECKS", None)
    child = subprocess.Popen(
        [sys.executable, "-m", "runner", "wait"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert child.stdout is not None
    assert child.stdout.readline().startswith(b"waiting up to 30s")
    time.sleep(0.5)
    sent = time.monotonic()
    child.send_signal(signal.SIGTERM)
    output = child.communicate(timeout=10)[0].decode()
    assert child.returncode == 143, output
    assert "SIGTERM received during readiness" in output
    assert time.monotonic() - sent < 2


# --- through `verification-runner run` ------------------------------------------------------
def _run_with_stand_in_npx(tmp_path: Path, base_url: str) -> tuple[int, str, Path, Path]:
    """`run` with an `npx` first on PATH that only records it was called."""
    bin_dir, called = tmp_path / "bin", tmp_path / "npx-called"
    write_shim(bin_dir, f'echo "$@" > "{called}"\nexit 1')
    root, term = tmp_path / "artifacts", tmp_path / "termination-log"
    env = {
        **runner_env(bin_dir, root),
        "TERMINATION_MESSAGE_PATH": str(term),
        "BASE_URL": base_url,
        "READY_DEADLINE_SECONDS": "1.5",
        "KILL_GRACE_SECONDS": "1",
        **FAST,
    }
    done = subprocess.run(
        [sys.executable, "-m", "runner", "run"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    (run_dir,) = [p for p in root.iterdir() if not p.name.startswith("_")]
    return done.returncode, done.stdout + done.stderr, run_dir / "attempt-1", called


@pytest.mark.slow
def test_run_against_a_target_that_never_gets_ready_exits_4_without_playwright(
    tmp_path: Path,
) -> None:
    code, output, attempt, called = _run_with_stand_in_npx(
        tmp_path, f"http://127.0.0.1:{free_port()}"
    )
    assert code == 4, output
    assert not called.exists(), "Playwright was started although the target was not ready"
    (last,) = [line for line in output.splitlines() if "VERIFICATION " in line]
    assert "VERIFICATION TARGET NOT READY (exit 4)" in last and "connection refused" in last
    summary = json.loads((attempt / "summary.json").read_text())
    assert summary["verdict"] == "target not ready" and summary["exit_code"] == 4
    assert summary["reason"].startswith("target not ready after")
    assert "connection refused" in summary["reason"]
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    assert meta["outcome"] == "target not ready" and meta["readiness"]["ready"] is False
    assert meta["readiness"]["probes"] >= 1 and meta["readiness"]["elapsed_seconds"] >= 1.4
    assert meta["readiness"]["checks"][0]["last"].startswith("connection refused")
    assert (tmp_path / "termination-log").read_text().startswith("target not ready: target not")


@pytest.mark.slow
def test_run_against_a_ready_target_starts_playwright_and_records_readiness(
    tmp_path: Path,
) -> None:
    with http_server(ok) as url:
        _code, output, attempt, called = _run_with_stand_in_npx(tmp_path, url)
    assert called.exists(), output
    assert "target ready after" in output
    readiness = json.loads((attempt / "execution-metadata.json").read_text())["readiness"]
    assert readiness["ready"] is True and readiness["probes"] == 1
    assert readiness["checks"] == [{"url": url, "ok": True, "last": "status 200"}]


# --- backoff and deadline arithmetic on a fake clock ----------------------------------------
@given(pair=s.backoff_pairs)
def test_backoff_doubles_up_to_the_cap_and_stays_there(pair: tuple[float, float]) -> None:
    initial, cap = pair
    delays = list(islice(backoff_delays(Backoff(initial, cap)), 40))
    assert delays[0] == initial
    assert all(a <= b for a, b in pairwise(delays))
    assert all(d <= cap for d in delays) and delays[-1] == cap


@given(delay=st.floats(0.0, 100.0), fraction=s.unit_fractions)
def test_jitter_stays_within_its_bounds(delay: float, fraction: float) -> None:
    assert (1 - JITTER) * delay <= jittered(delay, fraction) <= delay


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@settings(max_examples=60, deadline=None)
@given(
    deadline=st.floats(0.1, 90.0),
    pair=s.backoff_pairs.filter(lambda p: p[0] >= 0.05),
    cost=st.floats(0.0, 20.0),
    fraction=s.unit_fractions,
)
def test_the_wait_never_outlasts_its_deadline(
    deadline: float, pair: tuple[float, float], cost: float, fraction: float
) -> None:
    fake, lines = FakeTime(), list[str]()

    def refused(check: Check, timeout: float) -> ProbeResult:
        assert 0 < timeout <= check.timeout
        fake.now += min(cost, timeout)  # a probe never runs past its timeout
        return ProbeResult(False, "connection refused")

    with pytest.raises(NotReady) as raised:
        wait_until_ready(
            [Check("http://a", timeout=5.0), Check("http://b", timeout=5.0)],
            deadline_seconds=deadline,
            overall=Deadline(10_000),
            stop=StopRequest(),
            say=lines.append,
            backoff=Backoff(*pair),
            clock=fake.clock,
            sleep=fake.sleep,
            rand=lambda: fraction,
            prober=refused,
        )
    assert fake.now <= deadline + 1e-6
    assert raised.value.report.probes >= 1 and raised.value.exit_code == 4
    assert all(0 < pause <= STOP_POLL_SECONDS for pause in fake.sleeps)
    progress = [line for line in lines if line.startswith("still waiting")]
    assert len(progress) <= deadline / PROGRESS_SECONDS + 1
    # One line per check whose reason is new, not one per probe; a check the deadline cut
    # off before its first probe says so in the report.
    assert 1 <= len([line for line in lines if line.startswith("not ready:")]) <= 2
    reasons = {c.reason for c in raised.value.report.checks}
    assert reasons <= {"connection refused", "not probed before the deadline"}


def test_a_stop_request_ends_the_pause() -> None:
    fake, stop = FakeTime(), StopRequest()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if fake.now > 3:
            stop.signal = signal.SIGTERM

    with pytest.raises(Interrupted) as raised:
        wait_until_ready(
            [Check("http://a")],
            deadline_seconds=300,
            overall=Deadline(10_000),
            stop=stop,
            say=lambda _line: None,
            backoff=Backoff(60, 60),
            clock=fake.clock,
            sleep=sleep,
            prober=lambda _check, _timeout: ProbeResult(False, "connection refused"),
        )
    assert raised.value.exit_code == 143 and fake.now < 3 + 2 * STOP_POLL_SECONDS


def backstage_backend(
    ready_after: int, *, spaces: int | None = None
) -> tuple[Callable[[str, Mapping[str, str]], Response], list[str]]:
    """Backstage 1.55 while its backend starts: `/` (and `/healthcheck`) serve the app's
    index.html with 200 at once; the readiness endpoint answers 503 until `ready_after`
    probes of it have been made (a count, not a clock), then `{"status":"ok"}`. The bodies
    are the real ones (backend-defaults' createHealthRouter), compact as a production backend
    writes them, or with `spaces` as Express' `json spaces` (2 with NODE_ENV=development:
    `yarn start`, `yarn dev`) writes them, the way JSON.stringify(body, null, spaces) does."""
    calls: list[str] = []

    def body(value: dict[str, str]) -> bytes:
        separators = (",", ": ") if spaces else (",", ":")
        return json.dumps(value, indent=spaces, separators=separators).encode()

    def respond(path: str, _headers: Mapping[str, str]) -> Response:
        calls.append(path)
        if path != "/.backstage/health/v1/readiness":
            return 200, {"Content-Type": "text/html"}, b"<!doctype html><title>Backstage</title>"
        if calls.count(path) <= ready_after:
            starting = {"message": "Backend has not started yet", "status": "error"}
            return 503, {"Content-Type": "application/json"}, body(starting)
        return 200, {"Content-Type": "application/json"}, body({"status": "ok"})

    return respond, calls


@pytest.mark.parametrize("spaces", [None, 2], ids=["production", "development"])
def test_the_backstage_preset_waits_for_the_backend_where_the_default_gate_does_not(
    spaces: int | None,
) -> None:
    """Issue 21, item 5: one GET of BASE_URL passed while the backend answered 503. A backend
    in development mode pretty-prints `{\n  "status": "ok"\n}`: the preset once wanted the
    compact text and never passed a healthy `yarn start` (exit 4 after READY_DEADLINE_SECONDS,
    found by the create-app trial)."""
    respond, calls = backstage_backend(ready_after=3, spaces=spaces)
    with http_server(respond) as url:
        code, output, _ = wait(BASE_URL=url, READY_DEADLINE_SECONDS="20")
        assert code == 0 and calls == ["/"], output  # the default gate: the page alone
        calls.clear()
        code, output, _ = wait(BASE_URL=url, READY_CHECKS="backstage", READY_DEADLINE_SECONDS="20")
    assert code == 0, output
    assert calls == ["/.backstage/health/v1/readiness"] * 4
    assert "status 503 Service Unavailable" in output and "Backend has not started" in output


@pytest.mark.parametrize("spaces", [None, 2], ids=["production", "development"])
def test_the_backstage_preset_is_not_ready_while_the_backend_never_starts(
    spaces: int | None,
) -> None:
    """A plugin that fails at startup (`Plugin 'signals' startup failed`) leaves the process up,
    the page served with 200 and the readiness endpoint at 503 for good."""
    respond, _ = backstage_backend(ready_after=10**9, spaces=spaces)
    with http_server(respond) as url:
        code, output, _ = wait(BASE_URL=url, READY_CHECKS="backstage", READY_DEADLINE_SECONDS="1")
    assert code == 4, output


def test_the_backstage_preset_needs_base_url() -> None:
    code, output, _ = wait(READY_CHECKS="backstage")
    assert code == 2 and "/.backstage/health/v1/readiness: a path needs BASE_URL" in output, output
