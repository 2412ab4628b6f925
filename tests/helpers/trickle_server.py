"""An HTTP server on 127.0.0.1 that never finishes its headers: after each request it sends
one byte every 0.5 s (each well inside any socket timeout) for two minutes. Prints its port."""

from __future__ import annotations

import socket
import threading
import time


def trickle(conn: socket.socket) -> None:
    with conn:
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(240):
                conn.sendall(b"X")
                time.sleep(0.5)
        except OSError:
            pass  # the client went away


def main() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    print(listener.getsockname()[1], flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=trickle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
