import pytest
from django.conf import settings as django_settings

from hardened_rbac.models import Grant, Role
from hardened_rbac.tenancy import use_tenant
from tests.factories import MembershipFactory, TenantFactory
from tests.hardened_rbac.testapp.models import FeedPost

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, settings):
    settings.ROOT_URLCONF = "tests.hardened_rbac.urls"
    settings.MIDDLEWARE = [
        *django_settings.MIDDLEWARE,
        "hardened_rbac.middleware.TenantMiddleware",
    ]
    tenant = TenantFactory(slug="acme")
    membership = MembershipFactory(tenant=tenant)
    with use_tenant(tenant):
        FeedPost.objects.create(author=membership.user, visibility="tenant", body="b")
    client.force_login(membership.user)
    return membership


def test_unchanged_access_and_content_answer_304(client, reader):
    first = client.get("/t/acme/cached-feed/")
    etag = first["ETag"]
    assert first.status_code == 200
    assert "private" in first["Cache-Control"]
    again = client.get("/t/acme/cached-feed/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again["ETag"] == etag


def test_a_change_of_access_changes_the_etag_even_with_the_same_body(client, reader):
    etag = client.get("/t/acme/cached-feed/")["ETag"]
    Grant.objects.create(membership=reader, role=Role.objects.create(name="x"))
    response = client.get("/t/acme/cached-feed/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert response.json() == {"posts": ["b"]}


def test_another_user_never_matches(client, reader):
    etag = client.get("/t/acme/cached-feed/")["ETag"]
    other = MembershipFactory(tenant=reader.tenant)
    client.force_login(other.user)
    response = client.get("/t/acme/cached-feed/", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_forged_etag_gets_the_full_response(client, reader):
    response = client.get("/t/acme/cached-feed/", HTTP_IF_NONE_MATCH='"forged", *')
    assert response.status_code == 200
