"""Checks on Kyverno generate rules: they must keep working after admission (background)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from runner.lint.hits import FieldPath, Hit, get, items, strs
from runner.lint.yamldoc import Doc

_POLICY_KINDS = ("ClusterPolicy", "Policy")


def _generate_rules(docs: Sequence[Doc]) -> Iterator[tuple[Doc, FieldPath, dict[str, object]]]:
    for doc in docs:
        if doc.kind in _POLICY_KINDS and doc.api_version.startswith("kyverno.io/"):
            for index, rule in items(get(doc.data, "spec", "rules")):
                if isinstance(rule, dict) and isinstance(rule.get("generate"), dict):
                    yield doc, ("spec", "rules", index), rule


def _match_filters(rule: dict[str, object]) -> Iterator[tuple[FieldPath, object]]:
    """Every `resources` filter of the rule's match, with its path under the rule."""
    match = rule.get("match")
    resources = get(match, "resources")
    if resources is not None:
        yield ("match", "resources"), resources
    for group in ("any", "all"):
        for index, entry in items(get(match, group)):
            if get(entry, "resources") is not None:
                yield ("match", group, index, "resources"), get(entry, "resources")


def _relies_on_background(doc: Doc, rule: dict[str, object]) -> bool:
    """synchronize (recreate and update downstream) and generateExisting (existing triggers) run
    as background requests, which carry no admission operation."""
    generate = rule.get("generate")
    spec = get(doc.data, "spec")
    return any(
        value is True
        for value in (
            get(generate, "synchronize"),
            get(generate, "generateExisting"),
            get(spec, "generateExisting"),
            get(spec, "generateExistingOnPolicyUpdate"),
        )
    )


def check_generate_operations(docs: Sequence[Doc]) -> Iterator[Hit]:
    """A rule that lists DELETE generates on a trigger's deletion, which only a listed DELETE
    does (pkg/webhooks/utils/match.go, MatchDeleteOperation); one that relies on no background
    request (no synchronize, no generateExisting) loses nothing to its operations filter."""
    for doc, path, rule in _generate_rules(docs):
        if not _relies_on_background(doc, rule):
            continue
        for where, resources in _match_filters(rule):
            operations = strs(get(resources, "operations"))
            if operations and "DELETE" not in operations:
                yield Hit(
                    "kyverno-generate-operations",
                    doc,
                    (*path, *where, "operations"),
                    f"{doc.label} rule {rule.get('name')!r}: a generate rule matching on"
                    " operations never runs in the background (no generateExisting, no sync)",
                )


def check_generate_fixed_namespace(docs: Sequence[Doc]) -> Iterator[Hit]:
    for doc, path, rule in _generate_rules(docs):
        kinds = {k for _, res in _match_filters(rule) for k in strs(get(res, "kinds"))}
        if not kinds & {"Namespace", "v1/Namespace"}:
            continue
        generate = rule["generate"]
        targets: list[tuple[FieldPath, object]] = [(("generate",), generate)]
        for index, each in items(get(generate, "foreach")):
            targets.append((("generate", "foreach", index), each))
        for where, target in targets:
            namespace, name = get(target, "namespace"), get(target, "name")
            # A name taken from the trigger gives every Namespace its own object in the one
            # namespace the policy writes to: that is meant, and nothing is missed.
            if isinstance(name, str) and "{{" in name:
                continue
            if isinstance(namespace, str) and namespace and "{{" not in namespace:
                yield Hit(
                    "kyverno-generate-fixed-namespace",
                    doc,
                    (*path, *where, "namespace"),
                    f"{doc.label} rule {rule.get('name')!r}: triggered by every Namespace but"
                    f" writes only to {namespace!r}",
                )


CHECKS = (check_generate_operations, check_generate_fixed_namespace)
