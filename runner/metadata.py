"""`attempt-N/execution-metadata.json`: who ran what, for which promotion, with what result.

Each phase of `run` returns what it learned and the run rebuilds the record from it
(`ExecutionMetadata.learned`, which refuses a name that is no field). It is written when the
attempt starts (with what the Kubernetes API said), again once fetched tests are known (their
provenance), and at the end (`ended`: the verdict); always through a rename, so the file is
valid JSON at every moment a reader may look.
"""

from __future__ import annotations

import platform
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel

from runner import __version__
from runner.config.settings import Settings
from runner.config.settings_view import as_metadata, in_effect
from runner.identity import analysis_run_uid
from runner.log.masking import Redactor
from runner.volume.artifacts import atomic_write_text
from runner.volume.attempts import Attempt

if TYPE_CHECKING:
    from runner.judging.verdict import Verdict
    from runner.kube import KargoContext
    from runner.processes.child import ProcessOutcome


class Versions(BaseModel):
    runner: str = __version__
    python: str = platform.python_version()
    node: str | None = None
    playwright: str | None = None


class ResourceUsage(BaseModel):
    """Peak memory and CPU time of the test process tree, to size the Job's resources."""

    peak_rss_bytes: int = 0
    cpu_seconds: float = 0.0
    samples: int = 0

    @classmethod
    def of(cls, outcome: ProcessOutcome) -> ResourceUsage:
        return cls(
            peak_rss_bytes=outcome.peak_rss_bytes,
            cpu_seconds=outcome.cpu_seconds,
            samples=outcome.samples,
        )


class ExecutionMetadata(BaseModel):
    schema_version: int = 1
    run_name: str
    identity_source: str
    identity_original: str
    promotion: str | None
    analysis_run_uid: str | None
    # "pod-label" or "job-name" (Argo Rollouts v1.9 puts the uid label on the Job only):
    # runner/identity.py, analysis_run_uid.
    analysis_run_uid_source: str | None = None
    analysis_run_name: str | None = None  # from the Kubernetes API (kube.py), when allowed
    freight_collection: str | None = None
    freight_image: str | None
    freight_commit: str | None
    stage: str | None
    project: str | None
    kubernetes_pod_name: str | None
    kubernetes_job_name: str | None
    kubernetes_namespace: str | None
    kubernetes_node_name: str | None
    is_kargo_execution: bool
    attempt: int
    retry_attempt: bool
    previous_attempts: list[str]
    pid: int
    started_at: datetime
    ended_at: datetime | None = None
    exit_code: int | None = None
    outcome: str = "running"
    reason: str | None = None
    base_url: str | None = None
    # Where the tests came from when fetched from Git (`fetch.Provenance`).
    tests_repo: str | None = None  # no userinfo
    tests_revision: str | None = None  # as requested
    tests_commit: str | None = None  # the full commit id that ran
    tests_fetch_seconds: float | None = None
    tests_fetch_bytes: int | None = None
    versions: Versions = Versions()
    resources: ResourceUsage | None = None
    readiness: dict[str, object] | None = None
    # Every setting as the run saw it (secrets masked) and where it came from.
    settings: dict[str, dict[str, str]] = {}
    settings_warnings: list[str] = []

    def tests_provenance(self) -> dict[str, str] | None:
        """tests_repo, tests_revision and tests_commit, when the tests were fetched."""
        if not (self.tests_repo and self.tests_revision and self.tests_commit):
            return None
        return {
            "tests_repo": self.tests_repo,
            "tests_revision": self.tests_revision,
            "tests_commit": self.tests_commit,
        }

    def learned(self, **facts: object) -> ExecutionMetadata:
        """A copy with what a phase of the run learned (a field name per fact). A name that is
        no field is refused: `model_copy` would drop it, and the fact with it, silently."""
        unknown = sorted(set(facts) - set(type(self).model_fields))
        if unknown:
            raise TypeError(f"ExecutionMetadata has no field {', '.join(unknown)}")
        return self.model_copy(update=facts)

    def with_kargo(self, found: KargoContext | None) -> ExecutionMetadata:
        """What the Kubernetes API said about the promotion; the settings' values win."""
        if found is None:
            return self
        return self.learned(
            analysis_run_name=found.analysis_run,
            freight_collection=found.freight_collection,
            promotion=self.promotion or found.promotion,
            stage=self.stage or found.stage,
        )

    def ended(self, verdict: Verdict, at: datetime) -> ExecutionMetadata:
        return self.learned(
            ended_at=at,
            exit_code=int(verdict.code),
            outcome=verdict.code.outcome,
            reason=verdict.reason,
        )


def initial_metadata(settings: Settings, attempt: Attempt) -> ExecutionMetadata:
    identity = attempt.identity
    uid = analysis_run_uid(settings.analysis_run_uid, settings.job_name)
    return ExecutionMetadata(
        run_name=identity.run_name,
        identity_source=identity.source.value,
        identity_original=identity.original,
        promotion=settings.kargo_promotion_id,
        analysis_run_uid=uid.value if uid else None,
        analysis_run_uid_source=uid.source.value if uid else None,
        freight_image=settings.freight_image,
        freight_commit=settings.freight_commit,
        stage=settings.kargo_stage,
        project=settings.kargo_project,
        kubernetes_pod_name=settings.pod_name,
        kubernetes_job_name=settings.job_name,
        kubernetes_namespace=settings.pod_namespace,
        kubernetes_node_name=settings.node_name,
        is_kargo_execution=identity.is_kargo_execution,
        attempt=attempt.number,
        retry_attempt=attempt.is_retry,
        previous_attempts=[record.describe() for record in attempt.previous],
        pid=attempt.host.pid,
        started_at=attempt.start,
        base_url=settings.base_url,
        settings=as_metadata(in_effect(settings)),
        settings_warnings=list(settings.warnings),
    )


def write_metadata(path: Path, metadata: ExecutionMetadata, redactor: Redactor) -> None:
    atomic_write_text(path, redactor.json(metadata))
