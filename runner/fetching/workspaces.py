"""What the package manager needs from a sparse checkout beyond the workspace root's files:
every workspace's `package.json` (the root's `workspaces`, or pnpm-workspace.yaml's
`packages`), yarn's `.yarn/releases`, `.yarn/patches` and `.yarn/plugins` (a release or plugin
that `.yarnrc.yml` names, patches the lock file refers to), and pnpm's patch files. Nothing
else: a workspace package's sources come only when TESTS_SPARSE_PATHS names them.

The globs come from the repository, so each one goes through the same check as a
TESTS_SPARSE_PATHS entry (relative, no `..`, no special characters) before it becomes a
sparse-checkout pattern; one that fails is left out, in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.fetching.managers import read_json, read_yaml
from runner.fetching.revisions import check_relative_path

YARN_FOLDERS = (".yarn/releases", ".yarn/patches", ".yarn/plugins")
BACKSTAGE_TREE = "e2e-tests"  # generateProjects(): every workspace package with this folder


def workspace_globs(workspace: Path) -> list[str]:
    """The workspace globs the root declares (negations, `!x`, left out)."""
    declared = read_json(workspace / "package.json").get("workspaces")
    if isinstance(declared, dict):  # yarn classic's {"packages": [...], "nohoist": [...]}
        declared = declared.get("packages")
    globs = declared if isinstance(declared, list) else []
    pnpm = read_yaml(workspace / "pnpm-workspace.yaml").get("packages")
    globs = [*globs, *(pnpm if isinstance(pnpm, list) else [])]
    return [g for g in globs if isinstance(g, str) and g.strip() and not g.startswith("!")]


def _patch_files(workspace: Path) -> list[str]:
    """pnpm's `patchedDependencies` (package.json's `pnpm` key, or pnpm-workspace.yaml)."""
    sources = [
        read_json(workspace / "package.json").get("pnpm"),
        read_yaml(workspace / "pnpm-workspace.yaml"),
    ]
    files: list[str] = []
    for source in sources:
        patched = source.get("patchedDependencies") if isinstance(source, dict) else None
        if isinstance(patched, dict):
            files += [v for v in patched.values() if isinstance(v, str)]
    return files


def manager_paths(
    workspace: Path, say: Callable[[str], None], *, backstage_trees: bool = False
) -> list[str]:
    """Paths (relative to the workspace, `*` allowed) to check out for the install; with
    `backstage_trees` (no tree setting given) and a Backstage app, every workspace package's
    `e2e-tests` folder too, the trees Backstage's layout has (runner/trees.py)."""
    globs = [glob.strip().rstrip("/") for glob in workspace_globs(workspace)]
    wanted = [f"{glob}/package.json" for glob in globs]
    if backstage_trees and is_backstage_app(workspace):
        wanted += [f"{glob}/{BACKSTAGE_TREE}" for glob in globs or ["packages/*", "plugins/*"]]
    wanted += [*YARN_FOLDERS, *_patch_files(workspace)]
    paths: list[str] = []
    for item in wanted:
        try:
            paths.append(check_relative_path(item, allow_glob=True))
        except ValueError as exc:
            say(f"WARNING: not fetching the workspace path {exc} (from the root's manifests)")
    return list(dict.fromkeys(p for p in paths if p != "."))


def is_backstage_app(workspace: Path) -> bool:
    """create-app's `backstage.json`, or a Playwright config that calls generateProjects()."""
    if (workspace / "backstage.json").is_file():
        return True
    for ext in ("ts", "js", "mjs", "cjs"):
        try:
            text = (workspace / f"playwright.config.{ext}").read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if "generateProjects(" in text:
            return True
    return False
