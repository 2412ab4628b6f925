"""Decoding JSON that someone else wrote: a setting, a report, the API server's answer, a file
on the volume.

Python's decoder recurses once per nested array or object, so `'[' * 50000` raises
RecursionError, which is no ValueError: it escaped every `except ValueError` and ended the
command as an internal error with a traceback (issue 22, item 8). Here it is a ValueError like
any other malformed document, and callers keep their one `except ValueError`.
"""

from __future__ import annotations

import json
from typing import Any


def loads(data: str | bytes) -> Any:
    try:
        return json.loads(data)
    except RecursionError as exc:
        raise ValueError("nested too deeply (arrays or objects within each other)") from exc
