"""Deployment, StatefulSet, Rollout, ReplicaSet and Pod objects shaped as the API returns them.

Field names and nesting follow the upstream Go types' JSON tags: k8s.io/api apps/v1 types.go
(Deployment, DeploymentStatus, DeploymentCondition, ReplicaSet, StatefulSet,
StatefulSetStatus), core/v1 types.go (Pod, PodStatus, PodCondition, ContainerStatus,
ContainerState*), apimachinery meta/v1 (ObjectMeta, OwnerReference, LabelSelector), and
argo-rollouts pkg/apis/rollouts/v1alpha1/types.go (RolloutStatus: `observedGeneration` is a
string, `phase`, `currentPodHash`, `stableRS`). A GET returns the object with `kind` and
`apiVersion`; a list returns `{"kind": "PodList", "apiVersion": "v1", "metadata":
{"resourceVersion": ...}, "items": [...]}` whose items carry neither.
"""

from __future__ import annotations

import hashlib
from typing import Any

NOW = "2026-12-02T14:00:00Z"
APP = {"app.kubernetes.io/name": "backstage"}


def _uid(*parts: str) -> str:
    h = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _owner(kind: str, api_version: str, name: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _meta(name: str, namespace: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "uid": _uid(kind, namespace, name),
        "resourceVersion": "4711",
        "creationTimestamp": NOW,
        **extra,
    }


def deployment(
    name: str,
    namespace: str,
    image: str,
    *,
    replicas: int = 3,
    generation: int = 2,
    observed: int | None = None,
    updated: int | None = None,
    ready: int | None = None,
    available: int | None = None,
    total: int | None = None,
    timed_out: bool = False,
) -> dict[str, Any]:
    """A Deployment; the status counts default to a finished rollout."""
    updated = replicas if updated is None else updated
    status: dict[str, Any] = {
        "observedGeneration": generation if observed is None else observed,
        "replicas": replicas if total is None else total,
        "updatedReplicas": updated,
        "readyReplicas": replicas if ready is None else ready,
        "availableReplicas": replicas if available is None else available,
        "conditions": [
            {
                "type": "Available",
                "status": "True",
                "lastUpdateTime": NOW,
                "lastTransitionTime": NOW,
                "reason": "MinimumReplicasAvailable",
                "message": "Deployment has minimum availability.",
            },
            {
                "type": "Progressing",
                "status": "False" if timed_out else "True",
                "lastUpdateTime": NOW,
                "lastTransitionTime": NOW,
                "reason": "ProgressDeadlineExceeded" if timed_out else "NewReplicaSetAvailable",
                "message": f'ReplicaSet "{name}-7d4b9c8f6d" has timed out progressing.'
                if timed_out
                else f'ReplicaSet "{name}-7d4b9c8f6d" has successfully progressed.',
            },
        ],
    }
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": _meta(
            name,
            namespace,
            "Deployment",
            generation=generation,
            labels=dict(APP),
            annotations={"deployment.kubernetes.io/revision": str(generation)},
        ),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(APP)},
            "template": {
                "metadata": {"labels": dict(APP)},
                "spec": {"containers": [{"name": "backstage", "image": image}]},
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": status,
    }


def replica_set(owner: dict[str, Any], template_hash: str, replicas: int) -> dict[str, Any]:
    meta = owner["metadata"]
    name = f"{meta['name']}-{template_hash}"
    labels = {**APP, "pod-template-hash": template_hash}
    return {
        "metadata": _meta(
            name,
            meta["namespace"],
            "ReplicaSet",
            generation=1,
            labels=labels,
            ownerReferences=[_owner(owner["kind"], owner["apiVersion"], meta["name"], meta["uid"])],
        ),
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels}},
        "status": {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1},
    }


