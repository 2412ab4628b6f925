"""Settings in effect (`settings_view.in_effect`), and variables that look like mistyped settings
(`mistyped.suspicious_variables`)."""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from hypothesis import given

from runner.config.mistyped import distance, env_names, suspicious_variables
from runner.config.settings import Settings, load_settings
from runner.config.settings_view import in_effect, render
from tests.conftest import FakePlaywright, run_runner
from tests.strategies import variable_names

KNOWN = env_names(Settings)


@cache
def _levenshtein(a: str, b: str) -> int:
    """The textbook recursion, as a reference for the bounded table in `mistyped.distance`."""
    if not a or not b:
        return len(a) + len(b)
    return min(
        _levenshtein(a[1:], b) + 1,
        _levenshtein(a, b[1:]) + 1,
        _levenshtein(a[1:], b[1:]) + (a[0] != b[0]),
    )


@given(variable_names, variable_names)
def test_distance_is_levenshtein_up_to_the_limit(a: str, b: str) -> None:
    assert distance(a, b, limit=2) == min(_levenshtein(a, b), 3)
    assert distance(a, b) == distance(b, a)


def test_near_misses_and_runner_prefixes_are_named() -> None:
    environ = {
        "FLAKY_POLCY": "fail",
        "BASE_URI": "http://x",
        "READY_TIMEOUT": "5",
        "PLAYWRIGHT_RETRIES": "2",  # a setting
        "NODE_PATH": "/x",  # Node's, not ours
        "PLAYWRIGHT_BROWSERS_PATH": "/ms-playwright",
        "KUBERNETES_PORT": "tcp://10.0.0.1:443",  # the kubelet's, next to ours
        "FLAKY_POLICYY": "",  # empty counts as unset
    }
    lines = [s.line() for s in suspicious_variables(environ, KNOWN)]
    assert lines == [
        "BASE_URI is not a setting of the runner: did you mean BASE_URL?",
        "FLAKY_POLCY is not a setting of the runner: did you mean FLAKY_POLICY?",
        "READY_TIMEOUT is not a setting of the runner: unknown name with one of the runner's "
        "prefixes (see the README)",
    ]


def test_settings_in_effect_say_where_each_came_from_and_mask_secrets(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken")
    environ = {
        "BASE_URL": "https://user:hunter2@backstage.example",
        "READY_CHECKS": json.dumps(
            [{"url": "/", "headers": [{"header": "X-Api-Key", "value_from_env": "API_KEY"}]}]
        ),
        "API_KEY": "s3cr3t-value",
        "FLAKY_POLICY": "fail",
    }
    settings = load_settings(environ).overridden(kargo_promotion_id="promo-1")
    shown = {v.name: (v.value, v.source) for v in in_effect(settings)}
    assert shown["FLAKY_POLICY"] == ("fail", "environment")
    assert shown["PLAYWRIGHT_RETRIES"] == ("1", "default")
    assert shown["KARGO_PROMOTION_ID"] == ("promo-1", "command line")
    assert shown["BASE_URL"] == ("https://user:****@backstage.example", "environment")
    assert set(shown) == KNOWN
    text = render(in_effect(settings))
    assert "hunter2" not in text and "s3cr3t-value" not in text


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_runner(env, *args)


def test_a_run_lists_its_settings_and_warns_about_a_near_miss(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    env = fake_pw.env(tmp_path / "a", "discovery:3,junit:pass:3", FLAKY_POLCY="fail")
    done = _run(env, "run")
    assert done.returncode == 0, done.stdout[-2000:]
    (attempt,) = (tmp_path / "a").glob("*/attempt-1")
    log = (attempt / "verification.log").read_text()
    assert "settings in effect:" in log
    assert "FLAKY_POLICY" in log and "warn  (default)" in log
    warning = (
        "WARNING: FLAKY_POLCY is not a setting of the runner: did you mean FLAKY_POLICY? "
        "(STRICT_SETTINGS=true makes this exit 2)"
    )
    assert warning in log
    metadata = json.loads((attempt / "execution-metadata.json").read_text())
    assert metadata["settings"]["FLAKY_POLICY"] == {"value": "warn", "source": "default"}
    assert metadata["settings"]["ARTIFACT_ROOT"]["source"] == "environment"
    assert metadata["settings_warnings"] == [
        "FLAKY_POLCY is not a setting of the runner: did you mean FLAKY_POLICY?"
    ]


def test_strict_settings_turn_the_warning_into_exit_2(
    tmp_path: Path, fake_pw: FakePlaywright
) -> None:
    env = fake_pw.env(tmp_path / "a", "junit:pass:1", FLAKY_POLCY="fail", STRICT_SETTINGS="true")
    for command in (["run"], ["identity"], ["list"]):
        done = _run(env, *command)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert "did you mean FLAKY_POLICY?" in done.stderr
    assert not (tmp_path / "a").exists()
    assert not fake_pw.record.exists()


def test_other_commands_warn_on_stderr(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    done = _run(fake_pw.env(tmp_path / "a", "", READY_TIMEOUT="5"), "identity")
    assert done.returncode == 0
    assert "WARNING: READY_TIMEOUT is not a setting of the runner" in done.stderr
