"""Which full commit id a revision names, asking the server as little as git allows.

Full SHA: as given. Tag or branch: `git ls-remote` (refs only, no objects; a tag wins over a
branch of the same name, as in git, and an annotated tag is peeled; a hex name whose ref
points at a commit it does not abbreviate is ambiguous: exit 2). Abbreviated SHA: the
commits of every branch and tag, without trees or blobs (`--filter=tree:0`), in a throw-away
repository; exactly one commit must match (two or more: exit 2, naming them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from runner.contract.errors import ConfigError
from runner.fetching.command import FetchFailed, GitCommand
from runner.fetching.request import FetchRequest
from runner.fetching.revisions import Kind, display_url


@dataclass(frozen=True)
class Resolved:
    commit: str  # the full commit id
    ref: str | None  # the tag or branch that names it, fetched by name (any server allows that)


def resolve(git: GitCommand, request: FetchRequest, scratch: Path, resolver: Path) -> Resolved:
    revision = request.revision
    if revision.kind is Kind.FULL_SHA:
        return Resolved(revision.text, None)
    name = revision.text
    wanted = (
        [name, f"{name}^{{}}"]
        if name.startswith("refs/")
        else [
            f"refs/tags/{name}",
            f"refs/tags/{name}^{{}}",
            f"refs/heads/{name}",
        ]
    )
    listed = git(scratch, "ls-remote", "origin", *wanted, what="git ls-remote")
    pairs = re.findall(r"^([0-9a-f]{40}|[0-9a-f]{64})\t(\S+)$", listed, re.MULTILINE)
    refs: dict[str, str] = {ref: sha for sha, ref in pairs}
    # git's own order for a short name: a tag before a branch; an annotated tag peeled.
    for ref in (f"{wanted[0]}^{{}}", wanted[0], *wanted[1:]):
        if ref in refs:
            commit, full = refs[ref], ref.removesuffix("^{}")
            if revision.could_be_abbreviation and not commit.startswith(name.lower()):
                # FREIGHT_COMMIT is the image's commit id: a branch or tag that anyone named
                # after it must not decide, silently, which tests vouch for the image.
                raise ConfigError(
                    f"{request.revision_source}={name} is ambiguous in "
                    f"{display_url(request.repo)}: it reads as a commit id, but {full} names "
                    f"commit {commit[:12]}; give the full commit id, or {full} to mean the "
                    f"{'tag' if full.startswith('refs/tags/') else 'branch'}"
                )
            return Resolved(commit, full)
    if not revision.could_be_abbreviation:
        raise FetchFailed(
            f"revision {name} not found in {display_url(request.repo)}: no such tag or branch "
            f"(check {request.revision_source})"
        )
    return Resolved(_abbreviation(git, request, scratch, resolver), None)


def _abbreviation(git: GitCommand, request: FetchRequest, scratch: Path, resolver: Path) -> str:
    prefix, shown = request.revision.text.lower(), display_url(request.repo)
    git.local(scratch, "init", "--quiet", "--bare", str(resolver), what="git init")
    git(
        resolver,
        "fetch",
        "--quiet",
        "--filter=tree:0",  # commits and tags only: enough to find every commit id
        "origin",
        "+refs/heads/*:refs/heads/*",
        "+refs/tags/*:refs/tags/*",
        what="git fetch",
    )
    found = git.local(resolver, "rev-parse", f"--disambiguate={prefix}", what="git rev-parse")
    candidates = re.findall(r"^[0-9a-f]{40,64}$", found, re.MULTILINE)
    if not candidates:
        raise FetchFailed(
            f"revision {prefix} not found in {shown}: no branch or tag holds a commit with that "
            f"id (check {request.revision_source}; was the commit pushed?)"
        )
    peeled = git.local(
        resolver, "rev-parse", *(f"{c}^{{commit}}" for c in candidates), what="git rev-parse"
    )
    commits = sorted(set(re.findall(r"^[0-9a-f]{40,64}$", peeled, re.MULTILINE)))
    if len(commits) > 1:
        raise ConfigError(
            f"{request.revision_source}={prefix} is ambiguous in {shown}: it abbreviates "
            f"{', '.join(c[:12] for c in commits)}; give more digits or the full commit id"
        )
    return str(commits[0])
