"""The test trees a verification runs, checked before Playwright starts.

`playwright.config.ts` turns CENTRAL_TESTS_DIR and every directory matching PLUGIN_TESTS_GLOB
into projects, and quietly leaves out a tree that is not there. That silence is a false green
waiting to happen: a typo in CENTRAL_TESTS_DIR, or a plugin directory symlinked to nowhere,
and the trees that remain pass. So the runner looks first, with the config's own rules:

* a configured tree that is missing, not a directory or a symlink to nowhere: exit 2;
* a tree outside the workspace (`../other`, `../*/x`, a symlink leading out): exit 2;
* a central tree without any spec file while plugin trees have some: exit 2 (a warning with
  ALLOW_NO_TESTS=true); with no spec file anywhere, a warning, and the run ends "no tests
  discovered" (exit 6) as before;
* a plugin tree without any spec file: a warning (a plugin may have no acceptance tests yet);
* a plugin directory without the tree below it (no `tests/acceptance`): not a tree, skipped.

A spec file is one TEST_MATCH matches; PLUGIN_TESTS_GLOB may be several globs, comma-separated
(read once, by runner/config/commalist.py, for this check and the sparse checkout alike).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.contract.errors import ConfigError
from runner.fetching.workspaces import BACKSTAGE_TREE, is_backstage_app, workspace_globs
from runner.files.walk import walk

# The config's default testMatch (config/trees.ts, DEFAULT_TEST_MATCH; a test keeps the two equal).
DEFAULT_TEST_MATCH = ("**/*.spec.{ts,js,mjs,cjs}", "**/*.test.{ts,js,mjs,cjs}")


def _glob_regex(glob: str) -> str:
    """A testMatch glob as Playwright reads it (minimatch, `**/` in front when it is not
    there): `**`, `*`, `?`, `{a,b}` and `@(a|b)`."""
    glob = glob if glob.startswith("**/") else "**/" + glob
    out, i = [], 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            # `+= 1` reads the second `*` as [^/]*: `.*[^/]*` is `.*`, an equivalent mutant
            i += 2  # pragma: no mutate
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif (glob[i] == "{" or glob.startswith("@(", i)) and (
            close := glob.find("}" if glob[i] == "{" else ")", i)
            # Unclosed (Settings refuses it): a plain character, never a loop without end. find()
            # cannot return i itself (glob[i] is "{" or "@"), so `>= i` is the same (equivalent).
        ) > i:  # pragma: no mutate
            opened = 1 if glob[i] == "{" else 2
            alternatives = re.split(r"[,|]", glob[i + opened : close])
            out.append("(?:" + "|".join(re.escape(a) for a in alternatives) + ")")
            i = close + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def spec_matcher(test_match: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """Whether a path (relative, with `/`) is a spec under TEST_MATCH's globs (() = default)."""
    globs = test_match or DEFAULT_TEST_MATCH
    pattern = re.compile("|".join(f"(?:{_glob_regex(g)})" for g in globs), re.IGNORECASE)
    return lambda path: pattern.fullmatch(path) is not None


@dataclass(frozen=True)
class Tree:
    project: str  # "central" or "plugin:<name>", as the config names the Playwright project
    path: Path
    has_specs: bool


def check_trees(
    workspace: Path,
    central: str,
    plugin_globs: tuple[str, ...],
    *,
    glob_is_explicit: bool,
    allow_no_tests: bool,
    say: Callable[[str], None],
    test_match: tuple[str, ...] = (),
) -> list[Tree]:
    """The trees the config will run; ConfigError for any the config would silently drop."""
    is_spec = spec_matcher(test_match)
    central_path = _inside(workspace, workspace / central, f"CENTRAL_TESTS_DIR={central!r}")
    _must_be_directory(central_path, f"CENTRAL_TESTS_DIR={central!r}")
    central_tree = Tree("central", central_path, _has_specs(central_path, is_spec))
    plugins: dict[Path, Tree] = {}  # the same directory reached by two globs is one tree
    for index, glob in enumerate(plugin_globs):
        for tree in _plugin_trees(
            workspace, glob, is_spec, glob_is_explicit=glob_is_explicit, first=index == 0
        ):
            if tree.path != central_path:  # the central tree reached by a glob is central
                plugins.setdefault(tree.path, tree)
    if not central_tree.has_specs:
        message = (
            f"CENTRAL_TESTS_DIR={central!r}: {central_path} holds no spec file "
            f"(TEST_MATCH: {', '.join(test_match or DEFAULT_TEST_MATCH)})"
        )
        if any(tree.has_specs for tree in plugins.values()) and not allow_no_tests:
            raise ConfigError(
                message + ", while plugin trees do: point it at the tree of your acceptance tests"
            )
        say(f"WARNING: {message}")  # with no test anywhere, the run ends "no tests" (exit 6)
    for tree in plugins.values():
        if not tree.has_specs:
            say(f"WARNING: plugin tree {tree.path} ({tree.project}) holds no spec file")
    return [central_tree, *sorted(plugins.values(), key=lambda tree: tree.project)]


