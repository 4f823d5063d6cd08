"""Connect to one already-checked address, directly or through a proxy.

The connection never resolves the target's name again: it dials the address
the guard checked (or asks the proxy to ``CONNECT`` to that address), then
speaks HTTP with the original name in the ``Host`` header and, for HTTPS, in
the TLS server name indication and certificate check. Every read and write
is bounded by one deadline for the whole request.
"""

import base64
import http.client
import io
import re
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from hardened_privacy.exceptions import EgressConnectionError, EgressTimeout
from hardened_privacy.internal.egress_policy import DEFAULT_PORTS, Target

MAX_PROXY_REPLY = 8192
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def remaining(deadline: float) -> float:
    """Seconds left before ``deadline``; raise once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise EgressTimeout("The outbound request took longer than allowed.")
    return left


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(remaining(self._deadline))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError as exc:
            raise EgressTimeout(
                "The outbound request took longer than allowed."
            ) from exc


class DeadlineSocket:
    """The subset of a socket ``http.client`` uses, bounded by a deadline."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(
        self, mode: str = "rb", *args: Any, **kwargs: Any
    ) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))

    def sendall(self, data: bytes) -> None:
        self._sock.settimeout(remaining(self._deadline))
        try:
            self._sock.sendall(data)
        except TimeoutError as exc:
            raise EgressTimeout(
                "The outbound request took longer than allowed."
            ) from exc

    def close(self) -> None:
        self._sock.close()


@dataclass(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)


def parse_proxy(url: str) -> Proxy:
    """``http://[user:password@]host:port`` of a ``CONNECT`` proxy.

    Credentials, percent-encoded in the URL, are sent as HTTP Basic
    ``Proxy-Authorization`` with each ``CONNECT``.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or _CONTROL.search(url):
        raise EgressConnectionError("The egress proxy must be http://host:port.")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise EgressConnectionError("The egress proxy port is invalid.") from exc
    authorization = None
    if "@" in parts.netloc:
        if parts.username is None or parts.password is None:
            raise EgressConnectionError("The egress proxy needs a user and password.")
        pair = (
            urllib.parse.unquote(parts.username)
            + ":"
            + urllib.parse.unquote(parts.password)
        )
        authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode()
    return Proxy(parts.hostname, port, authorization)


def _authority(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _read_proxy_reply(sock: socket.socket, deadline: float) -> bytes:
    reply = b""
    while b"\r\n\r\n" not in reply:
        if len(reply) > MAX_PROXY_REPLY:
            raise EgressConnectionError("The egress proxy reply is too long.")
        sock.settimeout(remaining(deadline))
        chunk = sock.recv(1)
        if not chunk:
            raise EgressConnectionError("The egress proxy closed the connection.")
        reply += chunk
    return reply


def _tunnel(
    sock: socket.socket, proxy: Proxy, address: str, port: int, deadline: float
) -> None:
    authority = _authority(address, port)
    request = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    if proxy.authorization is not None:
        request += f"Proxy-Authorization: {proxy.authorization}\r\n"
    request += "\r\n"
    sock.settimeout(remaining(deadline))
    sock.sendall(request.encode("ascii"))
    status_line = _read_proxy_reply(sock, deadline).split(b"\r\n", 1)[0]
    parts = status_line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or parts[1] != b"200":
        raise EgressConnectionError("The egress proxy refused the tunnel.")


class PinnedConnection(http.client.HTTPConnection):
    """An HTTP(S) connection to a fixed address, named by its host name."""

    def __init__(
        self,
        target: Target,
        address: str,
        deadline: float,
        *,
        proxy: Proxy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(target.host, target.port, timeout=remaining(deadline))
        self.default_port = DEFAULT_PORTS[target.scheme]
        self.target = target
        self.address = address
        self.deadline = deadline
        self.proxy = proxy
        self.ssl_context = ssl_context

    def _dial(self) -> socket.socket:
        if self.proxy is not None:
            sock = socket.create_connection(
                (self.proxy.host, self.proxy.port), timeout=remaining(self.deadline)
            )
            try:
                _tunnel(sock, self.proxy, self.address, self.target.port, self.deadline)
            except BaseException:
                sock.close()
                raise
            return sock
        return socket.create_connection(
            (self.address, self.target.port), timeout=remaining(self.deadline)
        )

    def connect(self) -> None:
        sock = self._dial()
        if self.target.scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            sock.settimeout(remaining(self.deadline))
            try:
                sock = context.wrap_socket(sock, server_hostname=self.target.host)
            except BaseException:
                sock.close()
                raise
        self.sock = DeadlineSocket(sock, self.deadline)
