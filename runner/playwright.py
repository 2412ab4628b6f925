"""How Playwright is started: where it lives, its arguments (and those refused), which
environment it gets, and its versions. Reading back what it left (its discovery and its first
error) is runner/judging/discovery.py's.

The Playwright side (`playwright.config.ts`, `reporters/discovery-reporter.cjs`) reads the
variables built here; their names are fixed in docs/contract.md.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from runner import target
from runner.config.settings import Settings
from runner.contract import jsontext
from runner.contract.errors import ConfigError, InfrastructureError
from runner.processes.child import run_bounded
from runner.target import LOCAL_SITE_DEFAULT
from runner.volume.artifacts import AttemptLayout, MergedLayout

CONFIG_FILE = "playwright.config.ts"


def executable(home: Path) -> Path:
    """The runner's Playwright: the `playwright` command npm links into PLAYWRIGHT_HOME's
    node_modules/.bin, started directly. `npx --no-install --prefix home` finds the same file,
    after half a second of npm's own start-up on every run and merge (bench/backstage.py)."""
    return home / "node_modules" / ".bin" / "playwright"


def command(
    home: Path, extra_args: Sequence[str], *, shard: int | None = None, shards: int = 1
) -> list[str]:
    # Playwright's shards count from 1, Kubernetes' completion indexes from 0.
    sharding = [] if shard is None else [f"--shard={shard + 1}/{shards}"]
    return [
        str(executable(home)),
        "test",
        "--config",
        str(home / CONFIG_FILE),
        *sharding,
        *extra_args,
    ]


# Arguments after `run` go to `playwright test`, except those that would replace what the
# verdict stands on. Names from `npx playwright test --help` (1.65); commander, Playwright's
# parser, takes no abbreviations, so the exact names are enough.
_REFUSED: dict[str, str] = {
    "--reporter": "it replaces the runner's JUnit, JSON and discovery reporters, which the "
    "verdict is read from (--add-reporter adds one)",
    "--config": "the runner's playwright.config.ts decides the test trees, reporters and retries",
    "--list": "it lists the tests without running any (`verification-runner list` does that)",
    "--help": "it prints help and runs nothing (`verification-runner --help` lists the commands)",
    "--shard": "the runner shards (SHARD_COUNT); a shard of an unsharded run would pass on "
    "part of the suite",
    "--last-failed": "it runs only the tests that failed before",
    "--last-failed-file": "it runs only the tests that failed before",
    "--only-changed": "it runs only the test files changed in git",
    "--output": "traces and screenshots belong in the attempt directory",
    "--ui": "an interactive run never ends by itself",
    "--ui-host": "an interactive run never ends by itself",
    "--ui-port": "an interactive run never ends by itself",
    "--debug": "an interactive run never ends by itself",
}
# Refused in Kargo runs: a verification must not write into the workspace or skip comparisons.
_REFUSED_KARGO: dict[str, str] = {
    "--update-snapshots": "a Kargo run compares against the committed snapshots, it never "
    "writes them (updateSnapshots: 'none')",
    "--ignore-snapshots": "a Kargo run compares screenshots and snapshots, it never skips them",
    "--run-agents": "a Kargo run never generates code into the workspace",
}
_SHORT = {"-c": "--config", "-h": "--help", "-u": "--update-snapshots"}
# Short options whose value may follow in the same argument (`-cfile`): later letters are it.
_SHORT_WITH_VALUE = frozenset("cgGju")
# Long options whose value may be the next argument, so that value is not read as an option.
_TAKES_VALUE = frozenset(
    {
        "--grep", "-g", "--grep-invert", "-G", "--workers", "-j", "--timeout", "--retries",
        "--repeat-each", "--max-failures", "--global-timeout", "--browser", "--trace",
        "--tsconfig", "--test-list", "--test-list-invert", "--add-reporter",
        "--update-source-method",
    }
)  # fmt: skip


def check_arguments(args: Sequence[str], *, kargo: bool) -> None:
    """Refuse (ConfigError, exit 2) an argument that would replace what the verdict depends
    on; a Kargo run also refuses those that write snapshots or skip their comparison."""
    refused = {**_REFUSED, **(_REFUSED_KARGO if kargo else {})}
    skip_next = False
    for arg in args:
        if skip_next:
            skip_next = False
            continue
        if arg == "--":
            return  # test filters follow
        for name in _option_names(arg):
            if name in refused:
                where = " in a Kargo run (SUITE=kargo)" if name in _REFUSED_KARGO else ""
                raise ConfigError(
                    f"playwright argument {arg!r} is not allowed{where}: {refused[name]}"
                )
        skip_next = arg in _TAKES_VALUE


