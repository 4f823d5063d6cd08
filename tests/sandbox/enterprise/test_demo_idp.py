"""Initech signs in through the sandbox's demo provider; its roles bite.

The provider is the sandbox's own django-oauth-toolkit at ``/idp/`` on the
live test server, seeded as ``sandbox_demo`` seeds it. A Django test client
plays the browser: one cookie jar for the provider and the site, as in a
browser where both are served from one origin.
"""

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client
from enterprise.seed import POST_AUTHOR, POST_BODY
from social.models import Post

from hardened_rbac.models import Grant, ScimUser
from hardened_rbac.tenancy import use_tenant
from tests.sandbox.enterprise.demo_idp import (
    DemoProvider,
    demo_provider,
    printed_password,
    printed_scim_id,
    printed_scim_token,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOGIN = "/accounts/oidc/initech/login/"


@pytest.fixture
def provider(live_server: Any, settings: Any) -> Iterator[DemoProvider]:
    with demo_provider(live_server, settings) as running:
        yield running


def _local(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _signed_in_user_id(client: Client) -> str | None:
    value = client.session.get("_auth_user_id")
    return str(value) if value is not None else None


def sso_sign_in(client: Client, provider: DemoProvider, email: str) -> Any:
    """Sign in as ``email`` through the provider; return the callback's answer."""
    started = client.post(LOGIN)
    assert started.status_code == 302
    authorize = str(started["Location"])
    assert authorize.startswith(f"{provider.issuer}/authorize/?")

    to_login = client.get(_local(authorize))
    assert to_login.status_code == 302
    assert to_login["Location"].startswith("/idp/login/?next=")
    signed_in = client.post(
        _local(to_login["Location"]),
        {
            "username": email,
            "password": printed_password(provider.output, email),
            "next": parse_qs(urlsplit(to_login["Location"]).query)["next"][0],
        },
    )
    assert signed_in.status_code == 302, signed_in.content[:500]
    assert _signed_in_user_id(client) is None

    to_callback = client.get(_local(signed_in["Location"]))
    assert to_callback.status_code == 302, to_callback.content[:800]
    assert "code=" in to_callback["Location"]
    return client.get(_local(to_callback["Location"]))


def _account_of(provider: DemoProvider, email: str) -> Any:
    scim_id = printed_scim_id(provider.output, email)
    return ScimUser.objects.get(pk=scim_id).membership.user


def _post() -> Post:
    with use_tenant(ScimUser.objects.get(user_name=POST_AUTHOR).tenant):
        post: Post = Post.objects.get(body=POST_BODY)
    return post


def test_discovery_requires_s256_and_names_the_issuer(provider: DemoProvider) -> None:
    document = requests.get(
        f"{provider.issuer}/.well-known/openid-configuration", timeout=10
    ).json()

    assert document["issuer"] == provider.issuer
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_endpoint"] == f"{provider.issuer}/authorize/"


def test_a_manager_signs_in_to_the_provisioned_account_with_the_role(
    provider: DemoProvider,
) -> None:
    client = provider.client()

    response = sso_sign_in(client, provider, "bill@initech.example")

    bill = _account_of(provider, "bill@initech.example")
    assert response.status_code == 302
    assert _signed_in_user_id(client) == str(bill.pk)
    assert list(
        Grant.objects.filter(membership__user=bill).values_list("role__name", "source")
    ) == [("Manager", "sso")]


def test_signing_in_at_the_provider_signs_nobody_in_to_the_site(
    provider: DemoProvider,
) -> None:
    client = provider.client()
    email = "peter@initech.example"

    response = client.post(
        "/idp/login/",
        {"username": email, "password": printed_password(provider.output, email)},
    )

    assert response.status_code == 302
    assert _signed_in_user_id(client) is None
    assert client.get("/").context["user"].is_authenticated is False


def test_only_the_providers_own_people_sign_in_there(provider: DemoProvider) -> None:
    get_user_model().objects.create_superuser(
        "root", "root@example.com", "a-long-password-0123"
    )
    client = provider.client()

    for username, password in [
        ("root", "a-long-password-0123"),
        ("root@example.com", "a-long-password-0123"),
        ("bill@initech.example", "not-the-password"),
    ]:
        response = client.post(
            "/idp/login/", {"username": username, "password": password}
        )
        assert response.status_code == 200
        assert b"Please enter a correct" in response.content


def test_an_authorization_request_without_pkce_gets_no_code(
    provider: DemoProvider,
) -> None:
    client = provider.client()
    authorize = str(client.post(LOGIN)["Location"])
    query = {
        key: values[0] for key, values in parse_qs(urlsplit(authorize).query).items()
    }
    email = "bill@initech.example"
    client.post(
        "/idp/login/",
        {"username": email, "password": printed_password(provider.output, email)},
    )
    query.pop("code_challenge")
    query.pop("code_challenge_method")

    response = client.get("/idp/authorize/", query)

    assert response.status_code == 302
    assert "code=" not in response["Location"]
    assert "error=invalid_request" in response["Location"]


def test_a_manager_may_delete_another_members_post(provider: DemoProvider) -> None:
    client = provider.client()
    sso_sign_in(client, provider, "bill@initech.example")
    post = _post()

    page = client.get(f"/t/initech/social/posts/{post.pk}/")
    response = client.post(f"/t/initech/social/posts/{post.pk}/delete/")

    assert b"Delete" in page.content
    assert response.status_code == 302
    with use_tenant(post.tenant):
        assert not Post.objects.filter(pk=post.pk).exists()


def test_an_engineer_may_not_delete_another_members_post(
    provider: DemoProvider,
) -> None:
    client = provider.client()
    sso_sign_in(client, provider, "peter@initech.example")
    post = _post()

    page = client.get(f"/t/initech/social/posts/{post.pk}/")
    response = client.post(f"/t/initech/social/posts/{post.pk}/delete/")

    assert page.status_code == 200
    assert b"Delete" not in page.content
    assert response.status_code in (403, 404)
    with use_tenant(post.tenant):
        assert Post.objects.filter(pk=post.pk).exists()


def test_the_printed_scim_token_deprovisions_and_ends_the_session(
    provider: DemoProvider,
) -> None:
    client = provider.client()
    sso_sign_in(client, provider, "bill@initech.example")
    token = printed_scim_token(provider.output)
    scim_id = printed_scim_id(provider.output, "bill@initech.example")
    assert token == provider.scim_token
    assert _signed_in_user_id(client) is not None

    deleted = Client().delete(
        f"/scim/v2/Users/{scim_id}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    after = client.get("/")

    assert deleted.status_code == 204
    assert after.context["user"].is_authenticated is False
    assert _signed_in_user_id(client) is None
