"""Key providers whose master keys never leave a remote service.

:class:`VaultTransitKeyProvider` wraps data keys with HashiCorp Vault's
transit engine and reads secrets from its KV version 2 engine;
:class:`AwsKmsKeyProvider` wraps with AWS KMS and reads secrets from AWS
Secrets Manager. Both bind each wrapped data key to its master key id
(Vault: associated data; KMS: encryption context), time out quickly, and
raise :class:`KeyProviderUnavailable` when the service cannot be reached.
"""

import base64
import os
from typing import Any

from hardened_privacy.exceptions import (
    DecryptionError,
    KeyProviderError,
    KeyProviderUnavailable,
)
from hardened_privacy.internal.providers import KeyProvider

DEFAULT_TIMEOUT = 5.0
CONTEXT_KEY = "hardened_privacy_key_id"


class VaultTransitKeyProvider(KeyProvider):
    """HashiCorp Vault: transit for data keys, KV v2 for secrets.

    ``OPTIONS``: ``URL``; the token in ``TOKEN_ENV`` (default
    ``VAULT_TOKEN``) or ``TOKEN_FILE``; ``MOUNT_POINT`` (default
    ``transit``); ``KV_MOUNT_POINT`` (default ``secret``); ``TIMEOUT``
    seconds; ``VERIFY`` (TLS verification or a CA bundle path). A master
    key reference is a transit key name; a secret reference is
    ``path#field``.
    """

    def _client(self) -> Any:
        import hvac

        url = self.options.get("URL")
        if not url:
            raise KeyProviderError(f"Provider {self.alias!r} needs OPTIONS['URL'].")
        return hvac.Client(
            url=str(url),
            token=self._token(),
            timeout=float(self.options.get("TIMEOUT", DEFAULT_TIMEOUT)),
            verify=self.options.get("VERIFY", True),
        )

    def _token(self) -> str:
        token_file = self.options.get("TOKEN_FILE")
        if token_file:
            try:
                with open(str(token_file)) as handle:
                    return handle.read().strip()
            except OSError as exc:
                raise KeyProviderError(
                    f"Provider {self.alias!r} cannot read its token file."
                ) from exc
        token = os.environ.get(str(self.options.get("TOKEN_ENV", "VAULT_TOKEN")))
        if not token:
            raise KeyProviderError(f"Provider {self.alias!r} has no Vault token.")
        return token

    def _call(self, operation: str, call: Any) -> Any:
        import hvac.exceptions
        import requests

        try:
            return call()
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise KeyProviderUnavailable(
                f"Provider {self.alias!r}: Vault did not answer ({operation})."
            ) from exc
        except hvac.exceptions.InvalidRequest as exc:
            if operation == "decrypt":
                raise DecryptionError(
                    f"Provider {self.alias!r}: Vault refused to unwrap the data key."
                ) from exc
            raise KeyProviderError(
                f"Provider {self.alias!r}: Vault refused the {operation} request."
            ) from exc
        except hvac.exceptions.VaultError as exc:
            raise KeyProviderError(
                f"Provider {self.alias!r}: Vault refused the {operation} request "
                f"({type(exc).__name__})."
            ) from exc

    def _mount(self) -> str:
        return str(self.options.get("MOUNT_POINT", "transit"))

    def wrap_data_key(self, key_id: str, reference: str, data_key: bytes) -> bytes:
        client = self._client()
        response = self._call(
            "encrypt",
            lambda: client.secrets.transit.encrypt_data(
                name=reference,
                plaintext=base64.b64encode(data_key).decode(),
                associated_data=base64.b64encode(key_id.encode()).decode(),
                mount_point=self._mount(),
            ),
        )
        return str(response["data"]["ciphertext"]).encode()

    def unwrap_data_key(self, key_id: str, reference: str, wrapped: bytes) -> bytes:
        client = self._client()
        response = self._call(
            "decrypt",
            lambda: client.secrets.transit.decrypt_data(
                name=reference,
                ciphertext=wrapped.decode("ascii", "replace"),
                associated_data=base64.b64encode(key_id.encode()).decode(),
                mount_point=self._mount(),
            ),
        )
        return base64.b64decode(response["data"]["plaintext"])

    def get_secret(self, reference: str) -> bytes:
        path, _, field = reference.partition("#")
        if not path or not field:
            raise KeyProviderError(
                f"Provider {self.alias!r}: a secret reference reads 'path#field'."
            )
        client = self._client()
        response = self._call(
            "read",
            lambda: client.secrets.kv.v2.read_secret_version(
                path=path,
                mount_point=str(self.options.get("KV_MOUNT_POINT", "secret")),
                raise_on_deleted_version=True,
            ),
        )
        value = response["data"]["data"].get(field)
        if not value:
            raise KeyProviderError(
                f"Provider {self.alias!r}: secret {path!r} has no field {field!r}."
            )
        return str(value).encode()


