"""What the settings describe, as the plain values that the layers below take: the run's
identity (runner/identity.py), the retention policy (runner/volume/retention.py) and the
masker of secret values (runner/log/masking.py). Those modules know nothing of `Settings`; every
`Redactor` of a command is built here, from the settings and the environment they were read from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import timedelta

from runner.config.settings import Settings
from runner.identity import RunIdentity, resolve_identity
from runner.log.masking import Redactor, url_secrets
from runner.volume.retention import Policy


def identity_of(settings: Settings) -> RunIdentity:
    """This process's run identity, from the settings' identity inputs."""
    return resolve_identity(
        promotion=settings.kargo_promotion_id,
        analysis_run_uid=settings.analysis_run_uid,
        job_name=settings.job_name,
    )


def retention_policy(settings: Settings) -> Policy:
    """The policy the RETENTION_* settings describe (a total cap of 0 means none)."""
    cap = settings.retention_max_total_mb
    return Policy(
        keep_runs=settings.retention_keep_runs,
        max_age=timedelta(days=settings.retention_max_age_days),
        max_total_bytes=int(cap * 1_000_000) if cap > 0 else None,
    )


def redactor_for(settings: Settings, environ: Mapping[str, str]) -> Redactor:
    """The masker of every command (`run`, `report`): secret-looking variables by the settings'
    names (SECRET_ENV_NAMES too) and every readiness header value, whatever its variable is
    called: a test that prints one must not put it into the evidence. No command builds its
    own."""
    names = settings.secret_names
    values = [v for k, v in environ.items() if names(k)]
    # A URL's password and secret-looking query values (?token=), wherever the URL is printed.
    for url in (settings.base_url, *(check.url for check in settings.ready_checks or ())):
        values += url_secrets(url or "", names)
    for check in settings.ready_checks or ():
        for header in check.headers:
            if header.secret is not None:
                values.append(header.secret.get_secret_value())
            elif header.value_from_file is not None:
                with contextlib.suppress(OSError):
                    values.append(header.value_from_file.read_text(encoding="utf-8").strip())
    if settings.git_credentials_dir is not None:  # git's password or key, should anything
        for name in ("password", "sshPrivateKey"):  # print it (a test can read the Secret)
            with contextlib.suppress(OSError, UnicodeDecodeError):
                values.append((settings.git_credentials_dir / name).read_text("utf-8").strip())
    if settings.package_registry_credentials_dir is not None:  # the registry's Secret
        for name in ("token", "password"):
            with contextlib.suppress(OSError, UnicodeDecodeError):
                path = settings.package_registry_credentials_dir / name
                values.append(path.read_text("utf-8").strip())
    return Redactor(values)
