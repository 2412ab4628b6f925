"""Which package manager a fetched workspace uses, and the command that installs it exactly
as its lock file says, with no install script of the repository ever running.

The lock file decides (the root `package.json`'s `packageManager` breaks a tie and names the
version): `package-lock.json` / `npm-shrinkwrap.json` -> `npm ci --ignore-scripts`; `yarn.lock`
written by yarn 2+ (`__metadata:`; or a `.yarnrc.yml`) -> yarn berry `install --immutable` with
`enableScripts: false`; a v1 `yarn.lock` -> `yarn install --frozen-lockfile --ignore-scripts
--ignore-engines`;
`pnpm-lock.yaml` -> `pnpm install --frozen-lockfile --ignore-scripts`.

yarn and pnpm are not fetched through corepack: it cannot fetch them where only the npm registry
is reachable, and its signature check is not to be switched off (docs/platform-facts.md). They
are npm packages (`@yarnpkg/cli-dist`, `yarn`, `pnpm`) installed beforehand into
PACKAGE_MANAGERS_DIR, one folder per `<tool>-<version>` (scripts/setup-package-managers.sh;
the image has the versions its Dockerfile names). The exact version `packageManager` names wins;
else the newest installed one of the same major version, said in one line. A `yarnPath` release
the repository carries (`.yarn/releases/yarn-4.x.cjs`, what a Backstage app pins) runs as it is.
yarn 1's `yarn-path` (`.yarnrc`) does not: yarn 1 would hand the install, flags and all, to
whatever file it names (YARN_IGNORE_PATH=1 stops it, install.py), and every yarn 1 reads and
installs the same v1 lock file, so the runner's own yarn 1 installs, said in one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from runner.contract.errors import ConfigError

SETUP = "scripts/setup-package-managers.sh"
NPM_LOCKS = ("npm-shrinkwrap.json", "package-lock.json")  # npm's own precedence
# tool -> the file, inside `<dir>/<tool>-<version>/node_modules/`, that node runs.
_ENTRY = {
    "yarn berry": "@yarnpkg/cli-dist/bin/yarn.js",
    "yarn classic": "yarn/bin/yarn.js",
    "pnpm": "pnpm/bin/pnpm.cjs",
}
_PACKAGE = {"yarn berry": "@yarnpkg/cli-dist", "yarn classic": "yarn", "pnpm": "pnpm"}
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")
_YARN_PATH = re.compile(r'^\s*"?yarn-path"?\s+"?([^"\r\n]+?)"?\s*$', re.MULTILINE)
LAST_YARN_1 = "1.22.22"  # yarn classic's last release: what to install when nothing names one


@dataclass(frozen=True)
class Manager:
    """The package manager of a workspace and how to start it."""

    flavour: str  # "npm", "yarn berry", "yarn classic" or "pnpm"
    lock: str  # the lock file it installs from, relative to the workspace
    command: tuple[str, ...]  # the install command, argv

    @property
    def tool(self) -> str:
        return self.flavour.split()[0]


def read_json(path: Path) -> dict[str, object]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def read_yaml(path: Path) -> dict[str, object]:
    try:
        value = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return value if isinstance(value, dict) else {}


def declared(workspace: Path) -> tuple[str, str | None] | None:
    """`packageManager` of the root package.json: ("yarn", "4.5.0"); None when absent."""
    raw = read_json(workspace / "package.json").get("packageManager")
    if not isinstance(raw, str) or "@" not in raw:
        return None
    name, _, version = raw.partition("@")
    version = version.split("+")[0].strip()  # "4.5.0+sha512.<hash>"
    return name.strip(), version if _VERSION.fullmatch(version) else None


def _yarn_flavour(workspace: Path, version: str | None) -> str:
    head = ""
    try:
        with (workspace / "yarn.lock").open(encoding="utf-8", errors="replace") as lock:
            head = lock.read(4096)
    except OSError:
        pass
    if "yarn lockfile v1" in head:
        return "yarn classic"
    if re.search(r"^__metadata:", head, re.MULTILINE) or (workspace / ".yarnrc.yml").is_file():
        return "yarn berry"
    return "yarn classic" if version and version.startswith("1.") else "yarn berry"


def find_lock(workspace: Path) -> tuple[str, str] | None:
    """(flavour, lock file) of the workspace; None without any lock file."""
    found: dict[str, str] = {}
    npm = next((name for name in NPM_LOCKS if (workspace / name).is_file()), None)
    if npm:
        found["npm"] = npm
    if (workspace / "yarn.lock").is_file():
        found["yarn"] = "yarn.lock"
    if (workspace / "pnpm-lock.yaml").is_file():
        found["pnpm"] = "pnpm-lock.yaml"
    if not found:
        return None
    named = declared(workspace)
    tool = (
        named[0]
        if named and named[0] in found
        else next(t for t in ("yarn", "pnpm", "npm") if t in found)
    )
    flavour = _yarn_flavour(workspace, named[1] if named else None) if tool == "yarn" else tool
    return flavour, found[tool]


def _installed(directory: Path, tool: str) -> dict[tuple[int, int, int], Path]:
    """Every `<tool>-<x.y.z>` folder of PACKAGE_MANAGERS_DIR with its entry file."""
    name = tool.split(maxsplit=1)[0]
    found: dict[tuple[int, int, int], Path] = {}
    try:
        entries = list(directory.iterdir())
    except OSError:
        return found
    for entry in entries:
        match = _VERSION.fullmatch(entry.name.removeprefix(f"{name}-"))
        script = entry / "node_modules" / _ENTRY[tool]
        if entry.name.startswith(f"{name}-") and match and script.is_file():
            major, minor, patch = (int(part) for part in match.groups())
            if (tool == "yarn classic") == (major == 1):
                found[(major, minor, patch)] = script
    return found


def _yarn_path(workspace: Path) -> Path | None:
    """The yarn release the repository pins in `.yarnrc.yml` (`yarnPath`), when it has it."""
    raw = read_yaml(workspace / ".yarnrc.yml").get("yarnPath")
    if not isinstance(raw, str):
        return None
    path = (workspace / raw).resolve()
    root = workspace.resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def _yarnrc_path(workspace: Path) -> str | None:
    """The `yarn-path` of the workspace's `.yarnrc` (yarn 1), as written."""
    try:
        text = (workspace / ".yarnrc").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = _YARN_PATH.search(text)
    return found.group(1).strip() if found else None


