"""Git's environment for fetching the tests, credentials included, without a secret ever
reaching an argument list, a log line, the environment Playwright gets or `.git/config`.

* The remote URL and every setting go in through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/
  `GIT_CONFIG_VALUE_n` (git >= 2.31): nothing lands in `.git/config` but what git itself
  records for a partial clone (`remote.origin.promisor`, `partialclonefilter`).
* HTTP(S): a credential helper, a shell function that `cat`s the mounted Secret's `username`
  and `password` files (Kargo's git credential keys) when git asks (`get`), and ignores
  `store`/`erase`. Git reads its output on a pipe; the files' path is in its environment only.
* SSH: the Secret's `sshPrivateKey` is copied to a 0600 file (a Secret volume's files are 0644,
  which ssh refuses) in the fetch's own scratch directory; `known_hosts` in the Secret pins the
  host key, else the first key seen is accepted and the log says so.
* No prompts ever (`GIT_TERMINAL_PROMPT=0`, no askpass), no system or user git config, only the
  https, http and ssh transports (`GIT_ALLOW_PROTOCOL`: no `ext::`, no `file://`).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from runner.contract.errors import ConfigError
from runner.fetching.revisions import ALLOWED_PROTOCOLS, is_scp_like

USERNAME, PASSWORD, SSH_KEY, KNOWN_HOSTS = "username", "password", "sshPrivateKey", "known_hosts"
# Proxy and trust settings a cluster may need to reach its Git server, handed on as they are.
PASSED_ON = (
    "PATH",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
)
# A stalled transfer (no byte for this long) fails as a network error well before the run's
# deadline; the deadline still bounds everything else.
LOW_SPEED_SECONDS = 120
_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'printf "username=%s\\npassword=%s\\n" '
    '"$(cat "$VR_GIT_CREDENTIALS_DIR/username")" "$(cat "$VR_GIT_CREDENTIALS_DIR/password")"; }; f'
)


@dataclass(frozen=True)
class Credentials:
    kind: str  # "anonymous", "password" or "ssh key"
    password: str | None  # to mask in the log, should anything print it


def read_credentials(directory: Path | None, *, ssh: bool) -> Credentials:
    """What the mounted Secret holds for this URL's transport; ConfigError when half of it."""
    if directory is None or not directory.is_dir():
        return Credentials("anonymous", None)
    if ssh:
        return Credentials("ssh key" if (directory / SSH_KEY).is_file() else "anonymous", None)
    user, password = _read(directory / USERNAME), _read(directory / PASSWORD)
    if user is None and password is None:
        return Credentials("anonymous", None)
    if not user or not password:
        missing = USERNAME if not user else PASSWORD
        raise ConfigError(
            f"GIT_CREDENTIALS_DIR={directory} has no {missing!r} (or it is empty): the Secret "
            f"needs both {USERNAME!r} and {PASSWORD!r}"
        )
    return Credentials("password", password)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc


def git_environment(
    *,
    url: str,
    credentials: Credentials,
    credentials_dir: Path | None,
    scratch: Path,
    base: Mapping[str, str],
    say: Callable[[str], None],
) -> dict[str, str]:
    env = {name: base[name] for name in PASSED_ON if base.get(name)}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update(
        {
            "HOME": str(scratch),
            "LC_ALL": "C",  # English messages: runner/fetching/failures.py reads them
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_ALLOW_PROTOCOL": ALLOWED_PROTOCOLS,
            "GIT_HTTP_LOW_SPEED_LIMIT": "1",
            "GIT_HTTP_LOW_SPEED_TIME": str(LOW_SPEED_SECONDS),
        }
    )
    config = [
        ("remote.origin.url", url),
        ("advice.detachedHead", "false"),
        ("core.askPass", ""),
        ("credential.helper", ""),  # an empty value clears every helper configured before
        ("protocol.version", "2"),
        ("fetch.recurseSubmodules", "false"),
        # No `git maintenance run --auto` after each fetch: a process, for a checkout that
        # lives one run.
        ("maintenance.auto", "false"),
    ]
    if credentials.kind == "password" and credentials_dir is not None:
        if urlsplit(url).scheme == "http":
            say(
                "WARNING: sending the Git credentials over plain http: use https outside a "
                "trusted network"
            )
        env["VR_GIT_CREDENTIALS_DIR"] = str(credentials_dir)
        config.append(("credential.helper", _HELPER))
    if is_scp_like(url) or urlsplit(url).scheme == "ssh":
        env["GIT_SSH_COMMAND"] = _ssh_command(credentials, credentials_dir, scratch, say)
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _ssh_command(
    credentials: Credentials,
    credentials_dir: Path | None,
    scratch: Path,
    say: Callable[[str], None],
) -> str:
    options = [
        "ssh",
        "-F",
        os.devnull,
        "-o",
        "BatchMode=yes",
        "-o",
        "ConnectTimeout=30",
        "-o",
        "ServerAliveInterval=15",
        "-o",
        "ServerAliveCountMax=4",
    ]
    pinned = credentials_dir is not None and (credentials_dir / KNOWN_HOSTS).is_file()
    if pinned and credentials_dir is not None:
        options += ["-o", f"UserKnownHostsFile={credentials_dir / KNOWN_HOSTS}"]
        options += ["-o", "StrictHostKeyChecking=yes"]
    else:
        say(
            f"WARNING: no {KNOWN_HOSTS!r} in GIT_CREDENTIALS_DIR: accepting the Git server's "
            "host key unchecked; add the server's known_hosts line to the Secret to pin it"
        )
        options += ["-o", f"UserKnownHostsFile={scratch / KNOWN_HOSTS}"]
        options += ["-o", "StrictHostKeyChecking=accept-new"]
    if credentials.kind == "ssh key" and credentials_dir is not None:
        key = scratch / "ssh-key"
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            data = (credentials_dir / SSH_KEY).read_bytes()
            handle.write(data if data.endswith(b"\n") else data + b"\n")
        options += ["-i", str(key), "-o", "IdentitiesOnly=yes"]
    return shlex.join(options)
