"""The readiness gate: wait until the target answers before any test runs, for `run` and
`wait` alike (`gate`, `wait_command`).

The checks are READY_CHECKS, else one GET of BASE_URL (`checks_from_settings`), plus the
deployment proof when one is asked for (`proof_checks`); READY_SKIP skips the first, never the
proof. Each round probes every check (`probe.probe`); the target is ready when one round
passes them all. Between rounds the gate sleeps with exponential backoff and jitter up
to a cap. Its deadline is min(READY_DEADLINE_SECONDS, what is left of the run deadline): part
of the run's time, never added to it. A failure reason is logged when it first appears for a
check; while nothing changes, a progress line at most every PROGRESS_SECONDS.

There is no listing step to overlap with the wait: discovery is the first reporter event of
the real Playwright run (`execution.run_verification`), so a target that is already up costs one
probe.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from runner.config.readychecks import ReadyCheck
from runner.config.settings import Settings
from runner.contract.errors import TargetNotReady
from runner.contract.exitcodes import ExitCode
from runner.deployed.versions import VersionCheck, parse_source
from runner.deployed.workloads import parse_workload
from runner.kube import ApiClient
from runner.probe import SUCCESS, Check, Header, ProbeResult, probe
from runner.processes.bounds import Deadline, StopRequest
from runner.proof import WorkloadCheck

JITTER = 0.5  # a pause is between (1 - JITTER) and 1 times the backoff delay
PROGRESS_SECONDS = 5.0
STOP_POLL_SECONDS = 0.2  # the longest sleep without looking at the stop request

Say = Callable[[str], None]
Gated = Check | WorkloadCheck  # an HTTP(S) probe, or the deployment proof's Kubernetes way
G = TypeVar("G", Check, WorkloadCheck, Gated)


@dataclass(frozen=True)
class Backoff:
    initial: float = 0.5
    cap: float = 10.0


def backoff_delays(backoff: Backoff) -> Iterator[float]:
    """initial, 2*initial, 4*initial, ... capped: the pauses before jitter."""
    delay = min(backoff.initial, backoff.cap)
    while True:
        yield delay
        delay = min(delay * 2, backoff.cap)


def jittered(delay: float, fraction: float) -> float:
    """`fraction` in [0, 1): the result lies in ((1 - JITTER) * delay, delay].

    Jitter keeps the runners of several stages from probing a shared backend in lockstep.
    """
    return delay * (1 - JITTER * fraction)


@dataclass(frozen=True)
class CheckOutcome:
    url: str
    ok: bool
    reason: str
    evidence: Mapping[str, object] | None = None  # a deployment proof's (runner/deployed/)


@dataclass(frozen=True)
class ReadinessReport:
    ready: bool
    elapsed: float
    probes: int
    deadline: float
    checks: tuple[CheckOutcome, ...] = ()
    skipped: str | None = None  # why the gate did not run

    def describe(self) -> str:
        return "; ".join(said(c.url, c.reason) for c in self.checks)

    @property
    def proof(self) -> dict[str, object] | None:
        """What the deployment proof saw, when one ran: proven or not, and the evidence."""
        for check in self.checks:
            if check.evidence is not None:
                return {
                    "proven": check.ok,
                    "what": said(check.url, check.reason),
                    **check.evidence,
                }
        return None

    def as_metadata(self) -> dict[str, object]:
        return {
            "ready": self.ready,
            "skipped": self.skipped,
            "elapsed_seconds": round(self.elapsed, 3),
            "probes": self.probes,
            "deadline_seconds": round(self.deadline, 3),
            "checks": [{"url": c.url, "ok": c.ok, "last": c.reason} for c in self.checks],
            "deployment_proof": self.proof,
        }


def deployment_label(readiness: Mapping[str, object] | None, *, configured: bool) -> str:
    """What the verdict says of the deployment, from the metadata's `readiness`: proven with
    what was seen, or not proven and why (README "Prove the deployment")."""
    proof = readiness.get("deployment_proof") if readiness else None
    if isinstance(proof, Mapping):
        state = "proven" if proof.get("proven") else "not proven"
        return f"{state}: {proof.get('what')}"
    if not configured:
        return "not proven: no PROVE_WORKLOAD or PROVE_VERSION_URL set"
    return "not proven: the run ended before the proof"


def said(where: str, reason: str) -> str:
    """`URL: status 503`, but `URL says 3f2a9c1, expected 9be04d7` for a version."""
    return f"{where} {reason}" if reason.startswith("says ") else f"{where}: {reason}"


class NotReady(TargetNotReady):
    """Exit 4, carrying the report so the metadata can record it."""

    def __init__(self, report: ReadinessReport, *, limited_by_run: bool) -> None:
        limit = "what was left of the run deadline" if limited_by_run else "READY_DEADLINE_SECONDS"
        super().__init__(
            f"target not ready after {report.elapsed:.1f}s ({limit}: {report.deadline:g}s), "
            f"{report.probes} probes; last: {report.describe()}"
        )
        self.report = report


def wait_until_ready(
    checks: Sequence[G],
    *,
    deadline_seconds: float,
    overall: Deadline,
    stop: StopRequest,
    say: Say,
    backoff: Backoff = Backoff(),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    rand: Callable[[], float] = random.random,
    prober: Callable[[G, float], ProbeResult] | None = None,
) -> ReadinessReport:
    """Probe until a round passes every check; raise NotReady when the deadline passes first.

    A stop request (SIGTERM) is honoured within STOP_POLL_SECONDS of a pause and within
    walltime.POLL_SECONDS of a probe in flight; a probe never outlasts its own timeout.
    """
    run_left = overall.remaining()
    limit = min(deadline_seconds, run_left)
    start = clock()
    end = start + limit
    last: list[ProbeResult | None] = [None] * len(checks)
    probes, delays, next_progress = 0, backoff_delays(backoff), start + PROGRESS_SECONDS

    def default_probe(check: Gated, timeout: float) -> ProbeResult:
        if isinstance(check, WorkloadCheck):
            seen = check.run()  # each API call is bounded (kube.TIMEOUT); 403/404 raise
            return ProbeResult(seen.ok, seen.reason, seen.evidence)
        return probe(check, timeout=timeout, cancelled=lambda: stop.requested)

    do_probe: Callable[[G, float], ProbeResult] = prober or default_probe

    def report(ready: bool) -> ReadinessReport:
        outcomes = tuple(
            CheckOutcome(c.display, r.ok, r.reason, r.evidence)
            if r
            else CheckOutcome(c.display, False, "not probed before the deadline")
            for c, r in zip(checks, last, strict=True)
        )
        return ReadinessReport(ready, clock() - start, probes, limit, outcomes)

    while True:
        passed = 0
        for index, check in enumerate(checks):
            stop.check("readiness")
            left = end - clock()
            if left <= 0:
                break
            result = do_probe(check, min(check.timeout, left))
            stop.check("readiness")  # a probe cut short by the stop request is no reason
            probes += 1
            passed += result.ok
            previous, last[index] = last[index], result
            if not result.ok and (previous is None or previous.reason != result.reason):
                say(f"not ready: {said(check.display, result.reason)}")
        stop.check("readiness")
        now = clock()
        if passed == len(checks):
            done = report(ready=True)
            say(f"target ready after {done.elapsed:.1f}s ({probes} probes)")
            if done.proof:
                say(f"deployment proven: {done.proof['what']}")
            return done
        if now >= end:
            raise NotReady(report(ready=False), limited_by_run=run_left < deadline_seconds)
        if now >= next_progress:
            now_report = report(ready=False)
            say(
                f"still waiting for the target: {now_report.elapsed:.0f}s of {limit:g}s, "
                f"{probes} probes; last: {now_report.describe()}"
            )
            next_progress = now + PROGRESS_SECONDS
        _pause(min(jittered(next(delays), rand()), end - now), stop, sleep, clock)


def _pause(
    seconds: float, stop: StopRequest, sleep: Callable[[float], None], clock: Callable[[], float]
) -> None:
    until = clock() + seconds
    while (left := until - clock()) > 0:
        stop.check("readiness")
        sleep(min(left, STOP_POLL_SECONDS))


def checks_from_settings(settings: Settings) -> tuple[Check, ...]:
    """READY_CHECKS, else one check of BASE_URL, else none (the local webServer)."""
    specs = settings.ready_checks
    if specs is None:
        specs = [ReadyCheck(url=settings.base_url)] if settings.base_url else []
    return tuple(_check(spec, settings) for spec in specs)


def _check(spec: ReadyCheck, settings: Settings) -> Check:
    url = f"{settings.base_url}{spec.url}" if spec.url.startswith("/") else spec.url
    statuses: set[int] = set()
    for item in spec.status:
        if isinstance(item, int):
            statuses.add(item)
        else:
            first = int(item[0]) * 100
            statuses.update(range(first, first + 100))
    return Check(
        url=url,
        statuses=frozenset(statuses) or SUCCESS,
        body_contains=spec.body_contains,
        body_regex=spec.body_regex,
        timeout=spec.timeout_seconds,
        max_redirects=spec.max_redirects,
        insecure=spec.insecure or settings.ready_insecure_tls,
        ca_file=settings.ready_ca_file,
        headers=tuple(
            Header(name=h.header, value=h.secret, file=h.value_from_file, prefix=h.prefix)
            for h in spec.headers
        ),
    )


def proof_checks(settings: Settings) -> tuple[Gated, ...]:
    """The deployment proof's checks (PROVE_*): the workload's, then the version URL's."""
    found: list[Gated] = []
    expected = settings.expected_image
    namespace = settings.proof_namespace
    if settings.prove_workload and expected and namespace and settings.kubernetes_service_host:
        host, port = settings.kubernetes_service_host, settings.kubernetes_service_port
        account = settings.service_account_dir
        found.append(
            WorkloadCheck(
                parse_workload(settings.prove_workload),
                namespace,
                expected,
                client=lambda: ApiClient.in_cluster(host, port, account),
            )
        )
    if settings.prove_version_url and settings.prove_version and settings.base_url:
        found.append(
            Check(
                url=settings.base_url + settings.prove_version_url,
                insecure=settings.ready_insecure_tls,
                ca_file=settings.ready_ca_file,
                version=VersionCheck(
                    parse_source(settings.prove_version_from), settings.prove_version
                ),
            )
        )
    return tuple(found)


