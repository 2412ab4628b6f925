"""Log artifact collection: every byte a child writes reaches verification.log, in order."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.log.masking import Redactor, maskable
from runner.log.tee import MAX_PENDING, PREFIX, LogSink
from runner.processes.bounds import Deadline, StopRequest
from runner.processes.child import Supervision, run_streaming

WRITER = """
import sys, time
data = open(sys.argv[1], 'rb').read()
out = sys.stdout.buffer
for i in range(0, len(data), 7919):  # odd-sized writes cut lines anywhere
    out.write(data[i:i + 7919]); out.flush()
if sys.argv[2] == 'hang':
    time.sleep(600)
"""

lines = st.lists(
    st.binary(max_size=300)
    .map(lambda b: b.replace(b"\n", b""))
    .filter(lambda b: not b.startswith(PREFIX)),
    max_size=60,
)


def _stream(tmp: Path, payload: bytes, mode: str, deadline: float) -> bytes:
    data = tmp / "payload.bin"
    data.write_bytes(payload)
    log = tmp / "verification.log"
    log.unlink(missing_ok=True)
    with open(os.devnull, "wb") as console:
        sink = LogSink(console_fd=console.fileno())
        sink.open_file(log)
        run_streaming(
            [sys.executable, "-c", WRITER, str(data), mode],
            env=dict(os.environ),
            cwd=tmp,
            under=Supervision(sink, Deadline(deadline), StopRequest(), grace=1.0),
        )
        sink.close()
    return log.read_bytes()


def _child_output(log: bytes) -> bytes:
    return b"".join(line for line in log.splitlines(keepends=True) if not line.startswith(PREFIX))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines)
def test_every_line_arrives_in_order(tmp_path: Path, chunks: list[bytes]) -> None:
    payload = b"".join(c + b"\n" for c in chunks)
    assert _child_output(_stream(tmp_path, payload, "exit", 60)) == payload


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@pytest.mark.slow
@given(lines)
def test_every_line_arrives_even_when_the_child_is_killed(
    tmp_path: Path, chunks: list[bytes]
) -> None:
    payload = b"".join(c + b"\n" for c in chunks)
    log = _stream(tmp_path, payload, "hang", 1.5)
    # After the payload comes the child's own reaction to SIGINT (a KeyboardInterrupt).
    assert _child_output(log).startswith(payload)
    assert b"stopping the test process tree (deadline)" in log


def test_unfinished_last_line_is_kept(tmp_path: Path) -> None:
    assert _child_output(_stream(tmp_path, b"a\nno newline at end", "exit", 60)) == (
        b"a\nno newline at end\n"
    )


def test_runner_lines_never_split_a_child_line(tmp_path: Path) -> None:
    log = tmp_path / "l.log"
    sink = LogSink(console_fd=os.open(os.devnull, os.O_WRONLY))
    sink.open_file(log)
    sink.feed(b"half a li")
    sink.say("runner speaks")
    sink.feed(b"ne\n")
    sink.close()
    assert log.read_bytes() == b"half a li\n" + PREFIX + b"runner speaks\nne\n"


def test_lines_said_before_the_file_opens_are_kept(tmp_path: Path) -> None:
    sink = LogSink(console_fd=os.open(os.devnull, os.O_WRONLY))
    sink.say("early")
    sink.open_file(tmp_path / "l.log")
    sink.say("late")
    sink.close()
    assert (tmp_path / "l.log").read_bytes() == PREFIX + b"early\n" + PREFIX + b"late\n"


def test_known_secret_values_are_masked(tmp_path: Path) -> None:
    sink = LogSink(
        console_fd=os.open(os.devnull, os.O_WRONLY),
        redactor=Redactor(["s3cr3t-value"]),
    )
    sink.open_file(tmp_path / "l.log")
    sink.feed(b"token=s3cr3t-value\n")
    sink.say("again s3cr3t-value")
    sink.close()
    text = (tmp_path / "l.log").read_text()
    assert "s3cr3t" not in text and text.count("****") == 2


def test_a_closed_console_does_not_lose_the_file(tmp_path: Path) -> None:
    read, write = os.pipe()
    os.close(read)  # the pod log went away: writes get EPIPE
    sink = LogSink(console_fd=write)
    sink.open_file(tmp_path / "l.log")
    sink.feed(b"still kept\n")
    sink.close()
    os.close(write)
    assert (tmp_path / "l.log").read_bytes() == b"still kept\n"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    secret=st.text(min_size=4, max_size=40).filter(
        lambda s: "\n" not in s and "*" not in s and maskable(s)
    ),
    split=st.integers(min_value=1, max_value=200),
    chunk=st.integers(min_value=4096, max_value=70_000),
)
def test_a_secret_across_a_long_line_cut_is_masked(
    tmp_path: Path, secret: str, split: int, chunk: int
) -> None:
    # The secret lies across the first cut of a line that goes on past MAX_PENDING: the
    # first chunk boundary at or after it.
    data = secret.encode()
    start = -(-MAX_PENDING // chunk) * chunk - 1 - split % (len(data) - 1)
    # Spaces around it: a short secret is masked as a whole word only (runner/log/masking.py).
    line = b"x" * (start - 1) + b" " + data + b" " + b"y" * (MAX_PENDING + 4) + b"\n"
    log = tmp_path / "l.log"
    log.unlink(missing_ok=True)
    sink = LogSink(console_fd=os.open(os.devnull, os.O_WRONLY), redactor=Redactor([secret]))
    sink.open_file(log)
    for i in range(0, len(line), chunk):
        sink.feed(line[i : i + chunk])
    sink.close()
    masked = b"x" * (start - 1) + b" **** " + b"y" * (MAX_PENDING + 4) + b"\n"
    assert log.read_bytes() == masked
