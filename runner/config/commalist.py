"""The one reading of a comma-separated setting (PLUGIN_TESTS_GLOB, TEST_MATCH,
TESTS_SPARSE_PATHS, SECRET_ENV_NAMES ...): items trimmed, empty items dropped.

Every consumer of a list-valued setting (the trees check, the sparse-checkout patterns, the
Playwright config's environment) takes the tuple this returns, so a list means the same in a
mounted workspace and in a fetched one (issue 21: the README's two plugin globs reached the
sparse checkout as one pattern, and no plugin tree was fetched).
"""

from __future__ import annotations


def comma_list(value: str | None) -> tuple[str, ...]:
    """`"a, b,,c"` -> `("a", "b", "c")`; None or blank -> `()`."""
    return tuple(item.strip() for item in (value or "").split(",") if item.strip())
