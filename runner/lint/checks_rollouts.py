"""Checks on Argo Rollouts job metrics: the Job Kargo's verification starts must be able to
fail, must run at all, and must end."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from runner.lint.hits import Hit, as_int, get, items, job_metrics
from runner.lint.yamldoc import Doc

# <AnalysisRun UID (36)>.<metric>.<n>: with n = 1, a metric name up to 24 characters fits the
# 63 characters of the pod label the Job controller writes.
UID_LENGTH = 36
MAX_JOB_NAME = 63
MAX_METRIC_NAME = MAX_JOB_NAME - UID_LENGTH - len("..1")
RUN_DEADLINE_MARGIN_SECONDS = 60
MIN_TTL_SECONDS = 3600
_UID_LABEL = "analysisrun.argoproj.io/uid"
_JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")


def check_failure_limit(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        limit = as_int(jm.metric.get("failureLimit", 0))
        raw_count = jm.metric.get("count")
        # No count and no interval: one measurement (Rollouts' default for a one-shot metric).
        count = as_int(raw_count) if raw_count is not None else None
        if count is None and raw_count is None and "interval" not in jm.metric:
            count = 1
        path = (*jm.path, "failureLimit")
        if limit is not None and limit < 0:
            yield Hit(
                "failure-limit",
                jm.doc,
                path,
                f"metric {jm.name!r}: failureLimit {limit} switches failure off: a failed Job"
                " never fails the metric",
            )
        elif limit is not None and count is not None and limit >= count:
            yield Hit(
                "failure-limit",
                jm.doc,
                path,
                f"metric {jm.name!r}: failureLimit {limit} with count {count}: {count} failed"
                " Job(s) still end the metric Successful",
            )


def check_conditions(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        for key in ("successCondition", "failureCondition"):
            if key in jm.metric:
                yield Hit(
                    "job-metric-condition",
                    jm.doc,
                    (*jm.path, key),
                    f"metric {jm.name!r}: {key} is ignored for a job metric; the Job's own"
                    " Complete/Failed condition decides",
                )


def check_backoff(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        spec = jm.job_spec
        if "backoffLimit" not in spec and "backoffLimitPerIndex" not in spec:
            yield Hit(
                "job-backoff-limit",
                jm.doc,
                jm.job_path,
                f"metric {jm.name!r}: backoffLimit is not set, so Kubernetes retries a failed"
                " run up to 6 times",
            )
        for key in ("backoffLimit", "backoffLimitPerIndex"):
            value = as_int(spec.get(key))
            if value is not None and value > 0:
                yield Hit(
                    "job-backoff-limit",
                    jm.doc,
                    (*jm.job_path, key),
                    f"metric {jm.name!r}: {key} {value} reruns a failed suite under the same Job",
                )


def check_restart_policy(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        policy = get(jm.job_spec, "template", "spec", "restartPolicy")
        if policy != "Never":
            yield Hit(
                "job-restart-policy",
                jm.doc,
                (*jm.job_path, "template", "spec", "restartPolicy"),
                f"metric {jm.name!r}: restartPolicy {policy or 'is not set'}; a failed run"
                " restarts in the same pod",
            )


def check_disruption(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        rules = get(jm.job_spec, "podFailurePolicy", "rules")
        if not any(_ignores_disruption(rule) for _, rule in items(rules)):
            yield Hit(
                "job-disruption",
                jm.doc,
                jm.job_path,
                f"metric {jm.name!r}: an evicted pod fails the verification (no podFailurePolicy"
                " rule ignores DisruptionTarget)",
            )


def _ignores_disruption(rule: Any) -> bool:
    return get(rule, "action") == "Ignore" and any(
        get(c, "type") == "DisruptionTarget" and str(get(c, "status")) == "True"
        for _, c in items(get(rule, "onPodConditions"))
    )


def check_ttl(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        ttl = as_int(jm.job_spec.get("ttlSecondsAfterFinished"))
        if ttl is not None and ttl < MIN_TTL_SECONDS:
            yield Hit(
                "job-ttl",
                jm.doc,
                (*jm.job_path, "ttlSecondsAfterFinished"),
                f"metric {jm.name!r}: ttlSecondsAfterFinished {ttl} deletes the Job and its logs"
                " within the hour",
            )


def check_deadline(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        if "activeDeadlineSeconds" not in jm.job_spec:
            yield Hit(
                "job-no-deadline",
                jm.doc,
                jm.job_path,
                f"metric {jm.name!r}: no activeDeadlineSeconds; nothing stops a hung run",
            )


def check_indexed(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        if jm.job_spec.get("completionMode") == "Indexed":
            yield Hit(
                "indexed-job",
                jm.doc,
                (*jm.job_path, "completionMode"),
                f"metric {jm.name!r}: an Indexed Job under a job metric is never created",
            )


def rollouts_job_name(metric: str, measurement: int = 1) -> str:
    """The Job name Argo Rollouts 1.9 gives a measurement (metricproviders/job/job.go,
    newJobName): the metric part is cut so the name fits 63 characters."""
    name = f"{'u' * UID_LENGTH}.{metric}.{measurement}"
    over = len(name) - MAX_JOB_NAME
    if over > 0:
        name = f"{'u' * UID_LENGTH}.{metric[: len(metric) - over]}.{measurement}"
    return name


def check_job_name_length(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        if len(jm.name) > MAX_METRIC_NAME:
            yield Hit(
                "job-name-too-long",
                jm.doc,
                (*jm.path, "name"),
                f"metric name {jm.name!r} has {len(jm.name)} characters: the Job name"
                f" <uid>.{jm.name}.1 passes {MAX_JOB_NAME} (keep it to {MAX_METRIC_NAME})",
            )


def check_job_name_collision(docs: Sequence[Doc]) -> Iterator[Hit]:
    """Two metrics cut to one Job name: Rollouts finds the Job already there (same owner) and
    takes it as the second metric's own, so that metric's tests never run."""
    seen: dict[tuple[int, str], str] = {}
    for jm in job_metrics(docs):
        key = (id(jm.doc), rollouts_job_name(jm.name))
        first = seen.setdefault(key, jm.name)
        if first != jm.name:
            yield Hit(
                "job-name-collision",
                jm.doc,
                (*jm.path, "name"),
                f"metrics {first!r} and {jm.name!r} get the same Job name once Rollouts cuts"
                f" them to 63 characters: {jm.name!r} reuses the Job of {first!r} and never runs",
            )


def _env(container: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(i, e) for i, e in items(container.get("env")) if isinstance(e, dict)]


def check_run_deadline(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        active = as_int(jm.job_spec.get("activeDeadlineSeconds"))
        if active is None:
            continue
        for path, container in jm.containers():
            for index, entry in _env(container):
                if entry.get("name") != "RUN_DEADLINE_SECONDS":
                    continue
                run = _seconds(entry.get("value"))
                if run is None or active - run >= RUN_DEADLINE_MARGIN_SECONDS:
                    continue
                yield Hit(
                    "run-deadline",
                    jm.doc,
                    (*path, "env", index, "value"),
                    f"metric {jm.name!r}: RUN_DEADLINE_SECONDS {run:g} leaves {active - run:g} s"
                    f" before activeDeadlineSeconds {active}"
                    f" (needs {RUN_DEADLINE_MARGIN_SECONDS} s to stop and flush)",
                )


def _seconds(value: Any) -> float | None:
    try:
        return float(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def _field_path(entry: dict[str, Any]) -> str:
    return str(get(entry, "valueFrom", "fieldRef", "fieldPath") or "")


def check_uid_label_env(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        for path, container in jm.containers():
            env = _env(container)
            if any(label in _field_path(e) for _, e in env for label in _JOB_NAME_LABELS):
                continue
            for index, entry in env:
                if _UID_LABEL in _field_path(entry):
                    yield Hit(
                        "uid-label-env",
                        jm.doc,
                        (*path, "env", index, "valueFrom"),
                        f"env {entry.get('name')}: the pod label {_UID_LABEL} is empty on Argo"
                        " Rollouts 1.9 and no env carries the Job name to fall back on",
                    )


CHECKS = (
    check_failure_limit,
    check_conditions,
    check_backoff,
    check_restart_policy,
    check_disruption,
    check_ttl,
    check_deadline,
    check_indexed,
    check_job_name_length,
    check_job_name_collision,
    check_run_deadline,
    check_uid_label_env,
)
