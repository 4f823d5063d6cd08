import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.test import override_settings

from hardened_rbac.models import Membership
from tests.factories import MembershipFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("slug", ["admin", "API", "www"])
def test_reserved_slug_is_refused(slug):
    tenant = TenantFactory.build(slug=slug)
    with pytest.raises(ValidationError) as raised:
        tenant.full_clean()
    assert raised.value.error_dict["slug"][0].code == "reserved"


@override_settings(HARDENED_RBAC_RESERVED_TENANT_SLUGS=["acme"])
def test_reserved_slugs_follow_the_setting():
    TenantFactory.build(slug="admin").full_clean()
    with pytest.raises(ValidationError):
        TenantFactory.build(slug="acme").full_clean()


def test_user_belongs_to_a_tenant_once():
    membership = MembershipFactory()
    with pytest.raises(IntegrityError):
        Membership.objects.create(tenant=membership.tenant, user=membership.user)


def test_active_excludes_inactive_memberships_and_tenants():
    user = UserFactory()
    kept = MembershipFactory(user=user)
    MembershipFactory(user=user, is_active=False)
    MembershipFactory(user=user, tenant=TenantFactory(is_active=False))
    assert list(Membership.objects.active().filter(user=user)) == [kept]
