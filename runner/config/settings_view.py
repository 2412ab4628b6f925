"""What the settings are, where each came from, and which variables look like mistakes.

Pure functions over `Settings` and the environment mapping `load_settings` read; nothing here
reads `os.environ`. The run prints `render(in_effect(...))` at its start and records the same in
`execution-metadata.json`; `load_settings` turns `suspicious_variables` into warnings, or into
exit 2 with `STRICT_SETTINGS=true`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

from runner.log.masking import MASK, SecretNames, mask_urls

if TYPE_CHECKING:
    from runner.config.settings import Settings

# Variables only the runner reads: one with these prefixes that is not a setting is a mistake.
# Broader prefixes (NODE_, POD_, JOB_, PLAYWRIGHT_, KUBERNETES_ ...) belong to others too.
RUNNER_PREFIXES = ("READY_", "RETENTION_", "FLAKY_", "SHARD_", "KARGO_", "FREIGHT_")
# Variables the runner hands to Playwright or that Kubernetes sets next to ours: never a typo.
NOT_SETTINGS = frozenset(
    {
        "KUBERNETES_PORT",
        "KUBERNETES_SERVICE_PORT_HTTPS",
        "TEST_RESULTS_DIR",
        "VERIFICATION_STATE_DIR",
    }
)
NEAR = 2  # edits that make a name a near miss of a setting's


@dataclass(frozen=True)
class SettingValue:
    name: str
    value: str  # as shown: secrets masked
    source: str  # "environment", "default" or "command line"


@dataclass(frozen=True)
class Suspicious:
    name: str
    reason: str

    def line(self) -> str:
        return f"{self.name} is not a setting of the runner: {self.reason}"


def env_names(settings_cls: type[Settings]) -> frozenset[str]:
    return frozenset(name.upper() for name in settings_cls.model_fields)


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


def distance(a: str, b: str, *, limit: int = 2) -> int:
    """Levenshtein distance of `a` and `b`, or `limit + 1` as soon as it must exceed `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return min(previous[-1], limit + 1)


def near_miss(name: str, known: Iterable[str]) -> str | None:
    """The setting `name` is one or two edits away from (the nearest, then the first by name),
    or None. Also what `verification-runner lint` reports on a Job's env (checks_runner.py)."""
    upper = name.upper()  # pydantic-settings matches names case-insensitively
    nearest = min(known, key=lambda k: (distance(upper, k, limit=NEAR), k), default=None)
    if nearest is None or nearest == upper or distance(upper, nearest, limit=NEAR) > NEAR:
        return None
    return nearest


def suspicious_variables(environ: Mapping[str, str], known: frozenset[str]) -> list[Suspicious]:
    """Variables that are not settings but look as if they were meant to be: a near miss of a
    setting's name (1-2 edits: FLAKY_POLCY), or an unknown name with one of the runner's own
    prefixes (READY_TIMEOUT)."""
    found = []
    for name in sorted(environ):
        upper = name.upper()  # pydantic-settings matches names case-insensitively
        if upper in known or upper in NOT_SETTINGS or not environ[name]:
            continue
        nearest = near_miss(upper, known)
        if nearest is not None:
            found.append(Suspicious(name, f"did you mean {nearest}?"))
        elif upper.startswith(RUNNER_PREFIXES):
            found.append(
                Suspicious(name, "unknown name with one of the runner's prefixes (see the README)")
            )
    return found


def say_in_effect(settings: Settings, say: Callable[[str], None]) -> None:
    """Every setting and where it came from, then the variables that look mistyped."""
    say(render(in_effect(settings)))
    for warning in settings.warnings:
        say(f"WARNING: {warning} (STRICT_SETTINGS=true makes this exit 2)")
