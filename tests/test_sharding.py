"""One run sharded across N runner processes (one AnalysisTemplate metric, so one Job, per
shard; SHARD_INDEX), merged into one report.

The bookkeeping cases use a stand-in npx (tests/helpers/fake_shards.py: a fake blob is a zip
holding the shard's JUnit file, and a fake merge-reports joins them); the last test runs real
Playwright, real Chromium, the real blob reporter and the real merge-reports.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import psutil
import pytest
from filelock import FileLock

from runner.volume.artifacts import LEDGER
from runner.volume.cleanup import cleanup
from runner.volume.retention import Policy
from tests.conftest import REPO, FakePlaywright, playwright_shim, runner_command, written_forms

UID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
pytestmark = pytest.mark.slow  # every test starts several runners at once

RUN = "9a8b7c6d5e4f"
FAKE_SHARDS = REPO / "tests" / "helpers" / "fake_shards.py"


@pytest.fixture
def npx(tmp_path: Path) -> FakePlaywright:
    return playwright_shim(tmp_path / "shard-bin", FAKE_SHARDS)


def _start(
    npx: FakePlaywright, root: Path, index: int, script: str, count: int = 3, **extra: str
) -> subprocess.Popen[str]:
    env = npx.env(
        root,
        script,
        ANALYSIS_RUN_UID=UID,
        SHARD_COUNT=str(count),
        SHARD_INDEX=str(index),
        RETENTION_ENABLED="false",
    )
    env.update(extra)
    env = {name: value for name, value in env.items() if value}  # "" = unset here
    return subprocess.Popen(
        [*runner_command(), "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _shards(npx: FakePlaywright, root: Path, scripts: Sequence[str]) -> list[tuple[int, str]]:
    procs = [_start(npx, root, i, s, len(scripts)) for i, s in enumerate(scripts)]
    return [(p.wait(timeout=120), p.communicate()[0]) for p in procs]


def _merged(root: Path) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((root / RUN / "merged" / "summary.json").read_text()))


def _merges(root: Path) -> list[dict[str, object]]:
    lines = (root / RUN / LEDGER).read_text().splitlines()
    return [line for line in map(json.loads, lines) if line["event"] == "merged"]


def test_the_merged_summary_masks_secrets(tmp_path: Path, npx: FakePlaywright) -> None:
    """merged/summary.json masks what a shard's own files mask, escaped characters included."""
    secret = 'merge-"SECRET\\7e2f-ü'  # noqa: S105 - planted on purpose
    procs = [
        subprocess.Popen(
            [*runner_command(), "run"],
            env={
                **npx.env(
                    tmp_path,
                    script,
                    ANALYSIS_RUN_UID=UID,
                    SHARD_COUNT="2",
                    SHARD_INDEX=str(i),
                    RETENTION_ENABLED="false",
                ),
                "API_TOKEN": secret,
            },
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
        for i, script in enumerate(
            ["discovery:1,junitsecret:API_TOKEN,exit:1", "discovery:1,junit:pass:1"]
        )
    ]
    codes = [p.wait(timeout=120) for p in procs]
    assert codes[0] == 1 and codes[1] in (0, 1), codes  # shard 1 exits 1 when it merges
    merged = tmp_path / RUN / "merged"
    summary = (merged / "summary.json").read_bytes()
    assert json.loads(summary)["failed"] == 1
    for data in (summary, (merged / "verification.log").read_bytes()):
        for form in written_forms(secret):
            assert form not in data
    assert b"****" in summary


def test_shards_merge_into_one_report(tmp_path: Path, npx: FakePlaywright) -> None:
    done = _shards(npx, tmp_path, ["discovery:2,sleep:1,junit:pass:2"] * 3)
    assert [code for code, _ in done] == [0, 0, 0], done
    merged = _merged(tmp_path)
    assert (merged["verdict"], merged["total"], merged["passed"]) == ("passed", 6, 6)
    assert (merged["shard_count"], merged["missing_shards"]) == (3, [])
    assert len(_merges(tmp_path)) == 1, "exactly one merge"
    assert sum("merged report:" in out for _, out in done) == 1
    lines = [json.loads(x) for x in (tmp_path / RUN / LEDGER).read_text().splitlines()]
    assert lines[-1]["event"] == "merged", "the merge comes after every shard's end line"
    assert {x["shard_count"] for x in lines if x["event"] == "start"} == {3}
    assert "[merged, the exit code] VERIFICATION PASSED" in done[_merger(done)][1]
    assert not list((tmp_path / RUN).glob(".merged-*")), "no staging directory left"
    for i in range(3):  # every shard's own evidence stays
        attempt = tmp_path / RUN / f"shard-{i}" / "attempt-1"
        assert (attempt / "verification.log").exists() and (attempt / "blob.zip").exists()
    log = (tmp_path / RUN / "merged" / "verification.log").read_text()
    assert "VERIFICATION PASSED" in log.splitlines()[-1]
    assert (tmp_path / RUN / "merged" / "html-report" / "index.html").exists()


@pytest.mark.parametrize("first", [0, 1])
def test_one_failing_shard_fails_the_merging_shard(
    tmp_path: Path, npx: FakePlaywright, first: int
) -> None:
    """Whichever shard ends first waits for the other and merges; it exits with the merged
    verdict (1 even when its own tests passed), the other with its own."""
    release = tmp_path / "release"
    scripts = ["discovery:2,junit:pass:2", "discovery:2,junit:fail:2,exit:1"]
    later = 1 - first
    scripts[later] = scripts[later].replace("discovery:2,", f"discovery:2,await:{release},")
    slow = _start(npx, tmp_path, later, scripts[later], count=2)
    _wait_for(tmp_path / RUN / f"shard-{later}" / "attempt-1" / "verification.log")
    fast = _start(npx, tmp_path, first, scripts[first], count=2)
    out = _read_until(fast, "waiting for shard(s) 1" if first == 0 else "waiting for shard(s) 0")
    release.touch()
    out += fast.communicate(timeout=60)[0]
    slow_out, _ = slow.communicate(timeout=60)
    assert "merged report:" in out and "merged report:" not in slow_out
    codes = {first: fast.returncode, later: slow.returncode}
    assert codes == ({0: 1, 1: 1} if first == 0 else {0: 0, 1: 1}), out + slow_out
    assert "[merged, the exit code] VERIFICATION FAILED (exit 1)" in out.splitlines()[-1]
    merged = _merged(tmp_path)
    assert (merged["exit_code"], merged["total"], merged["failed"]) == (1, 4, 1)
    assert "shard 1" in str(merged["reason"])
    assert merged["failures"][0]["name"] == "fails on purpose"


def test_a_shard_that_crashes_before_its_blob_is_named(tmp_path: Path, npx: FakePlaywright) -> None:
    done = _shards(npx, tmp_path, ["discovery:2,junit:pass:2", "discovery:2,segv"])
    assert done[1][0] == 3 and done[_merger(done)][0] == 3, done
    merged = _merged(tmp_path)
    assert (merged["exit_code"], merged["passed"], merged["missing_shards"]) == (3, 2, [1])
    assert "shard 1 (attempt 1 ended infrastructure error without a blob" in str(merged["reason"])


def test_a_killed_shard_is_reported_missing(tmp_path: Path, npx: FakePlaywright) -> None:
    slow = _start(npx, tmp_path, 1, "discovery:2,hang", count=2)
    _wait_for(tmp_path / RUN / "shard-1" / "attempt-1" / "verification.log")
    fast = _start(npx, tmp_path, 0, "discovery:2,junit:pass:2", count=2)
    out = ""
    assert fast.stdout is not None
    for line in fast.stdout:  # shard 0 is done and waits for shard 1 to merge
        out += line
        if "waiting for shard(s) 1" in line:
            break
    children = psutil.Process(slow.pid).children(recursive=True)
    slow.send_signal(signal.SIGKILL)  # no end line, no blob: as an OOM-killed pod
    # Its tree dies with it by itself (runner/processes/reaper.py): killing the children here raced the
    # reaper (NoSuchProcess). wait_procs also reaps the orphans that come to pytest.
    _, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"the SIGKILLed shard's tree outlived it: {alive}"
    slow.communicate(timeout=30)
    rest, _ = fast.communicate(timeout=60)
    assert fast.returncode == 3, out + rest  # it merged: the merged verdict is its exit code
    merged = _merged(tmp_path)
    assert merged["missing_shards"] == [1] and merged["exit_code"] == 3
    assert "shard 1 (attempt 1 killed before it finished)" in str(merged["reason"])


def test_a_shard_that_never_starts_fails_the_merging_shard(
    tmp_path: Path, npx: FakePlaywright
) -> None:
    """SHARD_COUNT=3 and no shard 2 (a pod never scheduled, a metric nobody runs): the shards
    that ran pass, and the one that merges exits 3 naming shard 2, once it has waited the
    SHARD_START_WAIT_SECONDS bound (2 s here; 600 s by default) instead of its whole deadline."""
    release = tmp_path / "release"
    wait = "2"
    slow = _start(
        npx, tmp_path, 1, f"discovery:2,await:{release},junit:pass:2", SHARD_START_WAIT_SECONDS=wait
    )
    _wait_for(tmp_path / RUN / "shard-1" / "attempt-1" / "verification.log")
    started = time.monotonic()
    fast = _start(npx, tmp_path, 0, "discovery:2,junit:pass:2", SHARD_START_WAIT_SECONDS=wait)
    out = _read_until(fast, "waiting for shard(s) 1")
    release.touch()
    out += fast.communicate(timeout=60)[0]
    slow_out, _ = slow.communicate(timeout=60)
    assert time.monotonic() - started < 60
    assert (fast.returncode, slow.returncode) == (3, 0), out + slow_out
    assert "not waiting for shard(s) 2 to start: none started within SHARD_START_WAIT" in out
    last = out.splitlines()[-1]
    assert "[merged, the exit code] VERIFICATION INFRASTRUCTURE ERROR (exit 3)" in last, last
    assert "shard 2 (never started)" in last
    merged = _merged(tmp_path)
    assert (merged["exit_code"], merged["passed"], merged["missing_shards"]) == (3, 4, [2])
    assert "the shards were merged already" in slow_out


def test_shards_that_disagree_on_shard_count_are_exit_3(
    tmp_path: Path, npx: FakePlaywright
) -> None:
    """A shard given SHARD_COUNT=3 in a run whose shard 0 has 2 is refused at once, naming
    both; shard 0, which merges, sees the disagreement in the ledger and stops waiting for
    the shard it will never see (with the default 600 s wait, this test would time out)."""
    release = tmp_path / "release"
    first = _start(npx, tmp_path, 0, f"discovery:1,await:{release},junit:pass:1", count=2)
    _wait_for(tmp_path / RUN / "shard-0" / "attempt-1" / "verification.log")
    other = _start(npx, tmp_path, 1, "discovery:1,junit:pass:1", count=3)
    other_out, _ = other.communicate(timeout=60)
    assert other.returncode == 3, other_out
    assert (
        "SHARD_INDEX=1) has SHARD_COUNT=3, but shard 0 was given SHARD_COUNT=2"
        in other_out.splitlines()[-1]
    )
    release.touch()
    out, _ = first.communicate(timeout=60)
    assert first.returncode == 3, out
    merged = _merged(tmp_path)
    assert merged["exit_code"] == 3
    says = "the shards disagree on SHARD_COUNT: this merge has SHARD_COUNT=2, but shard 1 "
    assert says + "SHARD_COUNT=3" in merged["reason"]
    lines = [json.loads(x) for x in (tmp_path / RUN / LEDGER).read_text().splitlines()]
    assert [(x["event"], x["shard"], x["shard_count"]) for x in lines[:3]] == [
        ("start", 0, 2),
        ("refused", 1, 3),
        ("end", 0, None),
    ]


def _two_shards_then_merging(
    tmp_path: Path, npx: FakePlaywright, scripts: Sequence[str], **extra: str
) -> tuple[subprocess.Popen[str], subprocess.Popen[str], str]:
    """Shard 1 runs `scripts[1]` after a release file, shard 0 `scripts[0]`; returns once
    shard 0 has ended and waits (holding the merge lock) for shard 1: (shard 0, shard 1,
    shard 0's output so far). The release file is `tmp_path / "release"`."""
    release = tmp_path / "release"
    slow = _start(npx, tmp_path, 1, f"discovery:2,await:{release},{scripts[1]}", 2, **extra)
    _wait_for(tmp_path / RUN / "shard-1" / "attempt-1" / "verification.log")
    fast = _start(npx, tmp_path, 0, f"discovery:2,{scripts[0]}", 2, **extra)
    return fast, slow, _read_until(fast, "waiting for shard(s) 1")


def test_terminated_shards_merge_what_exists(tmp_path: Path, npx: FakePlaywright) -> None:
    """As Argo Rollouts does once a metric failed (or on an abort): every shard's Job is
    deleted, SIGTERM to every pod. Shard 0 (failed, waiting to merge) merges what exists at
    once; shard 1 (in its tests) writes its evidence and merges again with it. merged/ names
    shard 1 as cut short, and the verdict is failed."""
    fast, slow, out = _two_shards_then_merging(
        tmp_path, npx, ["junit:fail:2,exit:1", "junit:pass:2"]
    )
    for proc in (fast, slow):  # the Jobs are deleted: SIGTERM to every pod
        proc.send_signal(signal.SIGTERM)
    out += fast.communicate(timeout=60)[0]
    slow_out, _ = slow.communicate(timeout=60)
    assert fast.returncode == 1, out  # it merged: the merged verdict
    assert slow.returncode in (1, 143), slow_out  # 1 when it merged again, else its own
    assert "stopping (signal received): merging what exists now" in out
    merged = _merged(tmp_path)
    assert (merged["exit_code"], merged["failed"], merged["total"]) == (1, 1, 2), merged
    assert (merged["missing_shards"], merged["cut_short_shards"]) == ([1], [1])
    assert "shard 1 (attempt 1 ended terminated without a blob report)" in merged["reason"]
    shard1 = tmp_path / RUN / "shard-1" / "attempt-1"
    assert json.loads((shard1 / "summary.json").read_text())["exit_code"] == 143
    assert [s["outcome"] for s in merged["shards"]] == ["failed", "terminated"]
    assert _merges(tmp_path)[-1]["merged"] == {"0": 1, "1": 1}


def _sigterm_during_the_merge(
    tmp_path: Path, npx: FakePlaywright, *, grace: str
) -> tuple[subprocess.Popen[str], subprocess.Popen[str], str, Path]:
    """Two passing shards; shard 0 merges, and gets SIGTERM while merge-reports waits for the
    release file returned last (TERMINATION_GRACE_SECONDS=grace)."""
    merging = tmp_path / "merging"
    extra = {"FAKE_MERGE_AWAIT": str(merging), "TERMINATION_GRACE_SECONDS": grace}
    fast, slow, out = _two_shards_then_merging(
        tmp_path, npx, ["junit:pass:2", "junit:pass:2"], **extra
    )
    (tmp_path / "release").touch()
    _wait_for(Path(f"{merging}.started"))
    fast.send_signal(signal.SIGTERM)
    return fast, slow, out, merging


def test_a_merge_outlives_the_sigterm_of_its_merging_shard(
    tmp_path: Path, npx: FakePlaywright
) -> None:
    """SIGTERM while merge-reports runs (the other shard's exit made Rollouts delete this
    Job): the merge is finished within the termination grace, not killed with the pod."""
    fast, slow, out, merging = _sigterm_during_the_merge(tmp_path, npx, grace="120")
    time.sleep(1)  # before the fix, merge-reports got SIGINT within 0.2 s of the signal
    merging.touch()
    out += fast.communicate(timeout=60)[0]
    slow_out, _ = slow.communicate(timeout=60)
    assert (fast.returncode, slow.returncode) == (0, 0), out + slow_out
    merged = _merged(tmp_path)
    assert (merged["verdict"], merged["total"], merged["cut_short_shards"]) == ("passed", 4, [])
    assert "[merged, the exit code] VERIFICATION PASSED" in out.splitlines()[-1]


def test_a_merge_after_sigterm_ends_within_the_termination_grace(
    tmp_path: Path, npx: FakePlaywright
) -> None:
    """A merge-reports that never ends is stopped TERMINATION_GRACE_SECONDS after the signal
    less 5 s (here 1 s), so the pod exits before its SIGKILL, with a merged verdict."""
    fast, slow, out, _ = _sigterm_during_the_merge(tmp_path, npx, grace="6")  # never released
    signalled = time.monotonic()
    out += fast.communicate(timeout=60)[0]
    assert time.monotonic() - signalled < 30, "bounded by the grace (and the kill grace)"
    slow_out, _ = slow.communicate(timeout=60)  # it waited for the lock, then found the merge
    assert fast.returncode == 3, out
    merged = _merged(tmp_path)
    assert merged["exit_code"] == 3 and merged["total"] == 0, merged
    assert (
        "stopping the test process tree (deadline)"
        in (tmp_path / RUN / "merged" / "verification.log").read_text()
    )
    assert slow.returncode == 0, slow_out  # its own verdict: it merged nothing


def test_a_retried_shard_is_detected_and_merged_again(tmp_path: Path, npx: FakePlaywright) -> None:
    _shards(npx, tmp_path, ["discovery:2,junit:pass:2", "discovery:2,junit:fail:2,exit:1"])
    again = _start(npx, tmp_path, 1, "discovery:2,junit:pass:2", count=2)
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0, out
    assert "attempt 2 of shard 1" in out and "RETRY" in out
    meta = json.loads(
        (tmp_path / RUN / "shard-1" / "attempt-2" / "execution-metadata.json").read_text()
    )
    assert meta["retry_attempt"] is True
    merged = _merged(tmp_path)
    assert merged["verdict"] == "passed"
    assert [(s["shard"], s["attempt"]) for s in merged["shards"]] == [(0, 1), (1, 2)]
    assert [m["merged"] for m in _merges(tmp_path)] == [{"0": 1, "1": 1}, {"0": 1, "1": 2}]


def test_duplicates_of_one_shard_are_refused_other_shards_are_not(
    tmp_path: Path, npx: FakePlaywright
) -> None:
    release = tmp_path / "release-first"  # held until the duplicate is refused, not for a time
    first = _start(npx, tmp_path, 0, f"discovery:2,await:{release},junit:pass:2", count=2)
    _wait_for(tmp_path / RUN / "shard-0" / "attempt-1" / "verification.log")
    duplicate = _start(npx, tmp_path, 0, "discovery:2,junit:pass:2", count=2)
    other = _start(npx, tmp_path, 1, "discovery:2,junit:pass:2", count=2)
    dup_out, _ = duplicate.communicate(timeout=60)
    assert duplicate.returncode == 7 and "shard 0" in dup_out, dup_out
    release.touch()
    other.communicate(timeout=60)
    first.communicate(timeout=60)
    assert (other.returncode, first.returncode) == (0, 0)
    assert _merged(tmp_path)["total"] == 4


def test_an_empty_shard_passes(tmp_path: Path, npx: FakePlaywright) -> None:
    done = _shards(npx, tmp_path, ["discovery:3,junit:pass:3", "discovery:0,junit:zero"])
    assert [code for code, _ in done] == [0, 0], done
    assert "no test fell to this shard" in done[1][1]
    assert (_merged(tmp_path)["verdict"], _merged(tmp_path)["total"]) == ("passed", 3)


def test_the_merge_judges_every_tree_over_all_shards(tmp_path: Path, npx: FakePlaywright) -> None:
    """A shard may hold none of a tree's tests; the run as a whole may not. merged/summary.json
    carries each tree's counts over every shard."""
    done = _shards(npx, tmp_path, ["discovery:1,junit:pass:1"] * 3)
    assert [code for code, _ in done] == [0, 0, 0], done  # one tree each: no shard is judged
    merged = _merged(tmp_path)
    assert merged["verdict"] == "passed", merged["reason"]
    assert [(t["project"], t["passed"]) for t in merged["trees"]] == [
        ("central", 1),
        ("plugin:catalog", 1),
        ("plugin:techdocs", 1),
    ]
    assert merged["target"] == "local site"
    empty = tmp_path / "two"
    _shards(npx, empty, ["discovery:1,junit:pass:1"] * 2)
    merged = _merged(empty)
    assert merged["exit_code"] == 6
    assert (
        "plugin:techdocs (apps/backstage/plugins/techdocs/tests/acceptance): no test"
        in (merged["reason"])
    )


def test_an_empty_first_shard_is_an_empty_suite(tmp_path: Path, npx: FakePlaywright) -> None:
    """Playwright's first shard gets a test whenever the suite has one: when it gets none, the
    suite was emptied (--pass-with-no-tests, an empty --test-list; PWTEST_* is refused)
    and every shard passing would be a false green."""
    empty = "discovery:0,junit:zero"
    done = _shards(npx, tmp_path, [empty, empty])
    assert done[0][0] == 6 and done[_merger(done)][0] == 6, done  # shard 1: 0 unless it merged
    assert "no tests discovered" in done[0][1].splitlines()[-1]
    assert "no test fell to this shard" in done[1][1]


def test_an_index_outside_the_count_is_a_usage_error(tmp_path: Path, npx: FakePlaywright) -> None:
    proc = _start(npx, tmp_path, 3, "junit:pass", count=3)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "SHARD_INDEX=3 must be below SHARD_COUNT (3)" in out, out


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ({"SHARD_INDEX": ""}, "SHARD_INDEX is unset, but SHARD_COUNT=2 needs one"),
        ({"SHARD_INDEX": "-1"}, "SHARD_INDEX='-1'"),
        ({"SHARD_INDEX": "one"}, "SHARD_INDEX='one'"),
        # An Indexed Job's own variable is not read (no Indexed Job under Rollouts).
        ({"SHARD_INDEX": "", "JOB_COMPLETION_INDEX": "1"}, "SHARD_INDEX is unset"),
        ({"SHARD_START_WAIT_SECONDS": "-1"}, "SHARD_START_WAIT_SECONDS='-1'"),
        ({"SHARD_START_WAIT_SECONDS": "soon"}, "SHARD_START_WAIT_SECONDS='soon'"),
        ({"TERMINATION_GRACE_SECONDS": "inf"}, "TERMINATION_GRACE_SECONDS='inf'"),
        ({"TERMINATION_GRACE_SECONDS": "7200"}, "TERMINATION_GRACE_SECONDS='7200'"),
    ],
)
def test_a_missing_index_or_a_bad_shard_setting_is_a_usage_error(
    tmp_path: Path, npx: FakePlaywright, extra: dict[str, str], says: str
) -> None:
    proc = _start(npx, tmp_path, 1, "junit:pass", count=2, **extra)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2 and says in out, out
    assert len(out.strip().splitlines()) <= 3, "a short error, not a traceback"


