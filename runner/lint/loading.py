"""What lint reads: YAML files, directories of them, a kustomization rendered, or stdin.

Everything that cannot be read becomes a LintInputError (exit 2) that names the input and what
to do; nothing is skipped silently except files that are not YAML inside a directory.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from runner.lint.errors import LintInputError
from runner.lint.yamldoc import Doc, Source, load_documents

YAML_SUFFIXES = frozenset({".yaml", ".yml"})
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
# Far above any manifest file or rendered kustomization; stops /dev/zero-like input early.
MAX_INPUT_BYTES = 32 * 1024 * 1024
Render = Callable[[str], list[Doc]]
# Directories never worth walking for manifests.
_SKIP_DIRS = frozenset({"node_modules", "__pycache__"})


def load_paths(
    paths: Iterable[str],
    *,
    read_stdin: Callable[[int], str],
    render: Render | None = None,
    notice: Callable[[str], None] = lambda _: None,
) -> list[Doc]:
    """The documents of every path: `-` is stdin (read once), a directory is every .yaml/.yml
    file under it (hidden directories and node_modules skipped), else a regular file.

    A directory under a walked one that holds a kustomization (not a Component) is rendered
    with `render` instead, as the cluster would get it (its patches applied), and the files
    beside the kustomization are not read again; when it cannot be rendered, `notice` says so
    and why, and its files are read as written."""
    docs: list[Doc] = []
    stdin_read = False
    for raw in paths:
        if raw == "-":
            if not stdin_read:
                docs += load_documents(_stdin(read_stdin), Source("<stdin>", "stdin"))
                stdin_read = True
            continue
        path = Path(raw)
        if path.is_dir():
            files = _yaml_files(path)
            rendered = _render_kustomizations(path, files, render, notice, docs)
            if not files and not rendered:
                raise LintInputError(f"{raw}: no .yaml or .yml files in this directory")
            for file in files:
                if file.parent not in rendered or file.name in KUSTOMIZATION_NAMES:
                    docs += load_file(file)
        elif path.exists() or path.is_symlink():
            docs += load_file(path)
        else:
            raise LintInputError(f"{raw}: no such file or directory")
    return docs


def kustomization_file(directory: Path) -> Path | None:
    return next((directory / n for n in KUSTOMIZATION_NAMES if (directory / n).is_file()), None)


def _render_kustomizations(
    root: Path,
    files: list[Path],
    render: Render | None,
    notice: Callable[[str], None],
    docs: list[Doc],
) -> set[Path]:
    rendered: set[Path] = set()
    if render is None:
        return rendered
    for directory in sorted({root, *(f.parent for f in files)}):
        found = kustomization_file(directory)
        if found is None or _is_component(found):
            continue
        try:
            docs += render(str(directory))
        except LintInputError as exc:
            notice(
                f"{directory}: the kustomization was not rendered, so its patches are not"
                f" checked ({exc}); its files are linted as written. Fix that, or render it"
                " yourself and lint the output from stdin (`-`)"
            )
            continue
        rendered.add(directory)
    return rendered


def _is_component(kustomization: Path) -> bool:
    """A Component cannot be built alone; it is linted where a kustomization uses it."""
    try:
        return any(doc.kind == "Component" for doc in load_file(kustomization))
    except LintInputError:
        return False


def _stdin(read: Callable[[int], str]) -> str:
    try:
        text = read(MAX_INPUT_BYTES + 1)
    except UnicodeDecodeError:
        raise LintInputError("<stdin>: not UTF-8 text; is it really YAML?") from None
    except OSError as exc:
        raise LintInputError(f"<stdin>: cannot read it: {exc.strerror or exc}") from None
    if len(text) > MAX_INPUT_BYTES:
        raise LintInputError(f"<stdin>: more than {MAX_INPUT_BYTES} bytes; is it really YAML?")
    return text


def _yaml_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p in _SKIP_DIRS for p in parts[:-1]):
            continue
        if path.suffix in YAML_SUFFIXES and path.is_file():
            found.append(path)
    return found


def load_file(path: Path) -> list[Doc]:
    """A regular file, read to at most MAX_INPUT_BYTES. Opened without blocking and checked on
    the open descriptor, so a FIFO, a device (/dev/zero) or a socket is refused, never read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise LintInputError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as file:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise LintInputError(
                f"{path}: not a regular file ({_file_type(mode)}); give a YAML file, a"
                " directory, or `-` for stdin"
            )
        try:
            data = file.read(MAX_INPUT_BYTES + 1)
        except OSError as exc:
            raise LintInputError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > MAX_INPUT_BYTES:
        raise LintInputError(f"{path}: more than {MAX_INPUT_BYTES} bytes; is it really YAML?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise LintInputError(f"{path}: not UTF-8 text; is it really a YAML file?") from None
    return load_documents(text, Source(str(path), path.as_posix()))


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a file"
