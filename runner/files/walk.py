"""Walking and removing directory trees without recursion.

A test can leave a directory 1,500 levels deep in its output (or a repository can hold one):
Python 3.11's `os.walk` and `shutil.rmtree` recurse once per level and raise RecursionError,
which is no OSError. The masking of Playwright's reports then lost the verdict, and a tombstone
that `rmtree` could not delete crashed every later cleanup (issue 22, item 6). Here:

* `walk` is os.walk's top-down walk with an explicit stack: any depth, symlinks to
  directories listed but never entered, errors handed to `onerror` instead of raised. A path
  longer than the kernel takes (PATH_MAX) cannot be opened by name: it is an error there.
* `remove_tree` never descends at all: it empties one directory at a time, and moves each
  subdirectory it meets up into the tree's top directory (a rename in the same directory
  tree, under a fresh name) to be emptied in its turn. Two descriptors are open at any
  moment, no path is longer than two names, and nothing is followed: a symlink is unlinked
  as the link it is. The caller can end it between two directories (a stop request, a
  deadline): a real Backstage app's installed checkout is 250,000 files, minutes of unlinks.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _ignore(_exc: OSError) -> None:
    return None


def walk(
    root: Path, *, onerror: Callable[[OSError], None] = _ignore
) -> Iterator[tuple[Path, list[str], list[str]]]:
    """(directory, subdirectory names, other names) for `root` and every directory below it,
    parents first. The caller may prune the subdirectory list in place, as with os.walk.
    Symlinks (to anything) are in the second list: never entered."""
    stack = [root]
    while stack:
        directory = stack.pop()
        dirs: list[str] = []
        others: list[str] = []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir(follow_symlinks=False)
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else others).append(entry.name)
        except OSError as exc:
            onerror(exc)
            continue
        yield directory, dirs, others
        stack.extend(directory / name for name in reversed(dirs))


def _always() -> bool:
    return True


def remove_tree(path: Path, *, keep_going: Callable[[], bool] = _always) -> list[str]:
    """Delete `path` and everything below it; the entries that could not be deleted, one
    sentence each (empty: all gone). A missing `path` is no error. `keep_going` is asked before
    each directory is emptied: once it says no, the rest stays (and is said to)."""
    errors: list[str] = []
    try:
        # The parent is the caller's own choice (TMPDIR may be a symlink): followed. The tree
        # itself and everything in it never are.
        parent = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        return [f"{path.parent}: {exc.strerror or exc}"]
    try:
        try:
            top = os.open(path.name, DIR_FLAGS, dir_fd=parent)
        except FileNotFoundError:
            return []
        except OSError as exc:  # a symlink or a file where the tree was: removed as one
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                _unlink(parent, path.name, path, errors, directory=False)
                return errors
            return [f"{path}: {exc.strerror or exc}"]
        try:
            if not _empty(top, path, errors, keep_going):
                return [*errors, f"{path}: left behind, not emptied"]
        finally:
            os.close(top)
        _unlink(parent, path.name, path, errors, directory=True)
    finally:
        os.close(parent)
    return errors


def _empty(top: int, path: Path, errors: list[str], keep_going: Callable[[], bool]) -> bool:
    """Empty the directory `top`: its files go, its subdirectories move up into it as
    `.rm-<hex>` and are emptied and removed in turn, until none is left (True) or `keep_going`
    says no (False)."""
    pending: list[str | None] = [None]  # None: `top` itself
    while pending:
        if not keep_going():
            return False
        name = pending.pop()
        shown = path if name is None else path / name
        try:
            fd = os.dup(top) if name is None else os.open(name, DIR_FLAGS, dir_fd=top)
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(f"{shown}: {exc.strerror or exc}")
            continue
        try:
            _empty_one(fd, None if name is None else top, shown, pending, errors)
        finally:
            os.close(fd)
        if name is not None:
            _unlink(top, name, shown, errors, directory=True)
    return True


def _empty_one(
    fd: int, top: int | None, shown: Path, pending: list[str | None], errors: list[str]
) -> None:
    """Unlink what `fd` holds but directories; queue those (moved up into `top` first, unless
    `fd` is the top itself)."""
    try:
        with os.scandir(fd) as entries:
            listed = [(e.name, _is_dir(e)) for e in entries]
    except OSError as exc:
        errors.append(f"{shown}: {exc.strerror or exc}")
        return
    for child, is_dir in listed:
        if not is_dir:
            _unlink(fd, child, shown / child, errors, directory=False)
            continue
        if top is None:
            pending.append(child)
            continue
        moved = f".rm-{secrets.token_hex(8)}"
        try:
            os.rename(child, moved, src_dir_fd=fd, dst_dir_fd=top)
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(f"{shown / child}: {exc.strerror or exc}")
            continue
        pending.append(moved)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _unlink(dir_fd: int, name: str, shown: Path, errors: list[str], *, directory: bool) -> None:
    try:
        if directory:
            os.rmdir(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass  # another cleanup got there first
    except OSError as exc:
        errors.append(f"{shown}: {exc.strerror or exc}")
