from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import hypothesis
import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from runner import playwright
from runner.cli import main
from runner.config.derived import identity_of
from runner.config.settings import KUBERNETES_ARTIFACT_ROOT, Settings, _describe, load_settings
from runner.contract.errors import ConfigError
from runner.volume.artifacts import RunLayout
from tests import strategies as s
from tests.conftest import runner_command


def test_artifact_root_defaults_by_environment() -> None:
    assert load_settings({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}).artifact_root == (
        KUBERNETES_ARTIFACT_ROOT
    )
    assert load_settings({}).artifact_root == Path.cwd() / ".verification-artifacts"
    assert load_settings({"ARTIFACT_ROOT": "/x"}).artifact_root == Path("/x")


def test_empty_values_count_as_unset() -> None:
    # Kargo passes an empty string for an arg whose expression yields nothing.
    settings = load_settings({"BASE_URL": "", "KARGO_STAGE": "", "FLAKY_POLICY": ""})
    assert settings.base_url is None and settings.kargo_stage is None
    assert settings.flaky_policy == "warn"


def test_process_environment_is_not_read_when_a_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KARGO_STAGE", "from-os")
    assert load_settings({}).kargo_stage is None
    assert load_settings().kargo_stage == "from-os"


def test_every_bad_value_is_one_line_naming_variable_value_and_rule() -> None:
    with pytest.raises(ConfigError) as bad:
        load_settings(
            {
                "ON_DUPLICATE": "maybe",
                "RUN_DEADLINE_SECONDS": "-1",
                "BASE_URL": "example.org",
                "PLAYWRIGHT_RETRIES": "many",
            }
        )
    lines = str(bad.value).splitlines()[1:]
    assert len(lines) == 4
    assert any(
        line.strip().startswith("ON_DUPLICATE='maybe'") and "'refuse' or 'wait'" in line
        for line in lines
    )
    assert any("RUN_DEADLINE_SECONDS='-1'" in line and "greater than 0" in line for line in lines)
    assert any("BASE_URL='example.org'" in line and "http" in line for line in lines)


def test_bad_settings_exit_2_before_anything_runs(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["identity"], env={"ARTIFACT_ROOT": str(tmp_path / "a"), "ON_DUPLICATE": "x"}
    )
    assert result.exit_code == 2
    assert "ON_DUPLICATE='x'" in result.output
    assert not (tmp_path / "a").exists()


def test_secret_values_are_masked_in_errors() -> None:
    # A field whose variable name looks secret never shows its value, even when invalid.
    class WithToken(Settings):
        api_token: int = 0

    with pytest.raises(ValidationError) as bad:
        WithToken(api_token="hunter2-secret")  # noqa: S106  # type: ignore[arg-type]
    text = _describe(bad.value)
    assert "hunter2" not in text and "API_TOKEN='****'" in text


@hypothesis.settings(
    deadline=None
)  # load_settings per example: 200 ms is too little on a loaded machine
@given(
    # A root of plain names: "/a/.." is a root too, but not a normal path (normpath below).
    root=st.from_regex(r"/[a-z]{1,8}(/[a-z0-9._-]{1,8}){0,3}", fullmatch=True).filter(
        lambda root: not {".", ".."} & set(root.split("/"))
    ),
    value=st.one_of(s.kargo_names, s.job_names, s.hostile_strings),
    attempt=st.integers(1, 500),
)
def test_every_artifact_path_derives_from_settings(root: str, value: str, attempt: int) -> None:
    # Bytes that are not UTF-8 (surrogate escapes) are refused as a setting (exit 2).
    assume(not any("\udc80" <= c <= "\udcff" for c in value))
    settings = load_settings({"ARTIFACT_ROOT": root, "KARGO_PROMOTION_ID": value})
    run = RunLayout(settings.artifact_root, identity_of(settings).run_name)
    layout = run.attempt(attempt)
    paths = [
        run.dir,
        run.marker,
        run.ledger,
        run.active_lock,
        run.active_holder,
        run.ledger_lock,
        layout.dir,
        layout.log,
        layout.metadata,
        layout.summary,
        layout.junit,
        layout.json_results,
        layout.html_report,
        layout.test_results,
    ]
    paths += [
        Path(v) for k, v in playwright.report_env(layout).items() if k != "PLAYWRIGHT_HTML_OPEN"
    ]
    for path in paths:
        relative = path.relative_to(settings.artifact_root)
        assert relative.parts[0] == run.run_name and ".." not in relative.parts
        assert os.path.normpath(path) == str(path)


