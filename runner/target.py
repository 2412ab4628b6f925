"""What a run tests: the deployment at BASE_URL, or the suite's own static site.

A verification that tests the wrong thing and passes is the worst false green there is. A Stage
that forgets its `baseURL` argument hands the Job an empty BASE_URL, and the suite's bundled
site (a stand-in for Backstage) would pass in its place. So in a Kargo run (the kubelet sets
KUBERNETES_SERVICE_HOST) a missing target is a configuration error, unless LOCAL_SITE_DIR is
set: that setting says the suite serves its own site. Every verdict names its target.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from runner.contract.errors import ConfigError
from runner.fetching.revisions import display_url
from runner.log.masking import mask_urls

if TYPE_CHECKING:
    from runner.config.settings import Settings

# Not `site/`: Backstage's .gitignore ignores it (TechDocs writes there), so a suite's site in
# it would never be committed, and a TechDocs build could be served as the target.
LOCAL_SITE_DEFAULT = "verification-site"
LOCAL_SITE = "local site"


def check_target(settings: Settings) -> None:
    """A Kargo run must name its target: exit 2 before anything is fetched or run."""
    if label(settings) != "none (BASE_URL unset)":
        return  # a URL, a local run, or LOCAL_SITE_DIR set: this suite serves its own site
    raise ConfigError(
        "BASE_URL is unset or empty in a Kargo run (KUBERNETES_SERVICE_HOST is set): the "
        "verification would test the suite's own site, not the deployment; pass the Stage's "
        "URL as BASE_URL (the AnalysisTemplate's base-url arg), or set LOCAL_SITE_DIR if this "
        "suite serves its own site"
    )


def local_site(settings: Settings, workspace: Path) -> Path | None:
    """The site Playwright serves when BASE_URL is unset (None when it is set); exit 2 in one
    line when it is not there. LOCAL_SITE_DIR is relative to the workspace."""
    if settings.base_url is not None:
        return None
    site = workspace / (settings.local_site_dir or LOCAL_SITE_DEFAULT)
    if not site.is_dir():
        where = (
            "LOCAL_SITE_DIR" if settings.local_site_dir else f"the default {LOCAL_SITE_DEFAULT}/"
        )
        raise ConfigError(
            f"BASE_URL is unset and there is no local site to serve instead ({where}: {site} "
            "is not a directory): set BASE_URL to the deployment to test"
        )
    return site


def label(settings: Settings) -> str:
    """The target as the verdict names it: the URL without credentials, or "local site"."""
    if settings.base_url is not None:
        return mask_urls(display_url(settings.base_url))
    if settings.kubernetes_service_host and "local_site_dir" not in settings.model_fields_set:
        return "none (BASE_URL unset)"  # check_target refused the run
    return LOCAL_SITE
