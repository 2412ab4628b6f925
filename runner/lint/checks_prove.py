"""Checks that a verification proves which deployment it tested: without PROVE_WORKLOAD or
PROVE_VERSION_URL the runner tests whatever BASE_URL answers (README, "Prove the deployment")."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from runner.lint.checks_kargo import _referenced_templates
from runner.lint.checks_runner import IMAGE_NAME
from runner.lint.hits import FieldPath, Hit, JobMetric, get, items, job_metrics
from runner.lint.yamldoc import Doc

PROOF_SETTINGS = ("PROVE_WORKLOAD", "PROVE_VERSION_URL")
_ARG = re.compile(r"\{\{\s*args\.([-\w.]+)\s*\}\}")
_WHY = (
    "the runner tests whatever BASE_URL answers, so a verification of the previous release"
    " can turn the new Freight green"
)


def _runner_proofs(jm: JobMetric) -> Iterator[tuple[FieldPath, list[str | None]]]:
    """Per runner container: the path of its image and the values of its PROVE_WORKLOAD /
    PROVE_VERSION_URL entries (None for one that is not plain text, e.g. valueFrom)."""
    for path, container in jm.containers():
        if IMAGE_NAME not in str(container.get("image", "")):
            continue
        values: list[str | None] = []
        for _, entry in items(container.get("env")):
            if isinstance(entry, dict) and entry.get("name") in PROOF_SETTINGS:
                value = entry.get("value", "")
                plain = isinstance(value, str | int) and not isinstance(value, bool)
                values.append(str(value) if plain and "valueFrom" not in entry else None)
        yield (*path, "image"), values


def check_template_proves(docs: Sequence[Doc]) -> Iterator[Hit]:
    """A runner container whose env sets no proof at all (an empty literal sets none)."""
    for jm in job_metrics(docs):
        if jm.doc.kind == "AnalysisRun":
            continue
        for path, values in _runner_proofs(jm):
            if all(value is not None and not value.strip() for value in values):
                yield Hit(
                    "deployment-not-proven",
                    jm.doc,
                    path,
                    f"metric '{jm.name}': the verification-runner container sets neither"
                    f" PROVE_WORKLOAD nor PROVE_VERSION_URL: {_WHY}",
                )


def _empty_literal(arg: dict[str, Any]) -> bool:
    """A Stage arg passed as "" (no ${{ }} expression, no valueFrom)."""
    value = arg.get("value")
    if "valueFrom" in arg:
        return False
    return value is None or (isinstance(value, str) and "${{" not in value and not value.strip())


def check_stage_proves(docs: Sequence[Doc]) -> Iterator[Hit]:
    """A Stage that passes "" for every arg its template maps into the proof settings."""
    for stage in docs:
        if stage.kind != "Stage" or not stage.api_version.startswith("kargo.akuity.io/"):
            continue
        args_path: FieldPath = ("spec", "verification", "args")
        passed = {
            str(arg.get("name")): (index, arg)
            for index, arg in items(get(stage.data, *args_path))
            if isinstance(arg, dict)
        }
        for _, template in _referenced_templates(stage, docs):
            for jm in job_metrics([template]):
                for _, all_values in _runner_proofs(jm):
                    values = [v for v in all_values if v is None or v.strip()]
                    mapped = [v for v in values if v is not None and _ARG.search(v)]
                    if not mapped or len(mapped) != len(values):
                        continue  # no proof (the template's own finding), or one not from args
                    names = sorted({name for v in mapped for name in _ARG.findall(v)})
                    literal_text = any(_ARG.sub("", v).strip() for v in mapped)
                    if literal_text or not all(
                        n in passed and _empty_literal(passed[n][1]) for n in names
                    ):
                        continue
                    yield Hit(
                        "deployment-not-proven",
                        stage,
                        (*args_path, passed[names[0]][0], "value"),
                        f'Stage {stage.name!r} passes "" for {", ".join(names)}, which'
                        f" {template.label} maps into PROVE_WORKLOAD/PROVE_VERSION_URL: {_WHY}",
                    )


CHECKS = (check_template_proves, check_stage_proves)
