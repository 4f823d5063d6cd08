"""Lazy, typed access to the ``HARDENED_AUTH_*`` settings."""

from collections.abc import Mapping, Sequence

from django.conf import settings

PREFIX = "HARDENED_AUTH_"

DEFAULT_RATE_LIMITS: Mapping[str, Mapping[str, str]] = {
    "login": {"ip": "30/15m", "identifier": "10/15m"},
    "signup": {"ip": "10/h", "identifier": "5/h"},
    "reset": {"ip": "10/h", "identifier": "5/h"},
    "email_change": {"ip": "10/h", "identifier": "5/h"},
    "mfa": {"ip": "30/15m", "identifier": "10/15m"},
    "token": {"ip": "60/m", "identifier": "30/m"},
}

DEFAULT_VELOCITY_THRESHOLDS: Mapping[str, Mapping[str, int | None]] = {
    "identifier": {"delay": 3, "challenge": 5, "lock": 10},
    "ip": {"delay": 10, "challenge": 20, "lock": 50},
    "site": {"delay": None, "challenge": 500, "lock": None},
}

DEFAULT_RATE_LIMITED_VIEWS: Mapping[str, str] = {
    "admin:login": "login",
    "account_login": "login",
    "account_signup": "signup",
    "account_reset_password": "reset",
    "account_email": "email_change",
    "mfa_authenticate": "mfa",
    "mfa_reauthenticate": "mfa",
    "hardened_auth:step_up": "mfa",
    "hardened_auth:token": "token",
    "hardened_auth:token_refresh": "token",
    "hardened_auth:token_revoke": "token",
    "otp_webauthn:credential-authentication-begin": "mfa",
    "otp_webauthn:credential-authentication-complete": "mfa",
}

DEFAULT_OIDC_ALLOWED_SCOPES: Sequence[str] = ("openid", "email", "profile", "groups")


