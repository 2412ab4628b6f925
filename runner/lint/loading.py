"""What lint reads: YAML files, directories of them, a kustomization rendered, or stdin.

Everything that cannot be read becomes a LintInputError (exit 2) that names the input and what
to do; nothing is skipped silently except files that are not YAML inside a directory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from runner.lint.errors import LintInputError
from runner.lint.yamldoc import Doc, Source, load_documents

YAML_SUFFIXES = frozenset({".yaml", ".yml"})
# Directories never worth walking for manifests.
_SKIP_DIRS = frozenset({"node_modules", "__pycache__"})


def load_paths(paths: Iterable[str], *, read_stdin: Callable[[], str]) -> list[Doc]:
    """The documents of every path: `-` is stdin (read once), a directory is every .yaml/.yml
    file under it (hidden directories and node_modules skipped), else a file."""
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
            if not files:
                raise LintInputError(f"{raw}: no .yaml or .yml files in this directory")
            for file in files:
                docs += load_file(file)
        elif path.exists():
            docs += load_file(path)
        else:
            raise LintInputError(f"{raw}: no such file or directory")
    return docs


def _stdin(read: Callable[[], str]) -> str:
    try:
        return read()
    except UnicodeDecodeError:
        raise LintInputError("<stdin>: not UTF-8 text; is it really YAML?") from None
    except OSError as exc:
        raise LintInputError(f"<stdin>: cannot read it: {exc.strerror or exc}") from None


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
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise LintInputError(f"{path}: not UTF-8 text; is it really a YAML file?") from None
    except OSError as exc:
        raise LintInputError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    return load_documents(text, Source(str(path), path.as_posix()))
