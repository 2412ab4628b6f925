"""A package registry on 127.0.0.1 for the install tests: verdaccio with no uplink, serving a
copy of the storage scripts/setup-registry.sh filled once. Nothing reaches the npm registry
while a test runs: a package the storage lacks is a 404.

`private=True` serves packages to authenticated users only (htpasswd); `token(name, password)`
adds a user through the registry's own API and returns its bearer token.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.git_server import free_port

REGISTRY_DIR = Path(os.environ.get("VR_REGISTRY_DIR", "/opt/vr-registry"))
VERDACCIO = REGISTRY_DIR / "node_modules" / "verdaccio" / "bin" / "verdaccio"
MANAGERS_DIR = Path(os.environ.get("PACKAGE_MANAGERS_DIR", "/opt/vr-package-managers"))
YARN_BERRY = MANAGERS_DIR / "yarn-4.18.1" / "node_modules/@yarnpkg/cli-dist/bin/yarn.js"
PNPM = MANAGERS_DIR / "pnpm-10.34.8" / "node_modules/pnpm/bin/pnpm.cjs"
YARN_CLASSIC = MANAGERS_DIR / "yarn-1.22.22" / "node_modules/yarn/bin/yarn.js"


def missing() -> str | None:
    """What scripts/setup.sh test has not installed yet, for the tests' own failure message."""
    # The storage's newest package: a storage filled before it was added lacks it.
    newest = REGISTRY_DIR / "storage" / "@backstage" / "e2e-test-utils"
    for path in (VERDACCIO, REGISTRY_DIR / "storage" / ".vr-packages", newest, YARN_BERRY, PNPM):
        if not path.exists():
            return f"{path} is missing: run scripts/setup.sh test"
    return None


@dataclass(frozen=True)
class Registry:
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def token(self, name: str, password: str) -> str:
        body = json.dumps({"name": name, "password": password}).encode()
        request = urllib.request.Request(  # noqa: S310 - our own server on 127.0.0.1
            f"{self.url}-/user/org.couchdb.user:{name}",
            data=body,
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return str(json.load(answer)["token"])


@contextlib.contextmanager
def serve_registry(base: Path, *, private: bool = False) -> Iterator[Registry]:
    """verdaccio on a free port of 127.0.0.1, no uplink, until the block ends."""
    problem = missing()
    if problem:
        raise RuntimeError(problem)
    base.mkdir(parents=True, exist_ok=True)
    storage = base / "storage"
    shutil.copytree(REGISTRY_DIR / "storage", storage, dirs_exist_ok=True)
    access = "$authenticated" if private else "$all"
    (base / "config.yaml").write_text(
        f"storage: {storage}\n"
        f"auth:\n  htpasswd:\n    file: {base / 'htpasswd'}\n    max_users: 10\n"
        "uplinks: {}\n"
        f"packages:\n  '**':\n    access: {access}\n    publish: $authenticated\n"
        "log: { type: stdout, format: pretty, level: warn }\n",
        encoding="utf-8",
    )
    port = free_port()
    log = (base / "verdaccio.log").open("wb")
    process = subprocess.Popen(
        [
            "node",
            str(VERDACCIO),
            "--config",
            str(base / "config.yaml"),
            "--listen",
            f"127.0.0.1:{port}",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((base / "verdaccio.log").read_text(errors="replace"))
            time.sleep(0.1)
        yield Registry(port)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()
