"""Is a Kubernetes workload's rollout complete, and does every Ready pod run the Freight's
image? Judged from the objects as the API returns them (pure: dicts in, a Judgement out).

Rollout complete follows `kubectl rollout status` (kubernetes/kubectl
pkg/polymorphichelpers/rollout_status.go) for Deployments and StatefulSets, and Argo Rollouts'
own phase for a Rollout (argo-rollouts utils/rollout/rolloututil.go GetRolloutPhase: the
controller's `status.phase` once `status.observedGeneration`, a string there, equals
`metadata.generation`; Healthy also needs `stableRS == currentPodHash`). On top of that, and
stricter than kubectl: every Ready pod the workload owns (through its ReplicaSets for a
Deployment or a Rollout; directly for a StatefulSet), and every orphan its selector finds, runs
the expected image, so a pod of the old template that still serves keeps the target "not ready".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from runner.deployed.images import BadReference, ImageRef, parse, same_image

Kind = Literal["deployment", "statefulset", "rollout"]
Obj = Mapping[str, Any]
KINDS: dict[str, Kind] = {
    "deployment": "deployment",
    "statefulset": "statefulset",
    "rollout": "rollout",
}
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z")


@dataclass(frozen=True)
class Workload:
    kind: Kind
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"


def parse_workload(text: str) -> Workload:
    """`deployment/NAME`, `statefulset/NAME` or `rollout/NAME`; ValueError saying why not."""
    kind, sep, name = text.partition("/")
    if not sep or kind.lower() not in KINDS:
        raise ValueError(f"{text!r}: expected deployment/NAME, statefulset/NAME or rollout/NAME")
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        raise ValueError(f"{name!r} is not a Kubernetes object name (lower case, digits, - and .)")
    return Workload(KINDS[kind.lower()], name)


@dataclass(frozen=True)
class Judgement:
    proven: bool
    reason: str  # one line; when proven, what was proven
    evidence: dict[str, object] = field(default_factory=dict)


def judge(
    subject: Workload,
    workload: Obj,
    *,
    replica_sets: Sequence[Obj],
    pods: Sequence[Obj],
    expected: ImageRef,
) -> Judgement:
    kind, label = subject.kind, str(subject)
    owned = _owned_pods(kind, workload, replica_sets, pods)
    ready = [p for p in owned if _ready(p)]
    evidence: dict[str, object] = {
        "workload": label,
        "expected": str(expected),
        "pods": len(owned),
        "ready_pods": len(ready),
    }
    stale = [p for p in ready if not _runs(p, expected)]
    if stale:
        images = Counter(_image_shown(p, expected) for p in stale)
        most, _ = images.most_common(1)[0]
        evidence["stale_images"] = dict(images)
        return Judgement(
            False,
            f"{len(stale)} of {len(ready)} Ready pods still run {most}, expected {expected}",
            evidence,
        )
    incomplete = _rollout_incomplete(kind, workload)
    if incomplete:  # a pod the kubelet cannot start says why the rollout stalls
        return Judgement(False, incomplete + _waiting_reason(owned, empty=""), evidence)
    if not ready:
        waiting = _waiting_reason(owned)
        return Judgement(False, f"no Ready pod{waiting}", evidence)
    digests = sorted({d for p in ready for d in _digests(p, expected)})
    evidence["digests"] = digests
    served = f"{expected.repository}@{digests[0]}" if len(digests) == 1 else str(expected)
    return Judgement(True, f"{len(ready)} of {len(ready)} Ready pods run {served}", evidence)


def _meta(obj: Obj) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _section(obj: Obj, key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def _int(value: object, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _owners(obj: Obj) -> set[str]:
    refs = _meta(obj).get("ownerReferences")
    if not isinstance(refs, list):
        return set()
    return {str(r.get("uid")) for r in refs if isinstance(r, Mapping) and r.get("uid")}


def _owned_pods(
    kind: Kind, workload: Obj, replica_sets: Sequence[Obj], pods: Sequence[Obj]
) -> list[Obj]:
    uid = str(_meta(workload).get("uid", ""))
    if kind == "statefulset":
        parents = {uid}
    else:
        parents = {str(_meta(rs).get("uid")) for rs in replica_sets if uid in _owners(rs)}
    # An orphan (no controller: `kubectl delete rs --cascade=orphan`) that the selector finds
    # still gets the Service's traffic, so it counts as the workload's; another controller's
    # pods with the same labels do not.
    return [p for p in pods if _owners(p) & parents or not _controlled(p)]


def _controlled(obj: Obj) -> bool:
    refs = _meta(obj).get("ownerReferences")
    return isinstance(refs, list) and any(
        isinstance(r, Mapping) and r.get("controller") is True for r in refs
    )


def _ready(pod: Obj) -> bool:
    conditions = _section(pod, "status").get("conditions")
    if not isinstance(conditions, list):
        return False
    return any(
        isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
        for c in conditions
    )


def _containers(pod: Obj) -> list[tuple[str, str, str | None]]:
    """(name, spec image, status imageID) of every app container."""
    spec = _section(pod, "spec").get("containers")
    statuses = _section(pod, "status").get("containerStatuses")
    ids: dict[str, str] = {}
    if isinstance(statuses, list):
        ids = {
            str(s.get("name")): str(s.get("imageID") or "")
            for s in statuses
            if isinstance(s, Mapping)
        }
    if not isinstance(spec, list):
        return []
    return [
        (str(c.get("name")), str(c.get("image", "")), ids.get(str(c.get("name"))) or None)
        for c in spec
        if isinstance(c, Mapping)
    ]


def _of_repository(pod: Obj, expected: ImageRef) -> list[tuple[str, str, str | None]]:
    found = []
    for name, image, image_id in _containers(pod):
        try:
            if parse(image).repository == expected.repository:
                found.append((name, image, image_id))
        except BadReference:
            continue
    return found


def _runs(pod: Obj, expected: ImageRef) -> bool:
    """Every container of the expected repository runs the expected image (and one exists)."""
    mine = _of_repository(pod, expected)
    return bool(mine) and all(same_image(expected, image, iid) for _, image, iid in mine)


def _image_shown(pod: Obj, expected: ImageRef) -> str:
    mine = _of_repository(pod, expected)
    if not mine:
        images = sorted({image for _, image, _ in _containers(pod)})
        return f"no image of {expected.repository} ({', '.join(images) or 'no containers'})"
    for _, image, image_id in mine:
        if not same_image(expected, image, image_id):
            digest = None
            if expected.digest and image_id and "@" in image_id:
                digest = image_id.rsplit("@", 1)[1]
            return f"{image}" + (f" ({digest})" if digest and digest not in image else "")
    return mine[0][1]


def _digests(pod: Obj, expected: ImageRef) -> list[str]:
    out = []
    for _, image, image_id in _of_repository(pod, expected):
        pinned = image.rsplit("@", 1)[1] if "@" in image else None
        if image_id and "@" in image_id:
            out.append(image_id.rsplit("@", 1)[1])
        elif pinned:
            out.append(pinned)
    return out


def _waiting_reason(pods: Sequence[Obj], empty: str = " (the workload owns no pods)") -> str:
    if not pods:
        return empty
    for pod in pods:
        statuses = _section(pod, "status").get("containerStatuses")
        for status in statuses if isinstance(statuses, list) else []:
            waiting = (
                _section(_section(status, "state"), "waiting")
                if isinstance(status, Mapping)
                else {}
            )
            if waiting.get("reason"):
                message = str(waiting.get("message") or "").splitlines()[0:1]
                tail = f": {message[0]}" if message else ""
                return f" (pod {_meta(pod).get('name')} waits: {waiting['reason']}{tail})"
    return ""


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    for c in status.get("conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == kind:
            return c
    return {}


def _rollout_incomplete(kind: Kind, workload: Obj) -> str | None:
    """Why the rollout is not complete yet, or None when it is."""
    spec, status = _section(workload, "spec"), _section(workload, "status")
    generation = _int(_meta(workload).get("generation"))
    if _int(spec.get("replicas"), 1) == 0:
        return "scaled to 0 replicas: nothing serves"
    if kind == "rollout":
        return _rollout_pending(status, generation)
    if not status.get("observedGeneration") or _int(status.get("observedGeneration")) < generation:
        return f"the controller has not yet observed generation {generation}"
    if kind == "deployment":
        return _deployment_pending(spec, status)
    return _statefulset_pending(spec, status)


def _rollout_pending(status: Mapping[str, Any], generation: int) -> str | None:
    # observedGeneration is a string in a Rollout's status (v1alpha1 RolloutStatus).
    if str(status.get("observedGeneration", "")) != str(generation):
        return f"the controller has not yet observed generation {generation}"
    phase = status.get("phase")
    if phase != "Healthy":
        message = status.get("message")
        return f"{phase or 'not Healthy'}" + (f": {message}" if message else "")
    if not status.get("stableRS") or status.get("stableRS") != status.get("currentPodHash"):
        return "the new ReplicaSet is not yet stable (its steps have not all completed)"
    return None


def _deployment_pending(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str | None:
    desired = _int(spec.get("replicas"), 1)
    progressing = _condition(status, "Progressing")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        return f"exceeded its progress deadline: {progressing.get('message', '')}"
    updated, total = _int(status.get("updatedReplicas")), _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    if updated < desired:
        return f"{updated} of {desired} new replicas updated"
    if total > updated:
        return f"{total - updated} old replicas pending termination"
    if available < updated:
        return f"{available} of {updated} updated replicas available"
    return None


def _statefulset_pending(spec: Mapping[str, Any], status: Mapping[str, Any]) -> str | None:
    desired = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    if ready < desired:
        return f"{ready} of {desired} pods ready"
    partition = _int(_section(_section(spec, "updateStrategy"), "rollingUpdate").get("partition"))
    if partition:
        return f"a partitioned rollout (partition {partition}): older pods stay by design"
    if status.get("updateRevision") != status.get("currentRevision"):
        return (
            f"rolling update to revision {status.get('updateRevision')} not complete "
            f"({_int(status.get('updatedReplicas'))} of {desired} pods updated)"
        )
    return None
