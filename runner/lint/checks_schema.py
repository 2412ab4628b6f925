"""Checks that need no domain knowledge: custom resources against their vendored CRD schema,
and duplicate keys (YAML keeps the last one without a word)."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

from runner.lint.hits import Hit
from runner.lint.schema import CrdRegistry
from runner.lint.yamldoc import Doc, LineDict, LineList

# The groups whose CRDs are vendored; other custom resources are not ours to judge.
CHECKED_GROUPS = ("kargo.akuity.io/", "argoproj.io/", "kyverno.io/")


@functools.cache
def registry() -> CrdRegistry:
    return CrdRegistry(Path(str(resources.files("runner.lint") / "crds")))


def check_schema(docs: Sequence[Doc]) -> Iterator[Hit]:
    for doc in docs:
        if not doc.api_version.startswith(CHECKED_GROUPS) or not isinstance(doc.data, dict):
            continue
        if not registry().knows(doc.api_version, doc.kind):
            continue
        for error in registry().validate(doc.data):
            unknown = error.message == "unknown field"
            yield Hit(
                "unknown-field" if unknown else "schema",
                doc,
                error.path,
                f"{doc.label}: {error}"
                + (f" (not in the {doc.kind} CRD schema; dropped on apply)" if unknown else ""),
            )


def check_duplicate_keys(docs: Sequence[Doc]) -> Iterator[Hit]:
    for doc in docs:
        for mapping in _mappings(doc.data):
            for key, line in mapping.duplicates:
                yield Hit(
                    "duplicate-key",
                    doc,
                    (),
                    f"key {key!r} appears twice in one mapping; the earlier value is lost",
                    line=line,
                )


def _mappings(value: object, seen: set[int] | None = None) -> Iterator[LineDict]:
    """Every mapping once, even when YAML aliases share it."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, LineDict):
        yield value
        for item in value.values():
            yield from _mappings(item, seen)
    elif isinstance(value, LineList):
        for item in value:
            yield from _mappings(item, seen)


CHECKS = (check_schema, check_duplicate_keys)
