"""What a check yields, and the walks over manifests the checks share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from runner.lint.yamldoc import Doc

FieldPath = tuple[str | int, ...]

ROLLOUTS_ANALYSIS_KINDS = frozenset({"AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"})


@dataclass(frozen=True)
class Hit:
    """A rule firing on one field of one document (`line` when the field has no path)."""

    rule_id: str
    doc: Doc
    path: FieldPath
    message: str
    line: int | None = None

    @property
    def at_line(self) -> int:
        return self.line if self.line is not None else self.doc.line_at(self.path)


def get(value: Any, *path: str | int) -> Any:
    """value[path[0]][path[1]]..., or None where the path does not exist or has the wrong type."""
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and 0 <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        else:
            return None
    return value


def as_dict(value: Any) -> dict[Any, Any]:
    """A mapping field, or {} when the manifest put something else there."""
    return value if isinstance(value, dict) else {}


def strs(value: Any) -> list[str]:
    """The strings of a list field (anything else in it, or a non-list, counts for nothing)."""
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def items(value: Any) -> list[tuple[int, Any]]:
    return list(enumerate(value)) if isinstance(value, list) else []


def strings(value: Any, path: FieldPath = ()) -> Iterator[tuple[FieldPath, str]]:
    """Every string value under `value`, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, (*path, index))


def as_int(value: Any) -> int | None:
    """An integer field as Kubernetes reads it (int or a digit string); None when templated."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def analysis_docs(docs: Sequence[Doc]) -> Iterator[Doc]:
    for doc in docs:
        if doc.kind in ROLLOUTS_ANALYSIS_KINDS and doc.api_version.startswith("argoproj.io/"):
            yield doc


@dataclass(frozen=True)
class JobMetric:
    doc: Doc
    index: int
    metric: dict[str, Any]

    @property
    def path(self) -> FieldPath:
        return ("spec", "metrics", self.index)

    @property
    def name(self) -> str:
        return str(self.metric.get("name", ""))

    @property
    def job_spec(self) -> dict[str, Any]:
        spec = get(self.metric, "provider", "job", "spec")
        return spec if isinstance(spec, dict) else {}

    @property
    def job_path(self) -> FieldPath:
        return (*self.path, "provider", "job", "spec")

    def containers(self) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
        pod = get(self.job_spec, "template", "spec")
        for key in ("initContainers", "containers"):
            for index, container in items(get(pod, key)):
                if isinstance(container, dict):
                    yield (*self.job_path, "template", "spec", key, index), container


def job_metrics(docs: Sequence[Doc]) -> Iterator[JobMetric]:
    for doc in analysis_docs(docs):
        for index, metric in items(get(doc.data, "spec", "metrics")):
            if isinstance(metric, dict) and isinstance(get(metric, "provider", "job"), dict):
                yield JobMetric(doc, index, metric)
