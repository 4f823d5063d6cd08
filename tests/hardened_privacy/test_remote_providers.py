"""Remote key providers, against stand-ins for services out of reach.

Vault tests run against ``vault_standin`` (a local HTTP stand-in the test
starts); AWS tests run against moto's in-process KMS and Secrets Manager, or,
for timeouts, a local socket that never answers. Every test that talks to a
stand-in carries the ``standin`` marker (``pytest -m standin`` selects them,
``-m "not standin"`` leaves them out).
"""

import os
import socket
import threading
import time

import boto3
import pytest
from django.db import connection, transaction
from django.test import override_settings
from moto import mock_aws

from hardened_privacy.exceptions import (
    DecryptionError,
    KeyProviderError,
    KeyProviderUnavailable,
)
from hardened_privacy.keys import (
    AwsKmsKeyProvider,
    VaultTransitKeyProvider,
    read_secret,
)
from tests.hardened_privacy.testapp.models import Patient
from tests.hardened_privacy.vault_standin import TOKEN, VaultStandIn


@pytest.fixture
def vault(monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    with VaultStandIn() as standin:
        yield standin


def vault_provider(vault, **options):
    return VaultTransitKeyProvider("vault", URL=vault.url, TIMEOUT=1, **options)


def closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.standin
def test_vault_wraps_and_unwraps_data_keys(vault):
    """Vault stand-in: wrap then unwrap returns the data key."""
    provider = vault_provider(vault)
    data_key = os.urandom(32)
    wrapped = provider.wrap_data_key("test/v1", "app-key", data_key)
    assert wrapped.startswith(b"vault:v1:")
    assert provider.unwrap_data_key("test/v1", "app-key", wrapped) == data_key


@pytest.mark.standin
def test_vault_binds_wrapped_key_to_key_id(vault):
    """Vault stand-in: a wrapped key presented under another key id fails."""
    provider = vault_provider(vault)
    wrapped = provider.wrap_data_key("test/v1", "app-key", os.urandom(32))
    with pytest.raises(DecryptionError, match="refused to unwrap"):
        provider.unwrap_data_key("test/v2", "app-key", wrapped)
    with pytest.raises(DecryptionError):
        provider.unwrap_data_key("test/v1", "app-key", wrapped[:-4] + b"AAAA")


@pytest.mark.standin
def test_vault_wrong_token_is_refused(vault, monkeypatch):
    """Vault stand-in: a bad token is a provider error, not a decryption."""
    monkeypatch.setenv("VAULT_TOKEN", "s.wrong")
    with pytest.raises(KeyProviderError, match="Forbidden"):
        vault_provider(vault).wrap_data_key("test/v1", "app-key", os.urandom(32))


@pytest.mark.standin
def test_vault_timeout_is_unavailable(vault):
    """Vault stand-in: an answer slower than the timeout fails closed."""
    vault.delay = 2.5
    with pytest.raises(KeyProviderUnavailable, match="did not answer"):
        vault_provider(vault).wrap_data_key("test/v1", "app-key", os.urandom(32))


def test_vault_gone_is_unavailable(monkeypatch):
    """No Vault at all: the provider reports it unavailable."""
    monkeypatch.setenv("VAULT_TOKEN", TOKEN)
    provider = VaultTransitKeyProvider(
        "vault", URL=f"http://127.0.0.1:{closed_port()}", TIMEOUT=1
    )
    with pytest.raises(KeyProviderUnavailable):
        provider.get_secret("site#SECRET_KEY")


@pytest.mark.standin
def test_vault_reads_kv_secrets(vault):
    """Vault stand-in: KV v2 secrets, with missing fields refused."""
    vault.kv["site"] = {"SECRET_KEY": "from-vault", "empty": ""}
    provider = vault_provider(vault)
    assert provider.get_secret("site#SECRET_KEY") == b"from-vault"
    with pytest.raises(KeyProviderError, match="no field"):
        provider.get_secret("site#empty")
    with pytest.raises(KeyProviderError, match="path#field"):
        provider.get_secret("site")


def test_vault_needs_url_and_token(monkeypatch):
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    with pytest.raises(KeyProviderError, match="URL"):
        VaultTransitKeyProvider("vault").get_secret("a#b")
    with pytest.raises(KeyProviderError, match="no Vault token"):
        VaultTransitKeyProvider("vault", URL="http://x").get_secret("a#b")


@pytest.mark.django_db
@pytest.mark.standin
def test_encrypted_fields_work_through_vault(vault):
    """Vault stand-in: a model saved and loaded with a Vault master key."""
    providers = {
        "vault": {
            "BACKEND": "hardened_privacy.keys.VaultTransitKeyProvider",
            "OPTIONS": {"URL": vault.url, "TIMEOUT": 1},
        }
    }
    keys = {"development/vault-1": {"PROVIDER": "vault", "REFERENCE": "app-key"}}
    with override_settings(
        HARDENED_PRIVACY_KEY_PROVIDERS=providers,
        HARDENED_PRIVACY_KEYS=keys,
        HARDENED_PRIVACY_ACTIVE_KEY="development/vault-1",
    ):
        for index in range(5):
            Patient.objects.create(name=str(index), note=f"secret {index}")
        notes = sorted(p.note for p in Patient.objects.all())
    assert notes == [f"secret {i}" for i in range(5)]
    encrypt_calls = [r for r in vault.requests if "/encrypt/" in r]
    assert len(encrypt_calls) == 1


@pytest.fixture
def aws(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        kms = boto3.client("kms", region_name="eu-west-1")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        secrets = boto3.client("secretsmanager", region_name="eu-west-1")
        secrets.create_secret(Name="site/django", SecretString="plain-secret")
        secrets.create_secret(
            Name="site/stripe", SecretString='{"secret_key": "sk_test_abc"}'
        )
        yield key


@pytest.mark.standin
def test_kms_wraps_and_unwraps(aws):
    """moto KMS: wrap then unwrap returns the data key."""
    provider = AwsKmsKeyProvider("kms", REGION="eu-west-1")
    data_key = os.urandom(32)
    wrapped = provider.wrap_data_key("test/kms-1", aws, data_key)
    assert data_key not in wrapped
    assert provider.unwrap_data_key("test/kms-1", aws, wrapped) == data_key


@pytest.mark.standin
def test_kms_binds_to_key_id(aws):
    """moto KMS: the encryption context binds the data key to its key id."""
    provider = AwsKmsKeyProvider("kms", REGION="eu-west-1")
    wrapped = provider.wrap_data_key("test/kms-1", aws, os.urandom(32))
    with pytest.raises(DecryptionError, match="KMS refused"):
        provider.unwrap_data_key("test/other", aws, wrapped)


@pytest.mark.standin
def test_kms_unknown_key_is_provider_error(aws):
    """moto KMS: a key that does not exist is a configuration problem."""
    provider = AwsKmsKeyProvider("kms", REGION="eu-west-1")
    with pytest.raises(KeyProviderError, match="NotFoundException"):
        provider.wrap_data_key("test/kms-1", "alias/missing", os.urandom(32))


def test_kms_unreachable_is_unavailable(monkeypatch):
    """No KMS endpoint answering: the provider reports it unavailable."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    provider = AwsKmsKeyProvider(
        "kms",
        REGION="eu-west-1",
        ENDPOINT_URL=f"http://127.0.0.1:{closed_port()}",
        TIMEOUT=1,
    )
    with pytest.raises(KeyProviderUnavailable, match="did not answer"):
        provider.wrap_data_key("test/kms-1", "k", os.urandom(32))


class SilentEndpoint:
    """A listening socket that accepts connections, reads, and never answers."""

    def __init__(self) -> None:
        self.received = bytearray()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        held = []
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                pass
            else:
                connection.settimeout(0.2)
                held.append(connection)
            for connection in held:
                try:
                    self.received += connection.recv(65536)
                except (TimeoutError, OSError):
                    continue
        for connection in held:
            connection.close()

    def __enter__(self) -> "SilentEndpoint":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._server.close()


@pytest.fixture
def silent_kms(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with SilentEndpoint() as endpoint:
        yield endpoint


@pytest.mark.standin
def test_kms_timeout_is_unavailable(silent_kms):
    """Silent stand-in for KMS: a connection that never answers fails closed."""
    provider = AwsKmsKeyProvider(
        "kms", REGION="eu-west-1", ENDPOINT_URL=silent_kms.url, TIMEOUT=0.5
    )
    started = time.monotonic()
    with pytest.raises(KeyProviderUnavailable, match="did not answer"):
        provider.wrap_data_key("test/kms-1", "k", os.urandom(32))
    assert time.monotonic() - started < 5
    assert b"TrentService.Encrypt" in silent_kms.received


@pytest.mark.django_db
@pytest.mark.standin
def test_kms_timeout_writes_no_plaintext(silent_kms):
    """Silent stand-in for KMS: saving raises and stores nothing."""
    secret = f"kms-timeout-plaintext-{os.getpid()}"
    providers = {
        "kms": {
            "BACKEND": "hardened_privacy.keys.AwsKmsKeyProvider",
            "OPTIONS": {
                "REGION": "eu-west-1",
                "ENDPOINT_URL": silent_kms.url,
                "TIMEOUT": 0.5,
            },
        }
    }
    keys = {"development/kms-1": {"PROVIDER": "kms", "REFERENCE": "alias/app"}}
    # save() raising marks the enclosing transaction broken; the savepoint
    # keeps the test's own transaction usable.
    with (
        override_settings(
            HARDENED_PRIVACY_KEY_PROVIDERS=providers,
            HARDENED_PRIVACY_KEYS=keys,
            HARDENED_PRIVACY_ACTIVE_KEY="development/kms-1",
        ),
        pytest.raises(KeyProviderUnavailable, match="did not answer"),
        transaction.atomic(),
    ):
        Patient.objects.create(name="kms-timeout", note=secret)
    assert not Patient.objects.filter(name="kms-timeout").exists()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {Patient._meta.db_table}")  # noqa: S608
        assert not any(secret in str(row) for row in cursor.fetchall())
    assert secret.encode() not in silent_kms.received


@pytest.mark.standin
def test_secrets_manager_secrets_and_site_settings(aws):
    """moto Secrets Manager: plain and JSON secrets for settings files."""
    spec = {
        "BACKEND": "hardened_privacy.keys.AwsKmsKeyProvider",
        "OPTIONS": {"REGION": "eu-west-1"},
    }
    assert read_secret(spec, "site/django") == "plain-secret"
    assert read_secret(spec, "site/stripe#secret_key") == "sk_test_abc"
    with pytest.raises(KeyProviderError, match="no field"):
        read_secret(spec, "site/stripe#publishable")
    with pytest.raises(KeyProviderError, match="ResourceNotFoundException"):
        read_secret(spec, "site/missing")
