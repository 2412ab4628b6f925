"""Which Kargo promotion is this verification for? Ask the Kubernetes API, read-only.

Kargo passes no promotion to verification (there is no `ctx.promotion`), so the only way from
the pod to the promotion is: our Job's annotation `analysisrun.argoproj.io/name`, then that
AnalysisRun's annotation `kargo.akuity.io/promotion` (set on the first verification after a
promotion) and labels `kargo.akuity.io/stage` / `kargo.akuity.io/freight-collection`
(docs/platform-facts.md). RBAC: get jobs, get analysisruns in the namespace; nothing else.

Best effort by design: a lookup that fails is logged and the verification goes on; it never
changes a verdict. Plain urllib with the service account's token and CA, no client library.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.contract import jsontext

if TYPE_CHECKING:
    from runner.config.settings import Settings

from runner.processes.bounds import Deadline
from runner.processes.walltime import TimedOut, within

TIMEOUT = 5.0
JOB_DEADLINE_MARGIN = 50.0  # seconds, plus KILL_GRACE_SECONDS: see bound_by_the_job
AR_NAME = "analysisrun.argoproj.io/name"
PROMOTION = "kargo.akuity.io/promotion"
STAGE = "kargo.akuity.io/stage"
FREIGHT_COLLECTION = "kargo.akuity.io/freight-collection"


@dataclass(frozen=True)
class KargoContext:
    analysis_run: str | None
    promotion: str | None
    stage: str | None
    freight_collection: str | None


class LookupFailed(Exception):
    """The API could not tell us; the message says why in one line. `status` is the HTTP
    status when the API answered with an error (403 refused, 404 not found), else None."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ApiClient:
    base_url: str  # https://host:port
    token: str
    context: ssl.SSLContext

    @classmethod
    def in_cluster(cls, host: str, port: int, account_dir: Path) -> ApiClient:
        try:
            token = (account_dir / "token").read_text(encoding="utf-8").strip()
            context = ssl.create_default_context(cafile=str(account_dir / "ca.crt"))
        except (OSError, ssl.SSLError) as exc:
            raise LookupFailed(f"no usable service account in {account_dir}: {exc}") from exc
        netloc = f"[{host}]" if ":" in host else host
        return cls(base_url=f"https://{netloc}:{port}", token=token, context=context)

    def get(self, path: str) -> dict[str, Any]:
        """The object at `path`, within TIMEOUT seconds of wall time (urllib's timeout bounds
        each read, so a server that trickles its answer would hold it for ever)."""
        try:
            return within(lambda: self._get(path), seconds=TIMEOUT, name="api-lookup")
        except TimedOut as exc:
            raise LookupFailed(f"GET {path}: no complete answer within {TIMEOUT:g}s") from exc

    def _get(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - https to the API server only
            self.base_url + path,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=TIMEOUT, context=self.context
            ) as response:
                data = jsontext.loads(response.read(4 << 20))
        except urllib.error.HTTPError as exc:
            hint = " (the Job's ServiceAccount needs get on it)" if exc.code == 403 else ""
            raise LookupFailed(f"GET {path}: HTTP {exc.code}{hint}", status=exc.code) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise LookupFailed(f"GET {path}: {getattr(exc, 'reason', exc)}") from exc
        if not isinstance(data, dict):
            raise LookupFailed(f"GET {path}: not a Kubernetes object")
        return data


@dataclass(frozen=True)
class FromTheApi:
    kargo: KargoContext | None = None
    job_time_left: float | None = None  # seconds to the Job's activeDeadlineSeconds


def read_job(client: ApiClient, namespace: str, job_name: str) -> dict[str, Any]:
    ns = urllib.parse.quote(namespace, safe="")
    return client.get(
        f"/apis/batch/v1/namespaces/{ns}/jobs/{urllib.parse.quote(job_name, safe='')}"
    )


