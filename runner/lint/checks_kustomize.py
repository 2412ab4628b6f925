"""Checks on kustomization files themselves (seen when linting files, not `-k` output)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import PurePosixPath

from runner.lint.hits import Hit, get, items
from runner.lint.yamldoc import Doc

_FILE_NAMES = {"kustomization.yaml", "kustomization.yml", "Kustomization"}


def _is_kustomization(doc: Doc) -> bool:
    if doc.kind == "Kustomization":
        return doc.api_version.startswith("kustomize.config.k8s.io/")
    return not doc.kind and PurePosixPath(doc.source.uri).name in _FILE_NAMES


def check_common_labels(docs: Sequence[Doc]) -> Iterator[Hit]:
    for doc in docs:
        if not _is_kustomization(doc) or not isinstance(doc.data, dict):
            continue
        if "commonLabels" in doc.data:
            yield Hit(
                "kustomize-common-labels",
                doc,
                ("commonLabels",),
                "commonLabels also rewrites selectors; use labels: with includeSelectors: false",
            )
        for index, entry in items(get(doc.data, "labels")):
            if get(entry, "includeSelectors") is True:
                yield Hit(
                    "kustomize-common-labels",
                    doc,
                    ("labels", index, "includeSelectors"),
                    "labels with includeSelectors: true rewrite selectors",
                )


CHECKS = (check_common_labels,)
