"""Build Git repositories fast and reproducibly with `git fast-import`, for the fetch tests and
bench/fetching.py. Fixed author, committer and dates make every object id the same on every
machine and every run.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

WHO = "Test Author <author@example.com>"
EPOCH = 1_767_000_000
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
    "LC_ALL": "C",
}


@dataclass(frozen=True)
class Commit:
    message: str
    files: Mapping[str, bytes | None] = field(default_factory=dict)  # None deletes the file
    tag: str | None = None  # an annotated tag on this commit


def git(repo: Path, *args: str, text_input: bytes | None = None) -> str:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=text_input,
        capture_output=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout.decode()


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def _stream(commits: Iterable[Commit], branch: str) -> Iterable[bytes]:
    for number, commit in enumerate(commits, start=1):
        when = f"{EPOCH + number * 60} +0000".encode()
        yield b"commit refs/heads/%s\nmark :%d\n" % (branch.encode(), number)
        yield b"author " + WHO.encode() + b" " + when + b"\n"
        yield b"committer " + WHO.encode() + b" " + when + b"\n"
        yield _data(commit.message.encode())
        if number > 1:
            yield b"from :%d\n" % (number - 1)
        for path, content in commit.files.items():
            if content is None:
                yield b"D %s\n" % path.encode()
            else:
                yield b"M 100644 inline %s\n" % path.encode() + _data(content)
        yield b"\n"
        if commit.tag:
            yield b"tag %s\nfrom :%d\n" % (commit.tag.encode(), number)
            yield b"tagger " + WHO.encode() + b" " + when + b"\n"
            yield _data(f"release {commit.tag}".encode())


def fast_import(repo: Path, commits: Iterable[Commit], *, branch: str = "main") -> list[str]:
    """A new bare repository at `repo` holding `commits` in order on `branch`; their ids."""
    repo.mkdir(parents=True)
    git(repo, "init", "--quiet", "--bare", f"--initial-branch={branch}")
    git(repo, "config", "uploadpack.allowFilter", "true")  # partial clone, over http and ssh
    marks = repo / "marks"
    stream = b"".join(_stream(commits, branch))
    git(repo, "fast-import", "--quiet", f"--export-marks={marks}", text_input=stream)
    ids = {}
    for line in marks.read_text().splitlines():
        mark, object_id = line.split()
        ids[int(mark[1:])] = object_id
    marks.unlink()
    git(repo, "gc", "--quiet")  # one pack, as a real server has
    return [ids[n] for n in sorted(ids)]


def colliding_commit(repo: Path, *, parent: str, branch: str, prefix_length: int) -> str:
    """Add to `branch` a commit whose id starts with the same `prefix_length` hex digits as
    `parent`'s: an abbreviated id that is ambiguous between two commits.

    Object ids are computed here the way Git does (SHA-1 of "commit <size>\\0<body>"), so the
    search costs hashing only; then Git writes the commit found and must agree.
    """
    tree = git(repo, "rev-parse", f"{parent}^{{tree}}").strip()
    want = parent[:prefix_length]
    when = f"{EPOCH} +0000"
    for attempt in range(50_000_000):
        message = f"collide {attempt}\n"
        body = (
            f"tree {tree}\nparent {parent}\nauthor {WHO} {when}\ncommitter {WHO} {when}\n\n{message}"
        ).encode()
        object_id = hashlib.sha1(b"commit %d\0" % len(body) + body).hexdigest()  # noqa: S324
        if object_id.startswith(want):
            break
    else:  # pragma: no cover - 16**prefix_length tries are always enough
        raise RuntimeError("no colliding commit found")
    date_env = {"GIT_AUTHOR_DATE": when, "GIT_COMMITTER_DATE": when}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **GIT_ENV, **date_env}
    done = subprocess.run(
        ["git", "-C", str(repo), "commit-tree", tree, "-p", parent, "-F", "-"],
        input=message.encode(),
        capture_output=True,
        env=env,
        check=True,
    )
    written = done.stdout.decode().strip()
    assert written == object_id, f"git wrote {written}, expected {object_id}"
    git(repo, "update-ref", f"refs/heads/{branch}", written)
    return written


# -- The acceptance-suite repository the fetch tests verify ----------------------------------
SUITE_COMMITS = 60
BROKEN_AT, FIXED_AT = 20, 40  # 1-based commit numbers: a test fails from BROKEN_AT to FIXED_AT
CENTRAL = "apps/backstage/tests/acceptance"
PLUGIN = "apps/backstage/plugins/catalog/tests/acceptance"
SUPPORT = "apps/backstage/tests/support"
BULK = "docs/big.bin"  # outside every tree: a sparse fetch must not download it
BULK_SIZE = 512 * 1024
SPEC = """import {{ test, expect }} from '@playwright/test';
import {{ add }} from '../support/math';

test('adds up @smoke', () => {{
  expect(add(1, 1)).toBe({expected});
}});
"""
PLUGIN_SPEC = """import { test, expect } from '@playwright/test';

test('catalog plugin loads', () => {
  expect('catalog').toContain('cat');
});
"""
MATH = "export function add(a: number, b: number): number {\n  return a + b;\n}\n"


def suite_commits(extra_root_files: Mapping[str, bytes | None] | None = None) -> list[Commit]:
    """A Backstage-like test workspace with history: commit BROKEN_AT makes `adds up` expect 3
    (it fails), commit FIXED_AT puts 2 back; tags v1.0.0 (broken) and v1.1.0 (fixed)."""
    rng = random.Random(12)
    first: dict[str, bytes | None] = {
        f"{CENTRAL}/math.spec.ts": SPEC.format(expected=2).encode(),
        f"{PLUGIN}/catalog.spec.ts": PLUGIN_SPEC.encode(),
        f"{SUPPORT}/math.ts": MATH.encode(),
        "package.json": b'{"name": "suite", "private": true}\n',
        BULK: rng.randbytes(BULK_SIZE),
        **dict(extra_root_files or {}),
    }
    commits = [Commit("Initial suite", first)]
    for number in range(2, SUITE_COMMITS + 1):
        files: dict[str, bytes | None] = {
            f"apps/backstage/src/module{number % 7}.ts": f"export const n = {number};\n".encode()
        }
        tag = None
        if number == BROKEN_AT:
            files[f"{CENTRAL}/math.spec.ts"] = SPEC.format(expected=3).encode()
            tag = "v1.0.0"
        if number == FIXED_AT:
            files[f"{CENTRAL}/math.spec.ts"] = SPEC.format(expected=2).encode()
            tag = "v1.1.0"
        commits.append(Commit(f"Change {number}", files, tag))
    return commits
