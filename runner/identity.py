"""Which verification run is this? Turn Kargo/Argo identity inputs into one run name.

Every retry of one run must land in the same run directory, and any input, however hostile,
must yield a single safe path component. Sources, most specific first (docs/platform-facts.md):

1. an explicit promotion id (`KARGO_PROMOTION_ID` or `--promotion`); Kargo names promotions
   and AnalysisRuns `<stage>.<ULID>.<short freight hash>`;
2. the AnalysisRun UID, the pod label `analysisrun.argoproj.io/uid` (downward API); a Job
   restarted by its controller and a new measurement of the same AnalysisRun share it;
3. the Job name `<AnalysisRun UID>.<metric>.<n>` that Argo Rollouts gives every measurement;
4. otherwise a local run with a unique, sortable name.

On Argo Rollouts v1.9 the uid label is on the Job only, so the pod's label (2.) is empty and the
name comes from the Job name (3.): the same UUID, so the same run directory. `analysis_run_uid`
derives the UID from the Job name then, and says which of the two it came from.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

# Crockford base32, 26 characters, first one 0-7 (48-bit millisecond timestamp + 80 bits).
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", re.IGNORECASE)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
KEY_LENGTH = 12
LOCAL_PREFIX = "local-"
HASH_PREFIX = "h-"
# A run name is lower-case letters, digits and dashes, starts with a letter or digit, and is
# short: safe on every filesystem, in a URL and in a Kubernetes label value.
SAFE_RUN_NAME = re.compile(r"[0-9a-z][0-9a-z-]{0,62}")


class IdentitySource(enum.StrEnum):
    PROMOTION = "promotion"
    ANALYSIS_RUN = "analysisrun"
    JOB = "job"
    LOCAL = "local"


class UidSource(enum.StrEnum):
    """Where the AnalysisRun UID in the metadata came from."""

    POD_LABEL = "pod-label"  # ANALYSIS_RUN_UID, the pod label (Argo Rollouts >= 1.10)
    JOB_NAME = "job-name"  # the first part of JOB_NAME `<uid>.<metric>.<n>` (v1.9)


@dataclass(frozen=True)
class AnalysisRunUid:
    value: str
    source: UidSource


class KeyKind(enum.StrEnum):
    ULID = "ulid"
    UUID = "uuid"
    HASH = "hash"
    LOCAL = "local"


@dataclass(frozen=True)
class RunIdentity:
    run_name: str
    source: IdentitySource
    key_kind: KeyKind
    original: str  # the full input the name came from, kept for the metadata

    @property
    def is_kargo_execution(self) -> bool:
        return self.source is not IdentitySource.LOCAL


def run_key(value: str) -> tuple[str, KeyKind]:
    """The run name for one identity input: its UUID/ULID part, else a stable hash of it.

    Dot-separated parts are tried whole first so that a stage name that merely contains a
    26-character run of letters does not win over the real ULID.
    """
    for part in value.split("."):
        if _UUID.fullmatch(part):
            return part.replace("-", "").lower()[:KEY_LENGTH], KeyKind.UUID
        if _ULID.fullmatch(part):
            return part.lower()[:KEY_LENGTH], KeyKind.ULID
    if match := _UUID.search(value):
        return match.group().replace("-", "").lower()[:KEY_LENGTH], KeyKind.UUID
    # A bare search for a ULID would match inside any long word; only whole parts count.
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return HASH_PREFIX + digest[:KEY_LENGTH], KeyKind.HASH


def analysis_run_uid(label: str | None, job_name: str | None) -> AnalysisRunUid | None:
    """The AnalysisRun UID: the pod label when set, else the UUID that starts a Rollouts Job
    name `<uid>.<metric>.<n>`; None when neither holds one (a Job not made by Rollouts)."""
    if label is not None and label.strip():
        return AnalysisRunUid(label.strip(), UidSource.POD_LABEL)
    if job_name is not None:
        first, dot, _ = job_name.strip().partition(".")
        if dot and _UUID.fullmatch(first):
            return AnalysisRunUid(first.lower(), UidSource.JOB_NAME)
    return None


# Argo Rollouts copies the uid label to the Job's pod from v1.10 on (docs/platform-facts.md, "Job
# metadata"); v1.10 is also the first release whose Terminate records a stopped job measurement
# as Inconclusive instead of Successful ("Termination, and what it records").
ROLLOUTS_BEFORE_1_10 = (
    "WARNING: this pod has no analysisrun.argoproj.io/uid label, so Argo Rollouts is older than "
    "v1.10 (or the AnalysisTemplate does not pass ANALYSIS_RUN_UID): there, a verification that "
    "is aborted or terminated before it ends is recorded as Successful, and Kargo can count the "
    "Freight as verified without a passing run; upgrade Argo Rollouts to v1.10 or later "
    '(kustomize/README.md, "Stopping a verification")'
)


def rollouts_warning(uid: AnalysisRunUid | None) -> str | None:
    """The warning for a run under Argo Rollouts older than v1.10, as far as the pod can tell:
    the UID came from the Job name because the pod label was empty."""
    if uid is not None and uid.source is UidSource.JOB_NAME:
        return ROLLOUTS_BEFORE_1_10
    return None


def local_run_name(now: datetime, suffix: str | None = None) -> str:
    """`local-<UTC timestamp>-<6 hex>`: unique per call, and sorts by start time."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dt%H%M%Sz")
    return f"{LOCAL_PREFIX}{stamp}-{suffix or secrets.token_hex(3)}"


def resolve_identity(
    *,
    promotion: str | None,
    analysis_run_uid: str | None,
    job_name: str | None,
    now: datetime | None = None,
) -> RunIdentity:
    for source, value in (
        (IdentitySource.PROMOTION, promotion),
        (IdentitySource.ANALYSIS_RUN, analysis_run_uid),
        (IdentitySource.JOB, job_name),
    ):
        if value is not None and value.strip():
            name, kind = run_key(value.strip())
            return RunIdentity(run_name=name, source=source, key_kind=kind, original=value)
    name = local_run_name(now or datetime.now(UTC))
    return RunIdentity(
        run_name=name, source=IdentitySource.LOCAL, key_kind=KeyKind.LOCAL, original=""
    )
