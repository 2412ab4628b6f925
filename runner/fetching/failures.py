"""Turn what a failed git command printed (LC_ALL=C) into one sentence that says what to do.

The patterns are git's and curl's own messages (git 2.39, libcurl 7.88) and the usual answers
of GitHub, GitLab and Gitea; anything else falls back to git's first `fatal:`/`error:` line.
"""

from __future__ import annotations

import re

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), sentence)
    for pattern, sentence in (
        (
            r"No space left on device|Disk quota exceeded",
            "the disk is full while fetching {repo}: give the pod's /tmp (TMPDIR, an emptyDir) "
            "more room, or fetch less (TESTS_SPARSE_PATHS)",
        ),
        (
            r"could not read (Username|Password)|terminal prompts disabled",
            "{repo} needs credentials and none were given: mount the git credential Secret "
            "(keys username and password) at GIT_CREDENTIALS_DIR",
        ),
        (
            r"Authentication failed|HTTP Basic: Access denied|returned error: 401",
            "authentication failed for {repo}: check the username and password in the Secret "
            "mounted at GIT_CREDENTIALS_DIR",
        ),
        (
            r"Permission denied \(publickey|Host key verification failed",
            "SSH authentication failed for {repo}: check sshPrivateKey (and known_hosts) in the "
            "Secret mounted at GIT_CREDENTIALS_DIR",
        ),
        (
            r"returned error: 403",
            "access to {repo} is denied (HTTP 403): give the credentials in GIT_CREDENTIALS_DIR "
            "read access to the repository",
        ),
        (
            r"repository '.*' not found|Repository not found|returned error: 404"
            r"|does not appear to be a git repository|project you were looking for",
            "repository {repo} not found: check TESTS_REPO (a private repository also looks "
            "like this without the right credentials)",
        ),
        (
            r"unadvertised object",
            "{repo} does not serve commits by id (a server speaking only git protocol v0 "
            "without uploadpack.allowReachableSHA1InWant): enable protocol v2 on the server, "
            "or pass a tag or branch as TESTS_REVISION",
        ),
        (
            r"not our ref|couldn't find remote ref|no such remote ref|reference is not a tree"
            r"|bad object|not a valid object name",
            "revision {revision} not found in {repo}: check TESTS_REVISION (or FREIGHT_COMMIT); "
            "was the commit pushed?",
        ),
        (
            r"Could not resolve host|Could not resolve proxy|Failed to connect|Couldn't connect"
            r"|Connection refused|Connection timed out|Operation timed out|timed out"
            r"|Operation too slow|Network is unreachable|No route to host|Connection reset"
            r"|Could not read from remote repository|SSL certificate problem|unable to access",
            "network error reaching {repo} ({detail}): check the URL, DNS, proxies and the "
            "cluster's egress rules",
        ),
    )
)
_DETAIL = re.compile(r"^(?:fatal|error): (.*)$", re.MULTILINE)


def first_error(output: str) -> str | None:
    match = _DETAIL.search(output)
    return match.group(1).strip()[:300] if match else None


def explain(output: str, *, repo: str, revision: str, what: str) -> str:
    """One line: the cause as far as git's output tells it, and what to do about it."""
    detail = first_error(output) or "no error message"
    detail = re.sub(r"'(?:https?|ssh)://[^']*'", "the repository", detail)
    for pattern, sentence in _RULES:
        if pattern.search(output):
            return sentence.format(repo=repo, revision=revision, detail=detail)
    return f"{what} failed for {repo} at {revision}: {detail}"
