"""A stand-in for `npx playwright test`, driven by FAKE_PW, for tests where the browser is
not the point. FAKE_PW is a comma-separated script of actions run in order:

  print:N            print N numbered lines             bytes:N  N bytes of hostile output
  longline:N         one line of N bytes                discovery:N  discovery file, N tests
  notests            discovery file saying "No tests found"
  junit:KIND[:N]     write $PLAYWRIGHT_JUNIT_OUTPUT_NAME; KIND = pass, fail, flaky, empty,
                     truncated, notxml, zero, skipped (the last tree's tests skipped); test i
                     goes to the i-th configured tree (round robin), as its project
  html               write an index.html into $PLAYWRIGHT_HTML_OUTPUT_DIR, as the html reporter does
  sleep:S            sleep S seconds                    hang     sleep forever
  await:PATH         wait until PATH exists (a release file the test creates; 120 s at most)
  stubborn           start a grandchild that ignores SIGTERM and SIGINT, in its own session
  ignoreterm         ignore SIGTERM and SIGINT here     segv     die of SIGSEGV
  exit:N             exit with N
  workspace          write $FAKE_PW_RECORD.workspace: the files under $TESTS_WORKSPACE's checkout,
                     its .git/config and this process's whole environment (the fetch tests)
It also records its argv and environment keys in $FAKE_PW_RECORD when that is set.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

CASE = '<testcase name="{name}" classname="{file}" time="0.1">{body}</testcase>'


def configured_trees() -> list[tuple[str, str]]:
    """The test trees the runner checked that hold a spec, as (project, real path): what the
    real config makes projects of. Test i runs in tree i % len(trees), so every such tree runs
    one when n >= trees."""
    try:
        from runner.config.commalist import comma_list  # noqa: PLC0415 - only in the stand-in
        from runner.trees import check_trees  # noqa: PLC0415

        trees = check_trees(
            Path(os.environ["TESTS_WORKSPACE"]),
            os.environ.get("CENTRAL_TESTS_DIR", "apps/backstage/tests/acceptance"),
            comma_list(os.environ.get("PLUGIN_TESTS_GLOB")),
            glob_is_explicit=False,
            allow_no_tests=True,
            say=lambda _line: None,
            test_match=comma_list(os.environ.get("TEST_MATCH")),
        )
    except Exception:
        return [("central", "")]
    return [(tree.project, os.path.realpath(tree.path)) for tree in trees if tree.has_specs]


def shard_offset(n: int) -> int:
    """Shard K of a sharded run (`--shard=K/N`) starts its round robin where shard K-1's
    ended, so the shards together run every tree, as Playwright's shards share the suite."""
    for arg in sys.argv:
        if arg.startswith("--shard="):
            return (int(arg.split("=")[1].split("/")[0]) - 1) * n
    return 0


def junit(kind: str, n: int) -> str:
    trees = [name for name, _ in configured_trees()]
    offset = shard_offset(n)
    suites: dict[str, list[str]] = {name: [] for name in trees}
    for i in range(n):
        body = ""
        name = f"test {i}"
        if kind == "fail" and i == 0:
            name = "fails on purpose"
            body = (
                '<failure message="expected 1 to be 2&#10;second line" type="Error">trace</failure>'
            )
        tree = trees[(i + offset) % len(trees)]
        if kind == "skipped" and tree == trees[-1]:
            body = "<skipped/>"  # every test of the last tree, as test.skip() leaves them
        if kind == "flaky" and i == 0:
            name = "flaky one"
            body = '<flakyFailure message="timing" type="Error"></flakyFailure>'
        suites[tree].append(CASE.format(name=name, file="home.spec.ts", body=body))
    failures = 1 if kind == "fail" else 0
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<testsuites tests="{n}" failures="{failures}">'
        + "".join(
            f'<testsuite name="home.spec.ts" hostname="{tree}" tests="{len(cases)}">'
            f"{''.join(cases)}</testsuite>"
            for tree, cases in suites.items()
            if cases
        )
        + "</testsuites>\n"
    )


