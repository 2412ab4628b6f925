"""One plain function per subcommand that is not big enough for a module of its own.

Each takes typed values and returns an exit code; `cli.py` only parses and dispatches.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from runner.config.derived import identity_of, retention_policy
from runner.config.settings import Settings
from runner.contract.exitcodes import ExitCode
from runner.identity import analysis_run_uid
from runner.volume.artifacts import RunLayout
from runner.volume.cleanup import cleanup


def show_identity(settings: Settings, *, as_json: bool, echo: Callable[[str], None]) -> ExitCode:
    """Print the resolved identity and the directories a run would use; create nothing."""
    identity = identity_of(settings)
    uid = analysis_run_uid(settings.analysis_run_uid, settings.job_name)
    run = RunLayout(settings.artifact_root, identity.run_name)
    attempts = run.existing_attempts()
    next_attempt = run.attempt(max(attempts, default=0) + 1)
    facts = {
        "run_name": identity.run_name,
        "source": identity.source.value,
        "key_kind": identity.key_kind.value,
        "original": identity.original,
        "is_kargo_execution": identity.is_kargo_execution,
        "analysis_run_uid": uid.value if uid else None,
        "analysis_run_uid_source": uid.source.value if uid else None,
        "artifact_root": str(settings.artifact_root),
        "run_dir": str(run.dir),
        "existing_attempts": attempts,
        "next_attempt_dir": str(next_attempt.dir),
    }
    if as_json:
        echo(json.dumps(facts, indent=2))
    else:
        width = max(len(key) for key in facts)
        for key, value in facts.items():
            echo(f"{key:<{width}}  {value}")
    return ExitCode.PASSED


def cleanup_artifacts(
    settings: Settings, *, dry_run: bool, echo: Callable[[str], None]
) -> ExitCode:
    """Apply the retention policy to ARTIFACT_ROOT, printing every decision and its reason.

    Failed deletions are reported and counted but do not fail the command (the next cleanup
    retries them); an unreadable root is an infrastructure error (exit 3).
    """
    report = cleanup(settings.artifact_root, retention_policy(settings), dry_run=dry_run)
    for line in report.lines():
        echo(line)
    return ExitCode.PASSED
