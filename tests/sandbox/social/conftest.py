"""Two communities with members, as the social scenario's tests need them.

Friend-request counters live in a cache of their own per test, on the same
backend as the default cache (Redis when ``REDIS_URL`` is set) under a fresh
key prefix, so one test's counts never reach another's.
"""

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from hardened_rbac.models import Tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory

_addresses = (f"10.77.{n // 250}.{n % 250 + 1}" for n in itertools.count())


@dataclass
class Community:
    acme: Tenant
    globex: Tenant
    alice: Any
    carol: Any
    dave: Any
    bob: Any


def member(tenant: Tenant, username: str, verified: bool = True) -> Any:
    user = UserFactory(username=username)
    MembershipFactory(tenant=tenant, user=user)
    EmailAddress.objects.create(
        user=user, email=user.email, verified=verified, primary=True
    )
    return user


@pytest.fixture(autouse=True)
def friend_limit_cache(settings) -> str:
    alias = "social-friend-limits"
    settings.CACHES = {
        **settings.CACHES,
        alias: {
            **settings.CACHES["default"],
            "KEY_PREFIX": f"social-tests-{uuid.uuid4().hex}",
        },
    }
    settings.HARDENED_RBAC_FRIEND_REQUEST_CACHE = alias
    return alias


@pytest.fixture
def world(db) -> Community:
    acme = TenantFactory(slug="acme", name="Acme")
    globex = TenantFactory(slug="globex", name="Globex")
    return Community(
        acme=acme,
        globex=globex,
        alice=member(acme, "alice"),
        carol=member(acme, "carol"),
        dave=member(acme, "dave"),
        bob=member(globex, "bob"),
    )


@pytest.fixture
def signed_in() -> Callable[..., Client]:
    """A client signed in as ``user``, from an address no other test uses."""

    def make(user: Any, address: str | None = None) -> Client:
        client = Client(REMOTE_ADDR=address or next(_addresses))
        client.force_login(user)
        return client

    return make
