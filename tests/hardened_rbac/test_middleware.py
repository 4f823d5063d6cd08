import pytest
from django.conf import settings as django_settings

from hardened_rbac.tenancy import use_tenant
from tests.factories import MembershipFactory, TenantFactory, UserFactory
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.testapp.models import Project

pytestmark = pytest.mark.django_db

# These views exercise the tenant alone; test_policies.py covers the refusal
# of views without a policy.
MIDDLEWARE = [
    *(
        m
        for m in django_settings.MIDDLEWARE
        if not m.endswith("PolicyRequiredMiddleware")
    ),
    "hardened_rbac.middleware.TenantMiddleware",
]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.hardened_rbac.urls"
    settings.MIDDLEWARE = MIDDLEWARE
    settings.ALLOWED_HOSTS = [".example.com", "testserver"]


@pytest.fixture
def member(client):
    membership = MembershipFactory(tenant=TenantFactory(slug="acme"))
    with use_tenant(membership.tenant):
        Project.objects.create(name="acme-project")
    client.force_login(membership.user)
    return membership


def test_path_prefix_sets_the_tenant_and_strips_the_prefix(client, member):
    response = client.get("/t/acme/whoami/")
    assert response.status_code == 200
    assert response.json() == {
        "tenant": "acme",
        "self": "/t/acme/whoami/",
        "path": "/t/acme/whoami/",
    }
    assert client.get("/t/acme/projects/").json() == {"projects": ["acme-project"]}


def test_no_prefix_means_no_tenant_and_scoped_views_fail_closed(client, member):
    assert client.get("/whoami/").json()["tenant"] is None
    assert client.get("/projects/").status_code == 403


@pytest.mark.parametrize(
    "path",
    [
        "/t/globex/whoami/",
        "/t/nonexistent/whoami/",
        "/t/../whoami/",
        "/t/" + "a" * 300 + "/whoami/",
        "/t//whoami/",
        "/t/acme%00/whoami/",
    ],
)
def test_other_missing_and_malformed_tenants_get_the_same_404(client, member, path):
    other = MembershipFactory(tenant=TenantFactory(slug="globex"))
    with use_tenant(other.tenant):
        Project.objects.create(name="globex-secret")
    response = client.get(path)
    assert response.status_code == 404
    assert b"globex-secret" not in response.content


def test_denied_tenant_is_audited(client, member, caplog):
    TenantFactory(slug="globex")
    capture_audit(caplog)
    client.get("/t/globex/whoami/", REMOTE_ADDR="198.51.100.7")
    (event,) = audit_events(caplog)
    assert event["event"] == "authz_fail"
    assert event["outcome"] == "denied"
    assert event["actor"] == str(member.user_id)
    assert event["ip"] == "198.51.100.7"
    assert event["target"] == "tenant:globex"


def test_anonymous_user_gets_404_for_an_existing_tenant(client):
    TenantFactory(slug="acme")
    client.logout()
    assert client.get("/t/acme/whoami/").status_code == 404


@pytest.mark.parametrize(
    "spoil",
    ["membership", "tenant"],
)
def test_inactive_membership_or_tenant_gets_404(client, member, spoil):
    target = member if spoil == "membership" else member.tenant
    target.is_active = False
    target.save()
    assert client.get("/t/acme/whoami/").status_code == 404


def test_superuser_without_membership_gets_404(client):
    TenantFactory(slug="acme")
    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    assert client.get("/t/acme/whoami/").status_code == 404


def test_header_source(client, member, settings):
    settings.HARDENED_RBAC_TENANT_SOURCE = "header"
    TenantFactory(slug="globex")
    assert client.get("/whoami/", HTTP_X_TENANT="acme").json()["tenant"] == "acme"
    assert client.get("/whoami/").json()["tenant"] is None
    assert client.get("/whoami/", HTTP_X_TENANT="globex").status_code == 404
    assert client.get("/projects/", HTTP_X_TENANT="acme").json() == {
        "projects": ["acme-project"]
    }


def test_subdomain_source(client, member, settings):
    settings.HARDENED_RBAC_TENANT_SOURCE = "subdomain"
    settings.HARDENED_RBAC_TENANT_DOMAIN = "example.com"
    TenantFactory(slug="globex")
    assert (
        client.get("/whoami/", HTTP_HOST="acme.example.com").json()["tenant"] == "acme"
    )
    assert (
        client.get("/whoami/", HTTP_HOST="ACME.example.com:8000").json()["tenant"]
        == "acme"
    )
    assert client.get("/whoami/", HTTP_HOST="example.com").json()["tenant"] is None
    assert client.get("/whoami/", HTTP_HOST="globex.example.com").status_code == 404
    assert client.get("/whoami/", HTTP_HOST="a.acme.example.com").status_code == 404


def test_tenant_context_ends_with_the_request(client, member):
    from hardened_rbac.tenancy import current_tenant

    client.get("/t/acme/whoami/")
    assert current_tenant() is None
    assert client.get("/whoami/").json() == {
        "tenant": None,
        "self": "/whoami/",
        "path": "/whoami/",
    }
