"""A software passkey: a P-256 key that signs real WebAuthn assertions.

It stands in for a browser's authenticator in tests that need no browser:
the assertions it makes go through django-otp-webauthn's and py_webauthn's
full verification (challenge, origin, relying party, signature, counter).
"""

import hashlib
import json
import secrets
import struct
from base64 import urlsafe_b64encode
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import Client
from django_otp_webauthn.models import WebAuthnCredential

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"
BEGIN_URL = "/auth/passkeys/authentication/begin/"
COMPLETE_URL = "/auth/passkeys/authentication/complete/"
FLAG_USER_PRESENT = 0x01
FLAG_USER_VERIFIED = 0x04


def b64url(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


class SoftwarePasskey:
    """A confirmed passkey of ``user`` whose private key lives in the test."""

    def __init__(self, user: Any, name: str = "Software passkey") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        numbers = self.key.public_key().public_numbers()
        cose_key = {
            1: 2,
            3: -7,
            -1: 1,
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        }
        self.device = WebAuthnCredential.objects.create(
            user=user,
            name=name,
            credential_id=self.credential_id,
            public_key=cbor2.dumps(cose_key),
            sign_count=0,
            confirmed=True,
            discoverable=True,
        )
        self.sign_count = 0

    def assertion(
        self, options: dict[str, Any], *, origin: str = ORIGIN, forge: bool = False
    ) -> dict[str, Any]:
        """Answer ``options`` from the begin endpoint, as a browser would.

        With ``forge`` the authenticator data is altered after signing, as an
        attacker replaying a captured signature with a new counter would.
        """
        self.sign_count += 1
        client_data = json.dumps(
            {
                "type": "webauthn.get",
                "challenge": options["challenge"],
                "origin": origin,
                "crossOrigin": False,
            }
        ).encode()
        flags = FLAG_USER_PRESENT | FLAG_USER_VERIFIED
        authenticator_data = (
            hashlib.sha256(RP_ID.encode()).digest()
            + bytes([flags])
            + struct.pack(">I", self.sign_count)
        )
        signature = self.key.sign(
            authenticator_data + hashlib.sha256(client_data).digest(),
            ec.ECDSA(hashes.SHA256()),
        )
        if forge:
            authenticator_data = authenticator_data[:-4] + struct.pack(
                ">I", self.sign_count + 1000
            )
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64url(authenticator_data),
                "clientDataJSON": b64url(client_data),
                "signature": b64url(signature),
            },
            "clientExtensionResults": {},
        }

    def use(self, client: Client, **assertion_options: Any) -> Any:
        """Run a whole authentication ceremony on ``client``; the response."""
        begun = client.post(BEGIN_URL, content_type="application/json")
        assert begun.status_code == 200, begun.content
        return client.post(
            COMPLETE_URL,
            json.dumps(self.assertion(json.loads(begun.content), **assertion_options)),
            content_type="application/json",
        )
