"""Checks on this runner's own container: a misspelt setting is ignored and its default applies,
silently; say so where it is written."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Sequence

from runner.lint.hits import Hit, items, job_metrics
from runner.lint.yamldoc import Doc

IMAGE_NAME = "verification-runner"


@functools.cache
def settings_names() -> frozenset[str]:
    """The environment variables runner.settings reads (field names, upper-cased)."""
    from runner.settings import Settings  # noqa: PLC0415 - pydantic only when a runner is found

    return frozenset(name.upper() for name in Settings.model_fields)


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
                # Chromium, and are none of our business.
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.8)
                if close:
                    yield Hit(
                        "unknown-runner-setting",
                        jm.doc,
                        (*path, "env", index, "name"),
                        f"env {name}: the runner reads no such setting (did you mean"
                        f" {close[0]}?); its default applies",
                    )


CHECKS = (check_runner_settings,)
