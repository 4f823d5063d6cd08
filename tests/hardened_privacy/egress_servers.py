"""Local servers on 127.0.0.1 for the egress guard's tests.

Every server here binds to the loopback interface only; the tests reach
them by injecting a resolver and permitting 127.0.0.1/32 explicitly.
"""

import contextlib
import datetime
import http.server
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "Server"

    def log_message(self, format, *args):
        return

    def _send(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.requests.append(
            {"method": "POST", "path": self.path, "body": body.decode()}
        )
        if self.path.startswith("/see-other"):
            self._send(303, headers=[("Location", "/ok")])
        else:
            self._send(200, b"posted:" + body)

    def do_GET(self):
        self.server.requests.append(
            {
                "method": "GET",
                "path": self.path,
                "host": self.headers["Host"],
                "accept_encoding": self.headers.get("Accept-Encoding", ""),
            }
        )
        path = self.path.split("?")[0]
        if path == "/ok":
            self._send(200, b"hello", [("Content-Type", "text/plain")])
        elif path == "/json":
            self._send(
                200, b'{"summary": "ok"}', [("Content-Type", "application/json")]
            )
        elif path == "/host":
            self._send(200, self.headers["Host"].encode())
        elif path == "/big":
            self._send(200, b"x" * 5000)
        elif path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                self.wfile.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/lying-length":
            self.send_response(200)
            self.send_header("Content-Length", "10")
            self.end_headers()
            self.wfile.write(b"z" * 5000)
        elif path == "/slow-body":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"s")
                self.wfile.flush()
                time.sleep(0.05)
        elif path == "/slow-headers":
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            for index in range(60):
                self.wfile.write(f"X-Drip-{index}: 1\r\n".encode())
                self.wfile.flush()
                time.sleep(0.05)
            self.wfile.write(b"Content-Length: 0\r\n\r\n")
        elif path.startswith("/redirect/"):
            self._send(302, headers=[("Location", self.headers["X-Location"])])
        elif path == "/same-host":
            self._send(301, headers=[("Location", "/ok")])
        elif path == "/loop":
            self._send(302, headers=[("Location", "/loop")])
        else:
            self._send(404)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler):
        super().__init__(address, handler)
        self.requests = []

    def handle_error(self, request, client_address):
        return


@contextlib.contextmanager
def serve(tls_context=None) -> Iterator[Server]:
    server = Server(("127.0.0.1", 0), Handler)
    if tls_context is not None:
        server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def make_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for ``name``; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / f"{name}.pem"
    key_path = directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def server_tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class ConnectProxy(threading.Thread):
    """A CONNECT proxy that tunnels only to 127.0.0.1 and records targets."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(5)
        self.port = self.listener.getsockname()[1]
        self.authorities: list[str] = []
        self.authorizations: list[str | None] = []
        self.stopped = False

    def run(self):
        while not self.stopped:
            readable, _, _ = select.select([self.listener], [], [], 0.1)
            if readable:
                client, _ = self.listener.accept()
                threading.Thread(
                    target=self._serve_client, args=(client,), daemon=True
                ).start()

    def _serve_client(self, client):
        data = b""
        while b"\r\n\r\n" not in data:
            data += client.recv(1024)
        lines = data.split(b"\r\n")
        authority = lines[0].split()[1].decode()
        self.authorities.append(authority)
        self.authorizations.append(
            next(
                (
                    line.split(b":", 1)[1].strip().decode()
                    for line in lines
                    if line.lower().startswith(b"proxy-authorization:")
                ),
                None,
            )
        )
        host, _, port = authority.rpartition(":")
        if host != "127.0.0.1":
            client.sendall(b"HTTP/1.1 403 Forbidden\r\n\r\n")
            client.close()
            return
        upstream = socket.create_connection((host, int(port)))
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        sockets = [client, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 2)
                if not readable:
                    return
                for sock in readable:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return
                    (upstream if sock is client else client).sendall(chunk)
        finally:
            client.close()
            upstream.close()

    def stop(self):
        self.stopped = True
        self.join(1)
        self.listener.close()
