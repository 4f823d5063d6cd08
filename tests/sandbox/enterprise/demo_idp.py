"""The sandbox's demo identity provider, turned on for the tests about it.

The test settings leave it off (the OpenID Connect tests run their own
provider under the same URL namespace); :func:`demo_provider` turns it on
with the live test server as its issuer and mounts it at ``/idp/`` with
this module as the URLconf, then seeds Initech as ``sandbox_demo`` does.
"""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import OutputWrapper
from django.test import Client
from django.urls import include, path
from enterprise import idp_settings, seed

from sandbox.urls import urlpatterns as sandbox_urlpatterns

urlpatterns = [
    *sandbox_urlpatterns,
    path("idp/", include("enterprise.idp_urls")),
]


@dataclass
class DemoProvider:
    """The running demo provider and what the seed printed."""

    issuer: str
    scim_token: str
    output: str

    def client(self) -> Client:
        """A test client that talks to the site by the issuer's host name.

        The provider accepts only callbacks to that origin.
        """
        return Client(HTTP_HOST=urlsplit(self.issuer).netloc)


@contextmanager
def demo_provider(live_server: Any, settings: Any) -> Iterator[DemoProvider]:
    """Serve the demo provider on ``live_server``; seed Initech against it."""
    issuer = f"{live_server.url}/idp"
    settings.SANDBOX_DEMO_IDP = True
    settings.SANDBOX_DEMO_IDP_ISSUER = issuer
    settings.ROOT_URLCONF = __name__
    settings.MIDDLEWARE = idp_settings.with_idp_sessions(settings.MIDDLEWARE)
    settings.OAUTH2_PROVIDER = {
        **idp_settings.oauth2_provider_settings(issuer),
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    settings.SOCIALACCOUNT_PROVIDERS = {
        "openid_connect": idp_settings.provider_settings(issuer, settings.SECRET_KEY)
    }
    out = io.StringIO()
    token = seed.seed(tenants={}, users={}, stdout=OutputWrapper(out))
    yield DemoProvider(issuer, token, out.getvalue())


def printed_password(output: str, email: str) -> str:
    """The provider password the seed printed for ``email``."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == email:
            return fields[1]
    raise AssertionError(f"no password printed for {email}")


def printed_scim_id(output: str, email: str) -> str:
    """The SCIM id the seed printed for ``email``."""
    lines = output.splitlines()
    start = lines.index("  SCIM ids of Initech's people:")
    for line in lines[start + 1 :]:
        fields = line.split()
        if len(fields) == 2 and fields[0] == email:
            return fields[1]
    raise AssertionError(f"no SCIM id printed for {email}")


def printed_scim_token(output: str) -> str:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if "SCIM token for" in line)
    return lines[start + 1].strip()
