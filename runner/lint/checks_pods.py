"""Pod Security: where a namespace enforces 'restricted', every pod it runs must meet it (or the
pod is refused and the verification never starts); a Job that meets it claims it, and then its
namespace should enforce it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from runner.lint.hits import FieldPath, Hit, JobMetric, as_dict, get, items, job_metrics, strs
from runner.lint.yamldoc import Doc

_ENFORCE = "pod-security.kubernetes.io/enforce"
# The volume types the 'restricted' profile allows (Kubernetes Pod Security Standards).
RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_WORKLOAD_TEMPLATES: dict[str, FieldPath] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


def restricted_violations(pod: Any, base: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Where a pod spec breaks the 'restricted' profile, and how."""
    if not isinstance(pod, dict):
        return
    pod_ctx = as_dict(pod.get("securityContext"))
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            yield (*base, flag), f"{flag} is set"
    for index, volume in items(pod.get("volumes")):
        kinds = set(volume) - {"name"} if isinstance(volume, dict) else set()
        if kinds - RESTRICTED_VOLUME_TYPES:
            yield (*base, "volumes", index), f"volume type {', '.join(sorted(map(str, kinds)))}"
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for index, container in items(pod.get(key)):
            if isinstance(container, dict):
                yield from _container(container, pod_ctx, (*base, key, index))


def _container(
    container: dict[str, Any], pod_ctx: dict[str, Any], path: FieldPath
) -> Iterator[tuple[FieldPath, str]]:
    ctx = as_dict(container.get("securityContext"))
    name = container.get("name")
    at = (*path, "securityContext")
    if ctx.get("runAsNonRoot", pod_ctx.get("runAsNonRoot")) is not True:
        yield at, f"container {name!r}: runAsNonRoot is not true"
    if ctx.get("runAsUser", pod_ctx.get("runAsUser")) == 0:
        yield at, f"container {name!r}: runAsUser is 0"
    if ctx.get("allowPrivilegeEscalation") is not False:
        yield at, f"container {name!r}: allowPrivilegeEscalation is not false"
    if ctx.get("privileged"):
        yield at, f"container {name!r}: privileged"
    capabilities = as_dict(ctx.get("capabilities"))
    if "ALL" not in strs(capabilities.get("drop")):
        yield at, f"container {name!r}: capabilities do not drop ALL"
    added = capabilities.get("add")
    if added and (not isinstance(added, list) or set(strs(added)) - {"NET_BIND_SERVICE"}):
        yield at, f"container {name!r}: capabilities add more than NET_BIND_SERVICE"
    seccomp = get(ctx, "seccompProfile", "type") or get(pod_ctx, "seccompProfile", "type")
    # A tuple, not a set: the value may be any YAML, lists included (unhashable).
    if seccomp not in ("RuntimeDefault", "Localhost"):
        yield at, f"container {name!r}: no RuntimeDefault or Localhost seccompProfile"


def _job_pod(jm: JobMetric) -> tuple[Any, FieldPath]:
    return get(jm.job_spec, "template", "spec"), (*jm.job_path, "template", "spec")


def _pods(docs: Sequence[Doc]) -> Iterator[tuple[Doc, Any, FieldPath, set[str]]]:
    """Every pod spec with the namespaces it runs in (a job metric's: its verification's)."""
    for jm in job_metrics(docs):
        pod, path = _job_pod(jm)
        yield jm.doc, pod, path, verification_namespaces(jm.doc, docs)
    for doc in docs:
        template = _WORKLOAD_TEMPLATES.get(doc.kind)
        if template is not None and doc.api_version in {"v1", "apps/v1", "batch/v1"}:
            namespaces = {doc.namespace} if doc.namespace else set()
            yield doc, get(doc.data, *template), template, namespaces


def verification_namespaces(template: Doc, docs: Sequence[Doc]) -> set[str]:
    """Where a template's Jobs run: its own namespace, or that of the Stages that use it."""
    found = {template.namespace} if template.namespace else set()
    for doc in docs:
        if doc.kind != "Stage":
            continue
        refs = get(doc.data, "spec", "verification", "analysisTemplates")
        if any(get(ref, "name") == template.name for _, ref in items(refs)) and doc.namespace:
            found.add(doc.namespace)
    return found


def _namespaces(docs: Sequence[Doc]) -> dict[str, Doc]:
    return {d.name: d for d in docs if d.kind == "Namespace" and d.api_version == "v1"}


def check_pss_violation(docs: Sequence[Doc]) -> Iterator[Hit]:
    namespaces = _namespaces(docs)
    enforcing = {
        name
        for name, ns in namespaces.items()
        if get(ns.data, "metadata", "labels", _ENFORCE) == "restricted"
    }
    for doc, pod, base, where in _pods(docs):
        hit_namespaces = sorted(where & enforcing)
        if not hit_namespaces:
            continue
        for path, reason in restricted_violations(pod, base):
            yield Hit(
                "pss-violation",
                doc,
                path,
                f"{doc.label}: {reason}; namespace {hit_namespaces[0]!r} enforces 'restricted',"
                " so the pod is refused",
            )


def check_pss_not_enforced(docs: Sequence[Doc]) -> Iterator[Hit]:
    """A Job whose pod meets 'restricted' claims it; its namespace must enforce it."""
    namespaces = _namespaces(docs)
    claiming: set[str] = set()
    for jm in job_metrics(docs):
        pod, path = _job_pod(jm)
        if get(pod, "containers") and not any(restricted_violations(pod, path)):
            claiming |= verification_namespaces(jm.doc, docs)
    for name in sorted(claiming & set(namespaces)):
        ns = namespaces[name]
        level = get(ns.data, "metadata", "labels", _ENFORCE)
        if level != "restricted":
            yield Hit(
                "pss-not-enforced",
                ns,
                ("metadata", "labels", _ENFORCE) if level is not None else ("metadata", "name"),
                f"namespace {name!r} runs a verification Job that claims Pod Security"
                f" 'restricted' but enforces {level or 'nothing'}",
            )


CHECKS = (check_pss_violation, check_pss_not_enforced)