class AuthSettings:
    """Each property reads its setting on first access and keeps the value.

    The kept values belong to the settings object Django holds at the time;
    ``override_settings`` (and pytest-django's ``settings`` fixture) put a new
    one in its place, so every override is read afresh.
    """

    def __init__(self) -> None:
        self._source: object = None
        self._values: dict[str, object] = {}

    def _get(self, name: str, default: object) -> object:
        source = settings._wrapped  # type: ignore[misc]
        if source is not self._source:
            self._values = {}
            self._source = source
        try:
            return self._values[name]
        except KeyError:
            value = self._values[name] = getattr(settings, PREFIX + name, default)
            return value

    @property
    def TRUSTED_PROXIES(self) -> Sequence[str]:
        """Addresses or CIDR networks of the reverse proxies in front of Django."""
        value = self._get("TRUSTED_PROXIES", ())
        return value  # type: ignore[return-value]

    @property
    def CLIENT_IP_HEADER(self) -> str:
        """The header a trusted proxy appends the client's address to."""
        return str(self._get("CLIENT_IP_HEADER", "X-Forwarded-For"))

    @property
    def STEP_UP_MAX_AGE(self) -> int:
        """Seconds a second-factor verification counts for step-up views."""
        return self._get("STEP_UP_MAX_AGE", 300)  # type: ignore[return-value]

    @property
    def STEP_UP_URL(self) -> str:
        """URL or URL name of the page where a user verifies a second factor."""
        return self._get("STEP_UP_URL", "hardened_auth:step_up")  # type: ignore[return-value]

    @property
    def ARGON2_MEMORY_COST(self) -> int:
        """argon2id memory in KiB; OWASP's minimum is 19456 (19 MiB)."""
        return self._get("ARGON2_MEMORY_COST", 19456)  # type: ignore[return-value]

    @property
    def ARGON2_TIME_COST(self) -> int:
        """argon2id iterations; OWASP's minimum is 2."""
        return self._get("ARGON2_TIME_COST", 2)  # type: ignore[return-value]

    @property
    def ARGON2_PARALLELISM(self) -> int:
        """argon2id lanes; OWASP's minimum is 1."""
        return self._get("ARGON2_PARALLELISM", 1)  # type: ignore[return-value]

    @property
    def RATE_LIMITS(self) -> Mapping[str, Mapping[str, str]]:
        """Per scope, the django-ratelimit rate for ``ip`` and ``identifier``."""
        return self._get("RATE_LIMITS", DEFAULT_RATE_LIMITS)  # type: ignore[return-value]

    @property
    def RATE_LIMITED_VIEWS(self) -> Mapping[str, str]:
        """URL names (with namespace) whose POSTs count in a rate-limit scope."""
        value = self._get("RATE_LIMITED_VIEWS", DEFAULT_RATE_LIMITED_VIEWS)
        return value  # type: ignore[return-value]

    @property
    def TOTP_ISSUER(self) -> str:
        """The site name authenticator apps show next to the account."""
        return self._get("TOTP_ISSUER", "django-hardened")  # type: ignore[return-value]

    @property
    def SECOND_FACTORS(self) -> Sequence[str]:
        """Second factors offered to users, strongest first."""
        value = self._get("SECOND_FACTORS", ("webauthn", "totp", "recovery_codes"))
        return value  # type: ignore[return-value]

    @property
    def SESSION_IDLE_TIMEOUT(self) -> int:
        """Seconds without a request after which a session ends."""
        return self._get("SESSION_IDLE_TIMEOUT", 30 * 60)  # type: ignore[return-value]

    @property
    def SESSION_ABSOLUTE_TIMEOUT(self) -> int:
        """Seconds after sign-in after which a session ends regardless."""
        value = self._get("SESSION_ABSOLUTE_TIMEOUT", 12 * 60 * 60)
        return value  # type: ignore[return-value]

    @property
    def SESSION_FINGERPRINT_HEADERS(self) -> Sequence[str]:
        """Request headers whose values bind a session to its device."""
        value = self._get(
            "SESSION_FINGERPRINT_HEADERS",
            ("User-Agent", "Sec-CH-UA", "Sec-CH-UA-Platform", "Sec-CH-UA-Mobile"),
        )
        return value  # type: ignore[return-value]

    @property
    def ACCESS_TOKEN_TTL(self) -> int:
        """Seconds an API access token is valid."""
        return self._get("ACCESS_TOKEN_TTL", 10 * 60)  # type: ignore[return-value]

    @property
    def REFRESH_TOKEN_TTL(self) -> int:
        """Seconds a refresh token is valid if never used."""
        value = self._get("REFRESH_TOKEN_TTL", 14 * 24 * 60 * 60)
        return value  # type: ignore[return-value]

    @property
    def VELOCITY_THRESHOLDS(self) -> Mapping[str, Mapping[str, int | None]]:
        """Failed sign-ins per window at which delay, challenge and lock start."""
        value = self._get("VELOCITY_THRESHOLDS", DEFAULT_VELOCITY_THRESHOLDS)
        return value  # type: ignore[return-value]

    @property
    def VELOCITY_WINDOW(self) -> int:
        """Seconds over which failed sign-ins are counted."""
        return self._get("VELOCITY_WINDOW", 15 * 60)  # type: ignore[return-value]

    @property
    def ALTCHA_MAX_NUMBER(self) -> int:
        """Upper bound of the ALTCHA search space: the work a client must do."""
        return self._get("ALTCHA_MAX_NUMBER", 100_000)  # type: ignore[return-value]

    @property
    def ALTCHA_TTL(self) -> int:
        """Seconds an ALTCHA challenge stays solvable."""
        return self._get("ALTCHA_TTL", 300)  # type: ignore[return-value]

    @property
    def OIDC_ALLOWED_SCOPES(self) -> Sequence[str]:
        """Scopes an OpenID Connect app may ask a provider for."""
        value = self._get("OIDC_ALLOWED_SCOPES", DEFAULT_OIDC_ALLOWED_SCOPES)
        return value  # type: ignore[return-value]

    @property
    def OIDC_EMAIL_MATCH(self) -> str | None:
        """Dotted path to ``(provider_id, user, email) -> bool``, or ``None``.

        Says whether a provider's verified email may sign into an existing
        account; with ``None`` no provider signs in by email.
        """
        return self._get("OIDC_EMAIL_MATCH", None)  # type: ignore[return-value]

    @property
    def SYNTHETIC_EMAIL(self) -> str:
        """Address of the dedicated account the synthetic checks sign in as."""
        return self._get("SYNTHETIC_EMAIL", "")  # type: ignore[return-value]

    @property
    def SYNTHETIC_PASSWORD(self) -> str:
        """Password of the synthetic account; read it from the environment."""
        return self._get("SYNTHETIC_PASSWORD", "")  # type: ignore[return-value]

    @property
    def SYNTHETIC_TENANT(self) -> str:
        """Slug of the tenant the synthetic test-mode charge runs in, or ''."""
        return self._get("SYNTHETIC_TENANT", "")  # type: ignore[return-value]


app_settings = AuthSettings()
