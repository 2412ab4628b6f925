"""Security review, as tests (the threat model is docs/threat-model.md).

* A planted token, fed through every input channel the runner has, never reaches the pod log,
  verification.log, summary.json, execution-metadata.json, the termination message or the
  ledger, nor any text file Playwright wrote. What is covered: values of secret-looking variables (runner/log/masking.py) and every
  readiness header value (from a variable of any name, or a file). Not covered, by design: a
  secret the runner was never told about (a test that reads a file of its own and prints it).
* No shell anywhere in the runner: an AST scan of runner/.
* The image runs as a numeric non-root user. The restricted pod security profile of both pods
  and the least RBAC are tested in tests/test_manifests.py
  (test_pods_meet_restricted_pod_security, test_runner_role_is_least_privilege); the artifact
  server's read-only confinement to the volume in tests/test_artifact_server.py
  (test_nothing_is_written, test_paths_outside_the_root_are_refused, symlinks) and
  test_manifests.py (test_artifact_server_mounts_the_volume_read_only).
"""

from __future__ import annotations

import ast
import base64
import http.server
import io
import json
import os
import re
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from runner.log.masking import is_secret_name
from runner.volume.artifacts import ACTIVE_HOLDER, LEDGER, RUN_MARKER
from tests.conftest import REPO, fake_home, playwright_shim, runner_command, written_forms

# Quotes, backslashes and non-ASCII: JSON escapes them, so a mask applied to serialized text
# would miss them (a header value must stay Latin-1, so no non-ASCII there).
TOKEN = 'PLANTED-"TOKEN\\6f1c9e2a7b-Grüße'  # noqa: S105 - planted on purpose, to be hunted
HEADER_TOKEN = 'HEADER-"SECRET\\0d4e8b1c55'  # noqa: S105
FILE_TOKEN = "FILE-SECRET\\9a7c3e1f02-ü"  # noqa: S105
# What the runner itself writes. Playwright's own reports are masked after it exits
# (runner/log/scrub.py): test_playwrights_own_reports_are_masked; screenshots and videos cannot be.
RUNNER_FILES = {
    "verification.log",
    "summary.json",
    "execution-metadata.json",
    LEDGER,
    RUN_MARKER,
    ACTIVE_HOLDER,
}
UID = "7c0ffee0-1234-4abc-8def-001122334455"


class _Echo(http.server.BaseHTTPRequestHandler):
    """Answers 200 and echoes the request headers into the body (a leaky health page)."""

    def do_GET(self) -> None:
        body = str(dict(self.headers)).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _base_env(tmp_path: Path) -> dict[str, str]:
    """A run with the stand-in Playwright on the example workspace, evidence under tmp_path."""
    return {
        "PATH": f"{_shim(tmp_path)}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "ARTIFACT_ROOT": str(tmp_path / "root"),
        "TESTS_WORKSPACE": str(REPO / "examples" / "workspace"),
        "PLAYWRIGHT_HOME": str(fake_home(_shim(tmp_path))),
    }


def _shim(tmp_path: Path) -> Path:
    return playwright_shim(
        tmp_path / "bin", REPO / "tests" / "helpers" / "fault_playwright.py"
    ).bin_dir


