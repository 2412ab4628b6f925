"""Validate custom resources against the openAPIV3Schema of their CRD, offline.

`kubernetes-validate` and kubeconform know only built-in kinds; Kargo, Argo Rollouts, Kyverno
and Argo CD objects are checked here against the CRDs vendored in runner/lint/crds (upstream
versions and licences in SOURCES.md there).

Unknown fields are REJECTED, as the API server would prune them (and `kubectl apply` with
field validation Strict would refuse them): a misspelt or invented field such as
`verification.reuse` must be reported, not vanish silently at apply time.

Before it validates, the API server prunes a null whose schema is neither nullable nor defaulted
and puts the default in place of an absent (or null) field that has one
(apiextensions-apiserver: pkg/apiserver/schema/defaulting, `PruneNonNullableNullsWithoutDefaults`
and `Default`); on create it drops `status` when the status subresource is on. The validator does
the same without copying the object: `spec.interval` left out of a Warehouse (defaulted) and an
empty `provider.job.metadata:` (pruned) are valid.

Handled: type, required, properties, additionalProperties, items, enum, nullable,
x-kubernetes-preserve-unknown-fields, x-kubernetes-int-or-string,
x-kubernetes-embedded-resource, anyOf, oneOf, allOf, pattern, min/maxLength, min/maxItems,
minimum/maximum. Not handled: x-kubernetes-validations (CEL rules) and `format`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# controller-gen writes `spec.group` and `spec.names.kind` at these indents.
_GROUP = re.compile(r"^  group: (\S+)$", re.MULTILINE)
_KIND = re.compile(r"^  names:\n(?:    .*\n)*?    kind: (\S+)$", re.MULTILINE)
# libyaml's parser where PyYAML was built with it (it is, in the manylinux wheels): 6x faster.
_FastLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# An object's top-level `metadata` is validated by the API server itself, not by the CRD
# schema (which only says `type: object`): these are the fields of ObjectMeta (k8s.io/apimachinery
# pkg/apis/meta/v1 types.go). The server-set ones appear in every `kubectl get -o yaml` and
# `kubectl create --dry-run=client -o yaml` (`creationTimestamp: null`): known, not dropped.
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)

_TYPE_CHECKS: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class SchemaError:
    path: FieldPath
    message: str

    @property
    def dotted(self) -> str:
        text = ""
        for step in self.path:
            text = _join(text, step)
        return text

    def __str__(self) -> str:
        return f"{self.dotted or '<root>'}: {self.message}"


class UnknownKind(LookupError):
    """No CRD in the loaded set serves this apiVersion/kind."""


@dataclass(frozen=True)
class _Served:
    schema: Mapping[str, Any]
    namespaced: bool
    # With the status subresource, a create or update of the object itself drops `status`.
    status_subresource: bool = False


class CrdRegistry:
    """The served versions of a directory of CRDs, by (apiVersion, kind).

    A CRD file is parsed only when an object of its kind is validated: the Kyverno CRDs alone
    are 3 MB of YAML, and most manifests need one or two of the files.
    """

    def __init__(self, crd_dir: Path) -> None:
        self._files: dict[tuple[str, str], Path] = {}
        self._served: dict[tuple[str, str], _Served] = {}
        for path in sorted(crd_dir.glob("*.yaml")):
            with path.open(encoding="utf-8") as file:
                head = file.read(4096)
            group, kind = _GROUP.search(head), _KIND.search(head)
            if group and kind:
                self._files[(group.group(1), kind.group(1))] = path

    def _load(self, group: str, kind: str) -> None:
        path = self._files.pop((group, kind), None)
        if path is None:
            return
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_FastLoader):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                self._add(doc)

    def _add(self, crd: Mapping[str, Any]) -> None:
        spec = crd["spec"]
        kind = spec["names"]["kind"]
        namespaced = spec["scope"] == "Namespaced"
        for version in spec["versions"]:
            if not version.get("served", False):
                continue
            api_version = f"{spec['group']}/{version['name']}"
            schema = version["schema"]["openAPIV3Schema"]
            status = isinstance(version.get("subresources"), dict) and (
                "status" in version["subresources"]
            )
            self._served[(api_version, kind)] = _Served(schema, namespaced, status)

    def knows(self, api_version: str, kind: str) -> bool:
        self._load(api_version.partition("/")[0], kind)
        return (api_version, kind) in self._served

    def is_namespaced(self, api_version: str, kind: str) -> bool:
        return self._lookup(api_version, kind).namespaced

    def _lookup(self, api_version: str, kind: str) -> _Served:
        self._load(api_version.partition("/")[0], kind)
        try:
            return self._served[(api_version, kind)]
        except KeyError:
            raise UnknownKind(f"no served CRD version for {api_version} {kind}") from None

    def validate(self, obj: Mapping[str, Any]) -> list[SchemaError]:
        """All schema violations of one object; empty when it is valid."""
        served = self._lookup(str(obj.get("apiVersion")), str(obj.get("kind")))
        schema = served.schema
        if served.status_subresource and "status" in obj:
            schema = {
                **schema,
                "properties": {
                    **schema.get("properties", {}),
                    "status": {"x-kubernetes-preserve-unknown-fields": True},
                },
            }
        errors = list(_validate(obj, schema, (), root=True))
        metadata = obj.get("metadata")
        if not isinstance(metadata, dict) or not (
            metadata.get("name") or metadata.get("generateName")
        ):
            errors.append(SchemaError(("metadata", "name"), "required"))
        elif isinstance(metadata, dict):
            errors.extend(
                SchemaError(("metadata", key), "unknown field")
                for key in metadata
                if key not in _OBJECT_META_FIELDS
            )
            if not served.namespaced and metadata.get("namespace"):
                where = ("metadata", "namespace")
                errors.append(SchemaError(where, "set on a cluster-scoped kind"))
        return errors


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _at(path: FieldPath, key: str | int) -> FieldPath:
    return (*path, key)


def _type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    expected = schema.get("type")
    if expected is None:
        return True
    # bool is an int in Python; JSON keeps them apart.
    if expected in {"integer", "number"} and isinstance(value, bool):
        return False
    # An unquoted YAML 1.1 timestamp (`startedAt: 2025-01-28T22:59:26Z`): kubectl's YAML-to-JSON
    # conversion sends it as the string it is written as.
    if expected == "string" and isinstance(value, datetime.date):
        return True
    return isinstance(value, _TYPE_CHECKS[expected])


def _validate(
    value: Any, schema: Mapping[str, Any], path: FieldPath, *, root: bool = False
) -> Iterator[SchemaError]:
    if value is None:
        if not schema.get("nullable", False):
            yield SchemaError(path, "null is not allowed")
        return

    if schema.get("x-kubernetes-int-or-string"):
        if isinstance(value, bool) or not isinstance(value, int | str):
            yield SchemaError(path, f"expected integer or string, got {type(value).__name__}")
        return

    if not _type_ok(value, schema):
        yield SchemaError(path, f"expected {schema['type']}, got {type(value).__name__}")
        return

    if "enum" in schema and value not in schema["enum"]:
        yield SchemaError(path, f"{value!r} not one of {schema['enum']}")

    yield from _validate_combinators(value, schema, path)
    yield from _validate_bounds(value, schema, path)

    if isinstance(value, dict):
        yield from _validate_object(value, schema, path, root=root)
    elif isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            yield from _validate(item, schema["items"], _at(path, index))


def _validate_combinators(
    value: Any, schema: Mapping[str, Any], path: FieldPath
) -> Iterator[SchemaError]:
    for sub in schema.get("allOf", ()):
        yield from _validate(value, {**sub, "x-kubernetes-preserve-unknown-fields": True}, path)
    # In structural schemas anyOf/oneOf branches only constrain (no new properties), so the
    # branches are checked for their own constraints with unknown fields tolerated: the fields
    # themselves were already checked against the enclosing `properties`.
    for keyword, wanted in (("anyOf", "at least one"), ("oneOf", "exactly one")):
        branches = schema.get(keyword)
        if not branches:
            continue
        matching = sum(
            1
            for branch in branches
            if not any(
                _validate(value, {**branch, "x-kubernetes-preserve-unknown-fields": True}, path)
            )
        )
        if matching == 0 or (keyword == "oneOf" and matching != 1):
            yield SchemaError(path, f"must match {wanted} of {keyword} ({matching} matched)")


def _validate_bounds(
    value: Any, schema: Mapping[str, Any], path: FieldPath
) -> Iterator[SchemaError]:
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            yield SchemaError(path, f"{value!r} does not match {schema['pattern']!r}")
        if len(value) < schema.get("minLength", 0):
            yield SchemaError(path, f"shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            yield SchemaError(path, f"longer than {schema['maxLength']}")
    elif isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            yield SchemaError(path, f"fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            yield SchemaError(path, f"more than {schema['maxItems']} items")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            yield SchemaError(path, f"less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            yield SchemaError(path, f"greater than {schema['maximum']}")


def _pruned(item: Any, schema: Any) -> bool:
    """A null the API server removes before validating: its schema is not nullable and has no
    default (PruneNonNullableNullsWithoutDefaults). A null with a default becomes the default,
    which is valid by construction (the API server checks CRD defaults against the schema)."""
    return item is None and isinstance(schema, Mapping) and not schema.get("nullable", False)


def _validate_object(
    value: dict[str, Any], schema: Mapping[str, Any], path: FieldPath, *, root: bool
) -> Iterator[SchemaError]:
    properties: Mapping[str, Any] = schema.get("properties", {})
    additional = schema.get("additionalProperties")
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    embedded = bool(schema.get("x-kubernetes-embedded-resource"))

    for name in schema.get("required", ()):
        field_schema = properties.get(name)
        defaulted = isinstance(field_schema, Mapping) and "default" in field_schema
        if not defaulted and (name not in value or _pruned(value[name], field_schema)):
            yield SchemaError(_at(path, name), "required")

    for key, item in value.items():
        child = _at(path, key)
        if key in properties:
            if root and key == "metadata":
                continue  # ObjectMeta: checked by CrdRegistry.validate
            if _pruned(item, properties[key]):
                continue
            yield from _validate(item, properties[key], child)
        elif embedded and key in {"apiVersion", "kind", "metadata"}:
            continue
        elif isinstance(additional, dict):
            if not _pruned(item, additional):
                yield from _validate(item, additional, child)
        elif additional is True or preserve:
            continue
        else:
            yield SchemaError(child, "unknown field")