def write_junit(kind: str, n: int) -> None:
    path = Path(os.environ["PLAYWRIGHT_JUNIT_OUTPUT_NAME"])
    path.parent.mkdir(parents=True, exist_ok=True)
    text = {"empty": "", "notxml": "this is not XML\n", "zero": junit("pass", 0)}.get(kind)
    if text is None:
        text = junit(kind, n)
    if kind == "truncated":
        text = junit("pass", n)[: len(junit("pass", n)) // 2]
    path.write_text(text)


def write_discovery(total: int, errors: list[str]) -> None:
    """As reporters/discovery-reporter.cjs writes it: the tree projects and their tests."""
    target = os.environ.get("VR_DISCOVERY_FILE")
    if target:
        trees = configured_trees()
        offset = shard_offset(total)
        per_tree = [0] * len(trees)
        for i in range(total):
            per_tree[(i + offset) % len(trees)] += 1
        report = {
            "total": total,
            "projects": {name: n for (name, _), n in zip(trees, per_tree, strict=True) if n},
            "trees": [
                {"project": name, "dir": path, "discovered": n}
                for (name, path), n in zip(trees, per_tree, strict=True)
            ],
            "setup": [],
            "tests": [],
            "errors": errors,
        }
        Path(target).write_text(json.dumps(report))


def record_workspace(target: Path) -> None:
    workspace = Path(os.environ["TESTS_WORKSPACE"])
    checkout = next((p for p in (workspace, *workspace.parents) if (p / ".git").is_dir()), None)
    root = checkout or workspace
    files = sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    )
    git_config = (root / ".git" / "config").read_text() if checkout else ""
    target.write_text(
        json.dumps(
            {"root": str(root), "files": files, "git_config": git_config, "env": dict(os.environ)}
        )
    )


def main() -> int:  # noqa: PLR0912 - one branch per scripted action
    if record := os.environ.get("FAKE_PW_RECORD"):
        facts = {"argv": sys.argv[1:], "env": sorted(os.environ), "cwd": os.getcwd()}
        Path(record).write_text(json.dumps(facts))
    out = sys.stdout.buffer
    for action in filter(None, os.environ.get("FAKE_PW", "").split(",")):
        verb, _, arg = action.partition(":")
        if verb == "print":
            for i in range(int(arg)):
                out.write(f"line {i}\n".encode())
                out.flush()
        elif verb == "bytes":
            chunk = b"ok \xff\xfe invalid \x00 nul \x1b[31mred\x1b[0m \xe2\x82 cut\n"
            out.write((chunk * (int(arg) // len(chunk) + 1))[: int(arg)])
            out.flush()
        elif verb == "longline":
            out.write(b"x" * int(arg) + b"\n")
            out.flush()
        elif verb == "discovery":
            write_discovery(int(arg), [])
        elif verb == "notests":
            write_discovery(0, ["Error: No tests found"])
        elif verb == "junit":
            kind, _, n = arg.partition(":")
            write_junit(kind, int(n or 3))
        elif verb == "html":
            report = Path(os.environ["PLAYWRIGHT_HTML_OUTPUT_DIR"])
            report.mkdir(parents=True, exist_ok=True)
            (report / "index.html").write_text(
                "<!DOCTYPE html><html><head><title>Playwright Test Report</title></head></html>\n"
            )
        elif verb == "sleep":
            time.sleep(float(arg))
        elif verb == "await":
            end = time.monotonic() + 120
            while not Path(arg).exists() and time.monotonic() < end:
                time.sleep(0.05)
        elif verb == "hang":
            while True:
                time.sleep(1)
        elif verb == "stubborn":
            code = (
                "import signal,time,sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "signal.signal(signal.SIGINT, signal.SIG_IGN); print('stubborn grandchild up', flush=True); time.sleep(600)"
            )
            subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
            time.sleep(0.5)
        elif verb == "ignoreterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        elif verb == "segv":
            out.flush()
            os.kill(os.getpid(), signal.SIGSEGV)
        elif verb == "exit":
            return int(arg)
        elif verb == "workspace":
            record_workspace(Path(os.environ["FAKE_PW_RECORD"] + ".workspace"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