@pytest.mark.parametrize(
    "script",
    [
        # the test prints each secret, then fails with them in its name and message
        "discovery:1,secret:API_TOKEN,secret:HEALTH_HEADER,secret:FROM_THE_FILE,"
        "junitsecret:API_TOKEN,exit:1",
        "discovery:1,secret:HEALTH_HEADER,junitsecret:HEALTH_HEADER,exit:1",
        "discovery:1,secret:FROM_THE_FILE,junitsecret:FROM_THE_FILE,exit:1",
        # Playwright fails before any test with the secret in its error line
        f"discovery:1,say:Error: cannot log in with {TOKEN},exit:1",
    ],
)
def test_a_planted_token_reaches_no_evidence(tmp_path: Path, echo_server: str, script: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(FILE_TOKEN + "\n")
    termination = tmp_path / "termination-log"
    checks = [
        {
            "url": "/health",
            "headers": [
                {"header": "Authorization", "prefix": "Bearer ", "value_from_env": "API_TOKEN"},
                # a variable whose name does not look secret: masked because it feeds a header
                {"header": "X-Health", "value_from_env": "HEALTH_HEADER"},
                {"header": "X-Api-Key", "value_from_file": str(token_file)},
            ],
        }
    ]
    env = {
        **_base_env(tmp_path),
        "TERMINATION_MESSAGE_PATH": str(termination),
        "BASE_URL": echo_server,
        "READY_CHECKS": json.dumps(checks),
        "API_TOKEN": TOKEN,
        "HEALTH_HEADER": HEADER_TOKEN,
        # so the stand-in test can print the file's secret: under a name no rule masks, or the
        # name alone would mask it and the test could not tell the file's masking missing
        "FROM_THE_FILE": FILE_TOKEN,
        "ANALYSIS_RUN_UID": UID,
        "FAULT_PW": script,
    }
    assert not any(map(is_secret_name, ("HEALTH_HEADER", "FROM_THE_FILE")))
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )
    assert done.returncode in (1, 3), done.stdout.decode()[-2000:]
    assert b"target ready" in done.stdout  # the headers were sent
    evidence = {
        "stdout": done.stdout,
        "stderr": done.stderr,
        "termination": termination.read_bytes(),
        **{
            str(p.relative_to(tmp_path)): p.read_bytes()
            for p in (tmp_path / "root").rglob("*")
            if p.is_file() and (p.name in RUNNER_FILES or "_jobs" in p.parts)
        },
    }
    assert {Path(name).name for name in evidence} >= RUNNER_FILES - {ACTIVE_HOLDER}
    for secret in (TOKEN, HEADER_TOKEN, FILE_TOKEN):
        for name, data in evidence.items():
            for form in written_forms(secret):
                assert form not in data, f"{secret} leaked into {name} as {form!r}"
    assert b"****" in done.stdout  # masked, not silently dropped


def test_a_bad_secret_setting_is_reported_masked(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "ARTIFACT_ROOT": str(tmp_path), "SESSION_TOKEN": TOKEN}
    env["READY_CHECKS"] = json.dumps(
        [{"url": "http://x", "headers": [{"header": "Cookie", "value": TOKEN}]}]
    )
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert TOKEN.encode() not in done.stdout + done.stderr


def test_report_masks_as_run_masks(tmp_path: Path) -> None:
    """`report` builds its masker as `run` does (`redactor_for`): a SECRET_ENV_NAMES variable
    and a readiness header's variable are masked, not only names that look secret."""
    junit = tmp_path / "j.xml"
    junit.write_text(
        '<testsuites><testsuite name="s" tests="1"><testcase name="t" classname="c">'
        '<failure message="got hunter2-value-xyz and hdr-value-8c1f"/></testcase>'
        "</testsuite></testsuites>"
    )
    summary = tmp_path / "a.json"
    check = {
        "url": "http://127.0.0.1:9/health",
        "headers": [{"header": "X-H", "value_from_env": "PLAIN_H"}],
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "ARTIFACT_ROOT": str(tmp_path / "root"),
        "MYVAL": "hunter2-value-xyz",
        "SECRET_ENV_NAMES": "MYVAL",
        "PLAIN_H": "hdr-value-8c1f",
        "READY_CHECKS": json.dumps([check]),
    }
    done = subprocess.run(
        [*runner_command(), "report", str(junit), "--summary-json", str(summary)],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    written = summary.read_bytes()
    for value in (b"hunter2-value-xyz", b"hdr-value-8c1f"):
        assert value not in done.stdout + done.stderr + written
    assert b"got **** and ****" in written


# -- no shell anywhere in the runner ---------------------------------------------------------
SHELL_CALLS = {"system", "popen", "getoutput", "getstatusoutput", "spawnlp", "spawnvp"}


def _shell_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name in SHELL_CALLS:
            found.append(f"line {node.lineno}: {name}()")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"line {node.lineno}: shell=")
        if name in {"Popen", "run", "call", "check_call", "check_output"} and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant | ast.JoinedStr | ast.BinOp):
                found.append(f"line {node.lineno}: {name}() with a command string")
        for arg in node.args:
            if isinstance(arg, ast.List | ast.Tuple) and any(
                isinstance(e, ast.Constant) and e.value in ("sh", "bash", "/bin/sh", "-c")
                for e in arg.elts
            ):
                found.append(f"line {node.lineno}: a shell in an argument list")
    return found


