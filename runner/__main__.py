"""`python -m runner` is the same as the `verification-runner` console script."""

from __future__ import annotations

from runner.cli import main

if __name__ == "__main__":
    main()
