"""Variables that look like mistyped settings: a near miss of a setting's name, or an unknown
name with one of the runner's own prefixes.

Pure functions over names; nothing here reads `os.environ` or knows `Settings`, which imports
this module: `load_settings` turns `suspicious_variables` into warnings, or into exit 2 with
`STRICT_SETTINGS=true`, and `lint` names the near misses in a Job's env.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel

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
class Suspicious:
    name: str
    reason: str

    def line(self) -> str:
        return f"{self.name} is not a setting of the runner: {self.reason}"


def env_names(settings_cls: type[BaseModel]) -> frozenset[str]:
    """The variables a settings class reads: its field names, upper-cased."""
    return frozenset(name.upper() for name in settings_cls.model_fields)


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
    if name in known:
        return None
    upper = name.upper()
    if upper in known:
        return upper  # another case of a setting's name: settings are case-sensitive, as env is
    nearest = min(known, key=lambda k: (distance(upper, k, limit=NEAR), k), default=None)
    if nearest is None or distance(upper, nearest, limit=NEAR) > NEAR:
        return None
    return nearest


def suspicious_variables(environ: Mapping[str, str], known: frozenset[str]) -> list[Suspicious]:
    """Variables that are not settings but look as if they were meant to be: a near miss of a
    setting's name (1-2 edits: FLAKY_POLCY), or an unknown name with one of the runner's own
    prefixes (READY_TIMEOUT)."""
    found = []
    for name in sorted(environ):
        upper = name.upper()
        if name in known or upper in NOT_SETTINGS or not environ[name]:
            continue
        nearest = near_miss(name, known)
        if nearest is not None and nearest == upper:
            # Kubernetes env names are case-sensitive, and so are the runner's: `allow_no_tests`
            # is not ALLOW_NO_TESTS (before: it was read as the setting, and STRICT_SETTINGS
            # did not object).
            found.append(
                Suspicious(name, f"did you mean {nearest}? Settings are case-sensitive: ignored")
            )
        elif nearest is not None:
            found.append(Suspicious(name, f"did you mean {nearest}?"))
        elif upper.startswith(RUNNER_PREFIXES):
            found.append(
                Suspicious(name, "unknown name with one of the runner's prefixes (see the README)")
            )
    return found