def test_written_evidence_is_readable_by_others(tmp_path: Path) -> None:
    # The artifact server and the people reading reports may run as another uid.
    from runner.volume.artifacts import atomic_write_json  # noqa: PLC0415

    target = tmp_path / "summary.json"
    atomic_write_json(target, {"a": 1})
    assert target.stat().st_mode & 0o777 == 0o644


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("## Settings") :]
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in table]
    assert not missing, f"add these to the README's settings table: {missing}"


def test_the_exit_code_table_is_the_contract() -> None:
    import re  # noqa: PLC0415

    from runner.contract.exitcodes import ExitCode  # noqa: PLC0415

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme[readme.index("## Exit codes") : readme.index("## Settings")]
    documented = {int(n) for n in re.findall(r"^\| (\d+) \|", table, flags=re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


FLOAT_SETTINGS = sorted(
    name.upper() for name, field in Settings.model_fields.items() if field.annotation is float
)


@pytest.mark.parametrize("name", FLOAT_SETTINGS)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e309", "Infinity", "1e300"])
def test_numeric_settings_are_finite_and_bounded(name: str, value: str, tmp_path: Path) -> None:
    # An infinite deadline or grace never ends; an infinite age overflows a timedelta.
    root = tmp_path / "a"
    result = CliRunner().invoke(main, ["identity"], env={"ARTIFACT_ROOT": str(root), name: value})
    assert result.exit_code == 2, result.output
    (line,) = [x for x in result.output.splitlines() if name in x]
    assert line.strip().startswith(f"{name}={value!r}:")
    assert "Traceback" not in result.output and not root.exists()


@pytest.mark.parametrize("timeout", ["Infinity", "NaN", "1e309", "86400"])
def test_ready_check_timeouts_are_finite_and_bounded(timeout: str) -> None:
    checks = f'[{{"url": "http://127.0.0.1:1/", "timeout_seconds": {timeout}}}]'
    result = CliRunner().invoke(main, ["wait"], env={"READY_CHECKS": checks})
    assert result.exit_code == 2, result.output
    assert "READY_CHECKS.0.TIMEOUT_SECONDS" in result.output


def test_the_api_server_port_is_a_port() -> None:
    result = CliRunner().invoke(main, ["identity"], env={"KUBERNETES_SERVICE_PORT": "99999999"})
    assert result.exit_code == 2 and "KUBERNETES_SERVICE_PORT='99999999'" in result.output


def test_list_settings_are_read_by_one_parser() -> None:
    """Issue 21: the trees check and the sparse checkout take the same items."""
    settings = load_settings(
        {
            "PLUGIN_TESTS_GLOB": " plugins/*/e2e-tests ,, plugins/*/tests/acceptance,",
            "TEST_MATCH": "**/*.e2e.ts , ",
            "TESTS_SPARSE_PATHS": "packages/helpers , ,docs",
        }
    )
    assert settings.plugin_globs == ("plugins/*/e2e-tests", "plugins/*/tests/acceptance")
    assert settings.test_globs == ("**/*.e2e.ts",)
    assert settings.tests_sparse_paths == ("packages/helpers", "docs")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TESTS_REVISION", "v1\n"),  # `$` matched before the newline: a branch "v1\n"
        ("TESTS_REVISION", "a" * 39 + "\n"),  # 40 characters: classified as a full SHA
        ("TESTS_REVISION", "a" * 40 + "\n"),
        ("READY_CHECKS", '[{"url": "http://127.0.0.1:1/", "status": ["2xx\\n"]}]'),
    ],
)
def test_a_final_newline_does_not_pass_a_pattern(name: str, value: str, tmp_path: Path) -> None:
    """Issue 22, item 11: every regex that validates a setting matches the whole value."""
    root = tmp_path / "a"
    env = {"ARTIFACT_ROOT": str(root), "TESTS_REPO": "https://git.example.com/t.git", name: value}
    result = CliRunner().invoke(main, ["identity"], env=env)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not root.exists()
    assert any(line.strip().startswith(name) for line in result.output.splitlines())


