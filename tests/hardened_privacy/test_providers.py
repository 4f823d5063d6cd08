import base64
import os
from typing import Any

import pytest
from django.test import override_settings

from hardened_privacy.exceptions import DecryptionError, KeyProviderError
from hardened_privacy.internal.providers import decode_key_material
from hardened_privacy.keys import (
    EnvironmentKeyProvider,
    FileKeyProvider,
    read_secret,
    read_secrets,
)

KEY = base64.b64encode(os.urandom(32)).decode()


def test_environment_provider_reads_variable(monkeypatch):
    monkeypatch.setenv("APP_SECRET", "s3cr3t-value")
    provider = EnvironmentKeyProvider("env", PREFIX="APP_")
    assert provider.get_secret("SECRET") == b"s3cr3t-value"


def test_environment_provider_refuses_missing_variable(monkeypatch):
    monkeypatch.delenv("NOT_THERE", raising=False)
    with pytest.raises(KeyProviderError, match="NOT_THERE is not set"):
        EnvironmentKeyProvider("env").get_secret("NOT_THERE")


def test_development_defaults_apply_only_in_development(monkeypatch):
    monkeypatch.delenv("DEV_ONLY", raising=False)
    provider = EnvironmentKeyProvider("env", DEVELOPMENT_DEFAULTS={"DEV_ONLY": "x"})
    assert provider.get_secret("DEV_ONLY") == b"x"
    with (
        override_settings(HARDENED_PRIVACY_ENVIRONMENT="production"),
        pytest.raises(KeyProviderError, match="DEV_ONLY is not set"),
    ):
        provider.get_secret("DEV_ONLY")


def test_file_provider_reads_and_strips(tmp_path):
    (tmp_path / "master").write_text(KEY + "\n")
    provider = FileKeyProvider("files", DIRECTORY=str(tmp_path))
    assert provider.get_secret("master") == KEY.encode()


@pytest.mark.parametrize("reference", ["../etc/passwd", "sub/file", "..", ""])
def test_file_provider_refuses_paths_leaving_directory(tmp_path, reference):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "file").write_text("x")
    provider = FileKeyProvider("files", DIRECTORY=str(tmp_path))
    with pytest.raises(KeyProviderError, match="is not a file name"):
        provider.get_secret(reference)


def test_file_provider_refuses_missing_and_empty_files(tmp_path):
    (tmp_path / "empty").write_text("\n")
    provider = FileKeyProvider("files", DIRECTORY=str(tmp_path))
    with pytest.raises(KeyProviderError, match="cannot read"):
        provider.get_secret("absent")
    with pytest.raises(KeyProviderError, match="is empty"):
        provider.get_secret("empty")


def test_file_provider_needs_directory():
    with pytest.raises(KeyProviderError, match="DIRECTORY"):
        FileKeyProvider("files").get_secret("x")


def test_local_wrap_round_trip_and_binding(monkeypatch):
    monkeypatch.setenv("MK", KEY)
    provider = EnvironmentKeyProvider("env")
    data_key = os.urandom(32)
    wrapped = provider.wrap_data_key("test/a", "MK", data_key)
    assert data_key not in wrapped
    assert provider.unwrap_data_key("test/a", "MK", wrapped) == data_key
    with pytest.raises(DecryptionError):
        provider.unwrap_data_key("test/b", "MK", wrapped)
    tampered = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(DecryptionError):
        provider.unwrap_data_key("test/a", "MK", tampered)


@pytest.mark.parametrize(
    "material",
    [b"", b"short", base64.b64encode(os.urandom(16)), b"!!!not base64!!!"],
)
def test_key_material_must_be_256_bits(material):
    with pytest.raises(KeyProviderError, match="must be 32 random bytes"):
        decode_key_material(material, "ref")


def test_key_material_accepts_both_base64_alphabets():
    raw = bytes(range(250, 256)) * 5 + b"ab"
    assert decode_key_material(base64.b64encode(raw), "r") == raw
    assert decode_key_material(base64.urlsafe_b64encode(raw), "r") == raw


def test_read_secret_for_settings_files(tmp_path, monkeypatch):
    (tmp_path / "django-secret-key").write_text("current\n")
    (tmp_path / "django-secret-key-old").write_text("previous\n")
    files = {
        "BACKEND": "hardened_privacy.keys.FileKeyProvider",
        "OPTIONS": {"DIRECTORY": str(tmp_path)},
    }
    assert read_secret(files, "django-secret-key") == "current"
    assert read_secrets(files, ["django-secret-key-old", "gone"], missing_ok=True) == [
        "previous"
    ]
    with pytest.raises(KeyProviderError, match="cannot read"):
        read_secrets(files, ["gone"])
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_123")
    env = {"BACKEND": "hardened_privacy.keys.EnvironmentKeyProvider"}
    assert read_secret(env, "STRIPE_SECRET_KEY") == "sk_test_123"


def test_read_secret_development_defaults_follow_explicit_environment(monkeypatch):
    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    spec: dict[str, Any] = {
        "BACKEND": "hardened_privacy.keys.EnvironmentKeyProvider",
        "OPTIONS": {
            "ENVIRONMENT": "production",
            "DEVELOPMENT_DEFAULTS": {"DJANGO_SECRET_KEY": "dev"},
        },
    }
    with pytest.raises(KeyProviderError, match="not set"):
        read_secret(spec, "DJANGO_SECRET_KEY")
    spec["OPTIONS"]["ENVIRONMENT"] = "development"
    assert read_secret(spec, "DJANGO_SECRET_KEY") == "dev"


def test_read_secret_refuses_non_providers():
    with pytest.raises(KeyProviderError, match="is not a KeyProvider"):
        read_secret({"BACKEND": "builtins.str"}, "x")
