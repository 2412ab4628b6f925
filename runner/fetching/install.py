"""Install the fetched workspace's own dependencies (helpers, page objects, workspace packages,
`@backstage/e2e-test-utils`) with the package manager its lock file names (managers.py).

Exactly as the lock file says (`npm ci`, `--immutable`, `--frozen-lockfile`), with no install
script of the repository running (`--ignore-scripts`; yarn 1 also YARN_IGNORE_SCRIPTS=true, for
its Git dependencies; yarn berry: YARN_ENABLE_SCRIPTS=false and `--mode=skip-build`), the
package cache in PACKAGE_CACHE_DIR (under TMPDIR, the pod's emptyDir, by default; a PVC makes
the next verification's install fast), the registry and its
credentials from registry.py, HOME a scratch folder (no user configuration is read, nor the
pod's `npm_config_*` / `YARN_*` / `PNPM_*` variables, in any case: yarn 1 and npm read them
case-blind). yarn 1 gets its lock's tarball URLs on PACKAGE_REGISTRY first, and its install
is checked against yarn.lock afterwards, as its `--frozen-lockfile` does not check the
workspaces (yarnlock.py). A failure is one line: a lock file that does not match package.json,
a registry that cannot be reached or refuses the credentials, else the package manager's first
error. The runner's pinned @playwright/test still wins over a copy the workspace brings
(playwright.config.ts, pinPlaywrightCopy).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from runner.contract.errors import InfrastructureError
from runner.fetching import registry as registries
from runner.fetching import yarnlock
from runner.fetching.managers import Manager, plan
from runner.fetching.registry import Registry
from runner.fetching.revisions import display_url
from runner.processes.child import Captured, Supervision, run_streaming

PHASE = "installing the tests' dependencies"
_LOCK_MISMATCH = re.compile(
    r"YN0028|lockfile would have been modified|Your lockfile needs to be updated"
    r"|ERR_PNPM_OUTDATED_LOCKFILE|ERR_PNPM_LOCKFILE_CONFIG_MISMATCH|are in sync"
    r"|Missing: \S+ from lock file|lockfile is not up to date",
    re.IGNORECASE,
)
_UNREACHABLE = re.compile(
    r"ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ENETUNREACH"
    r"|getaddrinfo|socket hang up|ERR_PNPM_META_FETCH_FAIL|ERR_SOCKET_TIMEOUT",
    re.IGNORECASE,
)
# Node's words for a certificate chain it does not trust (a registry or mirror behind a private
# CA, or a TLS-inspecting proxy): reachable, but the install's Node needs the CA.
_UNTRUSTED = re.compile(
    r"self[- ]signed certificate|unable to get local issuer certificate"
    r"|unable to verify the first certificate|SELF_SIGNED_CERT_IN_CHAIN"
    r"|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    re.IGNORECASE,
)
_REFUSED = re.compile(
    r"\bE401\b|\bE403\b|ERR_PNPM_FETCH_40[13]|YN0041|401 Unauthorized|403 Forbidden"
    r"|Request failed \"40[13]|authentication required|Invalid authentication",
    re.IGNORECASE,
)
_ERROR_LINE = re.compile(
    r"^(?:npm (?:ERR!|error) (?!code )|➤ YN\d{4}: |error |ERR_PNPM_\w+\s*|\s*ERR_PNPM_\w+)(\S.*)$",
    re.MULTILINE,
)
# yarn 1 asks the registry only for what yarn.lock lacks (a frozen install with a complete lock
# asks nothing), and says so for a registry that is down, too.
_YARN1_UNLOCKED = re.compile(r'Couldn\'t find package "([^"]+)" required by "([^"]+)"')
_URL = re.compile(r"https?://[^\s'\"()<>]+")
_HOST = re.compile(
    r"\b(?:ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH) ([\w.-]+(?::\d+)?)"
)
_ESCAPES = re.compile(r"\x1b\[[0-9;]*m")


class InstallFailed(InfrastructureError):
    """The package manager failed in the fetched workspace (exit 3)."""


@dataclass(frozen=True)
class InstallRequest:
    mode: Literal["auto", "never"]
    managers_dir: Path  # PACKAGE_MANAGERS_DIR
    cache: Path  # PACKAGE_CACHE_DIR (or its default under TMPDIR)
    registry: Registry
    home: Path  # an empty scratch folder: HOME of the package manager
    commit: str  # for messages


def install_dependencies(
    workspace: Path,
    request: InstallRequest,
    *,
    base_env: Mapping[str, str],
    under: Supervision,
) -> Manager | None:
    """Install from the workspace's lock file when `mode` allows; the manager that ran."""
    sink = under.sink
    manager = plan(workspace, directory=request.managers_dir, cache=request.cache, say=sink.say)
    if manager is None:
        sink.say(
            "the fetched workspace has no lock file (package-lock.json, yarn.lock, "
            "pnpm-lock.yaml): no dependencies to install"
        )
        return None
    if request.mode == "never":
        sink.say(f"not installing the dependencies of {manager.lock}: TESTS_INSTALL=never")
        return None
    if shutil.which(manager.command[0], path=base_env.get("PATH")) is None:
        raise InstallFailed(
            f"{manager.command[0]} is not on PATH: it installs the workspace's {manager.lock} "
            "(the runner's image has Node.js; locally run scripts/setup-node.sh)"
        )
    if manager.flavour == "yarn classic" and request.registry.url:
        _point_lock_at(workspace / manager.lock, request.registry.url, sink.say)
    sink.say(f"installing the workspace's dependencies with {manager.flavour} from {manager.lock}")
    captured = Captured()
    outcome = run_streaming(
        manager.command,
        env=_environment(manager, request, base_env),
        cwd=workspace,
        under=under,
        observe=captured,
    )
    under.stop.check(PHASE)
    under.deadline.check(PHASE)
    if outcome.returncode != 0:
        raise InstallFailed(explain(_ESCAPES.sub("", captured.text()), manager, request))
    if manager.flavour == "yarn classic":
        _check_yarn_1(workspace, manager, request)
    return manager