def gate(settings: Settings, *, overall: Deadline, stop: StopRequest, say: Say) -> ReadinessReport:
    """The gate as `run` and `wait` use it: skipped when told or when there is nothing to check.

    READY_SKIP skips the readiness checks, never the deployment proof: a proof was asked for.
    """
    proofs = proof_checks(settings)
    if settings.ready_skip and not proofs:
        say("readiness gate skipped (READY_SKIP)")
        return ReadinessReport(True, 0.0, 0, 0.0, skipped="READY_SKIP is set")
    checks: tuple[Gated, ...] = (
        proofs
        if settings.ready_skip
        else (
            *checks_from_settings(settings),
            *proofs,
        )
    )
    if settings.ready_skip:
        say("readiness checks skipped (READY_SKIP); the deployment proof still runs")
    if not checks:
        say("readiness gate skipped: BASE_URL is unset; Playwright's webServer waits for its site")
        return ReadinessReport(True, 0.0, 0, 0.0, skipped="BASE_URL is unset")
    for check in checks:
        if isinstance(check, Check) and check.insecure and check.url.startswith("https:"):
            say(f"WARNING: the TLS certificate of {check.display} is not verified")
    limit = min(settings.ready_deadline_seconds, overall.remaining())
    say(f"waiting up to {limit:.0f}s for the target: {', '.join(c.display for c in checks)}")
    return wait_until_ready(
        checks,
        deadline_seconds=settings.ready_deadline_seconds,
        overall=overall,
        stop=stop,
        say=say,
        backoff=Backoff(settings.ready_backoff_initial_seconds, settings.ready_backoff_max_seconds),
    )


def wait_command(settings: Settings, *, say: Say) -> ExitCode:
    """`verification-runner wait`: the gate alone, under the run deadline. Not ready raises."""
    stop = StopRequest()
    with stop.installed():
        gate(settings, overall=Deadline(settings.run_deadline_seconds), stop=stop, say=say)
    return ExitCode.PASSED
