"""The one error lint raises: input it cannot read (exit 2), with a sentence that says why."""

from __future__ import annotations

from runner.contract.errors import ConfigError


class LintInputError(ConfigError):
    """A path, a YAML stream or a kustomization that cannot be read or rendered (exit 2)."""