def _point_lock_at(lock: Path, registry: str, say: Callable[[str], None]) -> None:
    text = lock.read_text(encoding="utf-8", errors="replace")
    pointed, moved = yarnlock.pointed_at(text, registry, yarnlock.scoped_registries(lock.parent))
    if not moved:
        return
    # A new file in the lock's place: a yarn.lock that is a symlink is replaced, never written
    # through to wherever it points.
    fresh = lock.with_name(f".{lock.name}.vr-registry")
    fresh.write_text(pointed, encoding="utf-8")
    os.replace(fresh, lock)
    origins = ", ".join(display_url(origin) for origin in sorted(set(moved))[:3])
    say(
        f"yarn classic: {len(moved)} tarball URLs of {lock.name} ({origins}) fetched from "
        f"PACKAGE_REGISTRY={display_url(registry)} instead: yarn 1 fetches from the lock's "
        "resolved URLs, not its registry setting (integrity unchanged)"
    )


def _check_yarn_1(workspace: Path, manager: Manager, request: InstallRequest) -> None:
    """yarn 1's --frozen-lockfile lets a workspace's dependency that yarn.lock lacks through
    (yarnpkg/yarn#5840): what it resolved must all be in the lock file."""
    found = yarnlock.unlocked(workspace, manager.lock)
    what = f"{manager.flavour} could not install {manager.lock} at {request.commit[:12]}"
    if found is None:
        raise InstallFailed(
            f"{what}: yarn left no {yarnlock.INTEGRITY} to check the install against the lock "
            "file (a .yarnrc moving node_modules?); fix it in the tests' repository, or set "
            "TESTS_INSTALL=never"
        )
    missing, moved = found
    if missing:
        detail = f"{manager.lock} has no entry for {_some(missing)}"
        raise InstallFailed(_mismatch(what, manager, detail))
    if moved:
        raise InstallFailed(
            f"{what}: yarn installed other packages than {manager.lock} pins (a .yarnrc passing "
            f"--no-lockfile?): {_some(moved)}; fix it in the tests' repository"
        )


