"""`Settings` is the only place that reads the environment (`load_settings`, through one
settings source, `EnvironSource`).

Every variable is listed in the README's settings table. Everything below `cli.py` receives
typed values from here, never reading the environment a second time: READY_CHECKS is
validated by its schema (`readychecks.ReadyCheck`), variables that look mistyped are found by
`mistyped.suspicious_variables`, and what the settings describe for the layers below (the run's
identity, the retention policy, the masker of secrets) is made by `derived`. Paths are
computed from these values by `volume.artifacts.RunLayout`, Playwright's report locations by
`playwright.report_env`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from runner.config.commalist import comma_list
from runner.config.mistyped import env_names, suspicious_variables
from runner.config.readychecks import ReadyCheck, with_header_values
from runner.contract import jsontext
from runner.contract.errors import ConfigError
from runner.deployed import images, versions
from runner.deployed.workloads import parse_workload
from runner.fetching.revisions import Revision, check_relative_path, check_repo_url, redact_userinfo
from runner.log.masking import SecretNames, mask_value

KUBERNETES_ARTIFACT_ROOT = Path("/artifacts")
# Upper bounds of the numeric settings: far beyond any sensible value, well inside what a
# timer (threading.TIMEOUT_MAX), a timedelta and a float's exact integers can hold.
HOUR = 3600.0
WEEK = 7 * 86400.0
CENTURY_DAYS = 36500.0
EXABYTE_MB = 1e12
LOCAL_ARTIFACT_ROOT = Path(".verification-artifacts")
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_IMAGE_DIGEST = re.compile(r"sha256:[0-9a-fA-F]{64}|sha512:[0-9a-fA-F]{128}")


def _default_playwright_home() -> Path:
    """The checkout this package runs from when it holds the Playwright side, else the cwd.

    In the image the runner is installed into a virtual environment and PLAYWRIGHT_HOME is set
    to where `npm ci` ran.
    """
    checkout = Path(__file__).resolve().parents[2]
    return checkout if (checkout / "playwright.config.ts").exists() else Path.cwd()


class EnvironSource(PydanticBaseSettingsSource):
    """An environment as a settings source: the process's, or the mapping a caller (a test)
    hands to `load_settings`, and never both.

    A custom source through pydantic-settings' public interface: variable NAME sets field
    `name` (case-sensitive, as Kubernetes env names are: `allow_no_tests` sets nothing and is
    warned as a near miss), an empty value counts as unset, and complex values are decoded
    as the built-in environment source does (a `NoDecode` field parses its own string). A
    readiness header's `value_from_env` is looked up here too: same environment, one reader.
    """

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._environ = environ
        self._set = {name: value for name, value in environ.items() if value}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self._set.get(field_name.upper()), field_name, self.field_is_complex(field)

    def prepare_field_value(
        self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool
    ) -> Any:
        if field_name == "ready_checks":
            return with_header_values(value, self._environ)
        return super().prepare_field_value(field_name, field, value, value_is_complex)

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, key, is_complex = self.get_field_value(field, name)
            if value is not None:
                values[key] = self.prepare_field_value(name, field, value, is_complex)
        return values


_SURROGATE = re.compile("[\udc80-\udcff]")
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_*?]+")


# The image annotation the Stage passes as tests-revision and commit (kustomize/kargo/stages.yaml).
REVISION_ANNOTATION = "org.opencontainers.image.revision"


def _no_revision(data: Mapping[str, object]) -> str:
    """Why TESTS_REPO has no revision. In a Kargo run both come from the Freight's image
    annotations, and an empty one means the image was built without it where Kargo reads it
    (docs/platform-facts.md, "Kargo verification"): say which annotation and how to build it."""
    plain = "unset, and so is FREIGHT_COMMIT: TESTS_REPO needs the commit, tag or branch to fetch"
    if not any(data.get(name) for name in ("kargo_promotion_id", "analysis_run_uid", "job_name")):
        return plain
    return (
        f"unset, and so is FREIGHT_COMMIT: the Freight's image carries no {REVISION_ANNOTATION} "
        "annotation where Kargo reads it (its index or manifest annotations, never labels); "
        f'build it with --annotation "index,manifest:{REVISION_ANNOTATION}=<commit>"'
    )


# READY_CHECKS=backstage: the backend's readiness endpoint, which answers 503 "Backend has not
# started yet" until every plugin is up and then {"status":"ok"}; `/healthcheck` serves the
# app's index.html with 200 in Backstage 1.55, and BASE_URL's page answers while the backend
# still starts (docs/platform-facts.md). A backend with NODE_ENV=development (`yarn start`,
# `yarn dev`) pretty-prints its JSON (`{\n  "status": "ok"\n}`), so the body is matched as JSON
# text, spaces allowed, not as one string.
READY_PRESETS: dict[str, list[dict[str, object]]] = {
    "backstage": [
        {
            "url": "/.backstage/health/v1/readiness",
            "status": [200],
            "body_regex": r'"status"\s*:\s*"ok"',
        }
    ]
}


class Settings(BaseSettings):
    """Environment variable NAME maps to field `name`. Empty values count as unset."""

    # inf, nan and 1e309 (which parses as inf) are refused: every number here ends up in a
    # deadline, a sleep or a date, and an infinite one never ends (or overflows a timedelta).
    model_config = SettingsConfigDict(
        env_ignore_empty=True, extra="ignore", allow_inf_nan=False, case_sensitive=True
    )

    # Where evidence goes. None here means "decide from the environment" (see below).
    artifact_root: Path = Field(default=None, validate_default=False)  # type: ignore[assignment]
    kubernetes_service_host: str | None = None
    kubernetes_service_port: int = Field(default=443, ge=1, le=65535)
    # Promotion lookup through the API (kube.py): Job -> AnalysisRun -> Kargo promotion.
    lookup_promotion: bool = True
    service_account_dir: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount")

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
    plugin_tests_glob: str = "apps/backstage/plugins/*/tests/acceptance"  # comma-separated
    test_match: str | None = None  # comma-separated globs; None: *.spec.* and *.test.*
    workspace_config: str | None = None  # None: verification.config.*, else playwright.config.*
    local_site_dir: str | None = None  # relative to the workspace; None: verification-site
    browser_executable: Path | None = None
    suite: Literal["kargo", "local"] | None = None
    allow_no_tests: bool = False
    # Trees that may execute no test (paths relative to the workspace or project names, `*`
    # allowed): every other configured tree must run one (runner/judging/pertree.py).
    allow_empty_trees: Annotated[tuple[str, ...], NoDecode] = ()
    flaky_policy: Literal["pass", "warn", "fail"] = "warn"
    playwright_retries: int = Field(default=1, ge=0, le=10)

    # Fetching the tests from Git (runner/fetching/). Unset TESTS_REPO: the workspace is a
    # mounted directory (TESTS_WORKSPACE) or baked into a derived image.
    tests_repo: str | None = None
    tests_revision: str | None = Field(default=None, validate_default=True)
    tests_subdir: str = "."
    tests_sparse_paths: Annotated[tuple[str, ...], NoDecode] = ()
    git_credentials_dir: Path | None = None
    tests_install: Literal["auto", "never"] = "auto"
    # The fetched checkout, once the verdict is out: deleted, or left to the pod's emptyDir
    # (which the kubelet removes with the pod, after the Job has completed: deleting an
    # installed Backstage app's 255,000 files took minutes the Job, and Kargo, waited for).
    tests_cleanup: Literal["delete", "leave"] = "delete"
    # Installing the fetched workspace's dependencies (runner/fetching/install.py).
    package_managers_dir: Path = Path("/opt/vr-package-managers")
    package_registry: str | None = None
    package_registry_credentials_dir: Path | None = None
    package_cache_dir: Path | None = None  # None: <TMPDIR>/vr-package-cache
    tmpdir: Path = Path("/tmp")  # noqa: S108 - the pod's emptyDir; fetched tests go here

    # Sharding (README "Sharding"): SHARD_COUNT pods run one run, each with its SHARD_INDEX
    # (0-based; one AnalysisTemplate metric per shard sets it). 1 = unsharded. The merging
    # shard gives up on a shard that has not started SHARD_START_WAIT_SECONDS after it did.
    shard_count: int = Field(default=1, ge=1, le=100)
    shard_index: int | None = Field(default=None, ge=0, validate_default=True)
    shard_start_wait_seconds: float = Field(default=600.0, ge=0, le=WEEK)

    # Time limits and duplicates.
    run_deadline_seconds: float = Field(default=1800.0, gt=0, le=WEEK)
    kill_grace_seconds: float = Field(default=10.0, ge=0, le=HOUR)
    # The pod's terminationGracePeriodSeconds: after SIGTERM, what a shard may still do (write
    # its evidence, merge what exists) must end within it (runner/sharding.py).
    termination_grace_seconds: float = Field(default=60.0, ge=0, le=HOUR)
    on_duplicate: Literal["refuse", "wait"] = "refuse"

    # Artifact retention after every run and in `cleanup` (policy in runner/volume/retention.py).
    retention_enabled: bool = True
    retention_keep_runs: int = Field(default=20, ge=0)
    retention_max_age_days: float = Field(default=14.0, ge=0, le=CENTURY_DAYS)
    retention_max_total_mb: float = Field(default=0.0, ge=0, le=EXABYTE_MB)  # 0: no size cap

    # Unknown variables with the runner's prefixes and near misses of its names are exit 2
    # instead of a warning (runner/config/mistyped.py).
    strict_settings: bool = False

    # Reporting to Kubernetes.
    termination_message_path: Path = Path("/dev/termination-log")

    # The readiness gate (runner/readiness.py): what must answer before the tests run.
    ready_skip: bool = False
    ready_checks: Annotated[list[ReadyCheck] | None, NoDecode] = None  # None: BASE_URL
    ready_deadline_seconds: float = Field(default=300.0, gt=0, le=WEEK)
    ready_backoff_initial_seconds: float = Field(default=0.5, gt=0, le=HOUR)
    ready_backoff_max_seconds: float = Field(default=10.0, gt=0, le=HOUR)
    ready_insecure_tls: bool = False
    ready_ca_file: Path | None = None

    # Proving the target serves the Freight (runner/deployed/, README "Prove the deployment"):
    # the Kubernetes way (a workload and the Freight's image) and/or the HTTP way (a URL under
    # BASE_URL that says its version). Checked in the readiness gate; unset: "not proven".
    prove_workload: str | None = None  # deployment/NAME, statefulset/NAME, rollout/NAME
    prove_namespace: str | None = None  # None: POD_NAMESPACE
    prove_image_digest: str | None = None  # sha256:...; compared with what the pods run
    prove_image: str | None = Field(default=None, validate_default=True)  # repo:tag[@digest]
    prove_version_url: str | None = None  # /path under BASE_URL
    prove_version_from: str = "body"  # json:/pointer, header:Name, regex:(one group), body
    prove_version: str | None = Field(default=None, validate_default=True)

    # Which variables are secret (runner/log/masking.py): comma-separated names or `*`/`?` patterns.
    secret_env_names: Annotated[tuple[str, ...], NoDecode] = ()
    not_secret_env_names: Annotated[tuple[str, ...], NoDecode] = ()

    @field_validator("*", mode="before")
    @classmethod
    def _utf8(cls, value: object) -> object:
        # Bytes that are not UTF-8 reach Python as surrogate escapes: they cannot be written
        # to the metadata or summary (JSON is UTF-8), so they are refused here, in one line.
        if isinstance(value, str) and _SURROGATE.search(value):
            raise ValueError("holds bytes that are not UTF-8")
        return value

    @field_validator("secret_env_names", "not_secret_env_names", mode="before")
    @classmethod
    def _name_patterns(cls, value: object) -> object:
        if isinstance(value, str):
            names = comma_list(value)
            bad = [n for n in names if not _NAME_PATTERN.fullmatch(n)]
            if bad:
                raise ValueError(
                    f"{', '.join(bad)}: expected variable names or patterns of A-Z, 0-9, _, * "
                    "and ?, separated by commas"
                )
            return names
        return value

    @property
    def secret_names(self) -> SecretNames:
        return SecretNames(extra=self.secret_env_names, excluded=self.not_secret_env_names)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # No .env file and no secrets directory: load_settings reads the one environment
        # through EnvironSource and hands its values in.
        return (init_settings,)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/") if value else value

    @field_validator("tests_repo")
    @classmethod
    def _repo_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_repo_url(value)

    @field_validator("tests_revision")
    @classmethod
    def _revision(cls, value: str | None, info: ValidationInfo) -> str | None:
        source = "TESTS_REVISION"
        if value is None:
            if not info.data.get("tests_repo"):
                return None
            value, source = info.data.get("freight_commit"), "FREIGHT_COMMIT"
            if not value:
                raise ValueError(_no_revision(info.data))
        try:
            Revision.parse(value)
        except ValueError as exc:
            if source == "TESTS_REVISION":
                raise
            raise ValueError(f"{source}={value!r}: {exc}") from exc
        return value

    @field_validator("tests_subdir")
    @classmethod
    def _subdir(cls, value: str) -> str:
        return check_relative_path(value)

    @field_validator("tests_sparse_paths", mode="before")
    @classmethod
    def _sparse_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(check_relative_path(item, allow_glob=True) for item in comma_list(value))
        return value

    @field_validator("allow_empty_trees", mode="before")
    @classmethod
    def _tree_patterns(cls, value: object) -> object:
        if isinstance(value, str):
            items = comma_list(value)
            if not items:
                raise ValueError("expected tree paths or project names, separated by commas")
            return items
        return value

    @field_validator("package_registry")
    @classmethod
    def _registry_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected the registry's http:// or https:// URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "holds credentials: put them in the Secret mounted at "
                "PACKAGE_REGISTRY_CREDENTIALS_DIR (token, or username and password)"
            )
        if parts.query or parts.fragment or value.endswith(("?", "#")):
            raise ValueError("has a ?query or #fragment: package managers add paths to it")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("expected a port from 1 to 65535 after the host") from None
        if port == 0:
            raise ValueError("expected a port from 1 to 65535 after the host")
        # npm and pnpm look credentials up under the registry as the WHATWG URL spells it
        # (nerf-dart: host in lower case, no default port); `.npmrc`'s key must be that too.
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        if port is not None and port != {"http": 80, "https": 443}[parts.scheme]:
            host += f":{port}"
        return urlunsplit((parts.scheme, host, parts.path.rstrip("/") + "/", "", ""))

    @field_validator("package_managers_dir", "package_cache_dir")
    @classmethod
    def _directory(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("expected a directory")
        return value.absolute() if value is not None else None

    @field_validator("package_registry_credentials_dir")
    @classmethod
    def _registry_credentials(cls, value: Path | None) -> Path | None:
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("expected the directory where the registry's Secret is mounted")
        return value

    @property
    def package_cache(self) -> Path:
        """PACKAGE_CACHE_DIR, or one under TMPDIR (the pod's emptyDir) shared by the runs of
        one machine."""
        return self.package_cache_dir or self.tmpdir.absolute() / "vr-package-cache"

    @field_validator("git_credentials_dir")
    @classmethod
    def _credentials_dir(cls, value: Path | None) -> Path | None:
        # Absent is fine (an optional Secret that does not exist: anonymous); a file is not.
        if value is not None and value.exists() and not value.is_dir():
            raise ValueError("expected the directory where the git credential Secret is mounted")
        return value

    @property
    def revision_to_fetch(self) -> tuple[Revision, str] | None:
        """The revision to fetch and the variable it came from; None without TESTS_REPO."""
        if not self.tests_repo or not self.tests_revision:
            return None
        explicit = "tests_revision" in self.model_fields_set
        return Revision.parse(self.tests_revision), (
            "TESTS_REVISION" if explicit else "FREIGHT_COMMIT"
        )

    @field_validator("plugin_tests_glob")
    @classmethod
    def _plugin_globs(cls, value: str) -> str:
        globs = comma_list(value)
        if not globs:
            raise ValueError("expected comma-separated globs, e.g. plugins/*/e2e-tests")
        for glob in globs:
            parts = glob.split("/")
            if "*" not in parts or sum("*" in part for part in parts) != 1:
                raise ValueError(
                    f"{glob!r}: each comma-separated glob needs exactly one '*' as a whole "
                    "path segment (the plugin's name), e.g. plugins/*/e2e-tests"
                )
        return ",".join(globs)

    @field_validator("local_site_dir")
    @classmethod
    def _site_in_workspace(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("/"):
            raise ValueError("expected a directory relative to the workspace")
        return None if value is None else check_relative_path(value)

    @field_validator("test_match")
    @classmethod
    def _test_globs(cls, value: str | None) -> str | None:
        if value is not None and not comma_list(value):
            raise ValueError("expected comma-separated globs, e.g. **/*.e2e.ts,**/*.spec.ts")
        for glob in comma_list(value or ""):
            if glob.count("{") != glob.count("}") or glob.count("@(") > glob.count(")"):
                raise ValueError(
                    f"{glob!r} opens a {{...}} or @(...) it does not close: a comma separates "
                    "globs here, so write *.spec.@(ts|js), not *.spec.{ts,js}"
                )
        return None if value is None else ",".join(comma_list(value))

    @property
    def plugin_globs(self) -> tuple[str, ...]:
        """PLUGIN_TESTS_GLOB as the trees check, the sparse checkout and the config read it."""
        return comma_list(self.plugin_tests_glob)

    @property
    def test_globs(self) -> tuple[str, ...]:
        """TEST_MATCH's globs; () = the default ones."""
        return comma_list(self.test_match)

    @field_validator("ready_checks", mode="before")
    @classmethod
    def _json_checks(cls, value: object) -> object:
        if isinstance(value, str) and value.strip() in READY_PRESETS:
            return READY_PRESETS[value.strip()]
        if isinstance(value, str):  # EnvironSource decodes a good list; this names the fault
            try:
                value = jsontext.loads(value)
            except ValueError as exc:
                raise ValueError(f"not valid JSON: {exc}") from exc
            if not isinstance(value, list) or not value:
                raise ValueError("expected a non-empty JSON list of checks")
        return value

    @field_validator("ready_checks")
    @classmethod
    def _paths_need_base_url(
        cls, value: list[ReadyCheck] | None, info: ValidationInfo
    ) -> list[ReadyCheck] | None:
        if value and not info.data.get("base_url"):
            paths = [check.url for check in value if check.url.startswith("/")]
            if paths:
                raise ValueError(f"{', '.join(paths)}: a path needs BASE_URL, which is unset")
        return value

    @field_validator("ready_backoff_max_seconds")
    @classmethod
    def _cap_above_initial(cls, value: float, info: ValidationInfo) -> float:
        initial = info.data.get("ready_backoff_initial_seconds")
        if initial is not None and value < initial:
            raise ValueError(f"must be at least READY_BACKOFF_INITIAL_SECONDS ({initial:g})")
        return value

    @field_validator("ready_ca_file")
    @classmethod
    def _readable_ca(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError("expected a PEM file of CA certificates")
        return value

    @field_validator("prove_workload")
    @classmethod
    def _workload(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        parse_workload(value)
        if not info.data.get("kubernetes_service_host"):
            raise ValueError(
                "needs the Kubernetes API, and KUBERNETES_SERVICE_HOST is unset (not in a pod): "
                "use PROVE_VERSION_URL outside a cluster"
            )
        return value

    @field_validator("prove_namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_LABEL.fullmatch(value):
            raise ValueError("expected a namespace name (lower case, digits and -, at most 63)")
        return value

    @field_validator("prove_image_digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _IMAGE_DIGEST.fullmatch(value):
            raise ValueError("expected an image digest, e.g. sha256:<64 hex digits>")
        return value.lower() if value else value

    @field_validator("prove_image")
    @classmethod
    def _image(cls, value: str | None, info: ValidationInfo) -> str | None:
        workload = info.data.get("prove_workload")
        if value is None:
            if workload:
                raise ValueError(
                    f"unset, but PROVE_WORKLOAD={workload} needs the Freight's image to look for "
                    "(repo:tag, from imageFrom(...) in the Stage's verification args)"
                )
            return None
        if not workload and "prove_workload" in info.data:
            raise ValueError("set without PROVE_WORKLOAD: say which workload must run it")
        ref = images.parse(value)
        digest = info.data.get("prove_image_digest")
        if digest and ref.digest and digest != ref.digest:
            raise ValueError(f"its digest {ref.digest} disagrees with PROVE_IMAGE_DIGEST={digest}")
        namespace = info.data.get("prove_namespace") or info.data.get("pod_namespace")
        if workload and not namespace and "prove_namespace" in info.data:
            raise ValueError(
                "PROVE_WORKLOAD needs a namespace: set PROVE_NAMESPACE (POD_NAMESPACE is unset)"
            )
        return value

    @field_validator("prove_version_url")
    @classmethod
    def _version_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not value.startswith("/") or value.startswith("//"):
            raise ValueError("expected a path under BASE_URL, e.g. /version.json")
        if any(c.isspace() for c in value):
            raise ValueError("a URL path has no spaces")
        if not info.data.get("base_url") and "base_url" in info.data:
            raise ValueError("a path under BASE_URL, which is unset")
        return value

    @field_validator("prove_version_from")
    @classmethod
    def _version_from(cls, value: str) -> str:
        versions.parse_source(value)
        return value

    @field_validator("prove_version")
    @classmethod
    def _version(cls, value: str | None, info: ValidationInfo) -> str | None:
        url = info.data.get("prove_version_url")
        if value is None:
            if url:
                raise ValueError(
                    f"unset, but PROVE_VERSION_URL={url} needs the version the Freight must "
                    "serve (a commit, tag or digest from the Stage's verification args)"
                )
            return None
        if not url and "prove_version_url" in info.data:
            raise ValueError("set without PROVE_VERSION_URL: say where the target tells it")
        if not value.strip():
            # An expression that rendered to blanks: refuse, never run without the proof.
            raise ValueError("blank: the version the Freight must serve rendered to nothing")
        return value.strip()

    @property
    def expected_image(self) -> images.ImageRef | None:
        """PROVE_IMAGE with PROVE_IMAGE_DIGEST folded in."""
        if not self.prove_image:
            return None
        ref = images.parse(self.prove_image)
        digest = self.prove_image_digest or ref.digest
        return images.ImageRef(ref.repository, ref.tag, digest)

    @property
    def proof_namespace(self) -> str | None:
        return self.prove_namespace or self.pod_namespace

    @field_validator("shard_index")
    @classmethod
    def _index_below_count(cls, value: int | None, info: ValidationInfo) -> int | None:
        count = info.data.get("shard_count")
        if count is None:
            return value  # SHARD_COUNT itself is wrong and reported
        if value is None and count > 1:
            raise ValueError(
                f"SHARD_INDEX is unset, but SHARD_COUNT={count} needs one (0..{count - 1}; the "
                "sharding component sets it per metric)"
            )
        if value is not None and value >= count:
            raise ValueError(
                f"SHARD_INDEX={value} must be below SHARD_COUNT ({count}): indexes run "
                f"0..{count - 1}"
            )
        return value

    @property
    def shard(self) -> int | None:
        """This pod's shard (0-based), or None for an unsharded run."""
        return None if self.shard_count == 1 else self.shard_index

    _default_root: bool = PrivateAttr(default=False)
    _from_env: frozenset[str] = PrivateAttr(default=frozenset())
    _from_command_line: frozenset[str] = PrivateAttr(default=frozenset())
    _suspicious: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _default_artifact_root(self) -> Settings:
        # Before anything below assigns a field: what the environment gave (`in_effect`).
        self._from_env = frozenset(env_name(field) for field in self.model_fields_set)
        if self.artifact_root is None:
            self._default_root = True
            in_kubernetes = bool(self.kubernetes_service_host)
            root = KUBERNETES_ARTIFACT_ROOT if in_kubernetes else LOCAL_ARTIFACT_ROOT
            self.artifact_root = root
        self.artifact_root = self.artifact_root.absolute()
        return self

    @field_validator("tests_workspace")
    @classmethod
    def _absolute_workspace(cls, value: Path) -> Path:
        # Here, not by assignment after validation: an assigned field counts as "set", and
        # TESTS_WORKSPACE set next to TESTS_REPO is refused (`fetch.request_for`).
        return value.absolute()

    @property
    def from_environment(self) -> frozenset[str]:
        """The variables the environment set (the rest are defaults or from the command line)."""
        return self._from_env

    @property
    def warnings(self) -> tuple[str, ...]:
        """Variables that look like mistyped settings (`load_settings`), one line each."""
        return self._suspicious

    @property
    def from_command_line(self) -> frozenset[str]:
        return self._from_command_line

    def overridden(self, **updates: Any) -> Settings:
        """A copy with command-line options applied (`--promotion`), remembered as such."""
        copy = self.model_copy(update=updates)
        copy._from_command_line = self._from_command_line | {env_name(k) for k in updates}
        return copy

    @property
    def local_default_root(self) -> bool:
        """ARTIFACT_ROOT is unset outside Kubernetes: ./.verification-artifacts, most likely
        inside the checkout of a workspace, where git must not pick the evidence up."""
        return self._default_root and not self.kubernetes_service_host

    def workspace_config_in(self, workspace: Path) -> Path | None:
        """The workspace's own Playwright settings (config/workspace.ts loads them): the file
        WORKSPACE_CONFIG names, else the first verification.config.* there, else the
        workspace's own playwright.config.* (a Backstage app's, used as it is); `none`: none.
        The runner's own config (a workspace that is this checkout) is never one."""
        if self.workspace_config == "none":
            return None
        if self.workspace_config:
            return workspace / self.workspace_config
        own = (self.playwright_home / "playwright.config.ts").resolve()
        found = (
            workspace / f"{stem}.{ext}"
            for stem in ("verification.config", "playwright.config")
            for ext in ("ts", "js", "mjs", "cjs")
        )
        return next((p for p in found if p.is_file() and p.resolve() != own), None)


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
    environ = os.environ if environ is None else environ
    source = EnvironSource(Settings, environ)
    try:
        settings = Settings(**source())
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc
    suspicious = suspicious_variables(environ, env_names(Settings))
    if suspicious and settings.strict_settings:
        raise ConfigError(
            "unknown or misspelled variables (STRICT_SETTINGS=true):\n"
            + "\n".join(f"  {s.line()}" for s in suspicious)
        )
    settings._suspicious = tuple(s.line() for s in suspicious)
    return settings


SHOWN_VALUE_LIMIT = 200


def _describe(exc: ValidationError) -> str:
    lines = ["invalid settings:"]
    for error in exc.errors():
        name = env_name(".".join(str(part) for part in error["loc"])) or "(settings)"
        got: Any = error.get("input")
        shown = mask_value(name, str(got)) if isinstance(got, str | int | float) else "(unset)"
        if len(shown) > SHOWN_VALUE_LIMIT:  # a 100 kB value is named, not echoed whole
            shown = f"{shown[:SHOWN_VALUE_LIMIT]}... ({len(shown)} characters)"
        # A URL's password never shows, whatever the variable is called (TESTS_REPO, BASE_URL).
        message = redact_userinfo(f"  {name}={shown!r}: {error['msg']}")
        lines.append(message)
    return "\n".join(lines)