def pod(
    parent: dict[str, Any],
    suffix: str,
    image: str,
    *,
    digest: str | None = None,
    ready: bool = True,
    waiting: tuple[str, str] | None = None,
    parent_kind: str = "ReplicaSet",
    parent_api: str = "apps/v1",
) -> dict[str, Any]:
    """A pod of `parent` (a ReplicaSet, or a StatefulSet with parent_kind). `digest`: the
    repository digest containerd reports in `imageID`; `waiting`: (reason, message)."""
    meta = parent["metadata"]
    repository = image.rsplit("@", 1)[0]
    if ":" in repository.rsplit("/", 1)[-1]:
        repository = repository.rsplit(":", 1)[0]
    state: dict[str, Any]
    if waiting:
        state = {"waiting": {"reason": waiting[0], "message": waiting[1]}}
    else:
        state = {"running": {"startedAt": NOW}}
    condition = "True" if ready and not waiting else "False"
    return {
        "metadata": _meta(
            f"{meta['name']}-{suffix}",
            meta["namespace"],
            "Pod",
            labels=dict(meta.get("labels", {})),
            ownerReferences=[_owner(parent_kind, parent_api, meta["name"], meta["uid"])],
        ),
        "spec": {
            "containers": [
                {"name": "backstage", "image": image, "imagePullPolicy": "IfNotPresent"}
            ],
            "restartPolicy": "Always",
            "serviceAccountName": "default",
        },
        "status": {
            "phase": "Running" if not waiting else "Pending",
            "conditions": [
                {
                    "type": "PodReadyToStartContainers",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": NOW,
                },
                {
                    "type": "Initialized",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": NOW,
                },
                {
                    "type": "Ready",
                    "status": condition,
                    "lastProbeTime": None,
                    "lastTransitionTime": NOW,
                },
                {
                    "type": "ContainersReady",
                    "status": condition,
                    "lastProbeTime": None,
                    "lastTransitionTime": NOW,
                },
                {
                    "type": "PodScheduled",
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": NOW,
                },
            ],
            "hostIP": "10.0.0.7",
            "podIP": "10.244.1.23",
            "startTime": NOW,
            "qosClass": "BestEffort",
            "containerStatuses": [
                {
                    "name": "backstage",
                    "state": state,
                    "lastState": {},
                    "ready": condition == "True",
                    "restartCount": 0,
                    "image": image,
                    "imageID": f"{repository}@{digest}" if digest and not waiting else "",
                    "containerID": "containerd://" + hashlib.sha256(suffix.encode()).hexdigest()
                    if not waiting
                    else None,
                    "started": not waiting,
                }
            ],
        },
    }


def statefulset(
    name: str,
    namespace: str,
    image: str,
    *,
    replicas: int = 2,
    ready: int | None = None,
    current: str = "rev-2",
    update: str = "rev-2",
) -> dict[str, Any]:
    return {
        "kind": "StatefulSet",
        "apiVersion": "apps/v1",
        "metadata": _meta(name, namespace, "StatefulSet", generation=2, labels=dict(APP)),
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": dict(APP)},
            "serviceName": name,
            "template": {
                "metadata": {"labels": dict(APP)},
                "spec": {"containers": [{"name": "backstage", "image": image}]},
            },
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
        },
        "status": {
            "observedGeneration": 2,
            "replicas": replicas,
            "readyReplicas": replicas if ready is None else ready,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
            "currentRevision": current,
            "updateRevision": update,
            "availableReplicas": replicas if ready is None else ready,
        },
    }


def rollout(
    name: str,
    namespace: str,
    image: str,
    *,
    phase: str = "Healthy",
    message: str = "",
    current_hash: str = "6b9f8c7d5",
    stable: str = "6b9f8c7d5",
    observed: str = "3",
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "observedGeneration": observed,
        "phase": phase,
        "currentPodHash": current_hash,
        "stableRS": stable,
        "replicas": 3,
        "updatedReplicas": 3,
        "readyReplicas": 3,
        "availableReplicas": 3,
        "selector": "app.kubernetes.io/name=backstage",
    }
    if message:
        status["message"] = message
    return {
        "kind": "Rollout",
        "apiVersion": "argoproj.io/v1alpha1",
        "metadata": _meta(name, namespace, "Rollout", generation=3, labels=dict(APP)),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": dict(APP)},
            "template": {
                "metadata": {"labels": dict(APP)},
                "spec": {"containers": [{"name": "backstage", "image": image}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 50}, {"pause": {"duration": "1m"}}]}},
        },
        "status": status,
    }


def listing(kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    api = "v1" if kind == "PodList" else "apps/v1"
    return {
        "kind": kind,
        "apiVersion": api,
        "metadata": {"resourceVersion": "4712"},
        "items": items,
    }


def status_error(code: int, reason: str, message: str) -> dict[str, Any]:
    """metav1.Status as the API server answers a refused or missing object."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
