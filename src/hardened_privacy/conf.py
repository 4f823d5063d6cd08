"""Lazy, typed access to the ``HARDENED_PRIVACY_*`` settings."""

import datetime
from typing import Any

from django.conf import settings

PREFIX = "HARDENED_PRIVACY_"


class PrivacySettings:
    """Each property reads its setting on access, so tests may override it."""

    def _get(self, name: str, default: object) -> object:
        return getattr(settings, PREFIX + name, default)

    @property
    def ENVIRONMENT(self) -> str:
        """Name of this deployment; keys are bound to one environment."""
        return str(self._get("ENVIRONMENT", "development"))

    def _strings(self, name: str, default: list[str]) -> list[str]:
        value = self._get(name, default)
        if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            return list(value)
        return []

    def _number(self, name: str, default: float) -> float:
        value = self._get(name, default)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        return default

    @property
    def REQUEST_ID_HEADER(self) -> str | None:
        """Header a trusted proxy sets to the request's id, or ``None``."""
        value = self._get("REQUEST_ID_HEADER", None)
        return value if isinstance(value, str) and value else None

    @property
    def EGRESS_ALLOWED_HOSTS(self) -> list[str]:
        """Hosts (``api.example.com``, ``*.example.com``, ``host:port``)."""
        return self._strings("EGRESS_ALLOWED_HOSTS", [])

    @property
    def EGRESS_ALLOWED_SCHEMES(self) -> list[str]:
        """URL schemes outbound requests may use."""
        return self._strings("EGRESS_ALLOWED_SCHEMES", ["https"])

    @property
    def EGRESS_PROXY(self) -> str | None:
        """``http://host:port`` of a CONNECT proxy for all outbound traffic."""
        value = self._get("EGRESS_PROXY", None)
        return value if isinstance(value, str) and value else None

    @property
    def EGRESS_TIMEOUT(self) -> float:
        """Seconds one outbound request may take, redirects included."""
        return self._number("EGRESS_TIMEOUT", 10.0)

    @property
    def EGRESS_MAX_RESPONSE_BYTES(self) -> int:
        """Largest response body an outbound request may return."""
        return int(self._number("EGRESS_MAX_RESPONSE_BYTES", 10 * 1024 * 1024))

    @property
    def EGRESS_MAX_REDIRECTS(self) -> int:
        """Same-origin redirects an outbound request may follow."""
        return int(self._number("EGRESS_MAX_REDIRECTS", 3))

    @property
    def PROMPT_DIRS(self) -> list[str]:
        """Directories holding ``*.prompt`` templates and their lock file."""
        return self._strings("PROMPT_DIRS", [])

    @property
    def PROMPT_REQUIRE_LOCK(self) -> bool:
        """Render only template versions recorded in the lock with this text."""
        return self._get("PROMPT_REQUIRE_LOCK", True) is not False

    @property
    def REVIEW_MANIFEST(self) -> str:
        """Path of the review manifest, relative to the review root."""
        value = self._get("REVIEW_MANIFEST", "review-manifest.json")
        return value if isinstance(value, str) else "review-manifest.json"

    @property
    def REVIEW_PATTERNS(self) -> dict[str, list[str]] | None:
        """Category to glob patterns of files that need a person's review."""
        value = self._get("REVIEW_PATTERNS", None)
        return value if isinstance(value, dict) else None

    @property
    def REVIEW_EXCLUDE(self) -> list[str] | None:
        """Glob patterns of paths the review gate never lists."""
        value = self._get("REVIEW_EXCLUDE", None)
        return value if isinstance(value, list) else None

    @property
    def REVIEW_MARKERS(self) -> dict[str, list[str]] | None:
        """Category to regular expressions that gate a Python module by content."""
        value = self._get("REVIEW_MARKERS", None)
        return value if isinstance(value, dict) else None

    @property
    def KEY_PROVIDERS(self) -> dict[str, dict[str, Any]]:
        """Provider alias to ``{"BACKEND": dotted path, "OPTIONS": {...}}``."""
        value = self._get("KEY_PROVIDERS", {})
        return value if isinstance(value, dict) else {}

    @property
    def KEYS(self) -> dict[str, dict[str, Any]]:
        """Master key id to ``{"PROVIDER": alias, "REFERENCE": name}``."""
        value = self._get("KEYS", {})
        return value if isinstance(value, dict) else {}

    @property
    def ACTIVE_KEY(self) -> str | None:
        """Id of the master key that wraps new data keys; others only read."""
        value = self._get("ACTIVE_KEY", None)
        return None if value is None else str(value)

    @property
    def BLIND_INDEX_KEY(self) -> dict[str, Any] | None:
        """``{"PROVIDER", "REFERENCE"}`` of the HMAC key for blind indexes."""
        value = self._get("BLIND_INDEX_KEY", None)
        return value if isinstance(value, dict) else None

    @property
    def AUDIT_KEY(self) -> dict[str, Any] | None:
        """``{"PROVIDER", "REFERENCE"}`` of the HMAC key chaining audit rows."""
        value = self._get("AUDIT_KEY", None)
        return value if isinstance(value, dict) else None

    @property
    def DATA_KEY_MAX_USES(self) -> int:
        """Values one data key encrypts before a fresh data key is made."""
        return int(str(self._get("DATA_KEY_MAX_USES", 2**24)))

    @property
    def MASKED_NAMES(self) -> list[str]:
        """Extra key and field names whose values are always masked."""
        value = self._get("MASKED_NAMES", [])
        return [str(v) for v in value] if isinstance(value, list | tuple) else []

    @property
    def LOG_MAX_LENGTH(self) -> int:
        """Longest string, in characters, a masked log record may carry."""
        return int(str(self._get("LOG_MAX_LENGTH", 4096)))

    @property
    def CLASSIFICATION(self) -> dict[str, dict[str, Any]]:
        """``"app_label.Model"`` to ``{field: level or {"level", "retention"}}``."""
        value = self._get("CLASSIFICATION", {})
        return value if isinstance(value, dict) else {}

    @property
    def LEGACY_DJANGO_CRYPTOGRAPHY(self) -> list[dict[str, Any]]:
        """Keys of a former django-cryptography setup, read-only, for rotation.

        Each item: ``{"SECRET_KEY": {"PROVIDER", "REFERENCE"}, optional
        "CRYPTOGRAPHY_KEY": {...}, optional "SALT": str}``.
        """
        value = self._get("LEGACY_DJANGO_CRYPTOGRAPHY", [])
        if isinstance(value, dict):
            value = [value]
        return (
            [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
        )

    @property
    def SECRET_KEY_ROTATED_AT(self) -> "datetime.date | None":
        """Date ``SECRET_KEY`` last changed; fallbacks expire from there."""
        value = self._get("SECRET_KEY_ROTATED_AT", None)
        if isinstance(value, datetime.date):
            return value
        try:
            return datetime.date.fromisoformat(str(value)) if value else None
        except ValueError:
            return None

    @property
    def SECRET_KEY_FALLBACK_DAYS(self) -> int:
        """Days an old key may stay in ``SECRET_KEY_FALLBACKS``."""
        return int(str(self._get("SECRET_KEY_FALLBACK_DAYS", 30)))

    @property
    def RETENTION_DAYS(self) -> dict[str, int]:
        """Default retention per classification level, in days."""
        value = self._get("RETENTION_DAYS", {})
        return (
            {str(k): int(v) for k, v in value.items() if v is not None}
            if isinstance(value, dict)
            else {}
        )

    @property
    def RETENTION_MODELS(self) -> dict[str, dict[str, Any]]:
        """``"app.Model"`` to ``{"AGE_FIELD": name, "ACTION": "anonymise"}``."""
        value = self._get("RETENTION_MODELS", {})
        return value if isinstance(value, dict) else {}

    @property
    def LEGAL_HOLD_MODELS(self) -> dict[str, str]:
        """``"app.Model"`` to the reason its rows survive erasure untouched."""
        value = self._get("LEGAL_HOLD_MODELS", {})
        return (
            {str(k): str(v) for k, v in value.items()}
            if isinstance(value, dict)
            else {}
        )

    @property
    def ERASURE_LEDGER(self) -> str | None:
        """Path of the append-only file listing erased subjects."""
        value = self._get("ERASURE_LEDGER", None)
        return str(value) if value else None


app_settings = PrivacySettings()
