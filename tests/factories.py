"""Factories for the objects most tests need: users, tenants, memberships."""

from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.test import Client

from hardened_rbac.models import Membership, Tenant

DEFAULT_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def password(self, create: bool, extracted: str | None, **kwargs: Any) -> None:
        self.set_password(extracted or DEFAULT_PASSWORD)
        if create:
            self.save(update_fields=["password"])


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda t: t.slug.replace("-", " ").title())


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)


def force_login_verified(client: Client, user: Any) -> None:
    """Sign ``user`` in on ``client`` in a session that verified a device.

    The admin site opens only to such sessions, so staff sign in this way in
    tests that are about the admin pages rather than about signing in.
    """
    from django_otp import DEVICE_ID_SESSION_KEY

    from hardened_auth.models import TOTPDevice

    client.force_login(user)
    device = TOTPDevice.objects.create(
        user=user, name="Test authenticator", confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