@pytest.mark.parametrize("depth", [50_000, 2_000])
def test_deeply_nested_ready_checks_are_one_line_exit_2(depth: int, tmp_path: Path) -> None:
    """Issue 22, item 8: Python's JSON decoder recursed into a RecursionError, which escaped
    as an internal error (exit 3, a traceback). Through the real CLI, as the pod runs it."""
    root = tmp_path / "a"
    env = {"PATH": os.environ["PATH"], "ARTIFACT_ROOT": str(root)}
    env["READY_CHECKS"] = "[" * depth + "]" * depth
    done = subprocess.run(
        [sys.executable, "-m", "runner", "run"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and not root.exists()
    (line,) = [x for x in done.stderr.splitlines() if "READY_CHECKS" in x]
    assert line.endswith("not valid JSON: nested too deeply (arrays or objects within each other)")
    assert f"... ({2 * depth} characters)" in line and len(line) < 400


def test_settings_are_case_sensitive_and_another_case_is_a_near_miss() -> None:
    """Kubernetes env names are case-sensitive, and so are the runner's: before, an
    `allow_no_tests=true` made an empty suite pass and STRICT_SETTINGS did not object."""
    settings = load_settings({"allow_no_tests": "true", "Base_Url": "http://wrong.example"})
    assert settings.allow_no_tests is False and settings.base_url is None
    assert settings.warnings == (
        "Base_Url is not a setting of the runner: did you mean BASE_URL? Settings are "
        "case-sensitive: ignored",
        "allow_no_tests is not a setting of the runner: did you mean ALLOW_NO_TESTS? Settings "
        "are case-sensitive: ignored",
    )
    both = load_settings({"BASE_URL": "http://right.example", "base_url": "http://wrong.example"})
    assert both.base_url == "http://right.example"
    with pytest.raises(ConfigError, match="did you mean ALLOW_NO_TESTS"):
        load_settings({"allow_no_tests": "true", "STRICT_SETTINGS": "true"})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "HTTPS://Nexus.Example:443/repository/npm-group",
            "https://nexus.example/repository/npm-group/",
        ),
        ("http://Mirror.Example:8081//", "http://mirror.example:8081/"),
        ("http://[::1]:80/npm/", "http://[::1]/npm/"),
    ],
)
def test_the_registry_is_spelled_as_npm_looks_its_credentials_up(value: str, expected: str) -> None:
    """npm and pnpm find a registry's credentials in `.npmrc` under `//host[:port]/path/` as the
    WHATWG URL spells it (nerf-dart: host in lower case, no default port): spelled otherwise,
    the key in the runner's `.npmrc` is never found and the registry refuses the install."""
    assert load_settings({"PACKAGE_REGISTRY": value}).package_registry == expected


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("PACKAGE_REGISTRY", "ftp://mirror.example", "http:// or https:// URL"),
        (
            "PACKAGE_REGISTRY",
            "https://ci:hunter2@mirror.example/npm",
            "PACKAGE_REGISTRY_CREDENTIALS_DIR",
        ),
        ("PACKAGE_REGISTRY", "https://mirror.example:84430/npm", "port from 1 to 65535"),
        ("PACKAGE_REGISTRY", "https://mirror.example/npm?group=all", "?query or #fragment"),
        ("PACKAGE_MANAGERS_DIR", "FILE", "expected a directory"),
        ("PACKAGE_CACHE_DIR", "FILE", "expected a directory"),
        ("PACKAGE_REGISTRY_CREDENTIALS_DIR", "FILE", "where the registry's Secret is mounted"),
    ],
)
def test_bad_install_settings_are_one_line_exit_2_through_the_cli(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    file = tmp_path / "a-file"
    file.write_text("")
    env = {"PATH": os.environ["PATH"], "ARTIFACT_ROOT": str(tmp_path / "a")}
    env[name] = str(file) if value == "FILE" else value
    done = subprocess.run(
        [*runner_command(), "run"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 2, done.stdout + done.stderr
    (line,) = [x for x in (done.stdout + done.stderr).splitlines() if f"{name}=" in x]
    assert says in line and "hunter2" not in done.stdout + done.stderr
