"""What the settings are and where each came from.

Pure functions over `Settings`; nothing here reads `os.environ`. The run prints
`render(in_effect(...))` at its start (`say_in_effect`, with the warnings about variables that
look mistyped: runner/config/mistyped.py) and records the same in `execution-metadata.json`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydantic import BaseModel, SecretStr

from runner.config.settings import Settings
from runner.log.masking import MASK, SecretNames, mask_urls


@dataclass(frozen=True)
class SettingValue:
    name: str
    value: str  # as shown: secrets masked
    source: str  # "environment", "default" or "command line"


def _shown(name: str, value: object, secret: SecretNames) -> str:
    if value is None:
        return "(unset)"
    if isinstance(value, SecretStr):
        return "****"
    if isinstance(value, list):
        text = json.dumps(
            [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        )
    else:
        text = str(value)
    return MASK if secret(name) and text else mask_urls(text)


def in_effect(settings: Settings) -> list[SettingValue]:
    """Every setting, its value (secrets and URL credentials masked, SECRET_ENV_NAMES
    included) and where it came from."""
    values = []
    for field in type(settings).model_fields:
        name = field.upper()
        if name in settings.from_command_line:
            source = "command line"
        elif name in settings.from_environment:
            source = "environment"
        else:
            source = "default"
        shown = _shown(name, getattr(settings, field), settings.secret_names)
        values.append(SettingValue(name, shown, source))
    return values


def render(values: Iterable[SettingValue]) -> str:
    listed = list(values)
    width = max((len(v.name) for v in listed), default=0)
    lines = [f"  {v.name:<{width}}  {v.value}  ({v.source})" for v in listed]
    return "settings in effect:\n" + "\n".join(lines)


def as_metadata(values: Iterable[SettingValue]) -> dict[str, dict[str, str]]:
    return {v.name: {"value": v.value, "source": v.source} for v in values}


def say_in_effect(settings: Settings, say: Callable[[str], None]) -> None:
    """Every setting and where it came from, then the variables that look mistyped."""
    say(render(in_effect(settings)))
    for warning in settings.warnings:
        say(f"WARNING: {warning} (STRICT_SETTINGS=true makes this exit 2)")
