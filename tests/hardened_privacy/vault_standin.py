"""A local stand-in for HashiCorp Vault's transit and KV v2 HTTP API.

It speaks the few endpoints the Vault provider uses, with real AES-GCM under
a key the server keeps, token checking, associated data, and a switch that
makes it answer too slowly. Tests that use it say so in their docstrings.
"""

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

TOKEN = "s.standin-token"


class VaultStandIn:
    def __init__(self) -> None:
        self.keys: dict[str, AESGCM] = {}
        self.kv: dict[str, dict[str, str]] = {}
        self.delay = 0.0
        self.requests: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("X-Vault-Token") != TOKEN:
                    self._reply(403, {"errors": ["permission denied"]})
                    return False
                return True

            def do_POST(self) -> None:
                standin.requests.append(self.path)
                time.sleep(standin.delay)
                if not self._authorised():
                    return
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                parts = self.path.split("/")
                if len(parts) != 5 or parts[2] != "transit":
                    self._reply(404, {"errors": []})
                    return
                operation, name = parts[3], parts[4]
                aad = base64.b64decode(body.get("associated_data") or "")
                if operation == "encrypt":
                    key = standin.keys.setdefault(
                        name, AESGCM(AESGCM.generate_key(256))
                    )
                    nonce = os.urandom(12)
                    plaintext = base64.b64decode(body["plaintext"])
                    sealed = nonce + key.encrypt(nonce, plaintext, aad)
                    text = "vault:v1:" + base64.b64encode(sealed).decode()
                    self._reply(200, {"data": {"ciphertext": text}})
                    return
                if operation == "decrypt":
                    found = standin.keys.get(name)
                    ciphertext = str(body.get("ciphertext", ""))
                    try:
                        assert found is not None
                        assert ciphertext.startswith("vault:v1:")
                        sealed = base64.b64decode(ciphertext[9:])
                        plaintext = found.decrypt(sealed[:12], sealed[12:], aad)
                    except (AssertionError, InvalidTag, ValueError):
                        self._reply(
                            400, {"errors": ["cipher: message authentication failed"]}
                        )
                        return
                    encoded = base64.b64encode(plaintext).decode()
                    self._reply(200, {"data": {"plaintext": encoded}})
                    return
                self._reply(404, {"errors": []})

            def do_GET(self) -> None:
                standin.requests.append(self.path)
                time.sleep(standin.delay)
                if not self._authorised():
                    return
                prefix = "/v1/secret/data/"
                path = self.path.split("?")[0]
                if path.startswith(prefix) and path[len(prefix) :] in standin.kv:
                    data = standin.kv[path[len(prefix) :]]
                    self._reply(
                        200,
                        {"data": {"data": data, "metadata": {"version": 1}}},
                    )
                    return
                self._reply(404, {"errors": []})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "VaultStandIn":
        self.thread.start()
        return self

    def __exit__(self, *args: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
