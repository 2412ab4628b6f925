"""Checks on Argo Rollouts job metrics: the Job Kargo's verification starts must be able to
fail, must run at all, and must end."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from runner.lint.hits import Hit, analysis_docs, as_int, get, items, job_metrics
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


def effective_count(metric: dict[str, Any]) -> int | None:
    """How many measurements the metric takes: count, else 1 when there is no interval (Rollouts'
    EffectiveCount, pkg/apis/rollouts/v1alpha1/analysis_types.go); None when it runs until
    stopped (interval without count) or the count is templated."""
    count = as_int(metric.get("count"))
    if count is None and metric.get("count") is not None:
        return None
    if not count:
        return None if metric.get("interval") else 1
    return count


def check_failure_limit(docs: Sequence[Doc]) -> Iterator[Hit]:
    """Rollouts fails a metric when failed > failureLimit (never when it is negative); with a
    consecutiveSuccessLimit > 0 a count reached without that many successes in a row is Failed
    or Inconclusive instead of Successful (analysis/analysis.go, assessMetricStatus)."""
    for jm in job_metrics(docs):
        limit = as_int(jm.metric.get("failureLimit", 0))
        count = effective_count(jm.metric)
        path = (*jm.path, "failureLimit")
        if limit is None or _success_limit(jm.metric):
            continue
        if limit < 0:
            yield Hit(
                "failure-limit",
                jm.doc,
                path,
                f"metric {jm.name!r}: failureLimit {limit} switches failure off: a failed Job"
                " never fails the metric",
            )
        elif count is not None and limit >= count:
            yield Hit(
                "failure-limit",
                jm.doc,
                path,
                f"metric {jm.name!r}: failureLimit {limit} with count {count}: {count} failed"
                " Job(s) still end the metric Successful",
            )


def _success_limit(metric: dict[str, Any]) -> int:
    return max(as_int(metric.get("consecutiveSuccessLimit", 0)) or 0, 0)


def check_failure_retry(docs: Sequence[Doc]) -> Iterator[Hit]:
    """A metric that tolerates a failed Job and still has measurements left ends Successful when
    a later Job passes: a failing suite is retried until it passes once (or k times in a row)."""
    for jm in job_metrics(docs):
        limit = as_int(jm.metric.get("failureLimit", 0))
        count = effective_count(jm.metric)
        needed = _success_limit(jm.metric)
        if limit is None or limit == 0:
            continue
        if needed:
            retried = count is None or count > needed
        else:
            retried = limit > 0 and (count is None or limit < count)
        if not retried:
            continue
        then = f"{needed} passing Job(s) in a row" if needed else "a passing Job"
        yield Hit(
            "failure-limit-retry",
            jm.doc,
            (*jm.path, "failureLimit"),
            f"metric {jm.name!r}: failureLimit {limit} with count"
            f" {count if count is not None else 'unbounded'}: a failed Job followed by {then}"
            " ends the metric Successful",
        )


def check_inconclusive_limit(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        limit = as_int(jm.metric.get("inconclusiveLimit", 0))
        if limit is not None and limit >= 1:
            yield Hit(
                "inconclusive-limit",
                jm.doc,
                (*jm.path, "inconclusiveLimit"),
                f"metric {jm.name!r}: inconclusiveLimit {limit}: an Inconclusive Job (image"
                " never pulled, run terminated) ends the metric Successful without a test run",
            )


def _dry_run_patterns(template: Doc) -> list[tuple[int, str]]:
    return [
        (index, str(get(entry, "metricName")))
        for index, entry in items(get(template.data, "spec", "dryRun"))
        if isinstance(get(entry, "metricName"), str)
    ]


def _matches(pattern: str, name: str) -> bool:
    """Go's regexp.MatchString (unanchored) as Rollouts uses it; a pattern Python cannot read
    matches nothing here (Rollouts then errors the run, which the metric cannot pass either)."""
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False


def check_dry_run(docs: Sequence[Doc]) -> Iterator[Hit]:
    """Rollouts leaves a dry-run metric out of the run's verdict (analysis/analysis.go,
    assessRunStatus; utils/analysis/helpers.go, GetDryRunMetrics); Kargo merges the dryRun of
    every template a Stage names and matches it against all their metrics (flattenTemplates)."""
    metrics = list(job_metrics(docs))
    groups: list[list[Doc]] = [[d] for d in analysis_docs(docs)]
    for stage in docs:
        if stage.kind == "Stage" and stage.api_version.startswith("kargo.akuity.io/"):
            refs = items(get(stage.data, "spec", "verification", "analysisTemplates"))
            names = {name for _, r in refs if isinstance(name := get(r, "name"), str)}
            group = [d for d in analysis_docs(docs) if d.kind != "AnalysisRun" and d.name in names]
            if len(group) > 1:
                groups.append(group)
    seen: set[tuple[int, int]] = set()
    for group in groups:
        for pattern_doc in group:
            for index, pattern in _dry_run_patterns(pattern_doc):
                for jm in metrics:
                    if all(jm.doc is not d for d in group) or (id(jm.doc), jm.index) in seen:
                        continue
                    if _matches(pattern, jm.name):
                        seen.add((id(jm.doc), jm.index))
                        where = "" if jm.doc is pattern_doc else f" of {pattern_doc.label}"
                        yield Hit(
                            "dry-run",
                            pattern_doc,
                            ("spec", "dryRun", index, "metricName"),
                            f"dryRun {pattern!r}{where} covers job metric {jm.name!r}: its"
                            " failure never fails the verification",
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
    """OnFailure with backoffLimit 0 fails the Job at the first container restart (the Job
    controller's pastBackoffLimitOnFailure: restarts > 0 when the limit is 0), so the rerun
    cannot turn it green; but a podFailurePolicy needs Never (the API server refuses it)."""
    for jm in job_metrics(docs):
        policy = get(jm.job_spec, "template", "spec", "restartPolicy")
        if policy == "Never":
            continue
        backoff = as_int(jm.job_spec.get("backoffLimit"))
        failure_policy = "podFailurePolicy" in jm.job_spec
        if policy == "OnFailure" and backoff == 0 and not failure_policy:
            continue
        if policy == "OnFailure":
            reason = (
                "the API server refuses a podFailurePolicy with it"
                if backoff == 0
                else "a failed run restarts in the same pod"
            )
        else:
            reason = "the API server refuses the Job (its pods must say Never or OnFailure)"
        yield Hit(
            "job-restart-policy",
            jm.doc,
            (*jm.job_path, "template", "spec", "restartPolicy"),
            f"metric {jm.name!r}: restartPolicy {policy or 'is not set'}; {reason}",
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
    check_failure_retry,
    check_inconclusive_limit,
    check_dry_run,
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
