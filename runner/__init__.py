"""verification-runner: the Job payload that proves a deployment works before it is trusted."""

from __future__ import annotations

__version__ = "0.1.0"