def _plugin_trees(
    workspace: Path,
    glob: str,
    is_spec: Callable[[str], bool],
    *,
    glob_is_explicit: bool,
    first: bool,
) -> list[Tree]:
    what = f"PLUGIN_TESTS_GLOB={glob!r}"
    parts = glob.split("/")
    if parts.count("*") != 1 or sum("*" in p for p in parts) != 1:
        raise ConfigError(f"{what}: expected exactly one '*' as a whole path segment")
    star = parts.index("*")
    # Stable names, as config/trees.ts gives them: the first glob's trees are plugin:<name>,
    # a later glob's plugin:<name>/<the glob after the name>, however many trees a plugin has.
    suffix = "" if first else "/" + ("/".join(parts[star + 1 :]) or "/".join(parts[:star]))
    parent = _inside(workspace, workspace.joinpath(*parts[:star]), what)
    if not parent.is_dir():
        if glob_is_explicit:
            raise ConfigError(f"{what}: {parent} does not exist or is not a directory")
        return []  # the default layout, in a workspace without plugins
    try:
        entries = sorted(parent.iterdir())
    # A directory that cannot be listed: root lists any, so no test provokes it short of a
    # failing disk; this handler's mutants (no handler, `and` for `or`) survive for that.
    except OSError as exc:  # pragma: no mutate
        raise ConfigError(
            f"{what}: cannot list {parent}: {exc.strerror or exc}"  # pragma: no mutate
        ) from exc
    trees = []
    for entry in entries:
        if not (entry.is_dir() or entry.is_symlink()):
            continue
        if entry.is_symlink() and not entry.exists():
            raise ConfigError(f"{what}: plugin directory {entry} is a symlink to nowhere")
        tree = entry.joinpath(*parts[star + 1 :])
        if not (tree.exists() or tree.is_symlink()):
            continue  # a plugin without acceptance tests
        path = _inside(workspace, tree, what)
        _must_be_directory(path, what)
        trees.append(Tree(f"plugin:{entry.name}{suffix}", path, _has_specs(path, is_spec)))
    return trees


def _inside(workspace: Path, path: Path, what: str) -> Path:
    """`path` resolved, once by name (`..`: a typo) and once through symlinks (a link leading
    out); both must stay inside the workspace."""
    named = Path(os.path.normpath(path.absolute()))
    base = Path(os.path.normpath(workspace.absolute()))
    if not _within(named, base):
        raise ConfigError(f"{what}: {named} is outside the workspace {base}")
    real, root = path.resolve(), workspace.resolve()
    if not _within(real, root):
        raise ConfigError(f"{what}: {path} leads to {real}, outside the workspace {root}")
    return real


def _within(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _must_be_directory(path: Path, what: str) -> None:
    if not path.exists():
        raise ConfigError(
            f"{what}: {path} does not exist (or is a symlink to nowhere): nothing would run "
            "from it, and the other trees could pass alone"
        )
    if not path.is_dir():
        raise ConfigError(f"{what}: {path} is not a directory")


def _has_specs(tree: Path, is_spec: Callable[[str], bool]) -> bool:
    for dirpath, dirnames, filenames in walk(tree):  # no recursion: any depth (issue 22)
        dirnames[:] = [d for d in dirnames if d != "node_modules"]
        relative = dirpath.relative_to(tree).as_posix()
        prefix = "" if relative == "." else relative + "/"
        if any(is_spec(prefix + name) for name in filenames):
            return True
    return False


# -- Backstage's layout, when the configured trees are not there ------------------------------


def backstage_layout(workspace: Path) -> tuple[str, tuple[str, ...]] | None:
    """The trees Backstage's convention gives a Backstage app: `packages/app/e2e-tests` (else
    the first package's) as the central tree, `<folder>/*/e2e-tests` for every workspace glob
    `<folder>/*` with a package that has one. None when it is no Backstage app or has none."""
    if not is_backstage_app(workspace):
        return None
    found: dict[str, list[str]] = {}
    for glob in workspace_globs(workspace) or ["packages/*", "plugins/*"]:
        folder = glob.strip().rstrip("/").removesuffix("/*")
        if "*" in folder or ".." in folder.split("/") or not (workspace / folder).is_dir():
            continue
        packages = sorted(
            p for p in (workspace / folder).iterdir() if (p / BACKSTAGE_TREE).is_dir()
        )
        if packages:
            found[folder] = [f"{folder}/{p.name}/{BACKSTAGE_TREE}" for p in packages]
    trees = [tree for group in found.values() for tree in group]
    if not trees:
        return None
    central = "packages/app/e2e-tests" if "packages/app/e2e-tests" in trees else trees[0]
    globs = tuple(
        f"{folder}/*/{BACKSTAGE_TREE}"
        for folder, group in found.items()
        if any(tree != central for tree in group)
    )
    return central, globs