class AwsKmsKeyProvider(KeyProvider):
    """AWS KMS for data keys and AWS Secrets Manager for secrets.

    ``OPTIONS``: ``REGION``, optional ``ENDPOINT_URL``, ``TIMEOUT`` seconds.
    Credentials come from boto3's usual chain. A master key reference is a
    KMS key id, ARN or alias; a secret reference is a secret id, optionally
    ``id#field`` for a JSON secret.
    """

    def _client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        timeout = float(self.options.get("TIMEOUT", DEFAULT_TIMEOUT))
        return boto3.client(
            service,
            region_name=self.options.get("REGION"),
            endpoint_url=self.options.get("ENDPOINT_URL"),
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": 2, "mode": "standard"},
            ),
        )

    def _call(self, operation: str, call: Any) -> Any:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            ConnectionError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        )

        try:
            return call()
        except (
            ConnectionError,
            ConnectTimeoutError,
            EndpointConnectionError,
            ReadTimeoutError,
        ) as exc:
            raise KeyProviderUnavailable(
                f"Provider {self.alias!r}: AWS did not answer ({operation})."
            ) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if operation == "decrypt" and code in {
                "InvalidCiphertextException",
                "IncorrectKeyException",
            }:
                raise DecryptionError(
                    f"Provider {self.alias!r}: KMS refused to unwrap the data key."
                ) from exc
            raise KeyProviderError(
                f"Provider {self.alias!r}: AWS refused the {operation} request "
                f"({code})."
            ) from exc
        except BotoCoreError as exc:
            raise KeyProviderError(
                f"Provider {self.alias!r}: the {operation} request failed "
                f"({type(exc).__name__})."
            ) from exc

    def wrap_data_key(self, key_id: str, reference: str, data_key: bytes) -> bytes:
        client = self._client("kms")
        response = self._call(
            "encrypt",
            lambda: client.encrypt(
                KeyId=reference,
                Plaintext=data_key,
                EncryptionContext={CONTEXT_KEY: key_id},
            ),
        )
        return bytes(response["CiphertextBlob"])

    def unwrap_data_key(self, key_id: str, reference: str, wrapped: bytes) -> bytes:
        client = self._client("kms")
        response = self._call(
            "decrypt",
            lambda: client.decrypt(
                CiphertextBlob=wrapped,
                KeyId=reference,
                EncryptionContext={CONTEXT_KEY: key_id},
            ),
        )
        return bytes(response["Plaintext"])

    def get_secret(self, reference: str) -> bytes:
        import json

        secret_id, _, field = reference.partition("#")
        client = self._client("secretsmanager")
        response = self._call(
            "read", lambda: client.get_secret_value(SecretId=secret_id)
        )
        value = response.get("SecretString")
        if value is None:
            value = base64.b64decode(response.get("SecretBinary", b"")).decode()
        if field:
            try:
                value = json.loads(value)[field]
            except (ValueError, KeyError, TypeError) as exc:
                raise KeyProviderError(
                    f"Provider {self.alias!r}: secret {secret_id!r} has no "
                    f"field {field!r}."
                ) from exc
        if not value:
            raise KeyProviderError(
                f"Provider {self.alias!r}: secret {secret_id!r} is empty."
            )
        return str(value).encode()
