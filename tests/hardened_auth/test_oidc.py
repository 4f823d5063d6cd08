"""OpenID Connect sign-in against a real provider, with PKCE and a nonce."""

from collections.abc import Iterator
from typing import Any

import pytest
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from tests.hardened_auth.oidc_provider import (
    PROVIDER_ID,
    Provider,
    running_provider,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def oidc_provider(live_server: Any, settings: Any) -> Iterator[Provider]:
    with running_provider(live_server, settings) as provider:
        yield provider


def test_full_flow_signs_in(oidc_provider: Provider) -> None:
    idp = oidc_provider.add_user(
        "dana", email="dana@initech.example", email_verified=True, name="Dana"
    )
    rp = Client()
    response = sign_in(rp, idp)
    assert response.status_code == 302, response.content[:2000]
    account = SocialAccount.objects.get(provider=PROVIDER_ID)
    assert account.user.email == "dana@initech.example"
