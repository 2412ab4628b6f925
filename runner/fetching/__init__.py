"""Fetch the acceptance suite from Git at the verified revision (TESTS_REPO, issue 12).

revisions.py   what a URL, a revision and a path may be; sparse-checkout patterns (pure)
credentials.py git's environment: the remote, the mounted Secret, no prompts, no other config
failures.py    git's error output -> one sentence that says what to do
request.py     what to fetch, and what was fetched
resolve.py     revision -> full commit id, asking the server as little as git allows
command.py     one git command through runner/processes/child.py; progress lines; FetchFailed
git.py         fetch and check out one commit, sparse, into a fresh directory under TMPDIR
phase.py       the "fetch the tests" phase of `run`: settings -> workspace, provenance
install.py     `npm ci --ignore-scripts` for the fetched workspace's own dependencies
"""

from __future__ import annotations

from runner.fetching.command import FetchFailed
from runner.fetching.git import fetch_tests
from runner.fetching.install import install_dependencies
from runner.fetching.request import FetchedTests, FetchRequest

__all__ = ["FetchFailed", "FetchRequest", "FetchedTests", "fetch_tests", "install_dependencies"]
