"""`python -m bench` (make bench): run every benchmark module in bench/ and print its figures.

Each module has `run(say) -> None` and reports ratios against a baseline it measures in the
same run, so the figures compare across machines; nothing here asserts a time.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main(names: list[str]) -> int:
    here = Path(__file__).parent
    modules = [m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_")]
    for name in names or sorted(modules):
        module = importlib.import_module(f"bench.{name}")
        print(f"== bench.{name}: {(module.__doc__ or '').strip().splitlines()[0]}")
        module.run(print)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
