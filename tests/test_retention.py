"""Artifact retention: the pure policy, and cleanups on real trees, real locks, real processes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from filelock import FileLock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.config.derived import retention_policy
from runner.config.settings import load_settings
from runner.files.walk import remove_tree
from runner.volume.artifacts import LEDGER, RUN_MARKER, TOMBSTONES, RunLayout
from runner.volume.cleanup import carry_out, cleanup, survey
from runner.volume.ledger import Host, LedgerLine
from runner.volume.retention import Plan, Policy, Reason, RunInfo, newest_first, select
from tests.conftest import REPO, FakePlaywright, runner_command
from tests.strategies import RETENTION_NOW, retention_policies, run_dir_names, run_infos

NOW = RETENTION_NOW
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- a real artifact tree -------------------------------------------------------------------
def make_run(root: Path, name: str, *, age_days: float, size: int = 100, job: str = "") -> Path:
    """A run directory as the runner leaves it: marker, ledger, one finished attempt, logs;
    `job` also indexes its log under _jobs/ns/<job>.log."""
    when = NOW - timedelta(days=age_days)
    run = RunLayout(root, name)
    attempt = run.attempt(1)
    (attempt.html_report).mkdir(parents=True)
    run.marker.write_text(json.dumps({"run_name": name, "created": when.isoformat()}))
    host = Host(pod="old", pid=1)
    lines = [
        LedgerLine(event="start", attempt=1, time=when, host=host),
        LedgerLine(event="end", attempt=1, time=when, host=host, outcome="passed", exit_code=0),
    ]
    run.ledger.write_text("".join(line.model_dump_json() + "\n" for line in lines))
    attempt.log.write_text("log of " + name + "\n")
    (attempt.html_report / "index.html").write_bytes(b"x" * size)
    attempt.summary.write_text("{}")
    os.utime(run.ledger, (when.timestamp(), when.timestamp()))
    if job:
        link = root / "_jobs" / "ns" / f"{job}.log"
        link.parent.mkdir(parents=True, exist_ok=True)
        os.link(attempt.log, link)
    return run.dir


def snapshot(path: Path) -> dict[str, str]:
    """Every entry below `path` (links as their targets, never followed) and its content."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for name in filenames + links:
            if name.endswith(".lock"):
                continue  # lock files are made by whoever takes the lock first: not evidence
            full = Path(dirpath, name)
            rel = str(full.relative_to(path))
            out[rel] = "-> " + os.readlink(full) if full.is_symlink() else full.read_text()
    return out


def runs_on_disk(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if (p / RUN_MARKER).is_file() and not p.is_symlink()}


def tombstones(root: Path) -> list[Path]:
    return list((root / TOMBSTONES).iterdir()) if (root / TOMBSTONES).exists() else []


def index_targets(root: Path) -> dict[str, tuple[int, int]]:
    jobs = root / "_jobs"
    return {
        str(p.relative_to(jobs)): (p.stat().st_dev, p.stat().st_ino)
        for p in jobs.rglob("*.log")
        if not p.name.startswith(".")
    }


def logs_of(root: Path) -> set[tuple[int, int]]:
    return {(p.stat().st_dev, p.stat().st_ino) for p in root.glob("*/attempt-*/verification.log")}


@contextlib.contextmanager
def held(root: Path, names: set[str]) -> Iterator[None]:
    """Hold the active lock of each run as a running attempt would (filelock, like attempts.py)."""
    locks = [FileLock(str(RunLayout(root, n).active_lock)) for n in sorted(names)]
    for lock in locks:
        lock.acquire(timeout=0)
    try:
        yield
    finally:
        for lock in locks:
            lock.release(force=True)


@contextlib.contextmanager
def immutable(root: Path, paths: list[Path]) -> Iterator[None]:
    """`chattr +i`: a failure that root cannot override (tests run as root, which ignores
    permission bits). Cleared again on the whole tree, wherever the cleanup moved the paths,
    so that the temporary tree can be removed."""
    try:
        for path in paths:
            subprocess.run(["chattr", "+i", str(path)], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["chattr", "-R", "-i", str(root)], check=False, capture_output=True)


