"""A TCP proxy on 127.0.0.1 that can take the S3 server away mid-upload.

Tests point ``AWS_ENDPOINT_URL`` at the proxy. ``cut_on_put(n, marker)`` makes
it forward only the head, and half the body that came with it, of the n-th
request whose request line holds ``marker`` (e.g. ``/objects/``), then close
every connection and stop listening: to the client this is a server that died
while receiving an upload. ``restore()`` listens on the same port again.

``hold()`` turns it into a black hole: it keeps accepting connections (and the
open ones) but stops reading from them, forwards nothing and never answers, as
a hung proxy or a half-open firewall does (a client's sends stall once the
buffers fill). ``refuse(marker)`` answers every request whose request line
holds ``marker`` (e.g. ``partNumber=``) with 403 AccessDenied itself and
forwards the rest: a server that is up and refuses one kind of request.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

import pytest


class FaultProxy:
    def __init__(self, target_port: int):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.conns: list[socket.socket] = []
        self.cut_marker: bytes | None = None
        self.cut_countdown = 0
        self.is_down = False
        self.holding = False
        self.refused: bytes | None = None
        self.closed = threading.Event()
        self.cut_done = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._serve()

    # -- control ---------------------------------------------------------------
    def cut_on_put(self, nth: int, marker: bytes) -> None:
        with self.lock:
            self.cut_marker, self.cut_countdown = marker, nth

    def refuse(self, marker: bytes) -> None:
        with self.lock:
            self.refused = marker

    def hold(self) -> None:
        with self.lock:
            self.holding = True

    def cut(self) -> None:
        with self.lock:
            self.is_down = True
            conns, self.conns = self.conns, []
        for sock in [self.listener, *conns]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.cut_done.set()

    def restore(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        with self.lock:
            self.is_down = False
            self.cut_marker = None
        self._serve()

    def close(self) -> None:
        self.closed.set()
        self.cut()

    # -- plumbing --------------------------------------------------------------
    def _serve(self) -> None:
        listener = self.listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with self.lock:
                if self.holding:  # a black hole: accepted, never answered
                    self.conns.append(client)
                    continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                if self.is_down:
                    client.close()
                    upstream.close()
                    return
                self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        try:
            while data := src.recv(65536):
                if from_client and self.holding:  # never read again, never answered
                    self.closed.wait()
                    return
                if from_client and self._refuses(data):
                    dst.close()
                    src.sendall(DENIED)
                    return
                if from_client and self._should_cut(data):
                    # the head whole and half the body that came with it: a server given
                    # half a head (werkzeug, so moto) takes it as a request without a body
                    head = data.find(b"\r\n\r\n") + 4
                    dst.sendall(data[: head + (len(data) - head) // 2] if head >= 4 else data[: len(data) // 2])
                    self.cut()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            # holding: the client's socket stays open (closed by close()) even when the
            # server ends its side, as a black hole never closes anything either
            for sock in (src, dst) if not self.holding else (src if not from_client else dst,):
                try:
                    sock.close()
                except OSError:
                    pass

    def _should_cut(self, data: bytes) -> bool:
        with self.lock:
            if not self.cut_marker or not data.startswith(b"PUT "):
                return False
            line = data.split(b"\r\n", 1)[0]
            if self.cut_marker not in line:
                return False
            self.cut_countdown -= 1
            return self.cut_countdown <= 0

    def _refuses(self, data: bytes) -> bool:
        with self.lock:
            return bool(self.refused) and self.refused in data.split(b"\r\n", 1)[0]


_BODY = b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
DENIED = (b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nConnection: close\r\n"
          b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY)


@pytest.fixture
def proxy(s3, monkeypatch):
    """A FaultProxy in front of the moto server, as the S3 endpoint of this test (import it
    into a test module: ``from faultproxy import proxy``)."""
    import s3fs

    proxy = FaultProxy(urlsplit(s3.endpoint).port)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    s3fs.S3FileSystem.clear_instance_cache()
    yield proxy
    proxy.close()
    s3fs.S3FileSystem.clear_instance_cache()
