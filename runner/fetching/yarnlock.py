"""yarn 1's lock file (`# yarn lockfile v1`): its tarball URLs pointed at PACKAGE_REGISTRY, and
the check, after the install, that yarn resolved nothing the lock file lacks.

* yarn 1 fetches every package from its lock entry's `resolved` URL, whatever `registry`,
  `--registry` or `npm_config_registry` say (1.22.22: the tarball fetcher requests the URL as it
  is; only metadata goes to the registry setting, and a frozen install with a complete lock
  asks for none). A yarn.lock written against registry.yarnpkg.com or the team's own registry
  would so reach past the mirror. Before the install, every URL in the npm registry's tarball
  shape (`<registry>/<name>/-/<file>.tgz`) is rewritten onto PACKAGE_REGISTRY, as npm and pnpm
  take their packages from it; the `integrity` and `#sha1` yarn checks are left as they are, so
  the mirror cannot hand over other bytes. A scope with its own registry in the workspace's
  `.npmrc` / `.yarnrc` (`@corp:registry`) keeps it, as it does for npm and pnpm.
* `--frozen-lockfile` compares only the root's dependencies with yarn.lock, not the
  workspaces' (yarnpkg/yarn#5840, #4098): a workspace dependency missing from the lock is
  resolved from the registry and installed. What yarn resolved is in
  `node_modules/.yarn-integrity` (`lockfileEntries`, the lock yarn would write); a key there
  that yarn.lock lacks is a lock file that does not match, and so is a key whose URL there is
  not the one yarn.lock gives it: a `.yarnrc` can pass yarn arguments, and its `--no-lockfile`
  makes yarn resolve everything afresh, yarn.lock unread, `--frozen-lockfile` or not. Entries
  yarn.lock has and nothing needs are accepted, as yarn accepts them (it would only prune them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

INTEGRITY = Path("node_modules") / ".yarn-integrity"
_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"|([^,\s][^,]*)')
# `\r?`: yarn 1 reads a yarn.lock with CRLF line ends (one committed from Windows) as well.
_RESOLVED = re.compile(r'^(  resolved )"?([^"\s]+)"?([ \t]*\r?)$', re.MULTILINE)
_SCOPED_REGISTRY = re.compile(r'^\s*"?(@[\w.-]+):registry"?\s*[=\s]', re.MULTILINE)


def lock_entries(text: str) -> dict[str, str | None]:
    """Every `name@range` yarn.lock has an entry for (`a@^1, "b@~2":` is two), with the entry's
    `resolved` URL (None without one)."""
    entries: dict[str, str | None] = {}
    keys: list[str] = []
    for line in text.splitlines():
        if line and line[0] not in " \t#" and line.endswith(":"):
            keys = [k for q, b in _KEY.findall(line[:-1]) if (k := (q or b).strip())]
            entries.update(dict.fromkeys(keys))
        elif keys and (resolved := _RESOLVED.match(line)):
            entries.update(dict.fromkeys(keys, resolved.group(2)))
    return entries


def lock_keys(text: str) -> set[str]:
    """Every `name@range` yarn.lock has an entry for."""
    return set(lock_entries(text))


def scoped_registries(workspace: Path) -> set[str]:
    """Scopes (`@corp`) the workspace's root `.npmrc` or `.yarnrc` gives a registry of their own."""
    scopes: set[str] = set()
    for name in (".npmrc", ".yarnrc"):
        try:
            text = (workspace / name).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        scopes.update(_SCOPED_REGISTRY.findall(text))
    return scopes


def _package_path(url: str) -> str | None:
    """`<name>/-/<file>.tgz` of an npm registry tarball URL (name scoped or not); None else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "/-/" not in parts.path:
        return None
    left, _, file = parts.path.rpartition("/-/")
    segments = left.split("/")
    name = (
        "/".join(segments[-2:])
        if len(segments) > 1 and segments[-2].startswith("@")
        else segments[-1]
    )
    if not name or "/" in file or not file.endswith(".tgz"):
        return None
    if not file.startswith(f"{name.rsplit('/', 1)[-1]}-"):
        return None
    return f"{name}/-/{file}"


def pointed_at(text: str, registry: str, keep_scopes: set[str]) -> tuple[str, list[str]]:
    """yarn.lock with its registry tarball URLs on `registry`, and the origins they were on."""
    base = registry.rstrip("/") + "/"
    moved: list[str] = []

    def rewrite(match: re.Match[str]) -> str:
        url, _, fragment = match.group(2).partition("#")
        path = _package_path(url)
        if path is None or (path.startswith("@") and path.split("/", 1)[0] in keep_scopes):
            return match.group(0)
        new = base + path + (f"#{fragment}" if fragment else "")
        if new != match.group(2):
            parts = urlsplit(url)
            moved.append(f"{parts.scheme}://{parts.netloc}")
        return f'{match.group(1)}"{new}"{match.group(3)}'

    return _RESOLVED.sub(rewrite, text), moved


def _same(installed: object, locked: str) -> bool:
    """The URL yarn installed from is the lock's; the `#<hash>` part (a tarball's sha1, a Git
    commit) counts when both have one."""
    if not isinstance(installed, str):
        return False
    if "#" in installed and "#" in locked:
        return installed == locked
    return installed.partition("#")[0] == locked.partition("#")[0]


def unlocked(workspace: Path, lock: str) -> tuple[list[str], list[str]] | None:
    """What the install resolved that the lock file has no entry for, and what it took from
    elsewhere than the entry's `resolved` URL (`.yarnrc`'s `--no-lockfile`: yarn.lock unread),
    each sorted; None when yarn left no `.yarn-integrity` to tell."""
    try:
        record = json.loads((workspace / INTEGRITY).read_text(encoding="utf-8"))
        text = (workspace / lock).read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None
    entries = record.get("lockfileEntries") if isinstance(record, dict) else None
    if not isinstance(entries, dict):
        return None
    locked = lock_entries(text)
    missing = sorted(set(entries) - set(locked))
    moved = sorted(
        key
        for key, installed in entries.items()
        if (url := locked.get(key)) is not None and not _same(installed, url)
    )
    return missing, moved
