"""The image: built with podman from the offline bookworm base, run the way a Kargo Job runs it.

The `container` tests build the image (container/build.sh with the base from
container/build-base.sh; a few minutes cold, seconds cached) and need root with podman, runc and
debootstrap (scripts/setup-podman.sh). Without podman they are skipped with that reason.
The version-pin test needs nothing and always runs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("VR_TEST_IMAGE", "localhost/verification-runner:pytest")
BASE_IMAGE = "localhost/verification-runner-base:bookworm"
WORKSPACE = REPO / "examples" / "workspace"
PROMOTION = "01JDQ8ZK5B3M9V7W2X4Y6T8R0P"  # a valid ULID: run name "01jdq8zk5b3m"
# The pod's security context in Kubernetes: non-root, read-only root, writable /tmp only.
KARGO_LIKE = ["--read-only", "--tmpfs", "/tmp", "--ipc=host", "--user", "10001:10001"]


def test_dockerfile_default_playwright_version_matches_package_json() -> None:
    """One place decides the Playwright version (package.json); the Dockerfile's fallback default
    and the lock must not drift from it, or the official base's browsers would not match."""
    package = json.loads((REPO / "package.json").read_text())
    pinned = {**package.get("dependencies", {}), **package.get("devDependencies", {})}[
        "@playwright/test"
    ]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "pin @playwright/test exactly"
    lock = json.loads((REPO / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/@playwright/test"]["version"] == pinned
    dockerfile = (REPO / "container" / "Dockerfile").read_text()
    match = re.search(r"^ARG PLAYWRIGHT_VERSION=(\S+)$", dockerfile, re.MULTILINE)
    assert match is not None
    assert match.group(1) == pinned
    assert "ARG BASE_IMAGE=mcr.microsoft.com/playwright:v${PLAYWRIGHT_VERSION}-noble" in dockerfile


def podman(
    *args: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed: run scripts/setup-podman.sh (as root)")
    env = {**os.environ, "IMAGE": IMAGE, "BASE_IMAGE": BASE_IMAGE}
    build = subprocess.run(
        ["bash", str(REPO / "container" / "build.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    return IMAGE


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = tmp_path / "artifacts"
    root.mkdir()
    root.chmod(0o777)  # the container writes as uid 10001
    return root


def run_args(artifacts: Path, *extra: str) -> list[str]:
    return [
        *KARGO_LIKE,
        "-v",
        f"{artifacts}:/artifacts",
        "-v",
        f"{WORKSPACE}:/workspace:ro",
        "-e",
        f"KARGO_PROMOTION_ID={PROMOTION}",
        "-e",
        "KUBERNETES_SERVICE_HOST=10.0.0.1",
        "-e",
        "POD_NAMESPACE=verify",
        "-e",
        "JOB_NAME=ar-uid.playwright.1",
        *extra,
    ]


@pytest.mark.container
def test_image_labels_carry_versions(image: str) -> None:
    labels = json.loads(podman("image", "inspect", "--format", "{{json .Labels}}", image).stdout)
    package = json.loads((REPO / "package.json").read_text())
    assert (
        labels["io.github.verification-runner.playwright-version"]
        == (package["devDependencies"]["@playwright/test"])
    )
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert labels["org.opencontainers.image.version"] == project["version"]
    assert re.fullmatch(
        r"[0-9a-f]{40}(-dirty)?|unknown", labels["org.opencontainers.image.revision"]
    )
    config = json.loads(podman("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["/usr/bin/tini", "--", "verification-runner"]
    assert config["Cmd"] == ["run"]


@pytest.mark.container
def test_identity_in_a_read_only_container(image: str, artifacts: Path) -> None:
    result = podman("run", "--rm", *run_args(artifacts), image, "identity", "--json", check=False)
    assert result.returncode == 0, result.stderr
    identity = json.loads(result.stdout)
    assert identity["run_name"] == PROMOTION[:12].lower()
    assert identity["artifact_root"] == "/artifacts"
    assert list(artifacts.iterdir()) == [], "identity creates nothing"


@pytest.mark.container
def test_run_passes_the_example_workspace_read_only(image: str, artifacts: Path) -> None:
    """The whole chain in the image: runner -> npx playwright -> Debian chromium, root read-only."""
    result = podman("run", "--rm", *run_args(artifacts), image, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    attempt = artifacts / PROMOTION[:12].lower() / "attempt-1"
    assert (attempt / "junit.xml").stat().st_uid == 10001
    assert "<testsuite" in (attempt / "junit.xml").read_text()
    assert (attempt / "html-report" / "index.html").is_file()
    log = artifacts / "_jobs" / "verify" / "ar-uid.playwright.1.log"
    assert log.samefile(attempt / "verification.log")


@pytest.mark.container
def test_sigterm_reaches_the_runner_through_tini(image: str, artifacts: Path) -> None:
    """Kargo aborting a verification deletes the Job: SIGTERM to PID 1 (tini) must reach the
    runner, which stops Playwright and records the attempt as terminated (exit 143)."""
    name = f"vr-sigterm-{uuid.uuid4().hex[:8]}"
    podman("run", "-d", "--name", name, *run_args(artifacts), image, "run")
    try:
        deadline = time.monotonic() + 180
        while "Running " not in podman("logs", name, check=False).stdout:
            assert time.monotonic() < deadline, "Playwright never started"
            time.sleep(1)
        podman("kill", "--signal", "TERM", name)
        exit_code = podman("wait", name, timeout=120).stdout.strip()
        assert exit_code == "143", podman("logs", name, check=False).stdout[-3000:]
    finally:
        podman("rm", "-f", name, check=False)
    ledger = (artifacts / PROMOTION[:12].lower() / "ledger.jsonl").read_text().splitlines()
    end = json.loads(ledger[-1])
    assert end["event"] == "end"
    assert end["outcome"] == "terminated"
    assert end["exit_code"] == 143


@pytest.fixture(scope="module", autouse=True)
def _remove_test_image() -> Iterator[None]:
    yield
    if shutil.which("podman") and "VR_TEST_IMAGE" not in os.environ:
        podman("rmi", "--ignore", IMAGE, check=False)
