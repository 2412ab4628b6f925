"""Run a command with files hidden from it, the way a machine without them would look.

usage: unshare -m --propagation private python hide_paths.py LAYERS FILE[,FILE...] -- COMMAND...

Inside a private mount namespace (made by `unshare -m`), each hidden file's directory is
covered by an overlay whose upper layer holds a whiteout (a 0/0 character device) for it, so
`stat` says ENOENT while every sibling stays as it was. Needs root (CAP_SYS_ADMIN).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path


def hide(files: list[Path], layers_root: Path) -> None:
    by_dir: dict[Path, list[str]] = {}
    for file in files:
        by_dir.setdefault(file.parent, []).append(file.name)
    for directory, names in by_dir.items():
        layers = Path(tempfile.mkdtemp(prefix="hide-", dir=layers_root))  # LAYERS: the test's tmp
        upper, work = layers / "upper", layers / "work"
        upper.mkdir()
        work.mkdir()
        for name in names:
            os.mknod(upper / name, 0o600 | 0o020000, os.makedev(0, 0))  # S_IFCHR 0/0: whiteout
        options = f"lowerdir={directory},upperdir={upper},workdir={work}"
        subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", options, str(directory)], check=True
        )


def main() -> None:
    split = sys.argv.index("--")
    hide([Path(p) for p in sys.argv[2].split(",")], Path(sys.argv[1]))
    command = sys.argv[split + 1 :]
    os.execvp(command[0], command)  # noqa: S606 - replaces this process, argument list only


if __name__ == "__main__":
    main()
