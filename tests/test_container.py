"""The image: built with podman from the offline bookworm base, run the way a Kargo Job runs it.

The `container` tests build the image (container/build.sh, which first builds the offline base
with container/build-base.sh when it is missing or stale: a few minutes cold, a stamp check when
cached) and need root with podman, runc and debootstrap (scripts/setup-podman.sh, run by
`scripts/setup.sh test`). Without podman they are skipped locally and FAIL in CI (CI set): a
skip must never stand in for the image. The pin and README checks need nothing and always run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
import tomllib
import uuid
from pathlib import Path

import pytest
import yaml

from runner.volume.artifacts import LEDGER
from tests.helpers.git_repos import BROKEN_AT, FIXED_AT, SUPPORT, fast_import, suite_commits
from tests.helpers.git_server import USER, serve
from tests.test_readme import run_shell, step_block, step_exports

REPO = Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("VR_TEST_IMAGE", "localhost/verification-runner:pytest")
BASE_IMAGE = "localhost/verification-runner-base:bookworm"
WORKSPACE = REPO / "examples" / "workspace"
FIXTURES = REPO / "tests" / "fixtures" / "workspaces"
JOB_TEMPLATE = REPO / "kustomize" / "base" / "analysistemplate.yaml"
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


@pytest.mark.slow
def test_a_docker_build_annotates_the_index_and_the_manifest(tmp_path: Path) -> None:
    """With docker (buildx) the image may be an index (several platforms, or the provenance
    attestation buildx adds by default), and Kargo then reads the index's annotations only:
    build.sh asks for both levels. No docker engine runs here, so a `docker` on PATH records
    the command build.sh runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv.json"
    docker = bin_dir / "docker"
    docker.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"json.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n"
    )
    docker.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "CONTAINER_ENGINE": "docker",
        "BASE_IMAGE": "example.invalid/base:1",
        "SOURCE_URL": "https://github.com/example/verification-runner.git",
        "HOST_CA_BUNDLE": "",
    }
    done = build_sh(env, timeout=60)
    assert done.returncode == 0, done.stderr
    argv = json.loads(record.read_text())
    assert argv[0] == "build"
    annotations = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--annotation"]
    revision = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert (
        "index,manifest:org.opencontainers.image.source="
        "https://github.com/example/verification-runner.git"
    ) in annotations
    (rev,) = [a for a in annotations if "image.revision=" in a]
    assert re.fullmatch(
        rf"index,manifest:org\.opencontainers\.image\.revision={revision}(-dirty)?", rev
    )
    assert all(a.startswith("index,manifest:org.opencontainers.image.") for a in annotations)


def job_env_names() -> set[str]:
    """The env names of the verification Job's runner container in the base AnalysisTemplate."""
    template = yaml.safe_load(JOB_TEMPLATE.read_text())
    (metric,) = template["spec"]["metrics"]
    (container,) = metric["provider"]["job"]["spec"]["template"]["spec"]["containers"]
    return {entry["name"] for entry in container["env"]}


