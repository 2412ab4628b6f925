"""Keep secrets out of every file and log line we write.

A value is secret when its variable's name looks secret (`SecretNames`: built-in patterns,
SECRET_ENV_NAMES, NOT_SECRET_ENV_NAMES), when it feeds a readiness header, or when it is a URL's
password or secret-looking query value. `Redactor` masks known secret values in every stream
and file the runner writes; values shorter than MIN_SECRET_LENGTH and JSON literals never.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TypeVar
from urllib.parse import unquote

from pydantic import BaseModel

MASK = "****"

# Matched against the upper-cased variable name. Short words must stand as a word part, or
# harmless names would match: KEY (MONKEY_PATCH), PASS, PW, PWD, PAT (PATH), SIG. AUTH only
# ends a name (BASIC_AUTH, PROXY_AUTH): AUTH_PROVIDER=guest or AUTH_ENABLED are settings, and
# masking "guest" would shred every log line that says it. `$` on purpose: it is searched, and
# a name with a final newline still counting as secret errs toward masking.
_SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|COOKIE|SESSION|PRIVATE|AUTHORIZATION"
    r"|APIKEY|ACCESS_KEY|CERT_KEY|DSN|SIGNATURE"
    r"|(^|_)(KEY|PASS|PW|PWD|PAT|PIN|SIG)($|_)|(^|_)AUTH$"
)
# The shell's working directory, and the lists of names below: no passwords.
NEVER_SECRET = ("PWD", "OLDPWD", "SECRET_ENV_NAMES", "NOT_SECRET_ENV_NAMES")


@dataclass(frozen=True)
class SecretNames:
    """Which variable names hold secrets: the built-in patterns, plus SECRET_ENV_NAMES, minus
    NOT_SECRET_ENV_NAMES (shell-style patterns, `*` and `?`, matched case-insensitively)."""

    extra: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def __call__(self, name: str) -> bool:
        upper = name.upper()
        if any(fnmatchcase(upper, p.upper()) for p in (*self.excluded, *NEVER_SECRET)):
            return False
        if any(fnmatchcase(upper, p.upper()) for p in self.extra):
            return True
        return bool(_SECRET_NAME.search(upper))


DEFAULT_NAMES = SecretNames()


def is_secret_name(name: str) -> bool:
    return DEFAULT_NAMES(name)


def mask_value(name: str, value: str) -> str:
    return MASK if is_secret_name(name) and value else mask_urls(value)


# user:password@ in a URL, and a query parameter (?token=...) whose name looks secret.
_USERINFO = re.compile(r"(?<=://)([^/@:\s]*):([^/@\s]+)@")
_QUERY_PARAM = re.compile(r"(?<=[?&;])([^=&#\s]+)=([^&#\s]*)")


def url_secrets(url: str, names: SecretNames = DEFAULT_NAMES) -> list[str]:
    """The secrets a URL carries (its password, secret-looking query values), as written and
    percent-decoded, for a Redactor to mask wherever the URL is printed."""
    found = [m[2] for m in _USERINFO.finditer(url)]
    found += [m[2] for m in _QUERY_PARAM.finditer(url) if names(m[1].replace("-", "_"))]
    return [form for value in found if value for form in {value, unquote(value)}]


def mask_urls(text: str, names: SecretNames = DEFAULT_NAMES) -> str:
    """`text` with every URL's password and secret-looking query values masked."""
    text = _USERINFO.sub(lambda m: f"{m[1]}:{MASK}@", text)
    return _QUERY_PARAM.sub(
        lambda m: f"{m[1]}={MASK}" if names(m[1].replace("-", "_")) and m[2] else m[0], text
    )


MIN_SECRET_LENGTH = 4
# A secret shorter than this is masked only where it stands as a whole word: not between
# letters, digits or underscores. E2E_PASSWORD=test, masked as a raw substring, turned
# `<testsuites tests="2">` into `<****suites ****s="2">` and "1 of 2 tests failed" into
# "1 of 2 ****s failed" (issue 22, item 7). A short secret inside a longer word is left: the
# word does not tell which of its letters are the secret, and a secret that short is no
# credential worth shredding every word for (docs/threat-model.md).
WHOLE_WORD_BELOW = 8
_WORD = "A-Za-z0-9_"
_JSON_LITERAL = re.compile(r"true|false|null|-?\d+(\.\d+)?([eE][+-]?\d+)?")
M = TypeVar("M", bound=BaseModel)


