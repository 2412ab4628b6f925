"""YAML documents that remember the line of every field, so a finding can point at it.

PyYAML's composer knows where each node starts; the constructor below keeps that for every
mapping key and sequence item (`LineDict.key_lines`, `LineList.item_lines`), so checks work on
plain dicts and lists and ask `Doc.line_at(path)` for the line of the deepest field that exists.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from runner.lint.errors import LintInputError

# A document whose expanded tree (YAML aliases counted once per use) passes this many nodes is
# refused: a few lines of nested aliases ("billion laughs") would otherwise make every walk over
# the tree take hours. Real manifests are a few thousand nodes.
MAX_EXPANDED_NODES = 1_000_000
# Deeper than any manifest (a CronJob's container env is about 15 levels), far below Python's
# recursion limit, which the constructor and the checks would otherwise hit.
MAX_DEPTH = 100

_IGNORE = re.compile(r"#\s*verification-runner:\s*ignore=([\w,\- ]+)")

Path_ = tuple[str | int, ...]


class LineDict(dict[Any, Any]):
    """A mapping from YAML: `line` is where it starts, `key_lines[key]` where each key is."""

    line: int
    key_lines: dict[Hashable, int]
    duplicates: list[tuple[str, int]]


class LineList(list[Any]):
    """A sequence from YAML: `line` is where it starts, `item_lines[i]` where each item is."""

    line: int
    item_lines: list[int]


# libyaml's parser and composer where PyYAML has it (the manylinux wheels do): 5x faster on
# big rendered kustomizations. Marks, and so line numbers, are the same.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    mapping = LineDict()
    mapping.line = node.start_mark.line + 1
    mapping.key_lines = {}
    mapping.duplicates = []
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise LintInputError(f"line {key_node.start_mark.line + 1}: a mapping key is a list")
        line = key_node.start_mark.line + 1
        if key in mapping:
            mapping.duplicates.append((str(key), line))
        mapping[key] = loader.construct_object(value_node, deep=True)
        mapping.key_lines[key] = line
    return mapping


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    sequence = LineList(loader.construct_object(item, deep=True) for item in node.value)
    sequence.line = node.start_mark.line + 1
    sequence.item_lines = [item.start_mark.line + 1 for item in node.value]
    return sequence


def _other_tag(loader: _Loader, _suffix: str, node: yaml.Node) -> Any:
    """A tag no manifest uses (CloudFormation's !Ref, GitLab's !reference, !!python/...): read
    the node as the plain value it is written as, never as the object it names. A pre-commit
    hook sees every YAML file of a repository, and those are not ours to refuse."""
    if isinstance(node, yaml.MappingNode):
        return _mapping(loader, node)
    if isinstance(node, yaml.SequenceNode):
        return _sequence(loader, node)
    return loader.construct_scalar(node)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
_Loader.add_multi_constructor("", _other_tag)


@dataclass(frozen=True)
class Source:
    """Where documents came from: `label` for people, `uri` for SARIF (a path relative to the
    working directory), `rendered` when lines count in kustomize's output, not in that file."""

    label: str
    uri: str
    rendered: bool = False


@dataclass(frozen=True)
class Doc:
    """One YAML document of one source: its data, where it starts, and the lines to look up."""

    source: Source
    index: int
    data: Any
    line: int
    ignores: dict[int, frozenset[str]] = field(default_factory=dict, compare=False)
    # For a document kustomize rendered: the document of the file it came from, when kustomize
    # could say which (runner/lint/rendering.py); findings then point at that file.
    origin: Doc | None = field(default=None, compare=False)

    @property
    def kind(self) -> str:
        return str(self.data.get("kind", "")) if isinstance(self.data, dict) else ""

    @property
    def api_version(self) -> str:
        return str(self.data.get("apiVersion", "")) if isinstance(self.data, dict) else ""

    @property
    def name(self) -> str:
        metadata = self.data.get("metadata") if isinstance(self.data, dict) else None
        return str(metadata.get("name", "")) if isinstance(metadata, dict) else ""

    @property
    def namespace(self) -> str:
        metadata = self.data.get("metadata") if isinstance(self.data, dict) else None
        return str(metadata.get("namespace") or "") if isinstance(metadata, dict) else ""

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}" if self.name else self.kind

    def line_at(self, path: Sequence[str | int]) -> int:
        """The line of the deepest field of `path` that exists (the document's line at worst)."""
        line = self.line
        node: Any = self.data
        for step in path:
            if isinstance(node, LineDict) and step in node:
                line = node.key_lines[step]
                node = node[step]
            elif isinstance(node, LineList) and isinstance(step, int) and step < len(node):
                line = node.item_lines[step]
                node = node[step]
            else:
                break
        return line


def load_documents(text: str, source: Source) -> list[Doc]:
    """Every non-empty document of a YAML stream; a syntax error becomes a LintInputError."""
    ignores = _inline_ignores(text)
    docs: list[Doc] = []
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise LintInputError(f"{source.label}: not valid YAML: {_one_line(exc)}") from None
    for index, node in enumerate(nodes):
        if node is None:
            continue
        loader = _Loader("")
        try:
            _check_size(node)
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise LintInputError(f"{source.label}: not valid YAML: {_one_line(exc)}") from None
        except LintInputError as exc:
            raise LintInputError(f"{source.label}: {exc}") from None
        if data is None:
            continue
        docs.append(Doc(source, index, data, node.start_mark.line + 1, ignores))
    return docs


def _check_size(root: yaml.Node) -> None:
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        if depth > MAX_DEPTH:
            raise LintInputError(
                f"line {node.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep:"
                " refused (manifests are not)"
            )
        sizes[id(node)] = 1  # a recursive alias counts once instead of looping
        children: Iterator[yaml.Node]
        if isinstance(node, yaml.MappingNode):
            children = (child for pair in node.value for child in pair)
        elif isinstance(node, yaml.SequenceNode):
            children = iter(node.value)
        else:
            children = iter(())
        total = 1 + sum(size(child, depth + 1) for child in children)
        sizes[id(node)] = total
        return total

    if size(root, 0) > MAX_EXPANDED_NODES:
        raise LintInputError(
            f"a document expands to more than {MAX_EXPANDED_NODES} nodes through YAML aliases:"
            " refused (manifests do not need that many)"
        )


def _inline_ignores(text: str) -> dict[int, frozenset[str]]:
    found: dict[int, frozenset[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if "verification-runner:" in line and (match := _IGNORE.search(line)):
            found[number] = frozenset(r.strip() for r in match.group(1).split(",") if r.strip())
    return found


def _one_line(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return f"line {exc.problem_mark.line + 1}: {exc.problem}"
    return " ".join(str(exc).split())
