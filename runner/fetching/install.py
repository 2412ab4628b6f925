"""Install the fetched workspace's own npm dependencies (helpers, fixtures, page objects).

`npm ci --ignore-scripts` exactly as the lock file says, with npm's cache under TMPDIR (the
pod's emptyDir), never the artifact volume. No install script runs: a test repository's
dependencies get no code execution at install time. The runner's pinned @playwright/test
still wins over a copy the workspace brings (playwright.config.ts, pinPlaywrightCopy).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from runner.contract.errors import InfrastructureError
from runner.processes.child import Captured, Supervision, run_streaming

LOCK_FILES = ("npm-shrinkwrap.json", "package-lock.json")  # npm's own precedence
_NPM_ERROR = re.compile(r"^npm (?:ERR!|error) (?!code )(\S.*)$", re.MULTILINE)


class InstallFailed(InfrastructureError):
    """`npm ci` failed in the fetched workspace (exit 3)."""


def install_dependencies(
    workspace: Path,
    *,
    mode: Literal["auto", "never"],
    cache: Path,
    base_env: Mapping[str, str],
    under: Supervision,
) -> bool:
    """Run `npm ci` when the workspace has a lock file and `mode` allows; True if it ran."""
    sink = under.sink
    lock = next((workspace / name for name in LOCK_FILES if (workspace / name).is_file()), None)
    if lock is None:
        sink.say("the fetched workspace has no package-lock.json: no dependencies to install")
        return False
    if mode == "never":
        sink.say(f"not installing the dependencies of {lock.name}: TESTS_INSTALL=never")
        return False
    captured = Captured()
    env = dict(base_env)
    env.update({"npm_config_cache": str(cache), "npm_config_update_notifier": "false"})
    outcome = run_streaming(
        ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        env=env,
        cwd=workspace,
        under=under,
        observe=captured,
    )
    under.stop.check("installing the tests' dependencies")
    under.deadline.check("installing the tests' dependencies")
    if outcome.returncode != 0:
        match = _NPM_ERROR.search(captured.text())
        reason = match.group(1).strip()[:300] if match else "no error message"
        raise InstallFailed(
            f"npm ci failed in the fetched workspace (exit {outcome.returncode}): {reason}; "
            f"fix {lock.name} in the tests' repository, or set TESTS_INSTALL=never"
        )
    return True