def _some(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _mismatch(what: str, manager: Manager, detail: str | None = None) -> str:
    return (
        f"{what}: the lock file {manager.lock} does not match package.json (and the "
        "workspaces' package.json) at that commit"
        + (f" ({detail})" if detail else "")
        + "; run the install in the tests' repository and commit the lock file"
    )


def _environment(
    manager: Manager, request: InstallRequest, base: Mapping[str, str]
) -> dict[str, str]:
    request.home.mkdir(parents=True, exist_ok=True)
    request.cache.mkdir(parents=True, exist_ok=True)
    # The user configuration of whoever runs the runner is not the repository's: HOME is empty.
    env = {
        k: v for k, v in base.items() if not k.lower().startswith(("npm_config_", "yarn_", "pnpm_"))
    }
    env.update(
        {
            "HOME": str(request.home),
            "XDG_CONFIG_HOME": str(request.home / ".config"),
            "XDG_DATA_HOME": str(request.home / ".local" / "share"),
            "XDG_CACHE_HOME": str(request.cache / "xdg"),
            "CI": "true",
            "COREPACK_ENABLE_STRICT": "0",  # no corepack: the tool is the one chosen here
            "COREPACK_ENABLE_AUTO_PIN": "0",
            "npm_config_cache": str(request.cache / "npm"),
            "npm_config_update_notifier": "false",
            "npm_config_ignore_scripts": "true",
            "npm_config_package_manager_strict": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
        }
    )
    if manager.flavour == "yarn berry":
        env.update(
            {
                "YARN_ENABLE_SCRIPTS": "false",
                "YARN_ENABLE_TELEMETRY": "false",
                "YARN_ENABLE_GLOBAL_CACHE": "false",
                "YARN_CACHE_FOLDER": str(request.cache / "yarn-berry"),
                # Not a second copy of every package in the global mirror, in HOME: a
                # scratch folder, thrown away with the checkout.
                "YARN_ENABLE_MIRROR": "false",
                "YARN_ENABLE_PROGRESS_BARS": "false",
                "YARN_ENABLE_IMMUTABLE_INSTALLS": "true",
                "YARN_ENABLE_COLORS": "false",
            }
        )
    if manager.flavour == "yarn classic":
        env["YARN_IGNORE_PATH"] = "1"  # .yarnrc's yarn-path: managers.py
        # yarn 1 packs a Git dependency that has a `prepare` script by installing it in a
        # scratch clone, and that install ignores --ignore-scripts (1.22.22:
        # GitFetcher.fetchFromInstallAndPack passes no flags); the environment reaches it, over
        # the clone's own .yarnrc / .npmrc.
        env["YARN_IGNORE_SCRIPTS"] = "true"
    env.update(registries.environment(request.registry, request.home, manager.flavour))
    return env


def explain(output: str, manager: Manager, request: InstallRequest) -> str:
    """One line: why the install failed and what to change."""
    what = f"{manager.flavour} could not install {manager.lock} at {request.commit[:12]}"
    if _LOCK_MISMATCH.search(output):
        return _mismatch(what, manager)
    unlocked = _YARN1_UNLOCKED.search(output) if manager.flavour == "yarn classic" else None
    if unlocked:
        detail = (
            f"{manager.lock} has no entry for {unlocked.group(1)}, which {unlocked.group(2)} needs"
        )
        return _mismatch(what, manager, detail)
    if _REFUSED.search(output):
        return (
            f"{what}: the package registry {_registry_of(output, request)} refused the "
            "credentials (401/403): check the Secret at PACKAGE_REGISTRY_CREDENTIALS_DIR "
            "(token, or username and password) and PACKAGE_REGISTRY"
        )
    untrusted = _UNTRUSTED.search(output)
    if untrusted:
        return (
            f"{what}: the package registry {_registry_of(output, request)} has a TLS "
            f"certificate this Node does not trust ({untrusted.group(0)}): mount its CA "
            "certificate (a ConfigMap) and set NODE_EXTRA_CA_CERTS to that file, or set "
            "PACKAGE_REGISTRY to a registry whose certificate the image's CA bundle trusts"
        )
    if _UNREACHABLE.search(output):
        return (
            f"{what}: cannot reach the package registry {_registry_of(output, request)}: "
            "set PACKAGE_REGISTRY to a registry or mirror the cluster reaches (credentials "
            "in PACKAGE_REGISTRY_CREDENTIALS_DIR), or check DNS, proxies and egress rules"
        )
    match = _ERROR_LINE.search(output)
    reason = match.group(1).strip()[:300] if match else _last_line(output)
    return f"{what}: {reason}; fix it in the tests' repository, or set TESTS_INSTALL=never"


def _registry_of(output: str, request: InstallRequest) -> str:
    if request.registry.url:
        return display_url(request.registry.url)
    host = _HOST.search(output)  # yarn 1: "Error: connect ECONNREFUSED 127.0.0.1:4873", no URL
    if host:
        return host.group(1)
    for found in _URL.finditer(output):
        parts = urlsplit(display_url(found.group(0)))
        if parts.hostname != "yarnpkg.com":  # yarn's "info Visit https://yarnpkg.com/en/docs/..."
            return f"{parts.scheme}://{parts.netloc}"
    return request.registry.shown


def _last_line(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no error message"