def _chattr_works() -> bool:
    if not shutil.which("chattr"):
        return False
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp, "f")
        probe.touch()
        done = subprocess.run(["chattr", "+i", str(probe)], check=False, capture_output=True)
        subprocess.run(["chattr", "-i", str(probe)], check=False, capture_output=True)
        ok = done.returncode == 0
        return ok


# The only test of retention's failed-deletion path. A developer's machine whose temporary
# file system refuses `chattr +i` skips it, saying so; CI (CI=true) never skips it: there the
# refusal fails the test (`test_chattr_works_in_ci`), so the path cannot go untested silently.
IN_CI = os.environ.get("CI", "").lower() not in {"", "0", "false", "no"}
needs_chattr = pytest.mark.skipif(
    not IN_CI and not _chattr_works(), reason="needs chattr +i on the temp fs (CI fails instead)"
)


@pytest.mark.skipif(not IN_CI, reason="CI only: elsewhere needs_chattr skips and says why")
def test_chattr_works_in_ci() -> None:
    assert _chattr_works(), (
        "chattr +i is refused on the temporary file system: retention's failed-deletion path "
        "(test_failed_deletions_leave_a_consistent_tree_and_are_retried) would go untested"
    )


# -- the policy, pure -------------------------------------------------------------------------
@PROPERTY
@given(run_infos, retention_policies)
def test_policy_removes_exactly_what_it_selects(runs: list[RunInfo], policy: Policy) -> None:
    plan = select(runs, policy, now=NOW)
    assert sorted(d.run.name for d in plan.decisions) == sorted(r.name for r in runs)
    order = [r.name for r in newest_first(runs)]
    newest = set(order[: policy.keep_runs])
    by_reason: dict[tuple[bool, Reason], list[RunInfo]] = {}
    for d in plan.decisions:
        by_reason.setdefault((d.remove, d.reason), []).append(d.run)
        if d.remove:  # never the current run, a running one, or one of the newest K
            assert not (d.run.current or d.run.locked) and d.run.name not in newest
        if d.run.current:
            assert d.reason is Reason.CURRENT
    age = policy.max_age
    for run in by_reason.get((True, Reason.AGE), []):
        assert age and NOW - run.last_active > age
    assert not (age and by_reason.get((True, Reason.COUNT)))
    for run in by_reason.get((False, Reason.AGE), []):
        assert NOW - run.last_active <= age
    _check_size_cap(plan, policy, by_reason)


def _check_size_cap(
    plan: Plan, policy: Policy, by_reason: dict[tuple[bool, Reason], list[RunInfo]]
) -> None:
    cap = policy.max_total_bytes
    kept = sum(d.run.size for d in plan.keep)
    assert plan.kept_bytes == kept
    sized = by_reason.get((True, Reason.SIZE), [])
    if cap is None:
        assert not sized and not plan.over_cap
        return
    candidates = by_reason.get((False, Reason.AGE), [])
    # Under the cap, or nothing removable is left to remove.
    assert kept <= cap or not candidates
    assert plan.over_cap == (kept > cap)
    if sized:  # oldest first, and no more than needed

        def key(run: RunInfo) -> tuple[datetime, str]:
            return (run.last_active, run.name)

        assert all(key(c) > key(s) for c in candidates for s in sized)
        assert kept + min(s.size for s in sized if key(s) == max(map(key, sized))) > cap


# -- a real tree ------------------------------------------------------------------------------
tree_runs = st.lists(
    st.tuples(run_dir_names, st.integers(0, 30), st.booleans(), st.booleans()),
    max_size=12,
    unique_by=lambda t: t[0],
)