def test_the_runner_never_uses_a_shell() -> None:
    offences = {
        str(path.relative_to(REPO)): uses
        for path in sorted((REPO / "runner").rglob("*.py"))
        if (uses := _shell_uses(ast.parse(path.read_text(), str(path))))
    }
    assert not offences, offences


def test_the_scan_finds_a_shell() -> None:
    bad = "import os, subprocess\nos.system('x')\nsubprocess.run(f'rm {x}', shell=True)\nsubprocess.run(['sh', '-c', y])\n"
    assert len(_shell_uses(ast.parse(bad))) == 4


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    """runAsNonRoot can only be verified by the kubelet for a numeric USER."""
    users = [
        line.split()[1]
        for line in (REPO / "container" / "Dockerfile").read_text().splitlines()
        if line.startswith("USER ")
    ]
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0


@pytest.mark.slow
def test_playwrights_own_reports_are_masked(tmp_path: Path) -> None:
    """Real Playwright (a test without a page: no browser needed) prints the secret, fails with
    it in the message and attaches it; every text file of the attempt (JUnit, JSON report,
    HTML report with its embedded data, attachments, the trace's text parts) has it masked."""
    spec = tmp_path / "ws" / "apps/backstage/tests/acceptance" / "leak.spec.ts"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        "import { test, expect } from '@playwright/test';\n"
        "test('leaks', async ({}, info) => {\n"
        "  console.log('the token is ' + process.env.API_TOKEN);\n"
        "  await info.attach('token.txt', { body: String(process.env.API_TOKEN) });\n"
        "  expect(process.env.API_TOKEN).toBe('something else');\n"
        "});\n"
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "ARTIFACT_ROOT": str(tmp_path / "root"),
        "TESTS_WORKSPACE": str(tmp_path / "ws"),
        "PLAYWRIGHT_HOME": str(REPO),
        "BASE_URL": "http://127.0.0.1:9",
        "READY_SKIP": "true",
        "PLAYWRIGHT_RETRIES": "0",
        "ANALYSIS_RUN_UID": UID,
        "API_TOKEN": TOKEN,
    }
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stdout.decode()[-2000:]
    attempt = next((tmp_path / "root").glob("*/attempt-1"))
    checked = set()
    for path in attempt.rglob("*"):
        if not path.is_file() or path.suffix in (".png", ".jpeg", ".webm"):
            continue
        data = path.read_bytes()
        if path.suffix == ".zip":  # a trace: its text members
            with zipfile.ZipFile(path) as archive:
                data = b"".join(
                    archive.read(n) for n in archive.namelist() if not n.endswith(".jpeg")
                )
        elif embedded := re.search(rb'"playwrightReportBase64">data:[^,]*,([^<]*)', data):
            with zipfile.ZipFile(io.BytesIO(base64.b64decode(embedded[1]))) as archive:
                data += b"".join(archive.read(n) for n in archive.namelist())
        for form in written_forms(TOKEN):
            assert form not in data, f"{TOKEN} in {path.relative_to(attempt)} as {form!r}"
        checked.add(path.name)
    assert {"junit.xml", "results.json", "index.html"} <= checked, checked


def test_credentials_in_urls_reach_no_evidence(tmp_path: Path, echo_server: str) -> None:
    """BASE_URL's password and a readiness check's ?token= never reach the log, the metadata
    or the summary, though the tests print both URLs."""
    password, query_token = 'hunter2-"pw', "qtok-5e1f9a7c"
    base_url = echo_server.replace("http://", f"http://bob:{quote(password)}@")
    checks = [{"url": f"{echo_server}/health?limit=1&access_token={query_token}"}]
    env = {
        **_base_env(tmp_path),
        "BASE_URL": base_url,
        "READY_CHECKS": json.dumps(checks),
        "ANALYSIS_RUN_UID": UID,
        "PRINTED": f"{base_url} {checks[0]['url']} {password}",
        "FAULT_PW": "discovery:1,secret:PRINTED,junitsecret:PRINTED,exit:1",
    }
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stdout.decode()[-2000:]
    attempt = tmp_path / "root" / UID.replace("-", "")[:12] / "attempt-1"
    evidence = {"stdout": done.stdout, "stderr": done.stderr}
    evidence |= {p.name: p.read_bytes() for p in attempt.rglob("*") if p.is_file()}
    for secret in (password, quote(password), query_token):
        for name, data in evidence.items():
            for form in written_forms(secret):
                assert form not in data, f"{secret} leaked into {name}"
    assert b"limit=1" in done.stdout  # only the secret-looking parameter is masked
    meta = json.loads((attempt / "execution-metadata.json").read_text())
    assert meta["base_url"] == echo_server.replace("http://", "http://bob:****@")