# Playwright's debugging switch and its internal test hooks, read from the environment behind
# the config's back: PWDEBUG pauses every test in the inspector (a hang until the deadline),
# PWTEST_*/PW_TEST_* steer sharding, reporters and timeouts (PWTEST_SHARD_WEIGHTS=0:1 empties
# shard 0). The runner sets none of them; one left in a pod's environment is a mistake.
_STEERING_ENV = re.compile(r"PWDEBUG|PWTEST_\w*|PW_TEST_\w*")


def check_environment(base: Mapping[str, str]) -> None:
    """Refuse (ConfigError, exit 2) Playwright's debug and test-hook variables."""
    found = sorted(name for name in base if _STEERING_ENV.fullmatch(name))
    if found:
        raise ConfigError(
            f"{', '.join(found)} set: Playwright reads it to debug or steer its own test runs, "
            "which would change what a verification runs or hang it; unset it"
        )


def _option_names(arg: str) -> list[str]:
    """The long option names an argument stands for: `--x=1` is --x; `-xu` is -x then -u."""
    if arg.startswith("--"):
        return [arg.split("=", 1)[0]]
    if not arg.startswith("-") or arg == "-":
        return []
    names = []
    for letter in arg[1:]:
        names.append(_SHORT.get(f"-{letter}", f"-{letter}"))
        if letter in _SHORT_WITH_VALUE:
            break  # the rest of the argument is this option's value
    return names


def merge_command(home: Path, blobs: Path) -> list[str]:
    """Merge the shards' blob reports in `blobs` (merge-reports exits 0 even when tests
    failed; the verdict comes from the merged JUnit, as for a single run)."""
    return [str(executable(home)), "merge-reports", "--reporter=junit,html,json", str(blobs)]


def check_workspace_config(settings: Settings, workspace: Path) -> Path | None:
    """The workspace's own Playwright settings (config/workspace.ts), when there are any."""
    config = settings.workspace_config_in(workspace)
    if config is not None and not config.is_file():
        raise ConfigError(
            f"WORKSPACE_CONFIG={settings.workspace_config}: no such file in "
            f"{workspace} (name the file relative to the workspace, or `none`)"
        )
    return config


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago, for the local webServer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_home(home: Path) -> None:
    """PLAYWRIGHT_HOME must hold the runner's config, or nothing sensible can start."""
    if not (home / CONFIG_FILE).is_file():
        raise ConfigError(
            f"PLAYWRIGHT_HOME={home} holds no {CONFIG_FILE}; point it at the runner's Node side"
        )


def check_installed(home: Path, playwright_version: str | None, path: str | None) -> None:
    """Without @playwright/test or Node.js (`node` on the child's PATH), Playwright cannot
    start and the verdict would blame the missing JUnit file: say what is wrong instead. A
    `node --version` that failed for another reason is not a missing node."""
    if playwright_version is None or not os.access(executable(home), os.X_OK):
        raise InfrastructureError(
            f"@playwright/test is not installed in PLAYWRIGHT_HOME={home} (no "
            "node_modules/@playwright/test or node_modules/.bin/playwright): run `npm ci` "
            "there, or use the runner's image"
        )
    if shutil.which("node", path=path if path is not None else os.defpath) is None:
        raise InfrastructureError(
            "node is not installed or not on PATH: Playwright needs Node.js (Debian: apt-get "
            "install nodejs npm), or use the runner's image"
        )


def prepare(
    settings: Settings,
    layout: AttemptLayout,
    *,
    workspace: Path,
    base: Mapping[str, str],
    kargo: bool,
    args: Sequence[str],
    say: Callable[[str], None],
) -> tuple[dict[str, str], str | None, str | None]:
    """Check PLAYWRIGHT_HOME and the extra arguments, build the child's environment and say
    what will run against what. Returns the environment and Node's and @playwright/test's
    versions."""
    check_home(settings.playwright_home)
    config = check_workspace_config(settings, workspace)
    suite = settings.suite or ("kargo" if kargo else "local")
    check_arguments(args, kargo=suite == "kargo")
    check_environment(base)
    env = environment(settings, layout, workspace=workspace, base=base, suite=suite)
    layout.state.mkdir(exist_ok=True)
    site = target.local_site(settings, workspace)
    node, version = versions(settings.playwright_home, env)
    aimed = target.label(settings) + (f" ({site}, served on 127.0.0.1)" if site else "")
    shown = "none"
    if config is not None:  # found without a setting is said as such: it changes the run
        how = (
            "WORKSPACE_CONFIG"
            if settings.workspace_config
            else "found; WORKSPACE_CONFIG=none skips it"
        )
        shown = f"{config.relative_to(workspace)} ({how})"
    say(f"suite {suite}; workspace {workspace}; target {aimed}; workspace config {shown}")
    return env, node, version


