"""`make mutate`: mutation testing (cosmic-ray) of the modules where a surviving mutant is a
false green or a leak, against the fast tier.

Each module is mutated in a copy of the working tree (its tracked files), never in place:
cosmic-ray rewrites the file on disk. The copy has a virtual environment of its own that puts
the copy first and then reads this checkout's .venv, so that every Python the tests start
(`sys.executable -m runner`, `.venv/bin/verification-runner`, whatever environment a test gives
its child) imports the mutant, not this checkout's module. For each mutant the module's own test
files run first (`-x`: most mutants die in seconds); a mutant they miss then meets the whole
fast tier, so a survivor is one that every fast test lets through.

Only the mutations that say something run: a binary operator becomes + or - (not each of
eleven operators), a comparison is negated or moved across its boundary; nothing inside an
annotation (never evaluated). An equivalent mutant is marked `# pragma: no mutate` on its line,
with a comment that says why nothing can kill it.

    python scripts/mutate.py [MODULE ...]      # names from MODULES; default all
    MUTATE_QUICK=1 ...                         # the module's own tests only (a first look)
    python scripts/mutate.py --recheck MODULE  # only the last run's survivors, against the tests
                                               # as they are now (the module unchanged since)

Writes .mutate/<module>.txt (cr-report: every survivor with its diff) and prints a summary line
per module; exit 1 when a mutant survived.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
FAST = "not (browser or container or nginx or slow)"

# module name -> (its file, the fast-tier tests that test it directly: fastest first)
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "verdict": (
        "runner/judging/verdict.py",
        ("tests/test_verdict.py", "tests/test_report.py", "tests/test_results.py"),
    ),
    "results": (
        "runner/judging/results.py",
        ("tests/test_results.py", "tests/test_report.py", "tests/test_verdict.py"),
    ),
    "masking": (
        "runner/log/masking.py",
        ("tests/test_masking.py", "tests/test_tee.py", "tests/test_security.py"),
    ),
    "scrub": ("runner/log/scrub.py", ("tests/test_masking.py", "tests/test_security.py")),
    "revisions": ("runner/fetching/revisions.py", ("tests/test_fetching_rules.py",)),
    "trees": ("runner/trees.py", ("tests/test_trees.py", "tests/test_workspace_config.py")),
}
PYTEST = ("-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--hypothesis-seed=0")
OWN_TESTS = ("--hypothesis-profile=mutate",)  # fewer examples per mutant (tests/conftest.py)

_COMPARISONS_KEPT = (
    "Eq_NotEq|NotEq_Eq|Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Lt_GtE|GtE_Lt|Gt_LtE|LtE_Gt"
    "|In_NotIn|NotIn_In|Is_IsNot|IsNot_Is"
)
EXCLUDED_OPERATORS = (
    # a + b becomes a - b, any other binary operator becomes +; a | b and a & b swap
    r"core/ReplaceBinaryOperator_Add_(?!Sub$)\w+",
    r"core/ReplaceBinaryOperator_(?!Add_|BitOr_|BitAnd_)\w+_(?!Add$)\w+",
    r"core/ReplaceBinaryOperator_BitOr_(?!BitAnd$)\w+",
    r"core/ReplaceBinaryOperator_BitAnd_(?!BitOr$)\w+",
    rf"core/ReplaceComparisonOperator_(?!({_COMPARISONS_KEPT})$)\w+",
)


def _copy_tree(destination: Path) -> None:
    """The working tree's tracked files (with their uncommitted changes) at `destination`."""
    if destination.exists():
        shutil.rmtree(destination)
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = REPO / os.fsdecode(name)
        if source.is_file():
            target = destination / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / "node_modules").symlink_to(REPO / "node_modules")
    _venv(destination)


