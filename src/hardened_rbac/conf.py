"""Lazy, typed access to the ``HARDENED_RBAC_*`` settings."""

from collections.abc import Mapping, Sequence

from django.conf import settings

PREFIX = "HARDENED_RBAC_"

DEFAULT_RESERVED_SLUGS = ("admin", "api", "www", "static", "media", "accounts")
TENANT_SOURCES = ("path", "subdomain", "header")
DEFAULT_FRIEND_REQUEST_LIMITS = {"sender": (20, 3600), "ip": (50, 3600)}
# Views that authorise inside themselves, so PolicyRequiredMiddleware lets
# them through: the admin (its own permissions), sign-in and account views
# that act only on the signed-in user (hardened_auth cannot depend on
# hardened_rbac to mark its own), passkey and OAuth ceremonies, translation
# catalogs, static files, Django's TemplateView and RedirectView used
# straight from a URLconf (a page or a redirect, never an object) and the
# payment provider's signed webhooks.
DEFAULT_POLICY_EXEMPT_MODULES = (
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "django.views.static",
    "django.views.i18n",
    "django.views.generic.base",
    "hardened_auth",
    "hardened_payments.webhooks",
    "allauth",
    "django_otp_webauthn",
    "oauth2_provider",
)


class RbacSettings:
    """Each property reads its setting on access, so tests may override it."""

    def _get(self, name: str, default: object) -> object:
        return getattr(settings, PREFIX + name, default)

    @property
    def RESERVED_TENANT_SLUGS(self) -> Sequence[str]:
        """Slugs no tenant may take, because URLs or subdomains use them."""
        value = self._get("RESERVED_TENANT_SLUGS", DEFAULT_RESERVED_SLUGS)
        return value  # type: ignore[return-value]

    @property
    def TENANT_SOURCE(self) -> str:
        """Where the middleware reads the tenant: path, subdomain or header."""
        return self._get("TENANT_SOURCE", "path")  # type: ignore[return-value]

    @property
    def TENANT_PATH_PREFIX(self) -> str:
        """First path segment before the tenant slug, as in ``/t/<slug>/``."""
        return self._get("TENANT_PATH_PREFIX", "t")  # type: ignore[return-value]

    @property
    def TENANT_HEADER(self) -> str:
        """Request header naming the tenant slug when the source is a header."""
        return self._get("TENANT_HEADER", "X-Tenant")  # type: ignore[return-value]

    @property
    def TENANT_DOMAIN(self) -> str:
        """Parent domain of the tenant subdomains, as in ``example.com``."""
        return self._get("TENANT_DOMAIN", "")  # type: ignore[return-value]

    @property
    def UNSCOPED_MODELS(self) -> Sequence[str]:
        """``app_label.Model`` names allowed a tenant key without the scope."""
        return self._get("UNSCOPED_MODELS", ())  # type: ignore[return-value]

    @property
    def AGENT_MAX_ARGUMENT_BYTES(self) -> int:
        """Largest agent tool call, as canonical JSON of its arguments."""
        return self._get("AGENT_MAX_ARGUMENT_BYTES", 8192)  # type: ignore[return-value]

    @property
    def AGENT_RATE_LIMIT_CACHE(self) -> str:
        """Cache alias counting agent tool calls per user and per tenant."""
        return self._get("AGENT_RATE_LIMIT_CACHE", "default")  # type: ignore[return-value]

    @property
    def AGENT_APPROVAL_TTL(self) -> int:
        """Seconds an agent tool approval request stays usable."""
        return self._get("AGENT_APPROVAL_TTL", 900)  # type: ignore[return-value]

    @property
    def PUBLIC_ROUTES(self) -> Sequence[str]:
        """URL names or path patterns the site marks public for the inventory."""
        return self._get("PUBLIC_ROUTES", ())  # type: ignore[return-value]

    @property
    def POLICY_EXEMPT_MODULES(self) -> Sequence[str]:
        """Modules whose views ``PolicyRequiredMiddleware`` lets through."""
        return self._get(  # type: ignore[return-value]
            "POLICY_EXEMPT_MODULES", DEFAULT_POLICY_EXEMPT_MODULES
        )

    @property
    def DECISION_CACHE(self) -> str:
        """Cache alias holding decisions and their versions."""
        return self._get("DECISION_CACHE", "default")  # type: ignore[return-value]

    @property
    def DECISION_CACHE_TIMEOUT(self) -> int:
        """Seconds a cached decision lives; also bounds a missed invalidation."""
        return self._get("DECISION_CACHE_TIMEOUT", 300)  # type: ignore[return-value]

    @property
    def ACTION_LINK_MAX_AGE(self) -> int:
        """Seconds an action link stays usable."""
        return self._get("ACTION_LINK_MAX_AGE", 900)  # type: ignore[return-value]

    @property
    def FRIEND_REQUEST_LIMITS(self) -> Mapping[str, Sequence[int]]:
        """``{"sender": (count, seconds), "ip": (count, seconds)}``."""
        return self._get(  # type: ignore[return-value]
            "FRIEND_REQUEST_LIMITS", DEFAULT_FRIEND_REQUEST_LIMITS
        )

    @property
    def FRIEND_REQUEST_CACHE(self) -> str:
        """Cache alias holding the friend-request counters."""
        return self._get("FRIEND_REQUEST_CACHE", "default")  # type: ignore[return-value]

    @property
    def SSO_GROUPS_CLAIM(self) -> str:
        """Claim of the identity provider's user data that lists the groups."""
        return self._get("SSO_GROUPS_CLAIM", "groups")  # type: ignore[return-value]


app_settings = RbacSettings()
