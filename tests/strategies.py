"""Hypothesis strategies shared by the property tests (one module, per the house style)."""

from __future__ import annotations

import uuid

from hypothesis import strategies as st

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

uuids = st.uuids().map(str)
ulids = st.tuples(
    st.sampled_from("01234567"), st.text(alphabet=CROCKFORD, min_size=25, max_size=25)
).map("".join)
stage_names = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)
short_hashes = st.from_regex(r"[0-9a-f]{7}", fullmatch=True)

# Kargo promotion / AnalysisRun names: <stage>.<ULID>.<short freight hash>
kargo_names = st.tuples(stage_names, ulids, short_hashes).map(".".join)
# Argo Rollouts Job names: <AnalysisRun UID>.<metric>.<n>
job_names = st.tuples(
    uuids, st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True), st.integers(1, 99)
).map(lambda t: f"{t[0]}.{t[1]}.{t[2]}")

hostile_strings = st.one_of(
    st.text(max_size=200),
    st.sampled_from(
        [
            "",
            ".",
            "..",
            "../..",
            "/",
            "/etc/passwd",
            "a/b",
            "\x00",
            "-rf",
            "~",
            "attempt-1",
            "_jobs",
            " ",
            "\n",
            "ü" * 50,
            "CON",
            "a" * 10_000,
        ]
    ),
    st.binary(max_size=100).map(lambda b: b.decode("utf-8", "surrogateescape")),
    st.text(min_size=1, max_size=20).map(lambda t: (t * 10_000)[:10_000]),
)


def fixed_uuid(n: int) -> str:
    return str(uuid.UUID(int=n))
