"""Fetch the acceptance suite from Git at the verified revision (TESTS_REPO, issue 12).

A leaf: it takes a `FetchRequest` and knows nothing of the run, its settings or Playwright;
the run's fetch phase (`runner.fetch`) builds the request. Nothing is imported here, so that
loading one pure module (`revisions`, for the settings) loads nothing else.

revisions.py   what a URL, a revision and a path may be; sparse-checkout patterns (pure)
credentials.py git's environment: the remote, the mounted Secret, no prompts, no other config
failures.py    git's error output -> one sentence that says what to do
request.py     what to fetch, and what was fetched
resolve.py     revision -> full commit id, asking the server as little as git allows
command.py     one git command through runner/processes/child.py; progress lines; FetchFailed
git.py         fetch and check out one commit, sparse, into a fresh directory under TMPDIR
managers.py    which package manager a workspace uses (its lock file) and its install command
workspaces.py  what that package manager needs from the sparse checkout
registry.py    the package registry and its credentials, for every package manager
install.py     the install itself (no install script runs), its failures in one line
"""