def readme_docker_run() -> list[str]:
    """The README's `docker run` line that reproduces a Kargo run, as a list of arguments."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", readme, re.DOTALL) if "docker run" in b]
    assert len(blocks) == 1, "README.md must show exactly one `docker run` block"
    command = blocks[0][blocks[0].index("docker run") :].replace("\\\n", " ")
    return shlex.split(command.splitlines()[0], comments=True)


def env_names(argv: list[str]) -> list[str]:
    return [argv[i + 1].partition("=")[0] for i, arg in enumerate(argv) if arg == "-e"]


def test_readme_docker_run_has_the_jobs_environment() -> None:
    """Reproducing a Kargo run means the Job's variables, no more and no fewer; the kubelet adds
    KUBERNETES_SERVICE_HOST, which marks the run as in-cluster."""
    names = env_names(readme_docker_run())
    assert len(names) == len(set(names)), "a variable is set twice"
    assert set(names) == job_env_names() | {"KUBERNETES_SERVICE_HOST"}


def test_readme_docker_run_is_the_jobs_pod() -> None:
    argv = readme_docker_run()
    line = " ".join(argv)
    for flag in ("--init", "--ipc=host", "--read-only", "--tmpfs /tmp", "--user 10001:10001"):
        assert f" {flag} " in f" {line} ", flag
    kustomization = yaml.safe_load((JOB_TEMPLATE.parent / "kustomization.yaml").read_text())
    (pinned,) = kustomization["images"]
    assert argv[-2:] == [f"{pinned['name']}:{pinned['newTag']}", "run"]
    assert "-v" in argv and "$PWD/.verification-artifacts:/artifacts" in argv


def test_test_docker_sets_the_jobs_environment() -> None:
    script = (REPO / "container" / "test-docker.sh").read_text()
    names = re.findall(r"^\s*-e ([A-Z_]+)=", script, re.MULTILINE)
    assert set(names) == job_env_names() | {"KUBERNETES_SERVICE_HOST"}
    assert '"$IMAGE" run "$@"' in script, "Playwright arguments must reach `run`"


def build_sh(env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """container/build.sh, as a developer runs it, with `env`."""
    return subprocess.run(
        ["bash", str(REPO / "container" / "build.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def podman(
    *args: str, timeout: float = 300, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where a missing engine is a broken setup."""
    if os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}:
        pytest.fail(f"{reason} (CI is set: the container tests must run here)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def image() -> str:
    if shutil.which("podman") is None:
        unavailable("podman is not installed: run scripts/setup-podman.sh (as root)")
    base_present = podman("image", "exists", BASE_IMAGE, check=False).returncode == 0
    if not base_present and os.geteuid() != 0:
        unavailable(f"{BASE_IMAGE} is missing and only root can build it (container/build-base.sh)")
    # The test image stays tagged between sessions: its layers are the build cache that keeps the
    # next build to seconds. Only the image it replaces is removed, so none pile up.
    before = podman("image", "inspect", "--format", "{{.Id}}", IMAGE, check=False).stdout.strip()
    env = {**os.environ, "IMAGE": IMAGE, "BASE_IMAGE": BASE_IMAGE}
    build = build_sh(env, timeout=1800)
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    after = podman("image", "inspect", "--format", "{{.Id}}", IMAGE).stdout.strip()
    if before and before != after:
        podman("rmi", before, check=False)  # fails harmlessly while another tag still uses it
    return IMAGE


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    root = tmp_path / "artifacts"
    root.mkdir()
    root.chmod(0o777)  # the container writes as uid 10001
    return root


def run_args(artifacts: Path, *extra: str, workspace: Path = WORKSPACE) -> list[str]:
    return [
        *KARGO_LIKE,
        "-v",
        f"{artifacts}:/artifacts",
        "-v",
        f"{workspace}:/workspace:ro",
        "-e",
        f"KARGO_PROMOTION_ID={PROMOTION}",
        "-e",
        "KUBERNETES_SERVICE_HOST=10.0.0.1",
        "-e",
        "POD_NAMESPACE=verify",
        "-e",
        "JOB_NAME=ar-uid.playwright.1",
        # No BASE_URL: a Kargo run serves the workspace's own site only when told.
        "-e",
        "LOCAL_SITE_DIR=verification-site",
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
    # Kargo reads OCI annotations into Freight, never labels (docs/platform-facts.md): the same
    # keys are on the image manifest that podman pushes.
    annotations = json.loads(
        podman("image", "inspect", "--format", "{{json .Annotations}}", image).stdout
    )
    for key in ("source", "revision", "version", "created"):
        name = f"org.opencontainers.image.{key}"
        assert annotations.get(name) == labels[name], name
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


def last_line(path: Path) -> str:
    return path.read_text(errors="replace").rstrip("\n").splitlines()[-1]


@pytest.mark.container
def test_the_readme_line_passes_the_example_workspace(image: str, artifacts: Path) -> None:
    """The README's `docker run` line, with podman, this image and LOCAL_SITE_DIR for BASE_URL
    (the workspace's site): non-root, read-only root, the evidence on the host and readable there."""
    argv = readme_docker_run()
    argv[argv.index("$PWD/.verification-artifacts:/artifacts")] = f"{artifacts}:/artifacts"
    argv = [arg.replace("$PWD", str(REPO)) for arg in argv]
    # `${NAME:-}` as the shell expands it when NAME is unset here: the mounted workspace runs
    # (the fetching variant is in test_fetching) and nothing is proven (no API beside it).
    argv = [re.sub(r"\$\{[A-Z_]+:-\}", "", arg) for arg in argv]
    # As the README says: LOCAL_SITE_DIR instead of BASE_URL tests the workspace's own site.
    (base_url,) = [i for i, arg in enumerate(argv) if arg.startswith("BASE_URL=")]
    argv[base_url] = "LOCAL_SITE_DIR=verification-site"
    argv[-2] = image
    result = podman(*argv[1:], timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]

    job = next(arg.partition("=")[2] for arg in argv if arg.startswith("JOB_NAME="))
    attempt = artifacts / job.replace("-", "")[:12] / "attempt-1"
    evidence = ["verification.log", "junit.xml", "summary.json", "execution-metadata.json"]
    for name in [*evidence, "html-report/index.html"]:
        path = attempt / name
        assert path.stat().st_uid == 10001, name  # the Job's user wrote it
        assert path.stat().st_mode & 0o004, f"{name} is not readable by other host users"
    assert "VERIFICATION PASSED" in last_line(attempt / "verification.log")
    assert "<testsuite" in (attempt / "junit.xml").read_text()
    summary = json.loads((attempt / "summary.json").read_text())
    assert (summary["exit_code"], summary["failed"]) == (0, 0)
    assert summary["passed"] > 0
    metadata = json.loads((attempt / "execution-metadata.json").read_text())
    assert metadata["exit_code"] == 0
    assert metadata["versions"]["playwright"]
    assert json.dumps(metadata).count(job) >= 1, "the Job's identity is recorded"
    log = artifacts / "_jobs" / "backstage" / f"{job}.log"
    assert log.samefile(attempt / "verification.log")


@pytest.mark.container
def test_a_failing_suite_exits_1_and_names_the_test(image: str, artifacts: Path) -> None:
    args = run_args(artifacts, workspace=FIXTURES / "failing")
    result = podman("run", "--rm", *args, image, timeout=600, check=False)
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-4000:]
    verdict = result.stdout.rstrip("\n").splitlines()[-1]
    assert "VERIFICATION FAILED" in verdict
    assert "fails on purpose" in verdict
    attempt = artifacts / PROMOTION[:12].lower() / "attempt-1"
    assert last_line(attempt / "verification.log") == verdict
    summary = json.loads((attempt / "summary.json").read_text())
    assert [failure["name"] for failure in summary["failures"]] == ["fails on purpose"]


@pytest.mark.container
def test_sigterm_reaches_the_runner_through_tini(image: str, artifacts: Path) -> None:
    """Kargo aborting a verification deletes the Job: SIGTERM to PID 1 (tini) must reach the
    runner, which stops Playwright and records the attempt as terminated (exit 143), with the
    log complete on the host up to its verdict line."""
    name = f"vr-sigterm-{uuid.uuid4().hex[:8]}"
    args = run_args(artifacts, "-e", "SLOW_TEST_SECONDS=120", workspace=FIXTURES / "slow")
    podman("run", "-d", "--name", name, *args, image, "run")
    try:
        deadline = time.monotonic() + 180
        while "Running " not in podman("logs", name, check=False).stdout:
            assert time.monotonic() < deadline, "Playwright never started"
            time.sleep(1)
        time.sleep(2)  # into the test's wait, not the browser's start
        podman("kill", "--signal", "TERM", name)
        exit_code = podman("wait", name, timeout=120).stdout.strip()
        assert exit_code == "143", podman("logs", name, check=False).stdout[-3000:]
    finally:
        podman("rm", "-f", name, check=False)
    run = artifacts / PROMOTION[:12].lower()
    end = json.loads((run / LEDGER).read_text().splitlines()[-1])
    assert (end["event"], end["outcome"], end["exit_code"]) == ("end", "terminated", 143)
    verdict = last_line(run / "attempt-1" / "verification.log")
    assert verdict.startswith("[verification-runner] VERIFICATION TERMINATED (exit 143)"), verdict


@pytest.mark.container
def test_npm_run_test_docker_passes_grep_and_base_url(image: str, tmp_path: Path) -> None:
    """`npm run test:docker -- ARGS` (container/test-docker.sh): Playwright arguments and
    BASE_URL reach the run, and the evidence lands in the given host directory."""
    site = subprocess.Popen(
        [
            "python3",
            "-u",
            "-m",
            "http.server",
            "--bind",
            "127.0.0.1",
            "--directory",
            "verification-site",
            "0",
        ],
        cwd=WORKSPACE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert site.stdout is not None
        port = re.search(r"port (\d+)", site.stdout.readline())
        assert port is not None
        env = {
            **os.environ,
            "IMAGE": image,
            "VR_ARTIFACTS": str(tmp_path / "host-artifacts"),
            "BASE_URL": f"http://127.0.0.1:{port.group(1)}",
            "ALLOW_EMPTY_TREES": "plugin:*",
        }
        done = subprocess.run(
            # One test selected: the plugin trees run none, which they may here (every tree
            # must run a test unless ALLOW_EMPTY_TREES names it; README "Faults and outcomes").
            [
                *("bash", str(REPO / "container" / "test-docker.sh")),
                *("-e", "ALLOW_EMPTY_TREES", "--grep", "Events link"),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    finally:
        site.terminate()
        site.wait(timeout=10)
        if site.stdout is not None:
            site.stdout.close()
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    (summary_file,) = (tmp_path / "host-artifacts").glob("*/attempt-1/summary.json")
    summary = json.loads(summary_file.read_text())
    assert (summary["total"], summary["passed"]) == (1, 1)
    metadata = json.loads(summary_file.with_name("execution-metadata.json").read_text())
    assert metadata["base_url"] == env["BASE_URL"]
    assert "report: npx playwright show-report" in done.stderr


@pytest.mark.container
@pytest.mark.nginx
def test_the_image_fetches_its_tests_from_git(image: str, tmp_path: Path) -> None:
    """A Kargo-like pod: only TESTS_REPO, TESTS_REVISION, BASE_URL and the downward-API env,
    read-only root, uid 10001, the git credential Secret mounted read-only; the tests come from
    a private repository on a real Git server (host network). The verdict follows the commit."""
    password = "container-planted-password-0b9e"  # noqa: S105 - planted to be looked for
    credentials = _git_credentials(tmp_path, password)
    with serve(tmp_path / "git", password=password) as server:
        ids = fast_import(server.repos / "private" / "suite.git", suite_commits())
        codes = {}
        for tag, number in (("v1.0.0", BROKEN_AT), ("v1.1.0", FIXED_AT)):
            artifacts = tmp_path / f"artifacts-{tag}"
            artifacts.mkdir()
            artifacts.chmod(0o777)
            uid = str(uuid.uuid4())
            result = podman(
                "run",
                "--rm",
                "--init",
                "--network=host",
                *KARGO_LIKE,
                "-v",
                f"{artifacts}:/artifacts",
                "-v",
                f"{credentials}:/var/run/secrets/verification-runner/git:ro",
                "-e",
                "KUBERNETES_SERVICE_HOST=10.0.0.1",
                "-e",
                "LOOKUP_PROMOTION=false",
                "-e",
                f"ANALYSIS_RUN_UID={uid}",
                "-e",
                f"JOB_NAME={uid}.acceptance.1",
                "-e",
                "POD_NAMESPACE=backstage",
                "-e",
                "BASE_URL=http://127.0.0.1:9",  # the fetched specs need no page
                "-e",
                "READY_SKIP=true",
                "-e",
                f"TESTS_REPO={server.url('suite', private=True)}",
                "-e",
                f"TESTS_REVISION={tag}",
                "-e",
                f"TESTS_SPARSE_PATHS={SUPPORT}",
                "-e",
                "GIT_CREDENTIALS_DIR=/var/run/secrets/verification-runner/git",
                image,
                timeout=600,
                check=False,
            )
            codes[tag] = result.returncode
            attempt = artifacts / uid.replace("-", "")[:12] / "attempt-1"
            metadata = json.loads((attempt / "execution-metadata.json").read_text())
            assert metadata["tests_commit"] == ids[number - 1], result.stdout[-4000:]
            for path in artifacts.rglob("*"):
                if path.is_file():
                    assert password.encode() not in path.read_bytes(), path
            assert password not in result.stdout + result.stderr
    assert codes == {"v1.0.0": 1, "v1.1.0": 0}


def _git_credentials(tmp_path: Path, password: str) -> Path:
    """A host directory shaped like the git credential Secret's volume."""
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "username").write_text(USER)
    (credentials / "password").write_text(password)
    for path in (credentials, *credentials.iterdir()):
        path.chmod(0o755 if path.is_dir() else 0o644)  # as a Secret volume's files are
    return credentials


@pytest.mark.container
@pytest.mark.nginx
def test_npm_run_test_docker_fetches_its_tests_from_git(image: str, tmp_path: Path) -> None:
    """`TESTS_REPO=... TESTS_REVISION=... npm run test:docker`: what Kargo ran, reproduced on
    a laptop: the script fetches from a private repository with the credentials directory
    mounted where the Job mounts its Secret, and the verdict is that commit's."""
    password = "test-docker-planted-password-51c2"  # noqa: S105 - planted to be looked for
    credentials = _git_credentials(tmp_path, password)
    with serve(tmp_path / "git", password=password) as server:
        ids = fast_import(server.repos / "private" / "suite.git", suite_commits())
        env = {
            **os.environ,
            "IMAGE": image,
            "VR_SKIP_BUILD": "1",
            "VR_ARTIFACTS": str(tmp_path / "host-artifacts"),
            "TESTS_REPO": server.url("suite", private=True),
            "TESTS_REVISION": "v1.0.0",
            "GIT_CREDENTIALS_DIR": str(credentials),
            "BASE_URL": "http://127.0.0.1:9",  # the fetched specs need no page
        }
        env.pop("TESTS_WORKSPACE", None)
        done = subprocess.run(
            [
                "bash",
                str(REPO / "container" / "test-docker.sh"),
                "-e",
                "READY_SKIP=true",
                "-e",
                f"TESTS_SPARSE_PATHS={SUPPORT}",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-4000:]  # v1.0.0 is broken
    (metadata_file,) = (tmp_path / "host-artifacts").glob("*/attempt-1/execution-metadata.json")
    assert json.loads(metadata_file.read_text())["tests_commit"] == ids[BROKEN_AT - 1]
    assert password not in done.stdout + done.stderr


def _test_docker(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """container/test-docker.sh with a stand-in engine that records its arguments."""
    engine = tmp_path / "engine"
    engine.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/argv"\n')
    engine.chmod(0o755)
    full = {
        **os.environ,
        "CONTAINER_ENGINE": str(engine),
        "VR_SKIP_BUILD": "1",
        "VR_ARTIFACTS": str(tmp_path / "artifacts"),
        **env,
    }
    return subprocess.run(
        ["bash", str(REPO / "container" / "test-docker.sh"), *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_test_docker_passes_env_files_and_variables_through(tmp_path: Path) -> None:
    env_file = tmp_path / "e2e.env"
    env_file.write_text("E2E_USER_NAME=Guest\n# a comment\nexport E2E_LOCALE=de\n")
    done = _test_docker(
        tmp_path,
        "--env-file",
        str(env_file),
        "-e",
        "E2E_PASSWORD",
        "-e",
        "E2E_ROLE=admin",
        "--grep",
        "@smoke",
        E2E_PASSWORD="s3cret",  # noqa: S106 - a stand-in value, to see it is not on the command line
    )
    assert done.returncode == 0, done.stderr
    argv = (tmp_path / "argv").read_text().splitlines()
    image_at = argv.index("localhost/verification-runner:dev")
    options = argv[:image_at]
    assert options[-6:] == [
        "--env-file",
        str(env_file),
        "-e",
        "E2E_PASSWORD",
        "-e",
        "E2E_ROLE=admin",
    ]
    assert argv[image_at:] == ["localhost/verification-runner:dev", "run", "--grep", "@smoke"]
    assert "s3cret" not in argv  # -e NAME: the engine reads the value from the environment


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["-e", "E2E_UNSET_VARIABLE"], "E2E_UNSET_VARIABLE is not set in this shell"),
        (["-e", "ARTIFACT_ROOT=/elsewhere"], "ARTIFACT_ROOT is set by test-docker.sh"),
        (["-e", "BASE_URL"], "BASE_URL is set by test-docker.sh"),
        (["-e", "not a name"], "not a variable name"),
        (["--env-file", "/nonexistent/e2e.env"], "no such readable file"),
        (["--env-file"], "--env-file needs a file"),
    ],
)
def test_test_docker_refuses_bad_variables(tmp_path: Path, args: list[str], says: str) -> None:
    done = _test_docker(tmp_path, *args, BASE_URL="http://127.0.0.1:1")
    assert done.returncode == 2 and says in done.stderr, done.stderr
    assert not (tmp_path / "argv").exists()


def test_test_docker_refuses_an_env_file_that_sets_the_jobs_variables(tmp_path: Path) -> None:
    env_file = tmp_path / "e2e.env"
    env_file.write_text("E2E_USER_NAME=Guest\nJOB_NAME=mine\n")
    done = _test_docker(tmp_path, "--env-file", str(env_file))
    assert done.returncode == 2 and "JOB_NAME is set by test-docker.sh" in done.stderr


@pytest.mark.container
def test_the_monorepo_example_passes_in_the_container(image: str, tmp_path: Path) -> None:
    """Step 2 of the README's "Run your suite in three steps", as written, after step 1's
    exports: the second example, read-only in the container as in the Job; its tree settings
    come in through `-e NAME`, its test user through `--env-file`, and its sign-in state goes
    to the attempt."""
    env = {
        **os.environ,
        "IMAGE": image,
        "VR_SKIP_BUILD": "1",
        "VR_ARTIFACTS": str(tmp_path / "host-artifacts"),
    }
    env.pop("BASE_URL", None)
    done = run_shell(f"{step_exports()}\n{step_block('2.')}", env)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert (
        "8 test(s) will run: setup 1, central 3, plugin:catalog 3, "
        "plugin:techdocs/tests/acceptance 1" in done.stdout
    )
    (summary_file,) = (tmp_path / "host-artifacts").glob("*/attempt-1/summary.json")
    assert json.loads(summary_file.read_text())["passed"] == 8
    assert (summary_file.parent / "state" / "user.json").exists()
