"""Checks on this runner's own container: a misspelt setting is ignored and its default applies,
silently; say so where it is written."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence

from runner.lint.hits import FieldPath, Hit, JobMetric, items, job_metrics
from runner.lint.yamldoc import Doc

IMAGE_NAME = "verification-runner"
MAX_SHARDS = 100  # runner.config.settings: shard_count le=100
_NUMBER = re.compile(r"[0-9]{1,4}")  # fullmatch: `$` would pass "3\n"


@functools.cache
def settings_names() -> frozenset[str]:
    """The environment variables runner.config.settings reads (field names, upper-cased)."""
    from runner.config.mistyped import env_names  # noqa: PLC0415
    from runner.config.settings import Settings  # noqa: PLC0415 - pydantic only when a runner is found

    return env_names(Settings)


def check_runner_settings(docs: Sequence[Doc]) -> Iterator[Hit]:
    for jm in job_metrics(docs):
        for path, container in jm.containers():
            if IMAGE_NAME not in str(container.get("image", "")):
                continue
            known = settings_names()
            for index, entry in items(container.get("env")):
                name = str(entry.get("name", "")) if isinstance(entry, dict) else ""
                if not name or name in known:
                    continue
                # Only names close to a setting: HOME, TZ, NODE_OPTIONS ... are for Node and
                # Chromium, and are none of our business. The same near misses as the runner
                # warns about when it starts (runner/config/mistyped.py).
                from runner.config.mistyped import near_miss  # noqa: PLC0415 - with the settings

                close = near_miss(name, known)
                if close:
                    yield Hit(
                        "unknown-runner-setting",
                        jm.doc,
                        (*path, "env", index, "name"),
                        f"env {name}: the runner reads no such setting (did you mean"
                        f" {close}?); its default applies",
                    )


def _runner_env(jm: JobMetric) -> Iterator[tuple[FieldPath, str, str]]:
    """(path of the value, name, plain value) of each env entry of the runner's containers."""
    for path, container in jm.containers():
        if IMAGE_NAME not in str(container.get("image", "")):
            continue
        for index, entry in items(container.get("env")):
            if isinstance(entry, dict) and isinstance(entry.get("value"), str | int):
                yield (*path, "env", index, "value"), str(entry.get("name")), str(entry["value"])


def check_shards(docs: Sequence[Doc]) -> Iterator[Hit]:
    """Every shard 0..N-1 of SHARD_COUNT=N runs in exactly one metric: each metric's Job passes
    on its own, so a shard no metric runs leaves part of the suite untested, and green."""
    by_doc: dict[int, list[tuple[JobMetric, FieldPath, int, int | None]]] = {}
    for jm in job_metrics(docs):
        env = {name: (path, value) for path, name, value in _runner_env(jm)}
        count = env.get("SHARD_COUNT", (None, ""))[1].strip()
        index = env.get("SHARD_INDEX", (None, ""))[1].strip()
        # The runner refuses a count above 100 itself (exit 2): nothing to add here.
        if _NUMBER.fullmatch(count) and 1 < int(count) <= MAX_SHARDS:
            shard = int(index) if _NUMBER.fullmatch(index) else None
            by_doc.setdefault(id(jm.doc), []).append((jm, env["SHARD_COUNT"][0], int(count), shard))
    for metrics in by_doc.values():
        first, path, size, _ = metrics[0]
        seen: dict[int, list[str]] = {}
        for jm, _path, other, shard in metrics:
            if other != size:
                yield Hit(
                    "shard-gap",
                    jm.doc,
                    _path,
                    f"metric '{jm.name}': SHARD_COUNT {other}, but metric '{first.name}' says "
                    f"{size}: every shard metric must carry the same count",
                )
            seen.setdefault(-1 if shard is None else shard, []).append(jm.name)
        missing = [str(i) for i in range(size) if i not in seen]
        doubled = [f"{i} ({', '.join(names)})" for i, names in seen.items() if len(names) > 1]
        if missing or doubled:
            yield Hit(
                "shard-gap",
                first.doc,
                path,
                f"SHARD_COUNT {size}, but "
                + "; ".join(
                    [f"no metric runs shard {', '.join(missing)}"] * bool(missing)
                    + [f"shard {', '.join(doubled)} runs in more than one metric"] * bool(doubled)
                )
                + ": the verification passes without those tests",
            )


CHECKS = (check_runner_settings, check_shards)
