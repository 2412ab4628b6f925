"""The deployment proof as the readiness gate runs it: settings in, checks out, evidence kept.

`WorkloadCheck` reads the workload, its ReplicaSets and its pods through the Kubernetes API
(the ServiceAccount's token, runner/kube.py's client) and judges them (`workloads.judge`).
A refusal (403) or a workload that does not exist (404) is exit 3 at once, in one line that
names the setting or the RBAC to fix; anything else that goes wrong (a timeout, a 5xx) is a
"not ready" reason and the gate keeps waiting. The HTTP way is a readiness `Check` carrying a
`versions.VersionCheck` (runner/probe.py judges it).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.contract.errors import InfrastructureError
from runner.deployed.images import ImageRef
from runner.deployed.workloads import Workload, judge
from runner.kube import ApiClient, LookupFailed

API_TIMEOUT = 5.0
_PATHS: dict[str, str] = {
    "deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
    "statefulset": "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}",
    "rollout": "/apis/argoproj.io/v1alpha1/namespaces/{ns}/rollouts/{name}",
}
_RESOURCE = {
    "deployment": "deployments.apps",
    "statefulset": "statefulsets.apps",
    "rollout": "rollouts.argoproj.io",
}


class ProofRefused(InfrastructureError):
    """The API will not show us the workload: exit 3, the sentence says what to fix."""


@dataclass(frozen=True)
class ProbeOutcome:
    ok: bool
    reason: str
    evidence: Mapping[str, object]


@dataclass(frozen=True)
class WorkloadCheck:
    workload: Workload
    namespace: str
    expected: ImageRef
    client: Callable[[], ApiClient]
    timeout: float = API_TIMEOUT

    @property
    def display(self) -> str:
        return str(self.workload)

    def run(self) -> ProbeOutcome:
        try:
            client = self.client()
        except LookupFailed as exc:
            raise ProofRefused(f"PROVE_WORKLOAD needs the pod's ServiceAccount: {exc}") from exc
        try:
            workload, replica_sets, pods = self._observe(client)
        except LookupFailed as exc:
            return ProbeOutcome(False, f"the Kubernetes API did not answer: {exc}", {})
        found = judge(
            self.workload, workload, replica_sets=replica_sets, pods=pods, expected=self.expected
        )
        evidence = {"method": "kubernetes", "namespace": self.namespace, **found.evidence}
        return ProbeOutcome(found.proven, found.reason, evidence)

    def _observe(self, client: ApiClient) -> tuple[dict[str, Any], list[Any], list[Any]]:
        ns = urllib.parse.quote(self.namespace, safe="")
        path = _PATHS[self.workload.kind].format(ns=ns, name=self.workload.name)
        workload = self._get(client, path, f"get {_RESOURCE[self.workload.kind]}")
        selector = label_selector(workload)
        query = "?labelSelector=" + urllib.parse.quote(selector, safe="")
        replica_sets: list[Any] = []
        if self.workload.kind != "statefulset":
            replica_sets = _items(
                self._get(
                    client,
                    f"/apis/apps/v1/namespaces/{ns}/replicasets{query}",
                    "list replicasets.apps",
                )
            )
        pods = _items(self._get(client, f"/api/v1/namespaces/{ns}/pods{query}", "list pods"))
        return workload, replica_sets, pods

    def _get(self, client: ApiClient, path: str, verb: str) -> dict[str, Any]:
        try:
            return client.get(path)
        except LookupFailed as exc:
            if exc.status == 403:
                raise ProofRefused(
                    f"the Kubernetes API refused to {verb} in namespace {self.namespace} "
                    f"(HTTP 403): the runner's ServiceAccount needs get on "
                    f"{_RESOURCE[self.workload.kind]} and list on replicasets.apps and pods there "
                    "(the Role in "
                    "kustomize/base/rbac.yaml, namespace = PROVE_NAMESPACE)"
                ) from exc
            if exc.status == 404 and verb.startswith("get"):
                raise ProofRefused(
                    f"{self.workload} does not exist in namespace {self.namespace}: check "
                    "PROVE_WORKLOAD and PROVE_NAMESPACE"
                ) from exc
            raise


def _items(listing: Mapping[str, Any]) -> list[Any]:
    items = listing.get("items")
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


_NOT_A_SELECTOR = (
    "the API answered with a workload whose spec.selector is not a label selector "
    "(matchLabels a map, matchExpressions a list of {key, operator, values}): is "
    "KUBERNETES_SERVICE_HOST the cluster's API server?"
)


def label_selector(workload: Mapping[str, Any]) -> str:
    """`spec.selector` (matchLabels and matchExpressions) as the API's labelSelector query."""
    spec = workload.get("spec")
    selector = spec.get("selector") if isinstance(spec, Mapping) else None
    if not isinstance(selector, Mapping) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        raise ProofRefused(
            "the workload has no spec.selector to find its pods by (a Rollout with workloadRef "
            "is not supported: name the Deployment it references in PROVE_WORKLOAD)"
        )
    labels, expressions = selector.get("matchLabels") or {}, selector.get("matchExpressions") or []
    if not isinstance(labels, Mapping) or not isinstance(expressions, list):
        raise ProofRefused(_NOT_A_SELECTOR)
    parts = [f"{k}={v}" for k, v in sorted(labels.items())]
    for expr in expressions:
        if not isinstance(expr, Mapping) or not isinstance(expr.get("values") or [], list):
            raise ProofRefused(_NOT_A_SELECTOR)
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        joined = ",".join(str(v) for v in values)
        if op == "In":
            parts.append(f"{key} in ({joined})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({joined})")
        elif op == "Exists":
            parts.append(str(key))
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)
