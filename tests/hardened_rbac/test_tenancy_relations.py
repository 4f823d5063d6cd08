"""The base manager of scoped models: relations, refreshes, saves and cascades.

Rows that point across tenants cannot be written through the scoped API, so
each test plants one inside ``unscoped()``, as a bad import or a raw SQL
write would, and checks what a reader in one tenant gets.
"""

import pytest
from django.contrib.auth.models import Permission
from django.db.models import Prefetch

from demo.models import Post
from hardened_rbac.exceptions import CrossTenantRead, TenantNotSet
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import unscoped, use_tenant
from tests.factories import (
    MembershipFactory,
    TenantFactory,
    UserFactory,
    force_login_verified,
)
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.testapp.models import (
    Charter,
    Document,
    DocumentUserObjectPermission,
    Project,
    Task,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def planted():
    """Tenant a's task ``stray`` points at tenant b's project."""
    a, b = TenantFactory(slug="acme"), TenantFactory(slug="globex")
    with use_tenant(a):
        own = Project.objects.create(name="a1")
        Task.objects.create(project=own, title="fits")
    with use_tenant(b):
        foreign = Project.objects.create(name="b1")
    with unscoped(reason="plant a row that points across tenants"):
        Task.objects.create(tenant=a, project=foreign, title="stray")
    return a, b


def test_following_a_foreign_key_stays_in_the_tenant(planted):
    a, _ = planted
    with use_tenant(a):
        fits = Task.objects.get(title="fits")
        stray = Task.objects.get(title="stray")
        assert fits.project.name == "a1"
        with pytest.raises(Project.DoesNotExist):
            stray.project  # noqa: B018
    with pytest.raises(TenantNotSet):
        stray.project  # noqa: B018
    with unscoped(reason="repair the stray task"):
        assert stray.project.name == "b1"


def test_following_a_foreign_key_without_a_tenant_fails_closed(planted):
    a, _ = planted
    with use_tenant(a):
        fits = Task.objects.get(title="fits")
    with pytest.raises(TenantNotSet):
        fits.project  # noqa: B018


def test_following_a_reverse_one_to_one_stays_in_the_tenant(planted):
    a, b = planted
    with use_tenant(a):
        own = Project.objects.get(name="a1")
        Charter.objects.create(project=own, goal="ship")
        other = Project.objects.create(name="a2")
    with unscoped(reason="plant a charter of b on a's project"):
        Charter.objects.create(tenant=b, project=other, goal="spy")
    with use_tenant(a):
        assert Project.objects.get(name="a1").charter.goal == "ship"
        with pytest.raises(Project.charter.RelatedObjectDoesNotExist):
            Project.objects.get(name="a2").charter  # noqa: B018
        with pytest.raises(CrossTenantRead):
            list(Project.objects.select_related("charter"))
        [a2] = Project.objects.filter(name="a2").prefetch_related("charter")
        with pytest.raises(Project.charter.RelatedObjectDoesNotExist):
            a2.charter  # noqa: B018
        Project.objects.get(name="a2").delete()
    with unscoped(reason="count what is left"):
        assert list(Charter.objects.values_list("goal", flat=True)) == ["ship"]


def test_refresh_from_db_stays_in_the_tenant(planted):
    a, b = planted
    with use_tenant(a):
        project = Project.objects.get(name="a1")
        project.refresh_from_db()
        deferred = Project.objects.only("pk").get(name="a1")
    with use_tenant(b), pytest.raises(Project.DoesNotExist):
        project.refresh_from_db()
    with pytest.raises(TenantNotSet):
        project.refresh_from_db()
    with pytest.raises(TenantNotSet):
        deferred.name  # noqa: B018
    with use_tenant(a):
        assert deferred.name == "a1"
    with unscoped(reason="reload a row for maintenance"):
        project.refresh_from_db()


def test_select_related_refuses_a_row_of_another_tenant(planted, caplog):
    a, _ = planted
    capture_audit(caplog)
    with use_tenant(a):
        fits = Task.objects.select_related("project").get(title="fits")
        assert fits.project.name == "a1"
        with pytest.raises(CrossTenantRead):
            list(Task.objects.select_related("project"))
    [event] = [e for e in audit_events(caplog) if e["event"] == "authz_fail"]
    assert event["action"] == "cross_tenant_read"
    assert event["model"] == "rbac_testapp.Project"
    with unscoped(reason="list every task with its project"):
        names = {t.project.name for t in Task.objects.select_related("project")}
    assert names == {"a1", "b1"}


def test_select_related_from_an_unscoped_model_refuses_other_tenants():
    a, b = TenantFactory(), TenantFactory()
    user = UserFactory()
    permission = Permission.objects.get(codename="view_document")
    with use_tenant(b):
        document = Document.objects.create(title="b's plan")
    DocumentUserObjectPermission.objects.create(
        user=user, permission=permission, content_object=document
    )
    with use_tenant(a):
        row = DocumentUserObjectPermission.objects.get()
        with pytest.raises(Document.DoesNotExist):
            row.content_object  # noqa: B018
        with pytest.raises(CrossTenantRead):
            list(DocumentUserObjectPermission.objects.select_related("content_object"))
    with use_tenant(b):
        row = DocumentUserObjectPermission.objects.select_related("content_object")
        assert row.get().content_object.title == "b's plan"


def test_raw_queries_refuse_rows_of_another_tenant(planted):
    a, _ = planted
    table = Project._meta.db_table
    with use_tenant(a), pytest.raises(CrossTenantRead):
        list(Project.objects.raw(f"SELECT * FROM {table}"))  # noqa: S608


def test_prefetch_related_leaves_out_rows_of_another_tenant(planted):
    a, b = planted
    with use_tenant(a):
        tasks = {t.title: t for t in Task.objects.prefetch_related("project")}
        assert tasks["fits"].project.name == "a1"
        with pytest.raises(Task.project.RelatedObjectDoesNotExist):
            tasks["stray"].project  # noqa: B018
        projects = Project.objects.prefetch_related(
            Prefetch("tasks", queryset=Task.objects.order_by("title"))
        )
        assert [[t.title for t in p.tasks.all()] for p in projects] == [["fits"]]
    with use_tenant(b):
        [project] = Project.objects.prefetch_related("tasks")
        assert list(project.tasks.all()) == []


def test_saves_update_rows_of_the_current_tenant(planted):
    a, _ = planted
    with use_tenant(a):
        task = Task.objects.get(title="fits")
        task.title = "renamed"
        task.save()
        task.save(update_fields=["title"])
        assert Task.objects.filter(title="renamed").count() == 1
    task.title = "outside"
    with pytest.raises(TenantNotSet):
        task.save()
    with unscoped(reason="fix a title for the tenant"):
        task.save()
        assert Task.objects.filter(title="outside").count() == 1


def test_deleting_a_row_cascades_into_every_tenant(planted):
    """A cascade must reach rows that point across tenants, or it would fail."""
    _, b = planted
    with use_tenant(b):
        Project.objects.get(name="b1").delete()
    with unscoped(reason="count what is left"):
        assert sorted(Task.objects.values_list("title", flat=True)) == ["fits"]


def test_deleting_a_tenant_or_a_user_cascades_without_a_tenant(planted):
    a, b = planted
    owner = UserFactory()
    with use_tenant(a):
        Project.objects.create(name="owned in a", owner=owner)
    with use_tenant(b):
        Project.objects.create(name="owned in b", owner=owner)
    with use_tenant(a):
        owner.delete()
    with unscoped(reason="count what is left"):
        assert not Project.objects.filter(name__startswith="owned").exists()
    Tenant.objects.get(pk=b.pk).delete()
    with unscoped(reason="count what is left"):
        assert list(Project.objects.values_list("name", flat=True)) == ["a1"]
        assert sorted(Task.objects.values_list("title", flat=True)) == ["fits"]


def test_the_unhinted_base_manager_still_reaches_every_tenant(planted):
    """Data-subject export and key rotation read through it with a tenant set."""
    a, _ = planted
    with use_tenant(a):
        names = sorted(Project._base_manager.values_list("name", flat=True))
        rows = sorted(p.name for p in Project._base_manager.all())
    assert names == rows == ["a1", "b1"]


def test_rows_read_from_every_tenant_save_back_into_their_own(planted, caplog):
    """Erasure and retention write rows back with no tenant current."""
    capture_audit(caplog)
    rows = list(Project._base_manager.order_by("name"))
    assert [p.name for p in rows] == ["a1", "b1"]
    assert [(e["action"], e["operation"]) for e in audit_events(caplog)] == [
        ("any_tenant_rows", "read")
    ]
    for row in rows:
        row.name = f"{row.name} erased"
        row.save(update_fields=["name"])
    stray = Task._base_manager.get(title="stray")
    stray.delete()

    first = rows[0]
    first.tenant_id = rows[1].tenant_id
    with pytest.raises(TenantNotSet):
        first.save()
    with pytest.raises(TenantNotSet):
        Project(name="new", tenant_id=rows[1].tenant_id).save()
    with pytest.raises(TenantNotSet):
        Project.objects.get(name="a1 erased")
    with unscoped(reason="count what is left"):
        assert sorted(Project.objects.values_list("name", flat=True)) == [
            "a1 erased",
            "b1 erased",
        ]
        assert list(Task.objects.values_list("title", flat=True)) == ["fits"]


def test_reading_every_tenant_inside_one_is_not_audited(planted, caplog):
    a, _ = planted
    capture_audit(caplog)
    with use_tenant(a):
        assert Project._base_manager.count() == 2
        assert len(list(Project._base_manager.iterator())) == 2
    with unscoped(reason="already audited"):
        assert Project._base_manager.exists()
    assert [e["action"] for e in audit_events(caplog)] == ["unscoped"]
    assert sorted(Project._base_manager.values_list("name", flat=True)) == [
        "a1",
        "b1",
    ]
    assert [e.get("operation") for e in audit_events(caplog)][1:] == ["read"]


def test_admin_change_and_delete_pages_stay_in_the_tenant(client):
    acme, globex = TenantFactory(slug="acme"), TenantFactory(slug="globex")
    operator = UserFactory(is_staff=True, is_superuser=True)
    MembershipFactory(tenant=acme, user=operator)
    force_login_verified(client, operator)
    admin_client = client
    author = UserFactory()
    with use_tenant(acme):
        own = Post.objects.create(author=author, body="acme's post")
    with use_tenant(globex):
        foreign = Post.objects.create(author=author, body="globex's post")
    change = "/t/acme/admin/demo/post/{}/change/"
    page = admin_client.get(change.format(own.pk))
    assert page.status_code == 200
    assert "acme&#x27;s post" in page.content.decode()
    answer = admin_client.get(change.format(foreign.pk), follow=True)
    assert "globex&#x27;s post" not in answer.content.decode()
    confirm = admin_client.get(f"/admin/hardened_rbac/tenant/{globex.pk}/delete/")
    assert confirm.status_code == 200
    assert "globex&#x27;s post" in confirm.content.decode()
    deleted = admin_client.post(
        f"/admin/hardened_rbac/tenant/{globex.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    with unscoped(reason="count what is left"):
        assert list(Post.objects.values_list("body", flat=True)) == ["acme's post"]
