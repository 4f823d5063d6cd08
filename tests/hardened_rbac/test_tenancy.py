import threading

import pytest
from django import forms
from django.db import IntegrityError, transaction

from hardened_rbac.exceptions import (
    CrossTenantWrite,
    TenantNotSet,
    UnscopedReasonMissing,
)
from hardened_rbac.tenancy import current_tenant, unscoped, use_tenant
from tests.factories import TenantFactory
from tests.hardened_rbac.helpers import audit_events, capture_audit
from tests.hardened_rbac.testapp.models import Label, Project, Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenants():
    a, b = TenantFactory(), TenantFactory()
    with use_tenant(a):
        pa = Project.objects.create(name="a1")
        Task.objects.create(project=pa, title="ta")
        Label.objects.create(name="la")
    with use_tenant(b):
        pb = Project.objects.create(name="b1")
        Task.objects.create(project=pb, title="tb")
        Label.objects.create(name="lb")
    return a, b


def test_queries_without_a_tenant_raise(tenants):
    with pytest.raises(TenantNotSet):
        list(Project.objects.all())
    with pytest.raises(TenantNotSet):
        Project.objects.count()
    with pytest.raises(TenantNotSet):
        Project.objects.filter(name="a1").exists()
    with pytest.raises(TenantNotSet):
        Project.objects.update(name="x")
    with pytest.raises(TenantNotSet):
        Project.objects.all().delete()
    with pytest.raises(TenantNotSet):
        Project.objects.create(name="orphan")


def test_queries_see_only_the_current_tenant(tenants):
    a, b = tenants
    with use_tenant(a):
        assert list(Project.objects.values_list("name", flat=True)) == ["a1"]
        assert Task.objects.get().title == "ta"
        assert not Project.objects.filter(name="b1").exists()
    with use_tenant(b):
        assert list(Project.objects.values_list("name", flat=True)) == ["b1"]


def test_querysets_built_earlier_are_scoped_when_evaluated(tenants):
    a, b = tenants
    early = Project.objects.order_by("name")
    with use_tenant(b):
        assert [p.name for p in early] == ["b1"]
    with use_tenant(a):
        assert [p.name for p in early.all()] == ["a1"]


def test_guessed_id_of_another_tenants_row_is_not_found(tenants):
    a, b = tenants
    with use_tenant(b):
        other_id = Project.objects.get().pk
    with use_tenant(a), pytest.raises(Project.DoesNotExist):
        Project.objects.get(pk=other_id)


def test_related_managers_honour_the_scope(tenants):
    a, b = tenants
    with use_tenant(a):
        project = Project.objects.get()
        assert [t.title for t in project.tasks.all()] == ["ta"]
    with use_tenant(b):
        assert list(project.tasks.all()) == []
        assert list(a.rbac_testapp_project_set.all()) == []
        assert [p.name for p in b.rbac_testapp_project_set.all()] == ["b1"]


def test_update_and_delete_touch_only_the_current_tenant(tenants):
    a, b = tenants
    with use_tenant(a):
        assert Project.objects.update(name="renamed") == 1
        Task.objects.all().delete()
    with use_tenant(b):
        assert Project.objects.get().name == "b1"
        assert Task.objects.count() == 1


def test_update_cannot_move_rows_to_another_tenant(tenants):
    a, b = tenants
    with use_tenant(a):
        with pytest.raises(CrossTenantWrite):
            Project.objects.update(tenant=b)
        with pytest.raises(CrossTenantWrite):
            Project.objects.update(tenant_id=b.pk)
        assert Project.objects.update(tenant=a) == 1


def test_new_rows_take_the_current_tenant(tenants):
    a, _ = tenants
    with use_tenant(a):
        created = Project.objects.create(name="new")
        bulk = Project.objects.bulk_create([Project(name="x"), Project(name="y")])
        fetched, made = Project.objects.get_or_create(name="z")
    assert created.tenant_id == a.pk
    assert {p.tenant_id for p in bulk} == {a.pk}
    assert made
    assert fetched.tenant_id == a.pk


