"""The README's first screen runs: every shell example of "Run your suite in three steps" is
executed here (the container step in tests/test_container.py), and every other shell example
in the README is run by the test named for it below (`make test` by .ci/run itself)."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from runner.playwright import free_port
from tests.conftest import REPO

README = REPO / "README.md"


def sh_blocks(text: str | None = None) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text or README.read_text(encoding="utf-8"), re.DOTALL)


def step_block(step: str) -> str:
    """The shell block of step `1.`, `2.` or `3.` of "Run your suite in three steps"."""
    readme = README.read_text(encoding="utf-8")
    section = readme.split("## Run your suite in three steps", 1)[1].split("\n## ", 1)[0]
    part = section.split(f"**{step} ", 1)[1]
    (block,) = sh_blocks(part)[:1]
    return block


def step_exports() -> str:
    """The `export ...` of step 1, which step 2 runs after (the same shell)."""
    block = step_block("1.")
    start = block.index("export ")
    return block[start:].split("\n.venv", 1)[0]


def run_shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A README example as a reader pastes it: bash, in the checkout, stopping at an error."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


# Every other shell example, by its first command, and the test that runs it.
RUN_ELSEWHERE = {
    # its `make test` line is what .ci/run runs (a test cannot run the suite it is part of)
    "make example": "tests.test_readme:test_make_example_runs_both_example_workspaces",
    "npm run test:docker": "tests.test_container:test_npm_run_test_docker_passes_grep_and_base_url",
    "mkdir -p .verification-artifacts": "tests.test_container:test_the_readme_line_passes_the_example_workspace",
    "npx playwright show-report": "tests.test_readme:test_the_report_folder_opens_with_show_report",
    "READY_CHECKS=": "tests.test_readme:test_the_ready_checks_example_is_valid",
    "verification-runner lint": "tests.test_lint",
    "PROVE_WORKLOAD=": "tests.test_deployment_proof:test_the_readme_kubernetes_example_runs",
    "BASE_URL=https://backstage-test.example.com PROVE_VERSION_URL": (
        "tests.test_deployment_proof:test_the_readme_http_example_runs"
    ),
    'echo "{\\"commit': "tests.test_deployment_proof:test_the_readme_version_file_is_json",
    "export TESTS_REPO=": "tests.test_backstage_install:test_the_readme_s_backstage_steps_work",
}


def test_the_first_screen_says_how_to_run_your_suite() -> None:
    readme = README.read_text(encoding="utf-8")
    first_heading = readme.split("\n## ", 2)[1].splitlines()[0]
    assert first_heading == "Run your suite in three steps"
    for step in ("1.", "2.", "3."):
        assert step_block(step).strip()


def test_every_shell_example_is_run_by_a_test() -> None:
    steps = {step_block(s) for s in ("1.", "2.", "3.")}
    for block in sh_blocks():
        if block in steps:
            continue
        first = block.strip().splitlines()[0]
        owners = [owner for prefix, owner in RUN_ELSEWHERE.items() if first.startswith(prefix)]
        assert owners, f"no test runs this README example: {first!r}"
        module, _, name = owners[0].partition(":")
        if module.startswith("tests."):
            loaded = importlib.import_module(module)
            assert not name or callable(getattr(loaded, name, None)), owners[0]


@pytest.mark.slow
def test_the_kargo_step_renders() -> None:
    """`kubectl apply -k DIR` of step 3, rendered offline with `kubectl kustomize DIR`."""
    if shutil.which("kubectl") is None:
        pytest.fail("kubectl is missing: scripts/setup.sh test installs it (setup-kubectl.sh)")
    for line in step_block("3.").strip().splitlines():
        directory = line.split("#", 1)[0].split()[-1]
        assert line.startswith("kubectl apply -k ")
        done = subprocess.run(
            ["kubectl", "kustomize", directory],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, (line, done.stderr)
        assert "kind:" in done.stdout


def test_the_ready_checks_example_is_valid(tmp_path: Path) -> None:
    from runner.config.settings import load_settings  # noqa: PLC0415

    (block,) = [b for b in sh_blocks() if b.startswith("READY_CHECKS=")]
    value = block.split("=", 1)[1].strip().strip("'")
    token = tmp_path / "token"
    token.write_text("t")
    value = value.replace("/var/run/secrets/backstage/token", str(token))
    settings = load_settings({"READY_CHECKS": value, "BASE_URL": "https://backstage.example"})
    assert settings.ready_checks is not None and len(settings.ready_checks) == 2
    # "with the same check and more": its first check is the preset's, text for text.
    preset = load_settings({"READY_CHECKS": "backstage", "BASE_URL": "https://backstage.example"})
    assert preset.ready_checks is not None and preset.ready_checks[0] == settings.ready_checks[0]


@pytest.mark.slow
def test_the_report_folder_opens_with_show_report(tmp_path: Path) -> None:
    """The show-report line serves a report folder (the one the summary line names)."""
    (block,) = [b for b in sh_blocks() if b.startswith("npx playwright show-report")]
    npx_line = block.splitlines()[0].split("#", 1)[0].split()
    assert npx_line[:3] == ["npx", "playwright", "show-report"]
    report = tmp_path / "html-report"
    report.mkdir()
    (report / "index.html").write_text("<title>report</title>")
    port = free_port()
    proc = subprocess.Popen(
        [*npx_line[:3], str(report), "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PLAYWRIGHT_HTML_OPEN": "never"},
        start_new_session=True,  # npx runs the server in a child: stop the whole group
    )
    try:
        body = b""
        for _ in range(120):  # until it serves, at most 60 s; a request either way
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
                    body = answer.read()
                break
            except OSError:
                assert proc.poll() is None, "show-report exited"
                time.sleep(0.5)
        assert b"<title>report</title>" in body
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.browser
def test_the_local_step_runs_the_monorepo_example(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    env.pop("BASE_URL", None)
    env["ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    done = run_shell(step_block("1."), env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (
        "8 test(s) would run (suite local): setup 1, central 3, plugin:catalog 3, "
        "plugin:techdocs/tests/acceptance 1" in done.stdout
    )
    assert "VERIFICATION PASSED (exit 0)" in done.stdout.splitlines()[-1]


@pytest.mark.slow
@pytest.mark.browser
def test_make_example_runs_both_example_workspaces(tmp_path: Path) -> None:
    """The `make example` line of "Working on the runner", run as written (evidence kept out
    of the checkout): set up, then both example workspaces pass with real Chromium."""
    (block,) = [b for b in sh_blocks() if b.startswith("make example")]
    line = block.splitlines()[0].split("#")[0].strip()
    assert line == "make example"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    env.pop("BASE_URL", None)
    env["ARTIFACT_ROOT"] = str(tmp_path / "artifacts")
    done = run_shell(line, env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    verdicts = [x for x in done.stdout.splitlines() if "VERIFICATION PASSED (exit 0)" in x]
    assert len(verdicts) == 2, done.stdout[-3000:]
