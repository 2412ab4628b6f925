"""runner/files/walk.py: trees of any depth walked and removed without recursion, and without
following a symlink out of them (issue 22, item 6)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.files.walk import remove_tree, walk


def _chain(top: Path, levels: int, name: str = "d") -> None:
    """`levels` nested directories, made level by level: the path may pass PATH_MAX."""
    top.mkdir(parents=True, exist_ok=True)
    with contextlib.chdir(top):
        for i in range(levels):
            os.mkdir(name)
            os.chdir(name)
            if i % 500 == 0:
                Path("f").write_text("x")


@pytest.mark.slow
def test_a_tree_deeper_than_path_max_is_removed(tmp_path: Path) -> None:
    """1,100 levels of 'dddd/': 5,500 bytes of path, beyond what the kernel opens by name."""
    _chain(tmp_path / "tree", 1100, "dddd")
    assert remove_tree(tmp_path / "tree") == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_walk_goes_deeper_than_the_recursion_limit(tmp_path: Path) -> None:
    _chain(tmp_path / "tree", 1500)
    errors: list[OSError] = []
    seen = list(walk(tmp_path / "tree", onerror=errors.append))
    assert len(seen) == 1501 and errors == []
    assert sum("f" in files for _, _, files in seen) == 3
    assert remove_tree(tmp_path / "tree") == []


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("mine\n")
    tree = tmp_path / "tree"
    (tree / "a").mkdir(parents=True)
    (tree / "a" / "out").symlink_to(outside)
    (tree / "file-link").symlink_to(outside / "keep")
    listed = {d.name: (dirs, files) for d, dirs, files in walk(tree)}
    assert listed == {"tree": (["a"], ["file-link"]), "a": ([], ["out"])}
    assert remove_tree(tree) == []
    assert not tree.exists() and (outside / "keep").read_text() == "mine\n"
    (tmp_path / "link").symlink_to(outside)
    assert remove_tree(tmp_path / "link") == []  # the link goes, never what it points to
    assert (outside / "keep").exists() and not (tmp_path / "link").is_symlink()


def test_missing_is_nothing_to_do_and_errors_are_sentences(tmp_path: Path) -> None:
    assert remove_tree(tmp_path / "missing") == []
    errors: list[OSError] = []
    assert list(walk(tmp_path / "missing", onerror=errors.append)) == []
    assert len(errors) == 1 and errors[0].filename == str(tmp_path / "missing")


# Shapes: each directory a list of children, a child a file name or a nested directory.
trees = st.recursive(
    st.just("file"),
    lambda children: st.lists(children, max_size=4),
    max_leaves=25,
)


def _build(path: Path, shape: object) -> int:
    """Make `shape` at `path`; how many entries (files and directories) below it."""
    if shape == "file":
        path.write_text("x")
        return 0
    assert isinstance(shape, list)
    path.mkdir()
    count = 0
    for i, child in enumerate(shape):
        count += 1 + _build(path / f"{'.rm-' if i % 3 == 2 else 'n'}{i}", child)
    return count


@settings(max_examples=40, deadline=None)
@given(trees)
def test_any_tree_is_walked_whole_and_removed_whole(shape: object) -> None:
    """Property: the walk sees every entry once, and removal leaves nothing (names that look
    like the removal's own `.rm-` names included)."""
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp, "t")
        expected = _build(top, shape)
        if shape != "file":
            entries = sum(len(d) + len(f) for _, d, f in walk(top))
            assert entries == expected
        assert remove_tree(top) == []
        assert not top.exists() and not top.is_symlink()


def test_removal_ends_between_directories_when_told_and_resumes_where_it_stopped(
    tmp_path: Path,
) -> None:
    """A stop request or the run's deadline ends the deletion of a set-aside checkout
    (runner/workspace.py discard): after `n` directories nothing more goes, and the rest is
    said to be left; a later removal takes what is left."""
    top = tmp_path / "checkout"
    for i in range(6):
        (top / f"d{i}" / "sub").mkdir(parents=True)
        (top / f"d{i}" / "sub" / "f").write_text("x")
    asked = 0

    def three_then_stop() -> bool:
        nonlocal asked
        asked += 1
        return asked <= 3

    errors = remove_tree(top, keep_going=three_then_stop)
    assert errors == [f"{top}: left behind, not emptied"]
    assert asked == 4 and top.is_dir()  # three directories emptied, then it stopped
    assert remove_tree(top, keep_going=lambda: False) == [f"{top}: left behind, not emptied"]
    assert remove_tree(top) == [] and not top.exists()
