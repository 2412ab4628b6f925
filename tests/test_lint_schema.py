"""runner/lint/schema.py, the CRD validator behind lint's unknown-field and schema rules: it
rejects what the API server would prune or refuse, and accepts what it would store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from runner.lint.checks_schema import registry
from runner.lint.schema import SchemaError

TEMPLATE = Path(__file__).parent / "fixtures" / "lint" / "rules" / "failure-limit" / "good.yaml"

Obj = dict[str, Any]


def _stage() -> Obj:
    stage: Obj = yaml.safe_load(
        """
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Stage
        metadata: {name: test, namespace: demo}
        spec:
          requestedFreight:
            - origin: {kind: Warehouse, name: demo}
              sources: {direct: true}
          verification:
            analysisTemplates: [{name: t}]
            args: [{name: a, value: b}]
        """
    )
    return stage


def _errors(obj: Obj) -> list[str]:
    return [str(error) for error in registry().validate(obj)]


def test_accepts_a_valid_stage() -> None:
    assert _errors(_stage()) == []


def test_rejects_verification_reuse() -> None:
    stage = _stage()
    stage["spec"]["verification"]["reuse"] = True
    assert _errors(stage) == ["spec.verification.reuse: unknown field"]


def test_rejects_unknown_fields_at_any_depth() -> None:
    stage = _stage()
    stage["spec"]["requestedFreight"][0]["origin"]["colour"] = "blue"
    stage["specs"] = {}
    stage["metadata"]["labelz"] = {}
    assert sorted(_errors(stage)) == [
        "metadata.labelz: unknown field",
        "spec.requestedFreight[0].origin.colour: unknown field",
        "specs: unknown field",
    ]


def test_checks_required_enum_and_types() -> None:
    stage = _stage()
    origin = stage["spec"]["requestedFreight"][0]["origin"]
    origin["kind"] = "Shed"
    del origin["name"]
    stage["spec"]["verification"]["args"][0]["value"] = 3
    assert sorted(_errors(stage)) == [
        "spec.requestedFreight[0].origin.kind: 'Shed' not one of ['Warehouse']",
        "spec.requestedFreight[0].origin.name: required",
        "spec.verification.args[0].value: expected string, got int",
    ]


def test_int_or_string_and_preserved_fields() -> None:
    template = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    metric = template["spec"]["metrics"][0]
    for count in (1, "{{args.count}}"):
        metric["count"] = count
        assert registry().validate(template) == []
    metric["count"] = 1.5
    assert registry().validate(template) == [
        SchemaError(("spec", "metrics", 0, "count"), "expected integer or string, got float")
    ]


def test_namespace_on_a_cluster_scoped_kind() -> None:
    project = {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Project",
        "metadata": {"name": "p", "namespace": "p"},
    }
    assert _errors(project) == ["metadata.namespace: set on a cluster-scoped kind"]


def _warehouse() -> Obj:
    warehouse: Obj = yaml.safe_load(
        """
        apiVersion: kargo.akuity.io/v1alpha1
        kind: Warehouse
        metadata: {name: demo, namespace: demo, creationTimestamp: null}
        spec:
          subscriptions:
            - image: {repoURL: ghcr.io/example/app}
        status:
          conditions: [{type: Ready}]
        """
    )
    return warehouse


def test_defaults_and_object_meta_as_the_api_server_has_them() -> None:
    """spec.interval is required but defaulted (5m0s); `creationTimestamp: null` is ObjectMeta
    (kubectl create --dry-run -o yaml); status is dropped on create (status subresource)."""
    assert _errors(_warehouse()) == []


def test_a_null_is_pruned_before_validation_unless_it_is_required() -> None:
    template: Obj = yaml.safe_load(TEMPLATE.read_text(encoding="utf-8"))
    template["spec"]["metrics"][0]["provider"]["job"]["metadata"] = None
    assert _errors(template) == []
    template["spec"]["metrics"][0]["name"] = None
    assert _errors(template) == ["spec.metrics[0].name: required"]


def test_generate_name_stands_for_name_and_timestamps_are_strings() -> None:
    run: Obj = yaml.safe_load(
        """
        apiVersion: argoproj.io/v1alpha1
        kind: AnalysisRun
        metadata: {generateName: verify-}
        spec: {metrics: []}
        status: {phase: Successful, startedAt: 2025-01-28T22:59:26Z}
        """
    )
    assert _errors(run) == []
    del run["metadata"]["generateName"]
    assert _errors(run) == ["metadata.name: required"]
