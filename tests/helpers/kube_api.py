"""An HTTPS server on 127.0.0.1 that answers like the Kubernetes API for the deployment proof.

It serves named objects (GET .../deployments/NAME) and lists (GET .../pods?labelSelector=...)
filtered by the selector's `key=value` terms, as the API server does, from a sequence of
"worlds": world k is served from the k-th GET of the workload on, so a test can play a rollout
that finishes after N looks. Paths in `forbidden` answer 403 with the API's Status object.
"""

from __future__ import annotations

import json
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.helpers.kube_objects import listing, status_error

LIST_KINDS = {"pods": "PodList", "replicasets": "ReplicaSetList"}


@dataclass
class World:
    """What the API holds at one moment: objects by their GET path, list items by collection path."""

    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    collections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


@dataclass
class KubeApi:
    worlds: Sequence[World]
    workload_path: str
    forbidden: frozenset[str] = frozenset()
    port: int = 0
    seen: list[str] = field(default_factory=list)
    _looks: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def world(self, path: str) -> World:
        with self._lock:
            if path == self.workload_path:
                self._looks += 1
            index = max(0, min(self._looks - 1, len(self.worlds) - 1))
            return self.worlds[index]

    @property
    def looks(self) -> int:
        return self._looks


def service_account(folder: Path, token: str) -> Path:
    """A ServiceAccount directory as the kubelet mounts it (token, ca.crt), plus the key of a
    self-signed certificate for 127.0.0.1 that `serve` presents."""
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(folder / "key.pem"), "-out", str(folder / "ca.crt")),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )
    (folder / "token").write_text(f"{token}\n")
    return folder


def _matches(obj: dict[str, Any], selector: str) -> bool:
    labels = obj.get("metadata", {}).get("labels", {})
    for term in filter(None, selector.split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


@contextmanager
def serve(api: KubeApi, account: Path) -> Iterator[KubeApi]:
    """Serve `api` over TLS with the certificate in `account` (ca.crt, key.pem)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urllib.parse.urlsplit(self.path)
            api.seen.append(f"{self.path} {self.headers.get('Authorization')}")
            if parts.path in api.forbidden:
                return self._send(403, status_error(403, "Forbidden", f"forbidden: {parts.path}"))
            world = api.world(parts.path)
            if parts.path in world.objects:
                return self._send(200, world.objects[parts.path])
            collection = parts.path.rsplit("/", 1)[-1]
            if collection in LIST_KINDS and parts.path in world.collections:
                query = urllib.parse.parse_qs(parts.query)
                selector = query.get("labelSelector", [""])[0]
                items = [o for o in world.collections[parts.path] if _matches(o, selector)]
                return self._send(200, listing(LIST_KINDS[collection], items))
            self._send(404, status_error(404, "NotFound", f"{parts.path} not found"))

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(account / "ca.crt", account / "key.pem")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    api.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
