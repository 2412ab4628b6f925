"""Checks on the Argo Rollouts controller the linted set deploys: before v1.10 a terminated job
measurement ends Successful (docs/platform-facts.md, "Minimum Rollouts version")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from runner.lint.hits import Hit, get, items, job_metrics
from runner.lint.yamldoc import Doc

_WORKLOADS = frozenset({"Deployment", "StatefulSet"})
# The controller's published images, tag vX.Y.Z (a pre-release of a version counts as it: v1.10's
# Terminate is Inconclusive from v1.10.0-rc1). latest, a digest alone, or any other tag: not judged.
_IMAGE = re.compile(
    r"(?:(?:quay\.io|docker\.io|index\.docker\.io)/)?argoproj/argo-rollouts"
    r":v([0-9]{1,4})\.([0-9]{1,4})\.[0-9]{1,4}(?:-[\w.]+)?(?:@sha256:[0-9a-f]{64})?"
)
MINIMUM = (1, 10)


def check_rollouts_version(docs: Sequence[Doc]) -> Iterator[Hit]:
    """Only where a job metric is linted too: the fact is about the job provider."""
    if not any(True for _ in job_metrics(docs)):
        return
    for doc in docs:
        if doc.kind not in _WORKLOADS or not doc.api_version.startswith("apps/"):
            continue
        pod = get(doc.data, "spec", "template", "spec")
        for key in ("initContainers", "containers"):
            for index, container in items(get(pod, key)):
                image = get(container, "image")
                match = _IMAGE.fullmatch(image.strip()) if isinstance(image, str) else None
                if match is None or (int(match[1]), int(match[2])) >= MINIMUM:
                    continue
                yield Hit(
                    "rollouts-version",
                    doc,
                    ("spec", "template", "spec", key, index, "image"),
                    f"{doc.label} runs Argo Rollouts {image.strip().rsplit(':', 1)[-1]}: before"
                    " v1.10 a terminated job measurement ends Successful, so an aborted"
                    " verification that Kargo reuses turns the Freight green",
                )


CHECKS = (check_rollouts_version,)