def maskable(value: str) -> bool:
    """Whether a secret value is masked wherever it appears. Values shorter than
    MIN_SECRET_LENGTH and JSON literals (`true`, `null`, `8080`: a flag that happens to have a
    secret-looking name) are not: masking them would shred ordinary output, and they are no
    credentials."""
    return len(value) >= MIN_SECRET_LENGTH and not _JSON_LITERAL.fullmatch(value.strip())


class Redactor:
    """Replaces known secret values with the mask: in text streams (the log), and in the
    values of every file the runner writes (`model`), never in serialized text, where a value
    with a quote or a backslash is escaped and no longer matches (and where masking could break
    the syntax).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        given = set(secrets)
        # Each line of a multi-line secret (a PEM key) too: the tee writes line by line, so
        # a secret that spans lines may reach it in pieces.
        given |= {line for value in given for line in value.splitlines()}
        values = sorted({s for s in given if maskable(s)}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(_text_form, values))) if values else None
        # In bytes (the log, Playwright's files) a secret also appears as JSON, XML or HTML
        # escape it (an expect() message quotes it as JSON). Bytes that are not UTF-8 reach
        # Python as surrogate escapes (os.environ): they are encoded back to the bytes a child
        # prints.
        forms = sorted(
            {(f, len(v) < WHOLE_WORD_BELOW) for v in values for f in _written_forms(v)},
            key=lambda form: len(form[0]),
            reverse=True,
        )
        self._bytes_pattern = (
            re.compile(b"|".join(_bytes_form(f, whole) for f, whole in forms)) if forms else None
        )
        # bytes; see safe_cut (one more: a whole word needs the byte after it). The default is
        # never read (no forms: no pattern, nothing held back): its mutants are equivalent.
        self._longest = max((len(f) for f, _ in forms), default=0) + 1  # pragma: no mutate

    @property
    def active(self) -> bool:
        """Whether there is anything to mask at all."""
        return self._pattern is not None

    def safe_cut(self, data: bytes) -> int:
        """How much of `data` (the start of a line that goes on) can be masked and written now.

        A secret may begin in the last bytes and end in bytes still to come, so those bytes
        (one less than the longest secret) are held back; a secret that lies across that
        point is written whole, masked. Without secrets, all of it.
        """
        if self._bytes_pattern is None:
            return len(data)
        cut = max(0, len(data) - (self._longest - 1))
        # From `max(0, ...)`: re reads a negative start as 0, so -1 there is the same (an
        # equivalent mutant), as is `cut <= match.end()` below (a match that ends on the cut
        # returns the cut either way) and `> cut` or `continue` for the break, which only stops
        # looking: every later match starts after the cut.
        start = max(0, cut - self._longest)  # pragma: no mutate
        for match in self._bytes_pattern.finditer(data, start):
            if match.start() < cut < match.end():
                return match.end()
            if match.start() >= cut:
                break  # pragma: no mutate
        return cut

    def text(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text

    def bytes(self, data: bytes) -> bytes:
        return self._bytes_pattern.sub(MASK.encode(), data) if self._bytes_pattern else data

    def data(self, value: object) -> object:
        """JSON-like data with every string in it (keys too) masked."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def model(self, model: M) -> M:
        """A copy of a pydantic model (summary, metadata) with every string value masked."""
        if not self._pattern:
            return model
        return type(model).model_validate(self.data(model.model_dump(mode="json")))

    def json(self, model: BaseModel) -> str:
        """The model as the JSON text of a file the runner writes: values masked first."""
        return self.model(model).model_dump_json(indent=2) + "\n"


def _text_form(value: str) -> str:
    escaped = re.escape(value)
    if len(value) >= WHOLE_WORD_BELOW:
        return escaped
    return f"(?<![{_WORD}]){escaped}(?![{_WORD}])"


def _bytes_form(form: bytes, whole_word: bool) -> bytes:
    escaped = re.escape(form)
    if not whole_word:
        return escaped
    word = _WORD.encode()
    return b"(?<![" + word + b"])" + escaped + b"(?![" + word + b"])"


def _written_forms(value: str) -> set[bytes]:
    """The bytes `value` becomes in a serialized file: as is, JSON-escaped (ASCII or not),
    XML-escaped (Playwright's JUnit reporter: &quot; &apos;) and HTML-escaped (&#x27;)."""
    raw = value.encode("utf-8", "surrogateescape")
    if raw.decode("utf-8", "replace") != value:  # not UTF-8: only its bytes can appear
        return {raw}
    xml = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return {
        raw,
        json.dumps(value)[1:-1].encode(),
        json.dumps(value, ensure_ascii=False)[1:-1].encode(),
        xml.replace('"', "&quot;").replace("'", "&apos;").encode(),
        html.escape(value, quote=True).encode(),
    }
