"""The pure part of fetching: what a repository URL, a revision and a workspace path may be,
how a URL is shown, and which paths a sparse checkout takes. No I/O here (property-tested).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

# git's own minimum abbreviation is 4 hex digits (`core.abbrev` cannot go lower).
MIN_ABBREV = 4
# Every pattern here validates a whole value, so every use is `fullmatch`: `$` would also match
# before a final newline (TESTS_REVISION=$'v1\n' passed as the branch "v1\n").
_HEX = re.compile(r"[0-9a-f]+")
# scp-like ssh: [user@]host:path, where host has no slash and path does not start with "/".
_SCP_LIKE = re.compile(r"(?:(?P<user>[^@/:\s]+)@)?(?P<host>[A-Za-z0-9.-]+):(?P<path>[^\s:][^\s]*)")
# A ref name as `git check-ref-format` would take it, narrowed: no leading "-" (it would read as
# an option), no "..", "@{", "//", control characters, spaces or the glob and caret signs.
_REF = re.compile(r"(?!-)(?!.*\.\.)(?!.*@\{)(?!.*//)[A-Za-z0-9][A-Za-z0-9._/+-]*")
SCHEMES = ("https", "http", "ssh")
# The transports git may use at all: no ext:: (runs commands), no file://, no git://.
ALLOWED_PROTOCOLS = "https:http:ssh"


class Kind(enum.Enum):
    FULL_SHA = "full commit id"
    ABBREVIATED_SHA = "abbreviated commit id"
    REF = "tag or branch"


@dataclass(frozen=True)
class Revision:
    text: str
    kind: Kind
    could_be_abbreviation: bool = False  # a ref name that is also a hex prefix ("cafe")

    @classmethod
    def parse(cls, text: str) -> Revision:
        """Classify TESTS_REVISION; ValueError says what it accepts."""
        lowered = text.lower()
        if _HEX.fullmatch(lowered) and len(lowered) in (40, 64):
            return cls(lowered, Kind.FULL_SHA)
        if not _REF.fullmatch(text) or text.endswith((".lock", "/", ".")):
            raise ValueError("expected a commit id (at least 4 hex digits), a tag or a branch name")
        # At most 39 hex digits: 40 (or 64) were a full commit id above, so `< 40`, `<= 40` and
        # `< 41` cannot differ here (equivalent mutants; tests/test_fetching_rules.py pins 39-41).
        shorter_than_a_sha = len(lowered) < 40  # pragma: no mutate
        hexish = bool(_HEX.fullmatch(lowered)) and len(lowered) >= MIN_ABBREV and shorter_than_a_sha
        return cls(text, Kind.REF, could_be_abbreviation=hexish)


def is_scp_like(url: str) -> bool:
    return "://" not in url and bool(_SCP_LIKE.fullmatch(url))


def check_repo_url(url: str) -> str:
    """TESTS_REPO: an https, http or ssh URL (or ssh's user@host:path); ValueError otherwise."""
    # isspace() already holds 0x1c-0x20, so `< 31` and `< 33` cannot differ (equivalent mutants).
    if any(c.isspace() or ord(c) < 0x20 for c in url):  # pragma: no mutate
        raise ValueError("must not contain spaces or control characters")
    if url.startswith("-"):
        raise ValueError("must not start with '-'")
    if "::" in url:  # git's <transport>::<address> form: ext:: runs a command
        raise ValueError("transport prefixes (such as ext::) are refused")
    if is_scp_like(url):
        return url
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ValueError(
            "expected an https:// or ssh:// URL (or user@host:path); "
            "file://, git:// and ext:: are refused"
        )
    if parts.password is not None:
        raise ValueError(
            "holds a password: put the credentials in the Secret mounted at "
            "GIT_CREDENTIALS_DIR, never in the URL"
        )
    if parts.scheme != "ssh" and parts.username is not None:
        raise ValueError(
            "holds a user name: put it in the Secret mounted at GIT_CREDENTIALS_DIR "
            "(key username), not in the URL"
        )
    return url


def display_url(url: str) -> str:
    """The URL as logged and recorded: never any userinfo."""
    match = None if "://" in url else _SCP_LIKE.fullmatch(url)
    if match:
        return f"{match['host']}:{match['path']}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def redact_userinfo(text: str) -> str:
    """Any scheme://user:secret@ in free text becomes scheme://****@ (settings errors)."""
    return re.sub(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]+@", r"\1****@", text)


def check_relative_path(value: str, *, allow_glob: bool = False) -> str:
    """A path inside the repository: relative, no "..", no control or special characters.

    Returned without leading/trailing slashes; "." (or an empty value) means the root.
    """
    text = value.strip().strip("/")
    if any(ord(c) < 0x20 for c in text) or "\\" in text:
        raise ValueError(f"{value!r}: control characters and backslashes are not allowed")
    if text.startswith(("!", "#")):
        raise ValueError(f"{value!r}: must not start with '!' or '#'")
    special = "[]?" + ("" if allow_glob else "*")
    if any(c in special for c in text):
        raise ValueError(f"{value!r}: {'[ ] ?' if allow_glob else 'wildcards'} are not allowed")
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"{value!r}: must stay inside the repository (no '..')")
    return "/".join(parts) or "."


def _under(subdir: str, path: str) -> str:
    if subdir == ".":
        return path
    return subdir if path == "." else f"{subdir}/{path}"


def sparse_patterns(
    *,
    subdir: str,
    central: str,
    plugin_globs: tuple[str, ...],
    extra: tuple[str, ...],
    site: str | None,
) -> list[str]:
    """Non-cone sparse-checkout patterns (gitignore syntax, anchored at the repository root).

    The workspace root's own files (package.json, lock files, .npmrc, tsconfig.json, any
    Playwright or tool config there) but none of its folders, then the central tree, every
    plugin tree (one pattern per glob of PLUGIN_TESTS_GLOB; `*` matches one path segment, as
    there), the local site when
    the run serves it, and TESTS_SPARSE_PATHS. "." anywhere means the whole workspace.
    """
    trees = [
        central,
        *(glob.strip("/") for glob in plugin_globs),
        *extra,
        *([site] if site else []),
    ]
    if "." in trees:
        return [f"/{subdir}/" if subdir != "." else "/*"]
    root = "" if subdir == "." else f"/{subdir}"
    patterns = [f"{root}/*", f"!{root}/*/"]
    patterns += [f"/{_under(subdir, tree)}/" for tree in trees]
    patterns += path_patterns(subdir, extra)
    return list(dict.fromkeys(patterns))


def path_patterns(subdir: str, paths: tuple[str, ...] | list[str]) -> list[str]:
    """Patterns for checked paths (TESTS_SPARSE_PATHS, what the package manager needs) that
    may name a folder or a file: the folder form alone would not match a file."""
    return [p for path in paths for p in (f"/{_under(subdir, path)}/", f"/{_under(subdir, path)}")]