def tool_script(flavour: str, workspace: Path, directory: Path, say: Callable[[str], None]) -> Path:
    """The JavaScript file node runs as this workspace's yarn or pnpm."""
    if flavour == "yarn berry" and (pinned := _yarn_path(workspace)) is not None:
        say(f"yarn: the release the repository pins in .yarnrc.yml ({pinned.name})")
        return pinned
    script = _installed_script(flavour, workspace, directory, say)
    if flavour == "yarn classic" and (named := _yarnrc_path(workspace)) is not None:
        say(
            f"yarn classic: not running the release .yarnrc pins (yarn-path {named[:200]}): "
            f"{script.parents[3].name.replace('-', ' ', 1)} from PACKAGE_MANAGERS_DIR installs "
            "the v1 yarn.lock"
        )
    return script


def _installed_script(
    flavour: str, workspace: Path, directory: Path, say: Callable[[str], None]
) -> Path:
    named = declared(workspace)
    wanted = named[1] if named and named[0] == flavour.split(maxsplit=1)[0] else None
    installed = _installed(directory, flavour)
    if wanted is not None:
        exact = tuple(int(part) for part in wanted.split("."))
        if exact in installed:
            return installed[exact]
        same_major = sorted(v for v in installed if v[0] == exact[0])
        if same_major:
            chosen = same_major[-1]
            say(
                f"{flavour} {wanted} (packageManager) is not in PACKAGE_MANAGERS_DIR="
                f"{directory}: using {'.'.join(map(str, chosen))}, the newest of the same major"
            )
            return installed[chosen]
    elif installed:
        return installed[max(installed)]
    fallback = LAST_YARN_1 if flavour == "yarn classic" else "VERSION"
    spec = f"{_PACKAGE[flavour]}@{wanted or fallback}"
    raise ConfigError(
        f"PACKAGE_MANAGERS_DIR={directory} has no {flavour}"
        + (f" {wanted.split('.')[0]}.x (packageManager: {wanted})" if wanted else "")
        + f" for the workspace's {'pnpm-lock.yaml' if flavour == 'pnpm' else 'yarn.lock'}: "
        f"install it there with `{SETUP} {spec}` (the image carries the Dockerfile's versions)"
    )


def plan(
    workspace: Path, *, directory: Path, cache: Path, say: Callable[[str], None]
) -> Manager | None:
    """The install of this workspace; None when it has no lock file."""
    found = find_lock(workspace)
    if found is None:
        return None
    flavour, lock = found
    if flavour == "npm":
        command: tuple[str, ...] = ("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund")
        return Manager(flavour, lock, command)
    script = str(tool_script(flavour, workspace, directory, say))
    if flavour == "yarn berry":
        # enableScripts: false comes in through the environment (YARN_ENABLE_SCRIPTS), which
        # yarn berry ranks above the repository's .yarnrc.yml (runner/fetching/install.py).
        command = ("node", script, "install", "--immutable", "--mode=skip-build")
    elif flavour == "yarn classic":
        command = (
            "node",
            script,
            "install",
            "--frozen-lockfile",
            "--ignore-scripts",
            # yarn 1 alone refuses the root's `engines` (every Backstage app has one: "22 || 24"
            # today, "16 || 18" in yarn 1 times); the tests run on the runner's Node whatever
            # it says, as yarn berry, pnpm and npm install them (they only warn).
            "--ignore-engines",
            "--non-interactive",
            "--no-progress",
            f"--cache-folder={cache / 'yarn-classic'}",
        )
    else:
        command = (
            "node",
            script,
            "install",
            "--frozen-lockfile",
            "--ignore-scripts",
            "--reporter=append-only",
            f"--store-dir={cache / 'pnpm-store'}",
        )
    return Manager(flavour, lock, command)
