"""The package registry an install reads from, and its credentials, for every package manager.

PACKAGE_REGISTRY (a mirror: Artifactory, Nexus, Verdaccio) goes in through the environment,
which npm, pnpm, yarn classic and yarn berry all rank above the repository's own `.npmrc` /
`.yarnrc.yml`; unset, the workspace's own configuration (or the public registry) applies. The
credentials are the mounted Secret at PACKAGE_REGISTRY_CREDENTIALS_DIR: `token` (a bearer
token), or `username` + `password`. They reach npm, pnpm and yarn classic as a 0600 `.npmrc`
in the install's own HOME (a scratch folder, never the workspace), and yarn berry as that HOME's
0600 `.yarnrc.yml` (`npmRegistries` of PACKAGE_REGISTRY alone, as `yarn npm login` writes it);
never an argument, never the environment, never the log.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from runner.contract.errors import ConfigError

TOKEN, USERNAME, PASSWORD = "token", "username", "password"


@dataclass(frozen=True)
class Registry:
    url: str | None  # PACKAGE_REGISTRY; None: the workspace's own configuration
    token: str | None = None
    username: str | None = None
    password: str | None = None

    @property
    def shown(self) -> str:
        return self.url or "the registry the workspace configures (default registry.npmjs.org)"


def _read(path: Path) -> str | None:
    try:
        value = path.read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    # Inside a value, a line break would split the `.npmrc` line it goes into (the rest a key
    # of its own) and is no valid HTTP header in yarn berry: say it, never the value.
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ConfigError(
            f"{path} has a line break or control character inside the value: write it as one "
            "line (a token base64-wrapped at 76 columns? `base64 -w0`)"
        )
    return value


def read_registry(url: str | None, credentials_dir: Path | None) -> Registry:
    """PACKAGE_REGISTRY and what the Secret holds; ConfigError when it holds half of it."""
    if credentials_dir is None or not credentials_dir.is_dir():
        return Registry(url)
    token = _read(credentials_dir / TOKEN)
    user, password = _read(credentials_dir / USERNAME), _read(credentials_dir / PASSWORD)
    if token is None and user is None and password is None:
        return Registry(url)
    if url is None:
        raise ConfigError(
            f"PACKAGE_REGISTRY_CREDENTIALS_DIR={credentials_dir} holds credentials but "
            "PACKAGE_REGISTRY is unset: name the registry they are for"
        )
    if token is None and (user is None or password is None):
        raise ConfigError(
            f"PACKAGE_REGISTRY_CREDENTIALS_DIR={credentials_dir} has {USERNAME!r} or "
            f"{PASSWORD!r} without the other: the Secret needs {TOKEN!r}, or both"
        )
    if token is not None:
        return Registry(url, token)
    return Registry(url, None, user, password)


def _nerf(url: str) -> str:
    """npm's key for a registry's credentials: `//host[:port]/path/`."""
    parts = urlsplit(url)
    return f"//{parts.netloc}{parts.path.rstrip('/')}/"


def environment(registry: Registry, home: Path, flavour: str) -> dict[str, str]:
    """Variables that point the package manager at the registry with its credentials; writes
    `home/.npmrc` (0600) for the npm-style managers."""
    env: dict[str, str] = {}
    if registry.url is None:
        return env
    ident = None
    if registry.username and registry.password:
        ident = f"{registry.username}:{registry.password}"
    if flavour == "yarn berry":
        env["YARN_NPM_REGISTRY_SERVER"] = registry.url
        if urlsplit(registry.url).scheme == "http":  # yarn refuses plain http otherwise
            env["YARN_UNSAFE_HTTP_WHITELIST"] = urlsplit(registry.url).hostname or ""
        # For this registry only: yarn sends a top-level npmAuthToken (YARN_NPM_AUTH_TOKEN) to
        # every registry without credentials of its own, a scope's registry that the
        # repository's .yarnrc.yml names too. `yarn npm login` writes the same entry.
        auth: dict[str, str | bool] = {}
        if registry.token:
            auth["npmAuthToken"] = registry.token
        elif ident:
            auth["npmAuthIdent"] = ident
        if auth:
            auth["npmAlwaysAuth"] = True
            entry = {"npmRegistries": {registry.url.rstrip("/"): auth}}
            _write_private(home / ".yarnrc.yml", json.dumps(entry) + "\n")  # JSON is YAML
        return env
    env["npm_config_registry"] = registry.url
    lines = [f"registry={registry.url}"]
    if registry.token:
        lines.append(f"{_nerf(registry.url)}:_authToken={registry.token}")
    elif ident:
        encoded = base64.b64encode(ident.encode()).decode()
        lines.append(f"{_nerf(registry.url)}:_auth={encoded}")
    if registry.token or ident:
        lines.append("always-auth=true")
    npmrc = home / ".npmrc"
    _write_private(npmrc, "".join(f"{line}\n" for line in lines))
    env["npm_config_userconfig"] = str(npmrc)
    return env


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
