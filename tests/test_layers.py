"""The layers of README "Layout of the code" hold: import-linter's contracts in pyproject.toml
pass, a module that imports up the layers breaks them, and loading the settings loads only the
few pure modules they validate with (no child-process machinery, no psutil)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_are_kept() -> None:
    done = _lint_imports(REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _copy(tmp_path: Path) -> Path:
    """The package and its contracts, outside the checkout, to break on purpose."""
    shutil.copytree(REPO / "runner", tmp_path / "runner", ignore=shutil.ignore_patterns("crds"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_an_import_up_the_layers_breaks_a_contract(tmp_path: Path) -> None:
    """Held by the tool, not by review: volume/ importing the run's context is refused, and
    it is the copy that is analysed (the installed package is kept)."""
    copy = _copy(tmp_path)
    locks = copy / "runner" / "volume" / "locks.py"
    locks.write_text(locks.read_text(encoding="utf-8") + "\nimport runner.context\n")
    done = _lint_imports(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "runner.volume.locks -> runner.context" in done.stdout
    assert "fetching/ and volume/ are leaves" in done.stdout


def test_a_type_checking_import_counts(tmp_path: Path) -> None:
    """A type is a dependency too: the circle settings <-> masking went through one."""
    copy = _copy(tmp_path)
    masking = copy / "runner" / "log" / "masking.py"
    text = masking.read_text(encoding="utf-8")
    masking.write_text(
        text + "\nfrom typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
        "    from runner.config.settings import Settings\n"
    )
    done = _lint_imports(copy)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "runner.log is not allowed to import runner.config" in done.stdout


def test_loading_the_settings_loads_no_machinery() -> None:
    """`import runner.config.settings` once loaded 20 runner modules and psutil through
    fetching/__init__.py; now only what the settings validate with."""
    code = (
        "import json, sys\nimport runner.config.settings\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('runner', 'psutil', 'filelock', 'junitparser'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(done.stdout))
    pure = {  # what the settings validate with
        "runner.fetching.revisions",
        "runner.log.masking",
        "runner.deployed.images",
        "runner.deployed.versions",
        "runner.deployed.workloads",
    }
    packages = {"runner", "runner.config", "runner.contract", "runner.fetching", "runner.log"}
    packages |= {"runner.deployed"}
    others = {
        m
        for m in loaded - pure - packages
        if not m.startswith(("runner.config.", "runner.contract."))
    }
    assert others == set(), f"loading the settings loads {sorted(others)}"
    assert "runner.config.derived" not in loaded  # it imports identity, volume and masking


def test_children_start_through_the_one_wrapper() -> None:
    """runner/processes/ starts every child (`run_streaming`, `run_bounded`; the reaper with
    os.posix_spawn); only lint's parallel renders (`rendering._run_both`, outside any run)
    start their own."""
    allowed = {"runner/processes/child.py", "runner/lint/rendering.py"}
    starting = {"fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen"}
    importing, spawning = set(), set()
    for path in (REPO / "runner").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] in ("subprocess", "multiprocessing") for n in names):
                importing.add(path.relative_to(REPO).as_posix())
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "os"
                and (node.attr in starting or node.attr.startswith(("exec", "spawn")))
            ):
                spawning.add(path.relative_to(REPO).as_posix())
    assert importing == allowed
    assert spawning == {"runner/processes/reaper.py"}
