"""The schema of READY_CHECKS, the readiness gate's checks: a JSON list that `Settings` decodes
(`with_header_values`: every header's `value_from_env` looked up in the one environment the
settings are read from) and validates into `ReadyCheck`s.

A check has two shapes by design: what was configured (`ReadyCheck`, shown as given in the
settings in effect) and what is probed (`probe.Check`: the URL resolved against BASE_URL, the
statuses expanded, READY_INSECURE_TLS and READY_CA_FILE applied), made from it in one place,
`readiness.checks_from_settings`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from runner.contract import jsontext
from runner.log.masking import is_secret_name

HOUR = 3600.0  # the longest timeout a check may have, as for the settings' own bounds


def with_header_values(raw: str, environ: Mapping[str, str]) -> object:
    """READY_CHECKS decoded, every header's `value_from_env` looked up in `environ` (and any
    `env_value` the JSON itself carried replaced); `raw` when it is not a non-empty JSON list,
    for Settings to say why."""
    try:
        checks = jsontext.loads(raw)
    except ValueError:
        return raw
    if not isinstance(checks, list) or not checks:
        return raw
    for check in checks:
        headers = check.get("headers") if isinstance(check, dict) else None
        for header in headers if isinstance(headers, list) else ():
            if isinstance(header, dict):
                name = header.get("value_from_env")
                header["env_value"] = environ.get(name) if isinstance(name, str) else None
    return checks


_STATUS_CLASS = re.compile(r"[1-5]xx")  # fullmatch: `$` would pass "2xx\n"


class ReadyHeader(BaseModel):
    """An extra request header. A secret comes from a variable or a file and is never shown."""

    model_config = ConfigDict(extra="forbid")

    header: str = Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
    value: SecretStr | None = None
    value_from_env: str | None = None
    value_from_file: Path | None = None
    prefix: str = ""  # e.g. "Bearer " in front of a token file's content
    # The variable's value, filled in by Settings from its environment (never from the JSON).
    env_value: SecretStr | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="after")
    def _one_source(self) -> ReadyHeader:
        given = [v for v in (self.value, self.value_from_env, self.value_from_file) if v]
        if len(given) != 1:
            raise ValueError(f"{self.header}: give one of value, value_from_env, value_from_file")
        # Header names use dashes where variable names use underscores (X-Api-Key).
        if self.value is not None and is_secret_name(self.header.replace("-", "_")):
            raise ValueError(
                f"{self.header} looks secret: use value_from_env or value_from_file, not value"
            )
        if self.value_from_env and not self.env_value:  # empty counts as unset, as everywhere
            raise ValueError(f"{self.header}: variable {self.value_from_env} is unset")
        if self.value_from_file:
            try:  # read again at every probe (a rotated token); here only to fail early
                self.value_from_file.read_bytes()
            except OSError as exc:
                raise ValueError(
                    f"{self.header}: cannot read {self.value_from_file}: {exc}"
                ) from exc
        return self

    @property
    def secret(self) -> SecretStr | None:
        """The literal value or the variable's; None when it is read from a file."""
        return self.value or self.env_value


class ReadyCheck(BaseModel):
    """One readiness check: an HTTP(S) GET that must answer as told."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    url: str  # absolute, or a path ("/healthcheck") under BASE_URL
    status: list[int | str] = Field(default=["2xx"], min_length=1)
    body_contains: str | None = None
    body_regex: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=HOUR)
    max_redirects: int = Field(default=5, ge=0, le=20)
    insecure: bool = False  # accept any TLS certificate (a test server's self-signed one)
    headers: list[ReadyHeader] = []

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://", "/")):
            raise ValueError("expected an http:// or https:// URL, or a path under BASE_URL")
        return value

    @field_validator("status")
    @classmethod
    def _statuses(cls, value: list[int | str]) -> list[int | str]:
        for item in value:
            ok = 100 <= item <= 599 if isinstance(item, int) else _STATUS_CLASS.fullmatch(item)
            if not ok:
                raise ValueError(f"{item!r}: expected a status code (100-599) or 1xx..5xx")
        return value

    @field_validator("body_regex")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value
