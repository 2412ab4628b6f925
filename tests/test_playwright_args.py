"""Which Playwright arguments `run` refuses (runner/playwright.py, check_arguments); the fault
matrix drives the same refusals through the real CLI."""

from __future__ import annotations

import pytest

from runner.contract.errors import ConfigError
from runner.playwright import check_arguments


@pytest.mark.parametrize(
    "args",
    [
        ["--reporter", "dot"],
        ["--reporter=dot"],
        ["-c", "x.ts"],
        ["-cx.ts"],
        ["--config=x.ts"],
        ["--list"],
        ["-h"],
        ["-xh"],
        ["--help"],
        ["--shard=1/2"],
        ["--last-failed"],
        ["--only-changed"],
        ["--output", "/tmp/x"],
        ["--ui"],
        ["--debug"],
        ["--grep", "x", "--reporter=line"],
    ],
)
def test_refused_in_every_run(args: list[str]) -> None:
    for kargo in (True, False):
        with pytest.raises(ConfigError, match="is not allowed"):
            check_arguments(args, kargo=kargo)


@pytest.mark.parametrize(
    "args",
    [["-u"], ["-xu"], ["-uall"], ["--update-snapshots"], ["--update-snapshots=all"],
     ["--ignore-snapshots"], ["--run-agents=all"]],
)  # fmt: skip
def test_refused_in_kargo_runs_only(args: list[str]) -> None:
    with pytest.raises(ConfigError, match="in a Kargo run"):
        check_arguments(args, kargo=True)
    check_arguments(args, kargo=False)


@pytest.mark.parametrize(
    "args",
    [
        ["--grep", "should have Events link"],
        ["-g", "--list"],  # the value of --grep, not an option
        ["--grep-invert=@slow", "--project", "central", "plugin:catalog"],
        ["--add-reporter=dot", "--workers=2", "-x", "--retries", "2"],
        ["home.spec.ts:12"],
        ["--", "--reporter"],  # after --, a test filter
        ["-j2"],
    ],
)
def test_allowed(args: list[str]) -> None:
    check_arguments(args, kargo=True)
