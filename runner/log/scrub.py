"""Mask known secrets in what Playwright wrote, once it has exited and before the verdict is
published: the artifact server hands these files to anyone who can read a Job's log.

Playwright's reporters write a test's names, messages and output in clear: `junit.xml`,
`results.json`, `error-context.md` and attachments under `test-results/`, the HTML report
(its data is a zip, base64-encoded inside `index.html`, plus `data/` files) and a shard's
`blob.zip`. Each text file is rewritten with every secret masked as it appears there: as is, or as
JSON, XML or HTML escapes it (`Redactor.bytes`). Zip archives (the blob, traces) have their
text members masked. What cannot be masked: images (screenshots, videos, the screencast frames of a
trace) and compressed or binary network bodies inside a trace; README and docs/threat-model.md
say so.
"""

from __future__ import annotations

import base64
import binascii
import errno
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from runner.files.walk import walk
from runner.log.masking import Redactor
from runner.log.structured import mask_json, mask_xml

# Text is recognised by content, since attachments have any name or none (a trace keeps them
# as attachments/<sha1>): no NUL byte in the first 8 KiB. Images, videos and compressed bodies
# have NUL bytes at once and are left alone.
SNIFF = 8192


def _is_text(data: bytes) -> bool:
    return b"\0" not in data[:SNIFF]


_EMBEDDED_REPORT = re.compile(
    rb'(<template id="playwrightReportBase64">data:application/zip;base64,)([A-Za-z0-9+/=\s]*)'
)


@dataclass
class ScrubReport:
    files: int = 0  # files rewritten because they held a secret
    failed: list[str] = field(default_factory=list)  # files that could not be read or written


def scrub_tree(
    root: Path, redactor: Redactor, *, skip: frozenset[Path] = frozenset()
) -> ScrubReport:
    """Mask every secret in the text files and zip archives under `root`, except `skip` (the
    runner's own log, masked as it is written and still open). Symlinks are never followed (a
    test could plant one pointing anywhere)."""
    report = ScrubReport()
    if not redactor.active:
        return report
    # Without recursion: a test can leave a directory any number of levels deep (issue 22).
    for directory, _dirs, filenames in walk(
        root, onerror=lambda exc: report.failed.append(f"{exc.filename}: {exc.strerror or exc}")
    ):
        for name in filenames:
            path = directory / name
            if path in skip:
                continue
            try:
                if _scrub_file(path, redactor):
                    report.files += 1
            except (OSError, zipfile.BadZipFile, ValueError) as exc:
                report.failed.append(f"{path}: {exc}")
    return report


def _scrub_file(path: Path, redactor: Redactor) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return False  # a symlink: what it points to is not ours to rewrite
        raise
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return False  # a FIFO or device named like a report
        data = handle.read()
    if data.startswith(b"PK\x03\x04"):  # a zip: the blob, a trace, a zipped attachment
        masked = _scrub_zip(data, redactor)
    elif not _is_text(data):
        return False
    else:
        masked = _mask_text(path.name, data, redactor)
    if masked == data:
        return False
    _replace(path, masked)
    return True


def _mask_text(name: str, data: bytes, redactor: Redactor) -> bytes:
    """Values, not markup, in the formats whose structure a reader needs (runner/log/
    structured.py); the HTML report's embedded data by its own members, never as base64 text."""
    if name.endswith(".xml"):
        return mask_xml(data, redactor.bytes)
    if name.endswith((".json", ".jsonl")):
        return mask_json(data, redactor.bytes)
    if name.endswith(".html"):
        out, position = [], 0
        for match in _EMBEDDED_REPORT.finditer(data):
            out += [
                redactor.bytes(data[position : match.start()]),
                _scrub_embedded(match, redactor),
            ]
            position = match.end()
        return b"".join([*out, redactor.bytes(data[position:])])
    return redactor.bytes(data)


def _scrub_embedded(match: re.Match[bytes], redactor: Redactor) -> bytes:
    """The HTML report's data: a zip of JSON files, base64 in a <template> of index.html."""
    try:
        archive = base64.b64decode(match.group(2))
    except binascii.Error:
        return match.group(0)
    return match.group(1) + base64.b64encode(_scrub_zip(archive, redactor))


def _scrub_zip(data: bytes, redactor: Redactor) -> bytes:
    """The archive with its text members masked (same names, order and compression)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    changed = False
    with source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            member = source.read(info)
            if _is_text(member):
                masked = _mask_text(info.filename, member, redactor)
                changed |= masked != member
                member = masked
            target.writestr(info, member, compress_type=info.compress_type)
    return out.getvalue() if changed else data


def _replace(path: Path, data: bytes) -> None:
    """Write beside, then rename over: a reader sees the old file or the masked one."""
    tmp = path.with_name(f".{path.name}.masked-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
