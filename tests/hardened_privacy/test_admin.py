import pytest
from django.urls import reverse

from hardened_privacy.internal.audit import AuditEvent, append
from tests.factories import UserFactory, force_login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    force_login_verified(client, user)
    return client


@pytest.fixture
def record():
    return append(
        AuditEvent.from_payload(
            {"event": "authz_fail", "outcome": "denied", "target": "doc:1"},
            "hardened_rbac.audit",
            "WARNING",
        )
    )


def test_changelist_shows_records(admin_client_, record):
    response = admin_client_.get(
        reverse("admin:hardened_privacy_auditrecord_changelist")
    )
    assert response.status_code == 200
    assert b"authz_fail" in response.content


def test_detail_is_read_only(admin_client_, record):
    url = reverse("admin:hardened_privacy_auditrecord_change", args=[record.pk])
    response = admin_client_.get(url)
    assert response.status_code == 200
    assert b'name="event"' not in response.content
    assert admin_client_.post(url, {"event": "changed"}).status_code == 403
    record.refresh_from_db()
    assert record.event == "authz_fail"


def test_add_and_delete_are_refused(admin_client_, record):
    add = reverse("admin:hardened_privacy_auditrecord_add")
    delete = reverse("admin:hardened_privacy_auditrecord_delete", args=[record.pk])
    assert admin_client_.get(add).status_code == 403
    assert admin_client_.post(delete, {"post": "yes"}).status_code == 403


def test_erasure_records_are_listed_read_only(admin_client_):
    from django.utils import timezone

    from hardened_privacy.models import ErasureRecord

    record = ErasureRecord.objects.create(subject="42", completed_at=timezone.now())
    changelist = reverse("admin:hardened_privacy_erasurerecord_changelist")
    assert b"42" in admin_client_.get(changelist).content
    delete = reverse("admin:hardened_privacy_erasurerecord_delete", args=[record.pk])
    assert admin_client_.post(delete, {"post": "yes"}).status_code == 403
    assert ErasureRecord.objects.filter(pk=record.pk).exists()