def _venv(tree: Path) -> None:
    """`tree/.venv`: the copy before everything on sys.path, then this checkout's packages; its
    own `verification-runner`; every other tool of .venv/bin linked."""
    venv = tree / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    ours = REPO / ".venv" / "lib" / version / "site-packages"
    site = venv / "lib" / version / "site-packages"
    (site / "_mutate.pth").write_text(
        f"{tree}\nimport site; site.addsitedir({str(ours)!r})\n", encoding="utf-8"
    )
    script = venv / "bin" / "verification-runner"
    script.write_text(
        f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom runner.cli import main\nsys.exit(main())\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    for tool in BIN.iterdir():
        if not (venv / "bin" / tool.name).exists():
            (venv / "bin" / tool.name).symlink_to(tool)


def _config(module: str, name: str, *, quick: bool) -> str:
    excluded = ", ".join(f"'{pattern}'" for pattern in EXCLUDED_OPERATORS)
    return (
        "[cosmic-ray]\n"
        f'module-path = "{module}"\n'
        "timeout = 300.0\n"  # a mutant that hangs a test is killed (counted so) after 5 min
        "excluded-modules = []\n"
        f"test-command = 'python scripts/mutate.py --test {name}{' --quick' if quick else ''}'\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = [{excluded}]\n"
    )


def run_tests(name: str, *, quick: bool) -> int:
    """cosmic-ray's test command, in the copy: the module's own tests, then (unless `quick`)
    the whole fast tier; 0 when the mutant survived both."""
    own = [f for f in MODULES[name][1] if Path(f.split("::")[0]).exists()]
    stages = [[*OWN_TESTS, *own]] if quick else [[*OWN_TESTS, *own], ["tests"]]
    for tests in stages:
        code = subprocess.run([sys.executable, *PYTEST, "-m", FAST, *tests], check=False).returncode
        if code != 0:
            return code
    return 0


def mutate(name: str, *, quick: bool) -> int:
    """Mutate one module; return how many mutants survived."""
    path = MODULES[name][0]
    work = REPO / ".mutate"
    tree = work / f"tree-{name}"
    _copy_tree(tree)
    config, session = work / f"{name}.toml", work / f"{name}.sqlite"
    config.write_text(_config(path, name, quick=quick), encoding="utf-8")
    session.unlink(missing_ok=True)
    env = {**os.environ, "PATH": f"{tree / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}

    def cosmic(tool: str, *args: str) -> str:
        return subprocess.run(
            [str(BIN / tool), *args], cwd=tree, env=env, check=True, capture_output=True, text=True
        ).stdout

    started = time.monotonic()
    cosmic("cosmic-ray", "init", str(config), str(session))
    cosmic("cr-filter-operators", str(session), str(config))
    cosmic("cr-filter-pragma", str(session))
    _skip_annotations(session, tree / path)
    cosmic("cosmic-ray", "exec", str(config), str(session))
    report = cosmic("cr-report", "--show-diff", "--surviving-only", str(session))
    (work / f"{name}.txt").write_text(report, encoding="utf-8")
    survived = report.count("[job-id]") if "[job-id]" in report else 0
    total, skipped = _counts(session)
    minutes = (time.monotonic() - started) / 60
    print(
        f"mutate {name} ({path}): {total - skipped} mutants, {survived} survived, "
        f"{skipped} filtered, {minutes:.0f} min{' (own tests only)' if quick else ''}",
        flush=True,
    )
    shutil.rmtree(tree)
    return survived


def _annotations(source: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the module's annotations are, as ((line, col), (end line, end col)) spans."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        found: list[ast.expr | None] = []
        if isinstance(node, ast.arg | ast.AnnAssign):
            found.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node.returns)
        for annotation in filter(None, found):
            end = (annotation.end_lineno or annotation.lineno, annotation.end_col_offset or 0)
            spans.append(((annotation.lineno, annotation.col_offset), end))
    return spans


def _skip_annotations(session: Path, module: Path) -> None:
    """Skip mutants inside annotations: under `from __future__ import annotations` they are
    never evaluated, so nothing can kill them (`str | None` made `str & None`)."""
    import sqlite3  # noqa: PLC0415 - only here

    spans = _annotations(module.read_text(encoding="utf-8"))
    with sqlite3.connect(session) as db:
        rows = db.execute(
            "select job_id, start_pos_row, start_pos_col from mutation_specs where job_id not in "
            "(select job_id from work_results)"
        ).fetchall()
        for job, row, col in rows:
            if any(start <= (row, col) < end for start, end in spans):
                db.execute(
                    "insert into work_results (worker_outcome, output, job_id) values (?, ?, ?)",
                    ("SKIPPED", "in an annotation: never evaluated", job),
                )


def _counts(session: Path) -> tuple[int, int]:
    import sqlite3  # noqa: PLC0415 - only here

    with sqlite3.connect(session) as db:
        total = db.execute("select count(*) from work_items").fetchone()[0]
        skipped = db.execute(
            "select count(*) from work_results where lower(worker_outcome) = 'skipped'"
        ).fetchone()[0]
    return int(total), int(skipped)


def recheck(name: str, *, quick: bool) -> int:
    """Run only the last session's survivors of `name` again, against the tests as they are
    now (after tests were added for them); return how many still survive. Mutants are found by
    operator and occurrence, so the module itself must not have changed since."""
    import json  # noqa: PLC0415 - only here
    import sqlite3  # noqa: PLC0415

    path = MODULES[name][0]
    work = REPO / ".mutate"
    with sqlite3.connect(work / f"{name}.sqlite") as db:
        found = db.execute(
            "select m.operator_name, m.occurrence, m.start_pos_row, m.start_pos_col from "
            "work_results r join mutation_specs m using (job_id) where r.test_outcome = 'SURVIVED'"
        ).fetchall()
    spans = _annotations((REPO / path).read_text(encoding="utf-8"))
    survivors = [
        (op, occurrence)
        for op, occurrence, row, col in found
        if not any(start <= (row, col) < end for start, end in spans)  # skipped from now on
    ]
    tree = work / f"tree-{name}"
    _copy_tree(tree)
    env = {**os.environ, "PATH": f"{tree / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    command = f"python scripts/mutate.py --test {name}{' --quick' if quick else ''}"
    left = []
    for operator, occurrence in survivors:
        done = subprocess.run(
            [str(BIN / "cosmic-ray"), "mutate-and-test", path, operator, str(occurrence), command],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout)
        if result.get("test_outcome") == "survived":
            left.append(f"{operator} #{occurrence}\n{result.get('diff', '')}")
    (work / f"{name}.recheck.txt").write_text("\n".join(left), encoding="utf-8")
    print(
        f"mutate {name}: {len(found)} survivors, {len(found) - len(survivors)} in annotations "
        f"(skipped now), {len(survivors)} re-checked, {len(left)} still survive"
    )
    shutil.rmtree(tree)
    return len(left)


def main(names: list[str]) -> int:
    if names[:1] == ["--test"]:
        return run_tests(names[1], quick="--quick" in names)
    if names[:1] == ["--recheck"]:
        return 1 if recheck(names[1], quick=os.environ.get("MUTATE_QUICK") == "1") else 0
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        print(f"mutate: unknown module {', '.join(unknown)}; one of {', '.join(MODULES)}")
        return 2
    quick = os.environ.get("MUTATE_QUICK") == "1"
    survived = sum(mutate(name, quick=quick) for name in names or MODULES)
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
