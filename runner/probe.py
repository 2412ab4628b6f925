"""One readiness probe: an HTTP(S) GET of a check's URL, judged, and when it fails the reason
in plain words (connection refused, DNS failure, TLS error, timeout, status, body mismatch).

Plain `http.client` rather than urllib: each failure keeps its own exception type (urllib
wraps them all in URLError), redirects follow rules we can state here, and proxy variables
are ignored as Chromium ignores them, so the probe reaches the target the way the tests do.
"""

from __future__ import annotations

import contextlib
import functools
import http
import http.client
import os
import socket
import ssl
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from pydantic import SecretStr

from runner import __version__
from runner.deployed.versions import VersionCheck, from_json, matches, shown
from runner.processes.child import run_bounded
from runner.processes.walltime import TimedOut, within

MAX_BODY = 1 << 20  # bytes read for the body match; a health page is small
EXCERPT = 80  # characters of a body quoted in a reason
# body_regex is matched in a child Python: `re` holds the GIL while it backtracks, so a pattern
# such as ^(a+)+$ against a body the target chose would freeze every thread of the runner, its
# deadline and its SIGTERM handler included, until the kubelet kills the pod without a verdict.
# A child can be killed at the probe's timeout (runner/processes/regexmatch.py).
_MATCHER = Path(__file__).parent / "processes" / "regexmatch.py"
REDIRECTS = frozenset({301, 302, 303, 307, 308})
SUCCESS = frozenset(range(200, 300))
# How far past its timeout the wall-time bound lets a probe go: a socket timeout that fires
# on time still gives its own reason (a silent server, a refused connection).
OVERRUN = 0.1


@dataclass(frozen=True)
class Header:
    """An extra request header. Its value is sent, never shown."""

    name: str
    value: SecretStr | None = None  # a literal, or what Settings read from a variable
    file: Path | None = None  # read at every probe, so a rotated token is picked up
    prefix: str = ""

    def resolve(self) -> str:
        """The value to send; OSError when its file cannot be read or the value is unusable."""
        if self.file is not None:
            value = self.prefix + self.file.read_text(encoding="utf-8").strip()
        else:
            value = self.prefix + (self.value.get_secret_value() if self.value else "")
        # Checked here so that http.client's own error, which quotes the value, never comes.
        if any(c in value for c in "\r\n\0"):
            raise OSError(f"the value of header {self.name} holds a line break or NUL")
        return value


@dataclass(frozen=True)
class Check:
    url: str
    statuses: frozenset[int] = SUCCESS
    body_contains: str | None = None
    body_regex: str | None = None
    timeout: float = 10.0
    max_redirects: int = 5
    insecure: bool = False  # accept any certificate
    ca_file: Path | None = None  # trusted besides the system's CAs
    headers: tuple[Header, ...] = ()
    version: VersionCheck | None = None  # the deployment proof's HTTP way (runner/deployed/)

    @property
    def display(self) -> str:
        """The URL without user info, fit for a log line."""
        return _display(self.url)


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    reason: str  # "status 200" when ok
    # What a deployment proof saw (the version served), for the run's evidence.
    evidence: Mapping[str, object] | None = None


def probe(
    check: Check, *, timeout: float, cancelled: Callable[[], bool] = lambda: False
) -> ProbeResult:
    """GET `check.url`, following redirects, within `timeout` seconds of wall time in all:
    a server that trickles its answer, or a resolver that hangs, cannot hold it longer, and
    neither can a stop request (`cancelled`)."""
    sockets: list[socket.socket] = []

    def abandon() -> None:  # the probe's thread sees its socket shut and ends
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    try:
        return within(
            lambda: _probe(check, timeout, sockets),
            seconds=timeout + OVERRUN,
            cancelled=cancelled,
            abandon=abandon,
            name="readiness-probe",
        )
    except TimedOut as exc:
        if exc.cancelled:
            return ProbeResult(False, "probe abandoned: the runner was asked to stop")
        where = urlsplit(check.url).netloc.rsplit("@", 1)[-1]
        return ProbeResult(
            False,
            f"timeout: no complete answer from {where} within {timeout:g}s "
            "(the server answers too slowly, or the name does not resolve)",
        )


