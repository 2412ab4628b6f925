"""`Settings` is the only place that reads the environment.

Every variable is listed in the README's settings table. Everything below `cli.py` receives
typed values from here. Derived paths (attempt directory, Playwright's report locations) are
computed in `artifacts.py` from these values, never read from the environment a second time.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources import EnvSettingsSource
from pydantic_settings.sources.utils import parse_env_vars

from runner.errors import ConfigError
from runner.secrets import mask_value

KUBERNETES_ARTIFACT_ROOT = Path("/artifacts")
LOCAL_ARTIFACT_ROOT = Path(".verification-artifacts")

# The environment `load_settings` reads: os.environ unless a caller (a test) passes its own.
_ENVIRON: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "verification_runner_environ", default=None
)


def _default_playwright_home() -> Path:
    """The checkout this package runs from when it holds the Playwright side, else the cwd.

    In the image the runner is installed into a virtual environment and PLAYWRIGHT_HOME is set
    to where `npm ci` ran.
    """
    checkout = Path(__file__).resolve().parents[1]
    return checkout if (checkout / "playwright.config.ts").exists() else Path.cwd()


class _EnvSource(EnvSettingsSource):
    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _ENVIRON.get()
        return parse_env_vars(
            os.environ if environ is None else environ,
            self.case_sensitive,
            self.env_ignore_empty,
            self.env_parse_none_str,
        )


class Settings(BaseSettings):
    """Environment variable NAME maps to field `name`. Empty values count as unset."""

    model_config = SettingsConfigDict(env_ignore_empty=True, extra="ignore")

    # Where evidence goes. None here means "decide from the environment" (see below).
    artifact_root: Path = Field(default=None, validate_default=False)  # type: ignore[assignment]
    kubernetes_service_host: str | None = None

    # Identity inputs, most specific first (see identity.py).
    kargo_promotion_id: str | None = None
    analysis_run_uid: str | None = None
    job_name: str | None = None

    # Where the pod runs (downward API) and what Kargo passed as verification args.
    pod_name: str | None = None
    pod_namespace: str | None = None
    node_name: str | None = None
    kargo_project: str | None = None
    kargo_stage: str | None = None
    freight_image: str | None = None
    freight_commit: str | None = None

    # The tests and their target.
    playwright_home: Path = Field(default_factory=_default_playwright_home)
    base_url: str | None = None
    tests_workspace: Path = Field(default_factory=Path.cwd)
    central_tests_dir: str = "apps/backstage/tests/acceptance"
    plugin_tests_glob: str = "apps/backstage/plugins/*/tests/acceptance"
    local_site_dir: Path | None = None
    browser_executable: Path | None = None
    suite: Literal["kargo", "local"] | None = None
    allow_no_tests: bool = False
    flaky_policy: Literal["pass", "warn", "fail"] = "warn"
    playwright_retries: int = Field(default=1, ge=0, le=10)

    # Time limits and duplicates.
    run_deadline_seconds: float = Field(default=1800.0, gt=0)
    kill_grace_seconds: float = Field(default=10.0, ge=0)
    on_duplicate: Literal["refuse", "wait"] = "refuse"

    # Reporting to Kubernetes.
    termination_message_path: Path = Path("/dev/termination-log")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env file and no secrets directory: the environment is the one input.
        return (init_settings, _EnvSource(settings_cls))

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _default_artifact_root(self) -> Settings:
        if self.artifact_root is None:
            in_kubernetes = bool(self.kubernetes_service_host)
            root = KUBERNETES_ARTIFACT_ROOT if in_kubernetes else LOCAL_ARTIFACT_ROOT
            self.artifact_root = root
        self.artifact_root = self.artifact_root.absolute()
        self.tests_workspace = self.tests_workspace.absolute()
        return self

    @property
    def in_kubernetes(self) -> bool:
        return bool(self.kubernetes_service_host)


def child_environment() -> dict[str, str]:
    """The environment handed on to child processes (Node, Playwright, the browser)."""
    return dict(os.environ)


def env_name(field: str) -> str:
    return field.upper()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from `environ` (default: the process environment).

    A bad value raises `ConfigError` whose message has one line per problem: the variable, the
    value it got (masked when secret) and what it accepts.
    """
    token = _ENVIRON.set(environ)
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
    finally:
        _ENVIRON.reset(token)


def _describe(exc: ValidationError) -> str:
    lines = ["invalid settings:"]
    for error in exc.errors():
        name = env_name(".".join(str(part) for part in error["loc"])) or "(settings)"
        got: Any = error.get("input")
        shown = mask_value(name, str(got)) if isinstance(got, str | int | float) else "(unset)"
        lines.append(f"  {name}={shown!r}: {error['msg']}")
    return "\n".join(lines)
