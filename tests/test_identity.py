from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from runner.identity import (
    SAFE_RUN_NAME,
    IdentitySource,
    KeyKind,
    RunIdentity,
    UidSource,
    analysis_run_uid,
    local_run_name,
    resolve_identity,
    run_key,
)
from tests import strategies as s


def _resolve(
    promotion: str | None = None, uid: str | None = None, job: str | None = None
) -> RunIdentity:
    return resolve_identity(promotion=promotion, analysis_run_uid=uid, job_name=job)


def test_kargo_name_uses_the_ulid_part() -> None:
    identity = _resolve(promotion="test.01JD8X3K5QZ9N2M4P6R8T0V2W4.abc1234")
    assert identity.run_name == "01jd8x3k5qz9"
    assert identity.source is IdentitySource.PROMOTION
    assert identity.key_kind is KeyKind.ULID
    assert identity.is_kargo_execution


def test_precedence_promotion_then_uid_then_job() -> None:
    uid = "3f2b1c4d-5e6f-4a8b-9c0d-112233445566"
    other = "99999999-5e6f-4a8b-9c0d-112233445566"
    assert _resolve(promotion="p.01JD8X3K5QZ9N2M4P6R8T0V2W4.x", uid=uid).source == "promotion"
    assert _resolve(uid=uid, job=f"{other}.m.1").run_name == "3f2b1c4d5e6f"
    assert _resolve(job=f"{other}.m.1").source is IdentitySource.JOB
    assert _resolve().source is IdentitySource.LOCAL


def test_blank_inputs_count_as_unset() -> None:
    assert _resolve(promotion="  ", uid="", job=None).source is IdentitySource.LOCAL


@given(s.uuids, st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), st.integers(1, 50))
def test_job_restart_and_new_measurement_share_the_run(uid: str, metric: str, n: int) -> None:
    # A restarted pod keeps the Job name; a new measurement gets <uid>.<metric>.<n+1>; the
    # pod label carries the bare UID. All three are retries of one run (docs/platform-facts.md).
    names = {
        _resolve(job=f"{uid}.{metric}.{n}").run_name,
        _resolve(job=f"{uid}.{metric}.{n + 1}").run_name,
        _resolve(uid=uid).run_name,
        _resolve(uid=uid.upper()).run_name,
    }
    assert len(names) == 1


@given(st.one_of(s.kargo_names, s.job_names, s.uuids, s.ulids, s.hostile_strings))
def test_every_input_yields_one_safe_component(value: str) -> None:
    identity = _resolve(promotion=value)
    name = identity.run_name
    assert SAFE_RUN_NAME.fullmatch(name), name
    assert "/" not in name and name not in {".", ".."} and not name.startswith("_")
    if value.strip():
        assert identity.original == value  # the full original is kept for the metadata
    else:
        assert identity.source is IdentitySource.LOCAL  # blank counts as unset


@given(st.one_of(s.kargo_names, s.job_names, s.hostile_strings))
def test_same_identity_same_directory(value: str) -> None:
    assert run_key(value) == run_key(value)


@given(st.lists(s.uuids, min_size=2, max_size=20, unique_by=lambda u: u.replace("-", "")[:12]))
def test_distinct_uuid_keys_give_distinct_directories(uids: list[str]) -> None:
    names = [_resolve(uid=uid).run_name for uid in uids]
    assert len(set(names)) == len(names)


@given(st.lists(s.ulids, min_size=2, max_size=20, unique_by=lambda u: u[:12].lower()))
def test_distinct_ulid_keys_give_distinct_directories(ulids: list[str]) -> None:
    names = [_resolve(promotion=f"stage.{u}.abcdef1").run_name for u in ulids]
    assert len(set(names)) == len(names)


@given(st.lists(s.hostile_strings, min_size=2, max_size=10, unique=True))
def test_inputs_without_an_id_hash_apart(values: list[str]) -> None:
    keys = [run_key(v) for v in values if v.strip()]
    hashed = [name for name, kind in keys if kind is KeyKind.HASH]
    assert len(set(hashed)) == len(hashed)


def test_local_names_are_unique_and_sort_by_time() -> None:
    start = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    names = [local_run_name(start + timedelta(seconds=i)) for i in range(5)]
    assert names == sorted(names)
    assert local_run_name(start) != local_run_name(start)
    assert all(SAFE_RUN_NAME.fullmatch(n) for n in names)


# -- the AnalysisRun UID on Argo Rollouts 1.9 (docs/platform-facts.md, "Argo Rollouts job metric")


@given(s.job_names)
def test_uid_comes_from_the_job_name_when_the_pod_label_is_empty(job: str) -> None:
    # v1.9 puts analysisrun.argoproj.io/uid on the Job only: the pod's label reads "".
    uid = analysis_run_uid("", job)
    assert uid is not None
    assert (uid.value, uid.source) == (job.partition(".")[0].lower(), UidSource.JOB_NAME)
    # ...and it names the same run directory the pod label would (v1.10).
    assert _resolve(job=job).run_name == _resolve(uid=uid.value).run_name


@given(s.uuids, s.job_names)
def test_the_pod_label_wins_when_set(label: str, job: str) -> None:
    uid = analysis_run_uid(f" {label} ", job)
    assert uid is not None and (uid.value, uid.source) == (label, UidSource.POD_LABEL)


@given(st.one_of(s.hostile_strings, s.uuids, s.kargo_names))
def test_no_uid_from_a_job_name_rollouts_did_not_make(job: str) -> None:
    # A bare UUID or any name whose first dot-part is not a UUID is not `<uid>.<metric>.<n>`.
    uid = analysis_run_uid(None, job)
    if uid is not None:
        first, dot, _ = job.strip().partition(".")
        assert dot and uid.value == first.lower() and uid.source is UidSource.JOB_NAME
    assert analysis_run_uid(None, None) is None
    assert analysis_run_uid("  ", "not-a-uuid.acceptance.1") is None