def test_rows_cannot_be_saved_into_another_tenant(tenants, caplog):
    a, b = tenants
    capture_audit(caplog)
    with use_tenant(a):
        with pytest.raises(CrossTenantWrite):
            Project.objects.create(name="sneaky", tenant=b)
        with pytest.raises(CrossTenantWrite):
            Project.objects.bulk_create([Project(name="sneaky", tenant=b)])
        with pytest.raises(CrossTenantWrite):
            Project.objects.get_or_create(name="sneaky", tenant=b)
    with use_tenant(b):
        project = Project.objects.get()
    with use_tenant(a):
        project.name = "hijacked"
        with pytest.raises(CrossTenantWrite):
            project.save()
        with pytest.raises(CrossTenantWrite):
            project.delete()
    with unscoped(reason="check"):
        assert not Project.objects.filter(name__in=["sneaky", "hijacked"]).exists()
    events = [e for e in audit_events(caplog) if e["event"] == "authz_fail"]
    assert len(events) == 5
    assert all(e["outcome"] == "denied" for e in events)
    assert events[0]["tenant"] == str(a.pk)


def test_forged_primary_key_cannot_overwrite_another_tenants_row(tenants):
    a, b = tenants
    with use_tenant(b):
        victim = Project.objects.get()
    with use_tenant(a):
        forged = Project(pk=victim.pk, name="overwritten")
        with pytest.raises(IntegrityError), transaction.atomic():
            forged.save()
        with pytest.raises(CrossTenantWrite):
            Project(pk=victim.pk, tenant=a).delete()
    with use_tenant(b):
        assert Project.objects.get().name == "b1"


def test_foreign_keys_cannot_point_into_another_tenant(tenants):
    a, b = tenants
    with use_tenant(b):
        foreign = Project.objects.get()
    with use_tenant(a):
        with pytest.raises(CrossTenantWrite):
            Task.objects.create(project=foreign, title="x")
        with pytest.raises(CrossTenantWrite):
            Task.objects.create(project_id=foreign.pk, title="x")
        with pytest.raises(CrossTenantWrite):
            Task.objects.bulk_create([Task(project_id=foreign.pk, title="x")])
        assert Task.objects.count() == 1


def test_many_to_many_cannot_reach_into_another_tenant(tenants):
    a, b = tenants
    with use_tenant(b):
        foreign_label = Label.objects.get()
    with use_tenant(a):
        project = Project.objects.get()
        own_label = Label.objects.get()
        project.labels.add(own_label)
        with pytest.raises(CrossTenantWrite), transaction.atomic():
            project.labels.add(foreign_label)
        with pytest.raises(CrossTenantWrite), transaction.atomic():
            project.labels.add(foreign_label.pk)
        assert list(project.labels.all()) == [own_label]


class TaskForm(forms.ModelForm):
    class Meta:
        model = Task
        fields = ["project", "title"]


def test_form_choices_are_scoped_and_refuse_other_tenants_ids(tenants):
    a, b = tenants
    with use_tenant(b):
        foreign = Project.objects.get()
    with use_tenant(a):
        own = Project.objects.get()
        form = TaskForm(data={"project": foreign.pk, "title": "x"})
        assert not form.is_valid()
        assert "project" in form.errors
        assert "tenant" not in TaskForm().fields
        choices = TaskForm().fields["project"].choices  # type: ignore[attr-defined]
        assert [str(value) for value, _ in choices if value] == [str(own.pk)]
        form = TaskForm(data={"project": own.pk, "title": "ok"})
        assert form.is_valid(), form.errors
        assert form.save().tenant_id == a.pk


def test_unscoped_sees_every_tenant_and_is_audited(tenants, caplog):
    capture_audit(caplog)
    with unscoped(reason="nightly export"):
        assert Project.objects.count() == 2
    events = [e for e in audit_events(caplog) if e["event"] == "authz_admin"]
    assert events == [
        {
            "event": "authz_admin",
            "actor": None,
            "tenant": None,
            "target": None,
            "outcome": "success",
            "ip": None,
            "action": "unscoped",
            "escape_reason": "nightly export",
        }
    ]
    with pytest.raises(TenantNotSet):
        Project.objects.count()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_unscoped_needs_a_reason(reason):
    with pytest.raises(UnscopedReasonMissing), unscoped(reason=reason):
        pass


def test_use_tenant_needs_a_saved_tenant():
    with pytest.raises(TypeError), use_tenant(TenantFactory.build()):
        pass
    with pytest.raises(TypeError), use_tenant("acme"):  # type: ignore[arg-type]
        pass


def test_use_tenant_restores_the_previous_tenant(tenants):
    a, b = tenants
    with use_tenant(a):
        with use_tenant(b):
            assert current_tenant() == b
        assert current_tenant() == a
    assert current_tenant() is None


def test_tenant_does_not_leak_between_threads(tenants):
    a, _ = tenants
    seen = []
    with use_tenant(a):
        thread = threading.Thread(target=lambda: seen.append(current_tenant()))
        thread.start()
        thread.join()
    assert seen == [None]