def report_env(layout: AttemptLayout) -> dict[str, str]:
    """The report locations Playwright reads, all inside the attempt directory."""
    return {
        "TEST_RESULTS_DIR": str(layout.test_results),
        "PLAYWRIGHT_HTML_OUTPUT_DIR": str(layout.html_report),
        "PLAYWRIGHT_HTML_REPORT": str(layout.html_report),  # name used before 1.49
        "PLAYWRIGHT_HTML_OPEN": "never",
        "PLAYWRIGHT_JUNIT_OUTPUT_NAME": str(layout.junit),
        "PLAYWRIGHT_JSON_OUTPUT_NAME": str(layout.json_results),
    }


def merge_env(merged: MergedLayout) -> dict[str, str]:
    """Where `playwright merge-reports --reporter=junit,html,json` writes. Env, not a config
    file: loading playwright.config.ts would need a browser and the site."""
    return {
        "PLAYWRIGHT_JUNIT_OUTPUT_FILE": str(merged.junit),
        "PLAYWRIGHT_JUNIT_INCLUDE_RETRIES": "1",  # as the config's includeRetries
        "PLAYWRIGHT_HTML_OUTPUT_DIR": str(merged.html_report),
        "PLAYWRIGHT_HTML_OPEN": "never",
        "PLAYWRIGHT_JSON_OUTPUT_FILE": str(merged.json_results),
    }


def environment(
    settings: Settings,
    layout: AttemptLayout,
    *,
    workspace: Path,
    base: Mapping[str, str],
    suite: str,
) -> dict[str, str]:
    """The child's environment: the runner's own, plus every location and choice Playwright
    needs, derived from the settings, the tests' workspace and the attempt directory (never
    set twice by hand)."""
    home = settings.playwright_home
    env = dict(base)
    # Playwright takes PLAYWRIGHT_<REPORTER>_OUTPUT_FILE/_DIR over the config's outputFile: one
    # left in the pod's environment would send the JUnit or JSON report the verdict is read
    # from somewhere else (exit 3 "does not exist"), and write it wherever it points.
    for reporter in ("BLOB", "JUNIT", "JSON"):
        for kind in ("FILE", "DIR"):
            env.pop(f"PLAYWRIGHT_{reporter}_OUTPUT_{kind}", None)
    env.update(report_env(layout))
    if settings.shard is not None:
        # The config adds the blob reporter when this is set: the merge's input.
        env["PLAYWRIGHT_BLOB_OUTPUT_FILE"] = str(layout.blob)
    node_path = [p for p in env.get("NODE_PATH", "").split(":") if p]
    env.update(
        {
            "TESTS_WORKSPACE": str(workspace),
            "CENTRAL_TESTS_DIR": settings.central_tests_dir,
            "PLUGIN_TESTS_GLOB": settings.plugin_tests_glob,
            "VR_SUITE": suite,
            "VR_RETRIES": str(settings.playwright_retries),
            "VR_DISCOVERY_FILE": str(layout.discovery),
            # Writable whatever the workspace is (read-only in the image or a mount): where a
            # setup project keeps its storageState.
            "VERIFICATION_STATE_DIR": str(layout.state),
            # Specs in a workspace outside `home` resolve @playwright/test through NODE_PATH
            # (docs/platform-facts.md); the runner's pinned copy is the one that runs.
            "NODE_PATH": ":".join(dict.fromkeys([*node_path, str(home / "node_modules")])),
            "FORCE_COLOR": env.get("FORCE_COLOR", "0"),
        }
    )
    env.pop("TEST_MATCH", None)
    if settings.test_match:
        env["TEST_MATCH"] = settings.test_match
    config = settings.workspace_config_in(workspace)
    env["WORKSPACE_CONFIG"] = str(config) if config else "none"
    if settings.base_url:
        env["BASE_URL"] = settings.base_url
    else:
        env.pop("BASE_URL", None)
        env["LOCAL_SITE_DIR"] = str(workspace / (settings.local_site_dir or LOCAL_SITE_DEFAULT))
        env["LOCAL_SITE_PORT"] = str(free_port())
    if settings.browser_executable:
        env["BROWSER_EXECUTABLE"] = str(settings.browser_executable)
    return env


def versions(home: Path, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Node's and @playwright/test's versions, without starting Playwright."""
    playwright = None
    package = home / "node_modules" / "@playwright" / "test" / "package.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        playwright = str(jsontext.loads(package.read_text(encoding="utf-8"))["version"])
    try:
        done = run_bounded(["node", "--version"], env=env, timeout=10)
    except OSError:
        done = None
    node = done.stdout.decode("utf-8", "replace").strip().lstrip("v") or None if done else None
    return node, playwright