@pytest.mark.parametrize(
    ("variable", "value", "masked"),
    [
        ("BACKSTAGE_GH_PAT", "ghp_4f8e2d1c", True),
        ("GUEST_PW", "guest-pass-1", True),
        ("DB_PASS", "db-pass-9f2e", True),
        ("KEYCLOAK_ADMIN_PWD", "kc-admin-77a1", True),
        ("AUTH_PROVIDER", "guestprovider", False),  # a setting, not a credential
        ("AUTH_ENABLED", "true", False),  # a JSON literal is never masked
        ("MY_THING", "plain-value-1", False),
    ],
)
def test_secret_names(tmp_path: Path, variable: str, value: str, masked: bool) -> None:
    done = _run_printing(tmp_path, {variable: value})
    assert (value.encode() in done.stdout) is not masked, done.stdout[-1500:]


def test_secret_env_names_and_not_secret_env_names(tmp_path: Path) -> None:
    done = _run_printing(
        tmp_path,
        {
            "MY_THING": "plain-value-1",
            "SESSION_LABEL": "blue-team-2",
            "SECRET_ENV_NAMES": "my_*",
            "NOT_SECRET_ENV_NAMES": "SESSION_LABEL",
        },
    )
    assert b"plain-value-1" not in done.stdout and b"blue-team-2" in done.stdout


def test_a_bad_secret_names_list_is_exit_2(tmp_path: Path) -> None:
    done = _run_printing(tmp_path, {"SECRET_ENV_NAMES": "MY THING,$(x)"})
    assert done.returncode == 2 and b"SECRET_ENV_NAMES='MY THING,$(x)'" in done.stderr


def _run_printing(tmp_path: Path, extra: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """A run whose stand-in test prints every variable of `extra`."""
    prints = ",".join(f"secret:{name}" for name in extra)
    env = {
        **_base_env(tmp_path),
        "FAULT_PW": f"discovery:1,{prints},junit:pass:3,exit:0",
        **extra,
    }
    return subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )


@pytest.mark.parametrize("variable", ["KARGO_PROMOTION_ID", "POD_NAME", "FREIGHT_IMAGE"])
def test_bytes_that_are_not_utf8_in_a_setting_are_exit_2(tmp_path: Path, variable: str) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "ARTIFACT_ROOT": str(tmp_path),
        variable: os.fsdecode(b"ab\xffcd"),
    }
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert f"{variable}=".encode() in done.stderr and b"not UTF-8" in done.stderr
    assert b"Traceback" not in done.stderr + done.stdout


def test_the_git_deploy_key_reaches_no_evidence(tmp_path: Path) -> None:
    """A test can read the mounted git Secret; its sshPrivateKey is masked like its password."""
    lines = ["9f2KEYLINE-one-b64+/AAAAC3NzaC1lZDI1NTE5", "9f2KEYLINE-two-b64+/QyNTUxOQAAACBq"]
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(lines) + "\n"
    credentials = tmp_path / "git-credentials"
    credentials.mkdir()
    (credentials / "sshPrivateKey").write_text(key + "-----END OPENSSH PRIVATE KEY-----\n")
    env = {
        **_base_env(tmp_path),
        "GIT_CREDENTIALS_DIR": str(credentials),
        "PRINTED_BLOB": key,  # what the stand-in test prints: a name that does not look secret
        "ANALYSIS_RUN_UID": UID,
        "FAULT_PW": "discovery:1,secret:PRINTED_BLOB,junitsecret:PRINTED_BLOB,exit:1",
    }
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 1, done.stdout.decode()[-2000:]
    evidence = [done.stdout, done.stderr] + [
        p.read_bytes() for p in (tmp_path / "root").rglob("*") if p.name in RUNNER_FILES
    ]
    for line in lines:
        assert not any(line.encode() in data for data in evidence), f"{line} leaked"
    assert b"****" in done.stdout