def job_time_left(job: dict[str, Any], now: datetime) -> float | None:
    """Seconds from `now` until Kubernetes ends the Job: `status.startTime` (RFC 3339, set when
    the Job first starts, kept when a pod is replaced) + `spec.activeDeadlineSeconds`. None when
    either is missing: nothing bounds the run but its own deadline."""
    spec, status = job.get("spec"), job.get("status")
    limit = spec.get("activeDeadlineSeconds") if isinstance(spec, dict) else None
    start = status.get("startTime") if isinstance(status, dict) else None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
        return None
    if not isinstance(start, str):
        return None
    try:
        started = datetime.fromisoformat(start)
    except ValueError:
        return None
    started = started if started.tzinfo else started.replace(tzinfo=UTC)
    return (started + timedelta(seconds=limit) - now).total_seconds()


def bound_by_the_job(
    deadline: Deadline, left: float | None, grace: float, say: Callable[[str], None]
) -> None:
    """The run's deadline counts from this pod's start, activeDeadlineSeconds from the Job's: a
    pod that replaced an evicted one late in the run would be killed before its verdict. The
    run ends JOB_DEADLINE_MARGIN + KILL_GRACE_SECONDS before the Job does: time to stop the
    tests and write the verdict (60 s with the default grace, as lint's run-deadline rule)."""
    if left is None:
        return
    margin = JOB_DEADLINE_MARGIN + grace
    why = f"the Job's activeDeadlineSeconds ends in {left:.0f}s, less {margin:.0f}s for the verdict"
    if deadline.bound(left - margin, why):
        say(f"run deadline bounded: {why}")


def lookup(
    client: ApiClient, namespace: str, job_name: str, job: dict[str, Any] | None = None
) -> KargoContext:
    """Job -> AnalysisRun -> promotion, stage and freight collection."""
    ns = urllib.parse.quote(namespace, safe="")
    job = read_job(client, namespace, job_name) if job is None else job
    run_name = _meta(job, "annotations").get(AR_NAME)
    if not run_name:
        raise LookupFailed(f"job {job_name} has no {AR_NAME} annotation: not started by Argo")
    run = client.get(
        f"/apis/argoproj.io/v1alpha1/namespaces/{ns}/analysisruns/"
        f"{urllib.parse.quote(run_name, safe='')}"
    )
    labels = _meta(run, "labels")
    return KargoContext(
        analysis_run=run_name,
        promotion=_meta(run, "annotations").get(PROMOTION),
        stage=labels.get(STAGE),
        freight_collection=labels.get(FREIGHT_COLLECTION),
    )


def from_the_api(settings: Settings, say: Callable[[str], None]) -> FromTheApi:
    """The promotion behind this Job and the time the Job has left, when the settings allow a
    look and say where; any problem is said in one line: the lookup never fails a verification."""
    if not (
        settings.lookup_promotion
        and settings.kubernetes_service_host
        and settings.pod_namespace
        and settings.job_name
    ):
        return FromTheApi()
    left = None
    try:
        client = ApiClient.in_cluster(
            settings.kubernetes_service_host,
            settings.kubernetes_service_port,
            settings.service_account_dir,
        )
        job = read_job(client, settings.pod_namespace, settings.job_name)
        left = job_time_left(job, datetime.now(UTC))
        found = lookup(client, settings.pod_namespace, settings.job_name, job)
    except LookupFailed as exc:
        say(f"promotion lookup skipped: {exc} (LOOKUP_PROMOTION=false silences this)")
        return FromTheApi(job_time_left=left)
    say(
        f"verifying promotion {found.promotion or '(none: a reverification)'} of stage "
        f"{found.stage or '?'} (AnalysisRun {found.analysis_run})"
    )
    return FromTheApi(kargo=found, job_time_left=left)


def _meta(obj: dict[str, Any], key: str) -> dict[str, str]:
    metadata = obj.get("metadata")
    values = metadata.get(key) if isinstance(metadata, dict) else None
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}
