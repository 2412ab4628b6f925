"""A stand-in `npx` for sharded runs, where the browser is not the point.

* `playwright test ...`: runs fake_playwright.py's FAKE_PW script, then, when the runner set
  PLAYWRIGHT_BLOB_OUTPUT_FILE, writes a "blob": a zip holding the JUnit file the script wrote
  (`noblob` in FAKE_PW skips it; `segv` and `hang` never get there, as a crashed shard).
* `playwright merge-reports --reporter=... DIR`: reads every DIR/*.zip, writes one JUnit file
  with all their suites to PLAYWRIGHT_JUNIT_OUTPUT_FILE and an index.html, as the real one.
  With FAKE_MERGE_AWAIT=PATH it first creates PATH.started and waits until PATH exists (a
  release file), so a test can signal the runner while the merge runs.
"""

from __future__ import annotations

import os
import re
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import fault_playwright  # fake_playwright's actions and the fault matrix's

_SUITES = re.compile(r"<testsuites[^>]*>(.*)</testsuites>", re.DOTALL)


def merge(blobs: Path) -> int:
    if release := os.environ.get("FAKE_MERGE_AWAIT"):
        Path(f"{release}.started").touch()
        while not Path(release).exists():
            time.sleep(0.05)
    suites = []
    for blob in sorted(blobs.glob("*.zip")):
        with zipfile.ZipFile(blob) as archive:
            text = archive.read("junit.xml").decode()
        if match := _SUITES.search(text):
            suites.append(match.group(1))
    junit = Path(os.environ["PLAYWRIGHT_JUNIT_OUTPUT_FILE"])
    junit.parent.mkdir(parents=True, exist_ok=True)
    junit.write_text(f'<?xml version="1.0"?>\n<testsuites>{"".join(suites)}</testsuites>\n')
    html = Path(os.environ["PLAYWRIGHT_HTML_OUTPUT_DIR"])
    html.mkdir(parents=True, exist_ok=True)
    (html / "index.html").write_text("<!DOCTYPE html><title>merged</title>\n")
    print(f"merged {len(suites)} blob(s) from {blobs}", flush=True)
    return 0


def main() -> int:
    if "merge-reports" in sys.argv:
        return merge(Path(sys.argv[-1]))
    os.environ["FAULT_PW"] = os.environ.get("FAKE_PW", "")
    code = int(fault_playwright.main())
    blob = os.environ.get("PLAYWRIGHT_BLOB_OUTPUT_FILE")
    junit = Path(os.environ.get("PLAYWRIGHT_JUNIT_OUTPUT_NAME", "-"))
    if blob and "noblob" not in os.environ.get("FAKE_PW", "").split(","):
        with zipfile.ZipFile(blob, "w") as archive:
            archive.writestr("junit.xml", junit.read_text() if junit.is_file() else "")
    return code


if __name__ == "__main__":
    sys.exit(main())
