"""What version a target says it serves, and whether it is the expected one (pure).

`PROVE_VERSION_FROM` says where the version is in the answer to `PROVE_VERSION_URL`:
`json:/pointer` (RFC 6901), `header:Name`, `regex:PATTERN` (its one group) or `body` (the
whole body, trimmed). Matching: equal after trimming, or an abbreviated commit SHA (7 or more
hex digits) and the full one it abbreviates (40 hex digits, SHA-1; 64, SHA-256), either way
round, ignoring case: `3f2a9c1` matches `3f2a9c1e...` (40 digits). Two abbreviations only
match when equal, so build numbers (`1234567` vs `12345678`, digits are hex too) and
`9be04d7` vs `9be04d7a` never match by prefix.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

_SHA = re.compile(r"[0-9a-fA-F]{7,64}\Z")
_FULL_SHA = (40, 64)  # a git object name: SHA-1, SHA-256
MAX_SHOWN = 80


class BadSource(ValueError):
    """PROVE_VERSION_FROM is not one of its forms."""


@dataclass(frozen=True)
class Source:
    kind: Literal["json", "header", "regex", "body"]
    arg: str = ""

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind


@dataclass(frozen=True)
class VersionCheck:
    """What the HTTP way compares: where the version is, and the Freight's value."""

    source: Source
    expected: str


def parse_source(text: str) -> Source:
    kind, sep, arg = text.partition(":")
    if kind == "body" and not sep:
        return Source("body")
    if kind == "json" and sep:
        if arg and not arg.startswith("/"):
            raise BadSource(f"the JSON pointer {arg!r} must be empty or start with '/'")
        return Source("json", arg)
    if kind == "header" and sep and re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", arg):
        return Source("header", arg)
    if kind == "regex" and sep:
        try:
            groups = re.compile(arg).groups
        except re.error as exc:
            raise BadSource(f"not a regular expression: {exc}") from exc
        if groups != 1:
            raise BadSource(f"the regex must have exactly one group (it has {groups})")
        return Source("regex", arg)
    raise BadSource(
        f"{text!r}: expected json:/pointer, header:Name, regex:PATTERN-with-one-group or body"
    )


def from_json(body: str, pointer: str) -> str | None:
    """The value at `pointer` as text (a number or boolean as JSON spells it); None when the
    body is not JSON or the pointer leads nowhere or to an object or array."""
    try:
        node: object = json.loads(body)
    except ValueError:
        return None
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    if isinstance(node, str):
        return node
    if isinstance(node, bool | int | float) and node is not None:
        return json.dumps(node)
    return None


def matches(expected: str, served: str) -> bool:
    want, got = expected.strip(), served.strip()
    if not want or not got:
        return False
    if want == got:
        return True
    if _SHA.match(want) and _SHA.match(got):
        short, full = sorted((want.lower(), got.lower()), key=len)
        return len(full) in _FULL_SHA and full.startswith(short)
    return False


def shown(value: str) -> str:
    """A served value fit for one log line."""
    flat = " ".join(value.split())
    return flat if len(flat) <= MAX_SHOWN else flat[: MAX_SHOWN - 1] + "…"