@pytest.mark.slow
@PROPERTY
@given(tree_runs, retention_policies, st.data())
def test_cleanup_keeps_the_tree_whole(
    runs: list[tuple[str, int, bool, bool]], policy: Policy, data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root, outside = Path(tmp, "root"), Path(tmp, "outside")
        # Outside the root: a run-shaped directory and a file, reachable only through symlinks.
        make_run(outside, "victim", age_days=99)
        (outside / "secret").write_text("keep me")
        root.mkdir()
        for name, age, _, indexed in runs:
            run = make_run(root, name, age_days=age, job=f"job-{name}" if indexed else "")
            (run / "attempt-1" / "escape").symlink_to(outside / "secret")
            (run / "attempt-1" / "escape-dir").symlink_to(outside / "victim")
        (root / "zz-link").symlink_to(outside / "victim")  # a run name, but a symlink
        (root / "foreign").mkdir()  # no marker: not the runner's
        (root / "foreign" / "data").write_text("not ours")
        current = data.draw(st.sampled_from([None] + [r[0] for r in runs]))
        locked = {name for name, _, lock, _ in runs if lock and name != current}
        before_out, before = snapshot(outside), {r[0]: snapshot(root / r[0]) for r in runs}

        with held(root, locked):
            report = cleanup(root, policy, current=current, now=NOW)

        removed = {d.run.name for d in report.plan.remove}
        assert not report.failures and report.removed == len(removed)
        assert runs_on_disk(root) == {r[0] for r in runs} - removed
        assert not removed & (locked | {current})
        assert snapshot(outside) == before_out  # nothing outside the root touched
        assert (root / "zz-link").is_symlink() and (root / "foreign" / "data").exists()
        for name in runs_on_disk(root):  # every remaining run complete, byte for byte
            assert snapshot(root / name) == before[name]
        assert not tombstones(root)
        assert set(index_targets(root).values()) <= logs_of(root)  # no link to a removed run
        kept_indexed = {n for n, _, _, idx in runs if idx and n not in removed}
        assert {k.removeprefix("ns/job-").removesuffix(".log") for k in index_targets(root)} == (
            kept_indexed
        )


# -- failures half-way ------------------------------------------------------------------------
FAULTS = st.sampled_from(["none", "busy-file", "frozen-dir", "vanish"])


@needs_chattr
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FAULTS, min_size=1, max_size=6))
def test_failed_deletions_leave_a_consistent_tree_and_are_retried(faults: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        names = [f"r{i}" for i in range(len(faults))]
        for name in names:
            make_run(root, name, age_days=30, job=f"job-{name}")
        make_run(root, "young", age_days=0, job="job-young")
        policy = Policy(keep_runs=1, max_age=timedelta(days=7))
        fault = dict(zip(names, faults, strict=True))
        # A file that cannot be deleted (immutable, like a busy or read-only file) and a run
        # directory that cannot be renamed (immutable: EPERM, as on a read-only mount).
        frozen = [root / n / "attempt-1" / "summary.json" for n in names if fault[n] == "busy-file"]
        frozen += [root / n for n in names if fault[n] == "frozen-dir"]
        with immutable(root, frozen):
            planned = survey(root, policy, now=NOW)
            for name in names:  # deleted by someone else between the plan and the removal
                if fault[name] == "vanish":
                    shutil.rmtree(root / name)
            report = carry_out(planned)
            expected = sum(fault[n] in ("busy-file", "frozen-dir") for n in names)
            assert len(report.failures) == expected, report.failures
            # The root holds complete runs only: the unrenamable ones and the young one.
            assert runs_on_disk(root) == {n for n in names if fault[n] == "frozen-dir"} | {"young"}
            for name in runs_on_disk(root):
                assert (root / name / "attempt-1" / "summary.json").exists()
            leftovers = tombstones(root)
            assert len(leftovers) == faults.count("busy-file")  # hidden, never a half-run
            assert set(index_targets(root).values()) <= logs_of(root)
            notes = {o.name: o.note for o in report.outcomes}
            assert all("gone" in notes[n] for n in names if fault[n] == "vanish")
        again = cleanup(root, policy, now=NOW)  # the faults are cleared: all of it goes now
        assert not again.failures
        assert runs_on_disk(root) == {"young"} and not tombstones(root)
        assert set(index_targets(root)) == {"ns/job-young.log"}


def test_unreadable_root_is_exit_3_and_a_missing_root_is_nothing_to_do(tmp_path: Path) -> None:
    policy = Policy(keep_runs=0, max_age=timedelta(0))
    assert cleanup(tmp_path / "missing", policy).removed == 0
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(Exception, match="cannot read the artifact root") as raised:
        cleanup(tmp_path / "file", policy)
    assert int(getattr(raised.value, "exit_code", 0)) == 3


# -- through the CLI, in either environment ---------------------------------------------------
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.integers(0, 4))
def test_kubernetes_and_local_defaults_clean_the_same(ages: list[int], keep: int) -> None:
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        for flavour in ("kubernetes", "local"):
            base = Path(tmp, flavour)
            root = base / ".verification-artifacts"  # the local default, under the cwd
            for i, age in enumerate(ages):
                make_run(root, f"run-{i}", age_days=age, job=f"j{i}")
            env = {"RETENTION_KEEP_RUNS": str(keep)}
            if flavour == "kubernetes":  # ARTIFACT_ROOT is set in a pod (its default: /artifacts)
                env |= {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "ARTIFACT_ROOT": str(root)}
            with contextlib.chdir(base):
                config = load_settings(env)
            assert config.artifact_root == root
            report = cleanup(config.artifact_root, retention_policy(config), now=NOW)
            reports.append(
                (
                    [(d.run.name, d.remove, d.reason) for d in report.plan.decisions],
                    sorted(runs_on_disk(root)),
                    sorted(index_targets(root)),
                )
            )
    assert reports[0] == reports[1]


