"""Hypothesis strategies shared by the property tests (one module, per the house style)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from runner.volume.retention import Policy, RunInfo

if TYPE_CHECKING:
    from runner.judging.verdict import FlakyPolicy

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


# --- results and verdicts -------------------------------------------------------------------
def _results(draw: st.DrawFn) -> object:
    from runner.judging.results import FailedTest, Results  # noqa: PLC0415 - keep strategies light

    passed = draw(st.integers(0, 50))
    failed = draw(st.integers(0, 5))
    skipped = draw(st.integers(0, 5))
    failures = tuple(
        FailedTest(
            name=draw(test_names),
            file=draw(st.sampled_from(["a.spec.ts", "b.spec.ts"])),
            project=draw(st.sampled_from(["central", "plugin:catalog", ""])),
            message=draw(st.text(max_size=80)),
        )
        for _ in range(failed)
    )
    flaky = tuple(f"central › x › {i}" for i in range(draw(st.integers(0, min(passed, 3)))))
    return Results(
        total=passed + failed + skipped,
        passed=passed,
        failed=failed,
        skipped=skipped,
        failures=failures,
        flaky=flaky,
        sources=("junit.xml",),
    )


test_names = st.one_of(
    st.text(min_size=1, max_size=120),
    st.sampled_from(["should have Events link", "a\nb", "ü" * 300, "x" * 5000, "\x00\x1b[31m"]),
)
results = st.composite(_results)()
flaky_policies: st.SearchStrategy[FlakyPolicy] = st.sampled_from(["pass", "warn", "fail"])


# --- readiness backoff ----------------------------------------------------------------------
# (initial, cap) pairs with initial <= cap, in seconds
backoff_pairs = st.tuples(st.floats(0.01, 5.0), st.floats(0.01, 60.0)).map(
    lambda pair: (min(pair), max(pair))
)
unit_fractions = st.floats(0.0, 1.0, exclude_max=True)


# --- artifact retention ---------------------------------------------------------------------
RETENTION_NOW = datetime(2026, 6, 1, tzinfo=UTC)
run_dir_names = st.from_regex(r"[0-9a-z][0-9a-z-]{0,11}", fullmatch=True)


@st.composite
def _run_infos(draw: st.DrawFn, *, max_runs: int = 25) -> list[RunInfo]:
    names = draw(st.lists(run_dir_names, max_size=max_runs, unique=True))
    current = draw(st.sampled_from([None, *names])) if names else None
    ages = st.integers(0, 40 * 86400)  # seconds before RETENTION_NOW; ties are common
    return [
        RunInfo(
            name=name,
            last_active=RETENTION_NOW - timedelta(seconds=draw(ages) // 3600 * 3600),
            size=draw(st.integers(0, 5_000)),
            locked=draw(st.integers(0, 3)) == 0,  # a quarter of the runs are running
            current=name == current,
        )
        for name in names
    ]


run_infos = _run_infos()
retention_policies = st.builds(
    Policy,
    keep_runs=st.integers(0, 10),
    max_age=st.sampled_from([0, 1, 7, 14, 30]).map(lambda d: timedelta(days=d)),
    max_total_bytes=st.one_of(st.none(), st.integers(0, 60_000)),
)


# --- lint: any value where a manifest field should be ---------------------------------------

yaml_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=30),
    st.sampled_from(["Never", "Indexed", "{{args.x}}", "${{ ctx.promotion }}", "ALL", "-1"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=12), children, max_size=4),
    ),
    max_leaves=12,
)


# --- JUnit files nested every way a producer might nest them --------------------------------
# Each value is (xml, testcases, failed testcases). Containers are suites, unknown wrappers and
# testcases holding other testcases; the root is <testsuites> or a single <testsuite>.
_Node = tuple[str, int, int]
_junit_leaves: st.SearchStrategy[_Node] = st.sampled_from(
    [
        ('<testcase name="ok" classname="c"/>', 1, 0),
        ('<testcase name="bad" classname="c"><failure message="m"/></testcase>', 1, 1),
        ('<testcase name="err" classname="c"><error message="e"/></testcase>', 1, 1),
        ('<testcase name="skip" classname="c"><skipped/></testcase>', 1, 0),
    ]
)


def _container(children: st.SearchStrategy[list[_Node]]) -> st.SearchStrategy[_Node]:
    def wrap(tag: str, kids: list[_Node]) -> _Node:
        body = "".join(k[0] for k in kids)
        cases, failed = sum(k[1] for k in kids), sum(k[2] for k in kids)
        if tag == "testcase":  # a passing testcase that holds others
            return f'<testcase name="outer" classname="c">{body}</testcase>', cases + 1, failed
        return f'<{tag} name="n">{body}</{tag}>', cases, failed

    return st.builds(
        wrap, st.sampled_from(["testsuite", "testsuite", "group", "testcase"]), children
    )


junit_layouts = st.builds(
    lambda root, kids: (
        f"<{root}>{''.join(k[0] for k in kids)}</{root}>",
        sum(k[1] for k in kids),
        sum(k[2] for k in kids),
    ),
    st.sampled_from(["testsuites", "testsuite"]),
    st.lists(
        st.recursive(
            _junit_leaves, lambda inner: _container(st.lists(inner, max_size=4)), max_leaves=12
        ),
        max_size=5,
    ),
)

# -- Fetching the tests (runner/fetching/revisions.py) -------------------------------------
full_shas = st.from_regex(r"[0-9a-f]{40}", fullmatch=True)
hex_prefixes = st.from_regex(r"[0-9a-f]{4,39}", fullmatch=True)
ref_names = st.from_regex(
    r"[A-Za-z0-9][A-Za-z0-9_+-]{0,15}(/[A-Za-z0-9][A-Za-z0-9_+-]{0,10}){0,2}", fullmatch=True
)
# A valid ref name with one thing git (or the runner) refuses put into it. Random text (as in
# hostile_strings) almost never builds one, so with the ".." guard removed nothing failed:
# these reach each guard on purpose.
REFUSED_IN_REFS = (
    "..",
    "//",
    "@{",
    " ",
    "\t",
    "\n",
    "~",
    "^",
    ":",
    "?",
    "*",
    "[",
    "\\",
    "\x7f",
    "\x00",
)
near_ref_names = st.one_of(
    st.tuples(ref_names, st.sampled_from(REFUSED_IN_REFS), ref_names).map("".join),
    ref_names.map(lambda name: "-" + name),  # read as an option
    st.tuples(ref_names, st.sampled_from([".lock", "/", "."])).map("".join),  # git refuses
)
url_passwords = st.text(alphabet=st.characters(categories=["L", "N"]), min_size=1, max_size=20)
# Variable-like names over a small alphabet, so that near misses are common.
variable_names = st.text(alphabet="AB_", max_size=8)

# -- The deployment proof (runner/deployed/) ------------------------------------------------
_image_components = st.from_regex(r"[a-z0-9]{1,6}([._-][a-z0-9]{1,4})?", fullmatch=True)
_registries = st.sampled_from(
    ["", "ghcr.io/", "registry.example.com:5000/", "localhost/", "docker.io/"]
)
image_references = st.builds(
    lambda registry, path, tag, digest: registry + "/".join(path) + tag + digest,
    _registries,
    st.lists(_image_components, min_size=1, max_size=3),
    st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,10}", fullmatch=True)),
    st.one_of(st.just(""), st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True)),
)

# Secrets for the structured masking (issue 22, item 7): words of the files' own syntax
# (tag, attribute and key names, entity names, markup characters) as well as arbitrary text.
MARKUP_WORDS = [
    "test",
    "tests",
    "testsuites",
    "testsuite",
    "testcase",
    "failure",
    "failures",
    "skipped",
    "name",
    "classname",
    "message",
    "hostname",
    "time",
    "quot",
    "amp;",
    "&quot;",
    "<testcase",
    '="',
    "</",
    "CDATA",
    "suites",
    "specs",
    "status",
    "flaky",
    "title",
    "projectName",
    '":"',
    "expected",
    "xml version",
]
secret_values = st.one_of(
    st.sampled_from(MARKUP_WORDS),
    st.text(min_size=4, max_size=12),
    st.text(alphabet="<>&\"'=/ abcdefghijklmnopqrstuvwxyz:", min_size=4, max_size=10),
)

# yarn 1 lock entries: (package name, version, the registry base its tarball URL is on).
_npm_names = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)
npm_package_names = st.one_of(
    _npm_names, st.tuples(_npm_names, _npm_names).map(lambda t: f"@{t[0]}/{t[1]}")
)
npm_versions = st.tuples(st.integers(0, 30), st.integers(0, 30), st.integers(0, 30)).map(
    lambda t: ".".join(map(str, t))
)
npm_registry_bases = st.sampled_from(
    [
        "https://registry.yarnpkg.com/",
        "https://registry.npmjs.org/",
        "http://127.0.0.1:4873/",
        "https://artifactory.example.com/artifactory/api/npm/npm-virtual/",
    ]
)
