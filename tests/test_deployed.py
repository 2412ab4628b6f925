"""The deployment proof's pure parts: image references, versions, and judging a workload from
objects shaped as the Kubernetes API returns them (tests/helpers/kube_objects.py)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runner.deployed import images, versions
from runner.deployed.workloads import Workload, judge, parse_workload
from runner.proof import ProofRefused, label_selector
from tests.helpers import kube_objects as k
from tests.strategies import image_references

NEW, OLD = "ghcr.io/acme/backstage:1.4.2", "ghcr.io/acme/backstage:1.4.1"
D_NEW, D_OLD = "sha256:" + "a" * 64, "sha256:" + "b" * 64
NS = "backstage-prod"


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("backstage", "docker.io/library/backstage:latest"),
        ("backstage:1.4", "docker.io/library/backstage:1.4"),
        ("acme/backstage:1.4", "docker.io/acme/backstage:1.4"),
        ("index.docker.io/acme/backstage:1.4", "docker.io/acme/backstage:1.4"),
        ("localhost/backstage", "localhost/backstage:latest"),
        ("registry:5000/backstage:2", "registry:5000/backstage:2"),
        (
            f"ghcr.io/acme/backstage@{D_NEW.upper().replace('SHA', 'sha')}",
            f"ghcr.io/acme/backstage@{D_NEW}",
        ),
        (f"{NEW}@{D_NEW}", f"{NEW}@{D_NEW}"),
    ],
)
def test_references_normalize_as_the_runtimes_do(text: str, normalized: str) -> None:
    assert str(images.parse(text)) == normalized


@pytest.mark.parametrize(
    "text", ["", " ghcr.io/a", "Ghcr.io/ACME/x", "a/B:1", "x@sha256:12", "x:-bad", "x::1", "a b"]
)
def test_what_is_not_a_reference_is_refused(text: str) -> None:
    with pytest.raises(images.BadReference):
        images.parse(text)


@given(image_references)
def test_a_normalized_reference_parses_to_itself(text: str) -> None:
    ref = images.parse(text)
    assert images.parse(str(ref)) == ref
    assert images.same_image(ref, str(ref), None) or ref.digest is None


def test_a_digest_decides_even_when_the_tag_matches() -> None:
    expected = images.parse(f"{NEW}@{D_NEW}")
    assert images.same_image(expected, NEW, f"ghcr.io/acme/backstage@{D_NEW}")
    assert images.same_image(expected, NEW, f"docker-pullable://ghcr.io/acme/backstage@{D_NEW}")
    # The tag was moved to another build: same reference, other digest.
    assert not images.same_image(expected, NEW, f"ghcr.io/acme/backstage@{D_OLD}")
    # A runtime that reports only its local image ID cannot prove a digest.
    assert not images.same_image(expected, NEW, "sha256:" + "c" * 64)
    assert images.same_image(images.parse(NEW), NEW, None)
    assert not images.same_image(images.parse(NEW), OLD, None)
    assert not images.same_image(images.parse(NEW), "ghcr.io/acme/other:1.4.2", None)


@pytest.mark.parametrize(
    ("source", "body", "value"),
    [
        ("json:/commit", '{"commit": "9be04d7"}', "9be04d7"),
        ("json:/build/0/n", '{"build": [{"n": 42}]}', "42"),
        ("json:/a~1b", '{"a/b": "x"}', "x"),
        ("json:/missing", '{"commit": "9be04d7"}', None),
        ("json:/commit", "not json", None),
        ("json:/build", '{"build": {"commit": "x"}}', None),
    ],
)
def test_a_json_pointer_finds_the_version(source: str, body: str, value: str | None) -> None:
    parsed = versions.parse_source(source)
    assert versions.from_json(body, parsed.arg) == value


@pytest.mark.parametrize(
    "source",
    [
        "json",
        "json:commit",
        "header:",
        "header:a b",
        "regex:abc",
        "regex:(a)(b)",
        "regex:(",
        "xml:/a",
    ],
)
def test_a_bad_version_source_is_refused(source: str) -> None:
    with pytest.raises(versions.BadSource):
        versions.parse_source(source)


@pytest.mark.parametrize(
    ("expected", "served", "same"),
    [
        ("9be04d7", "9be04d7e5f00112233445566778899aabbccddee", True),
        ("9be04d7e5f00112233445566778899aabbccddee", "9BE04D7", True),
        ("9be04d7", "3f2a9c1", False),
        ("9be04d", "9be04d7e5f", False),  # 6 digits are no SHA: no prefix match
        ("1.4.2", "1.4.2\n", True),
        ("1.4", "1.4.2", False),
        ("v1", "", False),
        # Build numbers are hex digits too: 1234567 is not served by build 12345678.
        ("1234567", "12345678", False),
        ("9be04d7", "9be04d7a", False),  # two abbreviations: only a full SHA has prefixes
        ("9be04d7", "9be04d7-dirty", False),
    ],
)
def test_versions_match_exactly_or_as_sha_prefixes(expected: str, served: str, same: bool) -> None:
    assert versions.matches(expected, served) is same


@given(
    st.from_regex(r"[0-9a-f]{7,39}", fullmatch=True),
    st.from_regex(r"[0-9a-f]{7,39}", fullmatch=True),
)
def test_two_different_abbreviations_or_build_numbers_never_match(a: str, b: str) -> None:
    assert versions.matches(a, b) is (a == b)


@given(
    st.from_regex(r"[0-9a-f]{64}", fullmatch=True), st.sampled_from([40, 64]), st.integers(7, 64)
)
def test_an_abbreviation_matches_its_full_sha_both_ways(digits: str, full: int, cut: int) -> None:
    sha = digits[:full]
    assert versions.matches(sha, sha[:cut]) and versions.matches(sha[:cut].upper(), sha)


def _deployment_world(
    pods_new: int, pods_old: int, **status: Any
) -> tuple[dict[str, object], list[dict[str, object]], list[dict[str, object]]]:
    deploy = k.deployment("backstage", NS, NEW, **status)
    rs_new = k.replica_set(deploy, "7d4b9c8f6d", pods_new)
    rs_old = k.replica_set(deploy, "5c6d7e8f9a", pods_old)
    pods = [k.pod(rs_new, f"n{i}", NEW, digest=D_NEW) for i in range(pods_new)]
    pods += [k.pod(rs_old, f"o{i}", OLD, digest=D_OLD) for i in range(pods_old)]
    return deploy, [rs_new, rs_old], pods


DEPLOYMENT = Workload("deployment", "backstage")


def test_a_finished_rollout_on_the_new_image_is_proven_with_its_digest() -> None:
    deploy, sets, pods = _deployment_world(3, 0)
    found = judge(DEPLOYMENT, deploy, replica_sets=sets, pods=pods, expected=images.parse(NEW))
    assert found.proven, found.reason
    assert found.reason == f"3 of 3 Ready pods run ghcr.io/acme/backstage@{D_NEW}"
    assert found.evidence["digests"] == [D_NEW] and found.evidence["ready_pods"] == 3


def test_old_pods_still_ready_mid_rollout_are_named_with_both_images() -> None:
    deploy, sets, pods = _deployment_world(1, 2, updated=1, total=3)
    found = judge(DEPLOYMENT, deploy, replica_sets=sets, pods=pods, expected=images.parse(NEW))
    assert not found.proven
    assert found.reason == f"2 of 3 Ready pods still run {OLD}, expected {NEW}"


def test_a_rollout_not_yet_observed_or_not_finished_is_not_proven() -> None:
    deploy, sets, pods = _deployment_world(3, 0, observed=1)
    found = judge(DEPLOYMENT, deploy, replica_sets=sets, pods=pods, expected=images.parse(NEW))
    assert found.reason == "the controller has not yet observed generation 2"
    deploy, sets, pods = _deployment_world(3, 0, available=2)
    found = judge(DEPLOYMENT, deploy, replica_sets=sets, pods=pods, expected=images.parse(NEW))
    assert found.reason == "2 of 3 updated replicas available"
    deploy, sets, pods = _deployment_world(3, 0, timed_out=True)
    found = judge(DEPLOYMENT, deploy, replica_sets=sets, pods=pods, expected=images.parse(NEW))
    assert found.reason.startswith("exceeded its progress deadline")


def test_a_pod_that_cannot_pull_its_image_is_named_with_the_kubelets_reason() -> None:
    deploy = k.deployment("backstage", NS, NEW, replicas=1, updated=1, available=0, ready=0)
    rs = k.replica_set(deploy, "7d4b9c8f6d", 1)
    pulling = k.pod(rs, "n0", NEW, waiting=("ImagePullBackOff", 'Back-off pulling image "x"'))
    found = judge(DEPLOYMENT, deploy, replica_sets=[rs], pods=[pulling], expected=images.parse(NEW))
    assert not found.proven
    assert found.reason == (
        "0 of 1 updated replicas available (pod backstage-7d4b9c8f6d-n0 waits: "
        'ImagePullBackOff: Back-off pulling image "x")'
    )
    deploy = k.deployment("backstage", NS, NEW, replicas=1)
    found = judge(DEPLOYMENT, deploy, replica_sets=[rs], pods=[pulling], expected=images.parse(NEW))
    assert found.reason == (
        "no Ready pod (pod backstage-7d4b9c8f6d-n0 waits: ImagePullBackOff: "
        'Back-off pulling image "x")'
    )


def test_pods_of_another_workload_with_the_same_labels_do_not_count() -> None:
    deploy, sets, pods = _deployment_world(3, 0)
    stranger = k.deployment("backstage-canary", NS, OLD)
    other = k.replica_set(stranger, "1a2b3c4d5e", 1)
    pods.append(k.pod(other, "x", OLD, digest=D_OLD))
    found = judge(
        DEPLOYMENT, deploy, replica_sets=[*sets, other], pods=pods, expected=images.parse(NEW)
    )
    assert found.proven and found.evidence["pods"] == 3


@pytest.mark.parametrize("owners", [[], [{"kind": "Lease", "uid": "u-1", "controller": False}]])
def test_an_orphaned_ready_pod_on_the_old_image_keeps_the_target_not_ready(
    owners: list[dict[str, object]],
) -> None:
    # `kubectl delete rs --cascade=orphan` leaves pods no controller owns; the selector (and
    # the Service) still finds them, so they serve the old release.
    deploy, sets, pods = _deployment_world(3, 0)
    orphan = k.pod(k.replica_set(deploy, "5c6d7e8f9a", 1), "o0", OLD, digest=D_OLD)
    orphan["metadata"]["ownerReferences"] = owners
    found = judge(
        DEPLOYMENT, deploy, replica_sets=sets, pods=[*pods, orphan], expected=images.parse(NEW)
    )
    assert not found.proven
    assert found.reason == f"1 of 4 Ready pods still run {OLD}, expected {NEW}"


def test_a_moved_tag_is_caught_by_the_digest() -> None:
    deploy, sets, pods = _deployment_world(3, 0)
    found = judge(
        DEPLOYMENT, deploy, replica_sets=sets, pods=pods, expected=images.parse(f"{NEW}@{D_OLD}")
    )
    assert not found.proven
    assert found.reason == f"3 of 3 Ready pods still run {NEW} ({D_NEW}), expected {NEW}@{D_OLD}"


def test_statefulsets_and_rollouts_follow_their_own_status() -> None:
    sts = k.statefulset("backstage", NS, NEW, update="rev-3")
    pods = [k.pod(sts, str(i), NEW, parent_kind="StatefulSet") for i in range(2)]
    subject = Workload("statefulset", "backstage")
    found = judge(subject, sts, replica_sets=[], pods=pods, expected=images.parse(NEW))
    assert found.reason == "rolling update to revision rev-3 not complete (2 of 2 pods updated)"
    sts = k.statefulset("backstage", NS, NEW)
    assert judge(subject, sts, replica_sets=[], pods=pods, expected=images.parse(NEW)).proven

    subject = Workload("rollout", "backstage")
    ro = k.rollout("backstage", NS, NEW, phase="Paused", message="CanaryPauseStep")
    rs = k.replica_set(ro, "6b9f8c7d5", 3)
    rpods = [k.pod(rs, str(i), NEW, parent_api="apps/v1") for i in range(3)]
    found = judge(subject, ro, replica_sets=[rs], pods=rpods, expected=images.parse(NEW))
    assert found.reason == "Paused: CanaryPauseStep"
    ro = k.rollout("backstage", NS, NEW, stable="5f5f5f5f5")
    found = judge(subject, ro, replica_sets=[rs], pods=rpods, expected=images.parse(NEW))
    assert found.reason == "the new ReplicaSet is not yet stable (its steps have not all completed)"
    ro = k.rollout("backstage", NS, NEW)
    assert judge(subject, ro, replica_sets=[rs], pods=rpods, expected=images.parse(NEW)).proven


def test_a_workload_scaled_to_zero_proves_nothing() -> None:
    deploy, sets, _ = _deployment_world(0, 0, replicas=0)
    found = judge(DEPLOYMENT, deploy, replica_sets=sets, pods=[], expected=images.parse(NEW))
    assert found.reason == "scaled to 0 replicas: nothing serves"


@pytest.mark.parametrize(
    "text",
    [
        "deploy/x",
        "deployment",
        "deployment/",
        "deployment/Back_stage",
        "pod/x",
        "deployment/" + "a" * 254,
    ],
)
def test_a_bad_workload_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected|not a Kubernetes object name"):
        parse_workload(text)


@pytest.mark.parametrize(
    "selector",
    [
        {"matchLabels": ["app", "backstage"]},
        {"matchExpressions": {"key": "app"}},
        {"matchExpressions": ["app in (x)"]},
        {"matchExpressions": [{"key": "app", "operator": "In", "values": "x"}]},
    ],
)
def test_a_hostile_selector_is_one_line_exit_3_not_a_traceback(selector: dict[str, Any]) -> None:
    with pytest.raises(ProofRefused, match="not a label selector"):
        label_selector({"spec": {"selector": selector}})
    assert ProofRefused("x").exit_code == 3