def _job_log(root: Path, job: str) -> str:
    return (root / "_jobs" / "ns" / f"{job}.log").read_text()


def test_each_metric_shard_publishes_its_log_under_its_own_job(
    tmp_path: Path, npx: FakePlaywright
) -> None:
    """Parallel metrics: each shard is its own Job `<uid>.acceptance-<i>.1`, the name Kargo's
    urlTemplate asks for; that name shows the shard's own log, ending with the merge when it was
    the one that merged."""
    jobs = [f"{UID}.acceptance-{i}.1" for i in range(2)]
    procs = [
        _start(npx, tmp_path, i, "discovery:2,junit:pass:2", 2, JOB_NAME=job, POD_NAMESPACE="ns")
        for i, job in enumerate(jobs)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    for i, job in enumerate(jobs):
        log = _job_log(tmp_path, job)
        assert f"of shard {i} ({i + 1}/2)" in log
        assert log == (tmp_path / RUN / f"shard-{i}" / "attempt-1" / "verification.log").read_text()
    assert sum("merged report:" in _job_log(tmp_path, job) for job in jobs) == 1
    assert not list((tmp_path / "_jobs" / "ns").glob("*.shard-*")), "no per-index suffix"


@pytest.mark.parametrize("lock", ["shard-1/.active.lock", ".merge.lock"])
def test_retention_keeps_a_sharded_run_while_any_shard_lock_is_held(
    tmp_path: Path, npx: FakePlaywright, lock: str
) -> None:
    _shards(npx, tmp_path, ["discovery:2,junit:pass:2"] * 2)
    policy = Policy(keep_runs=0, max_age=timedelta(0))
    with FileLock(str(tmp_path / RUN / lock)):
        report = cleanup(tmp_path, policy)
    assert report.removed == 0 and (tmp_path / RUN).is_dir()
    assert cleanup(tmp_path, policy).removed == 1  # free again: removed


def _merger(done: Sequence[tuple[int, str]]) -> int:
    """The index of the one shard whose output says it merged."""
    (index,) = [i for i, (_, out) in enumerate(done) if "merged report:" in out]
    return index


def _read_until(proc: subprocess.Popen[str], marker: str) -> str:
    """The shard's output up to the first line holding `marker` (it must come)."""
    out = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        out += line
        if marker in line:
            return out
    raise AssertionError(f"{marker!r} never came:\n{out}")


def _wait_for(path: Path, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.05)


# -- real Playwright, real Chromium --------------------------------------------------------


def _real_shards(tmp_path: Path, *args: str) -> list[subprocess.Popen[str]]:
    """Two real runner processes, one identity, indexes 0 and 1, against the example site;
    `args` go to `run`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PLAYWRIGHT_", "VR_"))}
    base.pop("BASE_URL", None)
    base.update(
        ARTIFACT_ROOT=str(tmp_path),
        TESTS_WORKSPACE=str(REPO / "examples" / "workspace"),
        ANALYSIS_RUN_UID=UID,
        SHARD_COUNT="2",
        RETENTION_ENABLED="false",
    )
    return [
        subprocess.Popen(
            [*runner_command(), "run", *args],
            env={**base, "SHARD_INDEX": str(i)},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]


@pytest.mark.browser
def test_real_shards_merge_to_the_unsharded_counts(tmp_path: Path) -> None:
    procs = _real_shards(tmp_path)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][-2000:] + outs[1][-2000:]
    merged = _merged(tmp_path)
    # The unsharded Kargo run of this suite is 18 tests (tests/test_e2e_browser.py).
    assert (merged["total"], merged["passed"], merged["failed"]) == (18, 18, 0)
    assert len(_merges(tmp_path)) == 1
    assert (tmp_path / RUN / "merged" / "html-report" / "index.html").exists()
    junit = (tmp_path / RUN / "merged" / "junit.xml").read_text()
    assert 'hostname="plugin:techdocs"' in junit and 'hostname="central"' in junit


@pytest.mark.browser
def test_real_shards_terminated_mid_run_keep_their_evidence(tmp_path: Path) -> None:
    """Both real shards SIGTERMed once shard 1's first test has passed (as Rollouts deletes
    every shard's Job): Playwright, stopped with SIGINT, still writes its blob; every shard's
    evidence is kept, merged/ holds what ran, names the shards cut short, and is not a pass.
    (Shard 0 may have finished by then on a loaded machine: then it is not cut short.)"""
    procs = _real_shards(tmp_path)
    out = _read_until(procs[1], "✓")
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    outs = [p.communicate(timeout=300)[0] for p in procs]
    out += outs[1]
    assert procs[1].returncode != 0, out[-2000:]
    merged = _merged(tmp_path)
    assert merged["verdict"] != "passed" and 1 in merged["cut_short_shards"], merged
    for i in range(2):
        attempt = tmp_path / RUN / f"shard-{i}" / "attempt-1"
        code = json.loads((attempt / "summary.json").read_text())["exit_code"]
        assert (code == 143) == (i in merged["cut_short_shards"]), (i, code, merged)
        assert (attempt / "blob.zip").is_file(), f"shard {i} kept no blob"
    assert merged["passed"] >= 1, merged  # shard 1's passed test is in the merged report
    assert any("merged report:" in o for o in outs)


def test_real_shards_of_an_emptied_suite_are_no_tests(tmp_path: Path) -> None:
    """The README's row with real Playwright: `--grep` matching nothing, `--pass-with-no-tests`,
    two shards. Playwright reports no error and both shards are empty; shard 0 says no tests
    (exit 6), so the AnalysisRun cannot go green on the other shard's exit 0. No browser starts:
    nothing is left to run."""
    procs = _real_shards(tmp_path, "--grep", "no test is called this", "--pass-with-no-tests")
    outs = [p.communicate(timeout=300)[0] for p in procs]
    # Shard 1 exits 0 on its own, or 6 when it is the one that merges (the merging shard exits
    # with the merged verdict, and which shard merges depends on who ends last).
    codes = [p.returncode for p in procs]
    assert codes[0] == 6 and codes[1] in (0, 6), outs[0][-2000:] + outs[1][-2000:]
    assert "no tests discovered" in outs[0].splitlines()[-1]
    assert "no test fell to this shard" in outs[1]
    merged = [
        line for out in outs for line in out.splitlines() if "[merged, the exit code]" in line
    ]
    assert merged and "VERIFICATION NO TESTS DISCOVERED (exit 6)" in merged[-1]