def _probe(check: Check, timeout: float, sockets: list[socket.socket]) -> ProbeResult:
    try:
        sent = {h.name: h.resolve() for h in check.headers}
    except OSError as exc:
        return ProbeResult(False, f"cannot use a header's value: {exc.strerror or exc}")
    end = time.monotonic() + timeout
    chain = [check.url]
    while True:
        url = chain[-1]
        left = end - time.monotonic()
        if left <= 0:
            return ProbeResult(False, f"timeout: no complete answer within {timeout:g}s")
        # Headers (a token) go only to the origin they were configured for.
        headers = sent if _origin(url) == _origin(check.url) else {}
        try:
            status, location, body, received = _get(
                url, check, headers, timeout=left, sockets=sockets
            )
        except (OSError, http.client.HTTPException, ValueError) as exc:
            return ProbeResult(False, _error_reason(exc, url, timeout))
        if status in REDIRECTS and status not in check.statuses and location:
            hop = _redirect(chain, urljoin(url, location), check)
            if isinstance(hop, ProbeResult):
                return hop
            chain.append(hop)
            continue
        judged = _judge(check, status, body, timeout=max(end - time.monotonic(), 0.0))
        if not judged.ok or check.version is None:
            return judged
        return _judge_version(check, check.version, body, received, end - time.monotonic())


def _redirect(chain: list[str], target: str, check: Check) -> str | ProbeResult:
    """The next URL to get, or why the redirect is not followed."""
    limit = check.max_redirects
    if check.version is not None and _origin(target) != _origin(check.url):
        # Another host saying the version is not the target saying it.
        return ProbeResult(
            False,
            f"redirected to another origin ({_display(target)}): the version must come "
            "from the target itself",
        )
    if target in chain:
        hops = " -> ".join(_display(u) for u in [*chain, target])
        return ProbeResult(False, f"redirect loop: {hops}")
    if len(chain) > limit:
        return ProbeResult(False, f"too many redirects (more than {limit}), last to {target}")
    if urlsplit(target).scheme not in ("http", "https"):
        return ProbeResult(False, f"redirect to a non-HTTP URL: {_display(target)}")
    return target


