"""The "fetch the tests" phase of `run`: from the settings to a request for runner/fetching/,
the fetched workspace on disk with its provenance, and the tests' own dependencies installed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from runner.config.settings import Settings
from runner.context import RunContext
from runner.contract.errors import ConfigError
from runner.fetching.git import fetch_tests
from runner.fetching.install import InstallRequest, install_dependencies
from runner.fetching.registry import read_registry
from runner.fetching.request import FetchedTests, FetchRequest
from runner.fetching.revisions import display_url, sparse_patterns
from runner.processes.child import Supervision
from runner.target import LOCAL_SITE_DEFAULT


@dataclass(frozen=True)
class Provenance:
    """Where the tests of a run came from; written into the metadata, summary and ledger."""

    tests_repo: str
    tests_revision: str
    tests_commit: str
    tests_fetch_seconds: float
    tests_fetch_bytes: int

    @classmethod
    def of(cls, fetched: FetchedTests) -> Provenance:
        return cls(
            tests_repo=fetched.repo,
            tests_revision=fetched.revision,
            tests_commit=fetched.commit,
            tests_fetch_seconds=fetched.seconds,
            tests_fetch_bytes=fetched.bytes_received,
        )


def mismatch_warning(freight_commit: str | None, commit: str) -> str | None:
    """FREIGHT_COMMIT names the image's commit: tests from another commit may not match it."""
    if not freight_commit or commit.startswith(freight_commit.strip().lower()):
        return None
    return (
        f"WARNING: the tests ran at commit {commit[:12]}, but FREIGHT_COMMIT is "
        f"{freight_commit}: the tests may not match the image under verification"
    )


def request_for(settings: Settings, run_name: str) -> FetchRequest | None:
    target = settings.revision_to_fetch
    if settings.tests_repo is None or target is None:
        return None
    revision, source = target
    if "tests_workspace" in settings.model_fields_set:
        raise ConfigError(
            f"TESTS_REPO={display_url(settings.tests_repo)} and TESTS_WORKSPACE is set too: the "
            "fetched checkout is the workspace; unset one of them"
        )
    tmp, root = settings.tmpdir.absolute(), settings.artifact_root
    if tmp == root or root in tmp.parents:
        raise ConfigError(
            f"TMPDIR={tmp} is on the artifact volume (ARTIFACT_ROOT={root}): the fetched tests "
            "go to a scratch directory such as the pod's /tmp emptyDir"
        )
    site = None
    if settings.base_url is None:  # playwright.config.ts serves it when BASE_URL is unset
        site = settings.local_site_dir or LOCAL_SITE_DEFAULT
    return FetchRequest(
        repo=settings.tests_repo,
        revision=revision,
        revision_source=source,
        subdir=settings.tests_subdir,
        patterns=tuple(
            sparse_patterns(
                subdir=settings.tests_subdir,
                central=settings.central_tests_dir.strip("/") or ".",
                plugin_globs=settings.plugin_globs,
                extra=settings.tests_sparse_paths,
                site=site,
            )
        ),
        credentials_dir=settings.git_credentials_dir,
        scratch_root=tmp,
        run_name=run_name,
        install=settings.tests_install == "auto",
        backstage_trees=not {"central_tests_dir", "plugin_tests_glob"} & settings.model_fields_set,
    )


def fetch(ctx: RunContext) -> FetchedTests | None:
    """Fetch the tests when TESTS_REPO is set (None otherwise). The caller removes the
    checkout when the run ends, records `Provenance.of(fetched)` and runs `install`."""
    request = request_for(ctx.settings, ctx.attempt.identity.run_name)
    if request is None:
        return None
    fetched = fetch_tests(
        request,
        base_env=ctx.base_env,
        under=ctx.supervision,
    )
    warning = mismatch_warning(ctx.settings.freight_commit, fetched.commit)
    if warning:
        ctx.sink.say(warning)
    return fetched


def install(ctx: RunContext, fetched: FetchedTests) -> None:
    """The fetched workspace's own dependencies (TESTS_INSTALL), with the package manager its
    lock file names."""
    install_dependencies(
        fetched.workspace,
        install_request(ctx.settings, fetched),
        base_env=ctx.base_env,
        under=ctx.supervision,
    )


def install_request(settings: Settings, fetched: FetchedTests) -> InstallRequest:
    return InstallRequest(
        mode=settings.tests_install,
        managers_dir=settings.package_managers_dir,
        cache=settings.package_cache,
        registry=read_registry(
            settings.package_registry, settings.package_registry_credentials_dir
        ),
        home=fetched.scratch.path / "install-home",
        commit=fetched.commit,
    )


def fetch_and_install(
    settings: Settings, *, name: str, base_env: Mapping[str, str], under: Supervision
) -> FetchedTests | None:
    """TESTS_REPO fetched and installed outside a run (`list`): no attempt, no run directory;
    the caller removes the checkout. None without TESTS_REPO."""
    request = request_for(settings, name)
    if request is None:
        return None
    fetched = fetch_tests(request, base_env=base_env, under=under)
    try:
        install_dependencies(
            fetched.workspace,
            install_request(settings, fetched),
            base_env=base_env,
            under=under,
        )
    except BaseException:
        fetched.remove()
        raise
    return fetched
