"""A real Git smart-HTTP server on 127.0.0.1 for the fetch tests and bench/fetching.py.

Debian's `git http-backend` runs under `fcgiwrap` behind nginx: `/public/<repo>.git` answers
anyone, `/private/<repo>.git` needs HTTP basic auth (nginx's `auth_basic`). Repositories live
under `<base>/repos/public` and `<base>/repos/private`; the access log records the bytes sent
for every request, so a caller can measure what a clone or fetch received.
Install the parts with scripts/setup-git-server.sh and scripts/setup-nginx.sh.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

USER = "kargo"


def _binary(name: str) -> str:
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else ""
    )
    if not found:
        raise RuntimeError(f"{name} is not installed: run scripts/setup-git-server.sh")
    return found


def _http_backend() -> str:
    exec_path = subprocess.run(
        ["git", "--exec-path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return str(Path(exec_path) / "git-http-backend")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class GitServer:
    port: int
    base: Path
    password: str

    @property
    def repos(self) -> Path:
        return self.base / "repos"

    def url(self, name: str, *, private: bool = False) -> str:
        return f"http://127.0.0.1:{self.port}/{'private' if private else 'public'}/{name}.git"

    def bytes_sent(self) -> int:
        """Bytes nginx has sent so far, over every request (headers included)."""
        log = self.base / "access.log"
        if not log.exists():
            return 0
        total = 0
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            field = line.rsplit(" ", 1)[-1]
            total += int(field) if field.isdigit() else 0
        return total

    def requests(self) -> list[str]:
        log = self.base / "access.log"
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


def _location(prefix: str, root: Path, socket_path: Path, backend: str, auth: str) -> str:
    return f"""
        location ~ ^/{prefix}(/.*)$ {{
            {auth}
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:{socket_path};
            fastcgi_param SCRIPT_FILENAME {backend};
            fastcgi_param GIT_PROJECT_ROOT {root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $remote_user;
            # Partial clone (`--filter`), as GitHub and GitLab allow it.
            fastcgi_param GIT_CONFIG_COUNT 1;
            fastcgi_param GIT_CONFIG_KEY_0 uploadpack.allowFilter;
            fastcgi_param GIT_CONFIG_VALUE_0 true;
        }}"""


def _config(base: Path, port: int, password: str, socket_path: Path) -> Path:
    backend = _http_backend()
    # nginx's {SHA} scheme: base64 of the SHA-1 digest (enough for a test server on loopback).
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    (base / "htpasswd").write_text(f"{USER}:{{SHA}}{digest}\n")
    for temp in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (base / temp).mkdir(exist_ok=True)
    auth = f'auth_basic "git"; auth_basic_user_file {base}/htpasswd;'
    # Root runs workers as `nobody`, who cannot enter pytest's 0700 temp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    conf = base / "nginx.conf"
    conf.write_text(f"""
        {user}
        daemon off;
        worker_processes 1;
        pid {base}/nginx.pid;
        error_log {base}/error.log info;
        events {{ worker_connections 256; }}
        http {{
            log_format sent '$request_method $uri $status $bytes_sent';
            access_log {base}/access.log sent;
            client_body_temp_path {base}/client_body;
            proxy_temp_path {base}/proxy;
            fastcgi_temp_path {base}/fastcgi;
            uwsgi_temp_path {base}/uwsgi;
            scgi_temp_path {base}/scgi;
            server {{
                listen 127.0.0.1:{port};
                {_location("public", base / "repos" / "public", socket_path, backend, "")}
                {_location("private", base / "repos" / "private", socket_path, backend, auth)}
            }}
        }}
    """)
    return conf


def _wait_for_port(port: int, processes: list[subprocess.Popen[bytes]], base: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                log = (
                    (base / "error.log").read_text(errors="replace")
                    if (base / "error.log").exists()
                    else ""
                )
                raise RuntimeError(f"{process.args!r} exited with {process.returncode}:\n{log}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"the git server did not listen on 127.0.0.1:{port}")


@contextlib.contextmanager
def serve(base: Path, password: str = "s3cret-test-password") -> Iterator[GitServer]:  # noqa: S107
    """nginx + fcgiwrap + git http-backend on a free port of 127.0.0.1, until the block ends."""
    base.mkdir(parents=True, exist_ok=True)
    for kind in ("public", "private"):
        (base / "repos" / kind).mkdir(parents=True, exist_ok=True)
    port = free_port()
    socket_path = base / "fcgiwrap.sock"
    conf = _config(base, port, password, socket_path)
    fcgi = subprocess.Popen(
        [_binary("fcgiwrap"), "-c", "4", "-s", f"unix:{socket_path}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        start_new_session=True,  # its preforked children go with it (killpg below)
    )
    nginx = subprocess.Popen(
        [_binary("nginx"), "-p", f"{base}/", "-e", f"{base}/error.log", "-c", str(conf)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    processes = [fcgi, nginx]
    try:
        _wait_for_port(port, processes, base)
        yield GitServer(port, base, password)
    finally:
        for process in reversed(processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# -- git over ssh --------------------------------------------------------------------------
@dataclass(frozen=True)
class SshServer:
    port: int
    user: str
    client_key: Path  # the private key the server accepts
    known_hosts: str  # the server's host key, as a known_hosts line

    def url(self, repo: Path) -> str:
        return f"ssh://{self.user}@127.0.0.1:{self.port}{repo}"


def _keygen(path: Path) -> str:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vr-test", "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return path.with_suffix(".pub").read_text().strip()


@contextlib.contextmanager
def serve_ssh(base: Path) -> Iterator[SshServer]:
    """OpenSSH's sshd on a free port of 127.0.0.1 for the current user, key auth only, until the
    block ends; git runs git-upload-pack through it as it does against any ssh server."""
    base.mkdir(parents=True, exist_ok=True)
    host_key = base / "host_key"
    host_public = _keygen(host_key)
    client_public = _keygen(base / "client_key")
    (base / "authorized_keys").write_text(client_public + "\n")
    user = pwd.getpwuid(os.geteuid()).pw_name
    port = free_port()
    (base / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {base}/sshd.pid\n"
        f"AuthorizedKeysFile {base}/authorized_keys\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        f"PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\nAllowUsers {user}\n"
        # Protocol v2 over ssh, as GitHub, GitLab and Gitea speak it (git sends GIT_PROTOCOL).
        "AcceptEnv GIT_PROTOCOL\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    with (base / "sshd.log").open("wb") as log:
        sshd = subprocess.Popen(
            [_binary("sshd"), "-D", "-e", "-f", str(base / "sshd_config")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    try:
        _wait_for_port(port, [sshd], base)
        key_type, key = host_public.split()[:2]
        yield SshServer(port, user, base / "client_key", f"[127.0.0.1]:{port} {key_type} {key}")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(sshd.pid, signal.SIGTERM)
        try:
            sshd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(sshd.pid, signal.SIGKILL)
            sshd.wait()
