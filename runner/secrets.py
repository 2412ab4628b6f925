"""Keep secrets out of every file and log line we write.

A value is secret when its variable's name looks secret. Masking happens wherever the
environment or a setting is shown; `Redactor` scrubs known secret values out of text streams.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "****"

# Matched against the upper-cased variable name. "KEY" alone would hide harmless names like
# MONKEY_PATCH, so it has to stand as a word part: API_KEY, KEY_FILE, SSH_KEY.
_SECRET_NAME = re.compile(
    r"(TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE"
    r"|(^|_)KEY($|_)|APIKEY|ACCESS_KEY|CERT_KEY|DSN)"
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name.upper()))


def mask_value(name: str, value: str) -> str:
    return MASK if is_secret_name(name) and value else value


def mask_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """A copy of `environ` fit to print: every secret-looking value replaced by the mask."""
    return {name: mask_value(name, value) for name, value in sorted(environ.items())}


class Redactor:
    """Replaces known secret values in text (a log line, a summary) with the mask.

    Values shorter than 4 characters are not scrubbed: they would shred ordinary output and
    are too short to be real credentials.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._bytes_pattern = (
            re.compile(b"|".join(re.escape(v.encode()) for v in values)) if values else None
        )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Redactor:
        return cls(value for name, value in environ.items() if is_secret_name(name))

    @property
    def active(self) -> bool:
        """Whether there is anything to mask at all."""
        return self._pattern is not None

    def text(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern else text

    def bytes(self, data: bytes) -> bytes:
        return self._bytes_pattern.sub(MASK.encode(), data) if self._bytes_pattern else data