def cleanup_command(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`verification-runner cleanup ARGS` through the real CLI."""
    return subprocess.run(
        [*runner_command(), "cleanup", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cleanup_command_dry_run_says_why_and_removes_nothing(tmp_path: Path) -> None:
    for i, age in enumerate([1, 20, 40]):
        make_run(tmp_path, f"run-{i}", age_days=age + (datetime.now(UTC) - NOW).days)
    env = {**os.environ, "ARTIFACT_ROOT": str(tmp_path), "RETENTION_KEEP_RUNS": "1"}
    dry = cleanup_command(env, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "keep (count)" in dry.stdout and "would remove (age)" in dry.stdout
    assert runs_on_disk(tmp_path) == {"run-0", "run-1", "run-2"}
    done = cleanup_command(env)
    assert done.returncode == 0 and "2 removed" in done.stdout
    assert runs_on_disk(tmp_path) == {"run-0"}


def test_run_prunes_after_it_writes_its_results(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    root = tmp_path / "a"
    days = (datetime.now(UTC) - NOW).days
    for i in range(3):
        make_run(root, f"old-{i}", age_days=30 + days, job=f"old-{i}")
    make_run(root, "old-running", age_days=30 + days)
    env = fake_pw.env(
        root,
        "discovery:3,junit:pass:3",
        RETENTION_KEEP_RUNS="1",
        POD_NAMESPACE="ns",
        JOB_NAME="verify-1",
    )
    with held(root, {"old-running"}):
        done = subprocess.run(
            [*runner_command(), "run"],
            env=env,
            cwd=REPO,
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stdout.decode()[-2000:]
    (current,) = runs_on_disk(root) - {"old-running"}
    assert runs_on_disk(root) == {current, "old-running"}
    attempt = root / current / "attempt-1"
    assert json.loads((attempt / "summary.json").read_text())["passed"] == 3
    assert '"event":"end"' in (root / current / LEDGER).read_text()
    log = (attempt / "verification.log").read_text()
    assert "3 removed" in log and log.index("3 removed") < log.index("VERIFICATION PASSED")
    assert done.stdout.splitlines()[-1].startswith(b"[verification-runner] VERIFICATION PASSED")
    assert set(index_targets(root)) == {"ns/verify-1.log"}


def test_retention_disabled_keeps_everything(tmp_path: Path, fake_pw: FakePlaywright) -> None:
    root = tmp_path / "a"
    make_run(root, "old", age_days=30 + (datetime.now(UTC) - NOW).days)
    env = fake_pw.env(
        root, "discovery:3,junit:pass:3", RETENTION_KEEP_RUNS="0", RETENTION_ENABLED="false"
    )
    done = subprocess.run(
        [*runner_command(), "run"], env=env, cwd=REPO, capture_output=True, timeout=120, check=False
    )
    assert done.returncode == 0 and "old" in runs_on_disk(root)


# -- real processes racing on one root ----------------------------------------------------------
@pytest.mark.slow
def test_concurrent_cleanups_and_attempts(tmp_path: Path) -> None:
    root, go, release = tmp_path / "root", tmp_path / "go", tmp_path / "release"
    days = (datetime.now(UTC) - NOW).days
    old = [f"old-{i}" for i in range(24)]
    for name in old:
        make_run(root, name, age_days=30 + days, size=20_000, job=name)
    retried = old[:4]  # old runs that get a new attempt while the cleanups run
    fresh = [f"new-{i}" for i in range(3)]
    env = {**os.environ, "ARTIFACT_ROOT": str(root), "RETENTION_KEEP_RUNS": "0"}
    module = [sys.executable, "-m"]
    cleanups = [
        subprocess.Popen(
            [*module, "tests.helpers.cleanup_rounds", str(go), "3"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(5)
    ]
    holders = {
        name: subprocess.Popen(
            [
                *module,
                "tests.helpers.hold_attempt",
                str(root),
                name,
                "refuse",
                str(release),
                str(go),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in retried + fresh
    }
    go.touch()
    try:
        outputs = [c.communicate(timeout=60) for c in cleanups]
    finally:
        release.touch()
        held_out = {n: p.communicate(timeout=60) for n, p in holders.items()}
    for proc, (out, err) in zip(cleanups, outputs, strict=True):
        assert proc.returncode == 0 and "Traceback" not in out + err, out + err
    for name, (out, err) in held_out.items():  # never refused: a cleanup is not a duplicate
        assert holders[name].returncode == 0, (name, out, err)
        number = int(out.split("ATTEMPT ")[1].split()[0])
        assert (root / name / f"attempt-{number}").is_dir()
    # Every live run intact, every other old run gone, no half-run, no leftover tombstone.
    assert runs_on_disk(root) == set(retried + fresh)
    assert not tombstones(root)
    assert set(index_targets(root).values()) <= logs_of(root)


@contextlib.contextmanager
def remove_afterwards(path: Path) -> Iterator[None]:
    """A deep tree left in tmp_path would make pytest's own rmtree of old temporary
    directories fail with RecursionError in every later session on this machine."""
    try:
        yield
    finally:
        remove_tree(path)


def _deep_tree(top: Path, levels: int) -> None:
    """`levels` nested directories under `top`, made level by level (no path is ever long)."""
    top.mkdir(parents=True)
    with contextlib.chdir(top):
        for _ in range(levels):
            os.mkdir("d")
            os.chdir("d")
        Path("f").write_text("bottom\n")


@pytest.mark.slow
@needs_chattr
def test_a_tombstone_that_cannot_go_never_blocks_the_rest(tmp_path: Path) -> None:
    """Issue 22, item 6: rmtree raised RecursionError on a 1,500-level tombstone, and every
    later cleanup crashed on it. Through the CLI: the deep tombstone goes, one holding an
    immutable file is skipped with a warning, and the old run is pruned all the same."""
    root = tmp_path / "root"
    make_run(root, "old", age_days=400)
    make_run(root, "young", age_days=0)
    _deep_tree(root / TOMBSTONES / "deep.1.00000000", 1500)
    stuck = root / TOMBSTONES / "stuck.1.00000000"
    stuck.mkdir()
    (stuck / "held").write_text("cannot be deleted\n")
    env = {**os.environ, "ARTIFACT_ROOT": str(root), "RETENTION_KEEP_RUNS": "1"}
    with remove_afterwards(root), immutable(root, [stuck / "held"]):
        done = cleanup_command(env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        assert runs_on_disk(root) == {"young"}
        assert tombstones(root) == [stuck]
        assert "FAILED: stuck.1.00000000: 2 entries not deleted" in done.stdout
        assert "stuck.1.00000000/held: Operation not permitted" in done.stdout