def _get(
    url: str,
    check: Check,
    headers: dict[str, str],
    *,
    timeout: float,
    sockets: list[socket.socket],
) -> tuple[int, str | None, bytes, http.client.HTTPMessage]:
    parts = urlsplit(url)
    host, https = parts.hostname or "", parts.scheme == "https"
    # Our own connection, so that the caller holds the socket (to shut it down at the
    # deadline) from before the TLS handshake, which a server could trickle too.
    raw = socket.create_connection((host, parts.port or (443 if https else 80)), timeout)
    sockets.append(raw)
    with raw:  # closed at the end (wrap_socket hands it to the TLS socket instead)
        conn: http.client.HTTPConnection
        if https:
            context = _tls_context(check.insecure, check.ca_file)
            conn = http.client.HTTPSConnection(host, parts.port, timeout=timeout, context=context)
        else:
            conn = http.client.HTTPConnection(host, parts.port, timeout=timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            conn.sock = context.wrap_socket(raw, server_hostname=host) if https else raw
            conn.request(
                "GET",
                target,
                headers={
                    "User-Agent": f"verification-runner/{__version__} (readiness)",
                    "Accept": "*/*",
                    "Connection": "close",
                    **headers,
                },
            )
            response = conn.getresponse()
            body = _read(response, timeout)
            return response.status, response.getheader("Location"), body, response.headers
        finally:
            conn.close()


def _read(response: http.client.HTTPResponse, timeout: float) -> bytes:
    """At most MAX_BODY bytes; a server that trickles bytes cannot hold us past `timeout`."""
    end = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    while size < MAX_BODY:
        if time.monotonic() > end:
            raise TimeoutError("body")
        chunk = response.read1(MAX_BODY - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    # read1 does not raise IncompleteRead when the server closes early; see for ourselves.
    if size < MAX_BODY and response.length:
        raise http.client.IncompleteRead(b"".join(chunks), response.length)
    return b"".join(chunks)


def _judge(check: Check, status: int, body: bytes, *, timeout: float) -> ProbeResult:
    text = body.decode("utf-8", "replace")
    if status not in check.statuses:
        return ProbeResult(False, f"status {status}{_phrase(status)}, body {_excerpt(text)}")
    if check.body_contains is not None and check.body_contains not in text:
        return ProbeResult(
            False,
            f"body mismatch: status {status} but the body does not contain "
            f"{check.body_contains!r}; it begins {_excerpt(text)}",
        )
    if check.body_regex is None:
        return ProbeResult(True, f"status {status}")
    matched = _search(check.body_regex, text, timeout)
    if matched is None:
        return ProbeResult(
            False,
            f"body_regex /{check.body_regex}/ did not finish matching within {timeout:.1f}s: "
            "rewrite it without nested repetition such as (a+)+",
        )
    if not matched:
        return ProbeResult(
            False,
            f"body mismatch: status {status} but the body does not match "
            f"/{check.body_regex}/; it begins {_excerpt(text)}",
        )
    return ProbeResult(True, f"status {status}")


def _judge_version(
    check: Check,
    version: VersionCheck,
    body: bytes,
    received: http.client.HTTPMessage,
    timeout: float,
) -> ProbeResult:
    """Does the answer say the expected version? The reason names both sides when not."""
    text = body.decode("utf-8", "replace")
    source = version.source
    served: str | None
    if source.kind == "header":
        served = received.get(source.arg)
    elif source.kind == "json":
        served = from_json(text, source.arg)
    elif source.kind == "regex":
        found = _group(source.arg, text, max(timeout, 0.1))
        if found is None:
            return ProbeResult(
                False,
                f"PROVE_VERSION_FROM regex did not finish matching within {timeout:.1f}s",
            )
        served = found or None
    else:
        served = text.strip() or None
    evidence = {
        "method": "http",
        "url": check.display,
        "served": served,
        "expected": version.expected,
    }
    if served is None:
        return ProbeResult(
            False,
            f"does not say its version ({source}): it begins {_excerpt(text)}",
            evidence,
        )
    if not matches(version.expected, served):
        return ProbeResult(False, f"says {shown(served)}, expected {version.expected}", evidence)
    return ProbeResult(True, f"says {shown(served)}", evidence)


def _search(pattern: str, text: str, timeout: float) -> bool | None:
    """re.search(pattern, text) in a child Python killed after `timeout` s (None then)."""
    found = _match_in_child(pattern, text, timeout, group=False)
    return None if found is None else found[0]


def _group(pattern: str, text: str, timeout: float) -> str | None:
    """The first group of re.search(pattern, text), "" when it does not match; None when the
    child was killed after `timeout` s."""
    found = _match_in_child(pattern, text, timeout, group=True)
    return None if found is None else found[1]


def _match_in_child(
    pattern: str, text: str, timeout: float, *, group: bool
) -> tuple[bool, str] | None:
    done = run_bounded(
        [
            sys.executable,
            "-I",
            "-S",
            str(_MATCHER),
            pattern,
            str(os.getpid()),  # the matcher dies with us (regexmatch.py)
            *(["--group"] if group else []),
        ],
        env={"PYTHONIOENCODING": "utf-8:surrogateescape", "PYTHONUTF8": "1"},
        timeout=timeout,
        stdin=text.encode("utf-8", "surrogateescape"),
    )
    if done is None:
        return None
    matched = done.returncode == 0
    return matched, done.stdout.decode("utf-8", "surrogateescape") if matched else ""


def _error_reason(  # noqa: PLR0911 - one plain sentence per kind of failure
    exc: Exception, url: str, timeout: float
) -> str:
    parts = urlsplit(url)
    where = parts.netloc.rsplit("@", 1)[-1]
    if isinstance(exc, socket.gaierror):
        return f"DNS failure: cannot resolve {parts.hostname} ({exc.strerror})"
    if isinstance(exc, TimeoutError):
        return f"timeout: no answer from {where} within {timeout:g}s"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS error: certificate of {where} not trusted ({exc.verify_message}); "
            "trust its CA with READY_CA_FILE, or set insecure for a test server"
        )
    if isinstance(exc, ssl.SSLError):
        hint = " (is it plain http?)" if exc.reason == "WRONG_VERSION_NUMBER" else ""
        return f"TLS error with {where}: {exc.reason or exc}{hint}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where} (nothing listens there)"
    if isinstance(exc, http.client.RemoteDisconnected):
        return f"connection closed by {where} before it answered"
    if isinstance(exc, ConnectionResetError):
        return f"connection reset by {where}"
    if isinstance(exc, http.client.IncompleteRead):
        return (
            f"connection closed mid-response by {where} after {len(exc.partial)} bytes "
            f"of the body ({exc.expected} more announced)"
        )
    if isinstance(exc, http.client.HTTPException):
        return f"not a valid HTTP response from {where} ({type(exc).__name__}: {exc})"
    if isinstance(exc, OSError):
        return f"network error with {where}: {exc.strerror or exc}"
    return f"invalid URL {_display(url)}: {exc}"  # ValueError, e.g. a redirect's bad port


@functools.cache
def _tls_context(insecure: bool, ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=ca_file)  # in addition to the system's CAs
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname, parts.port


def _display(url: str) -> str:
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _phrase(status: int) -> str:
    try:
        return " " + http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= EXCERPT else flat[:EXCERPT] + "...") if flat else "empty"
