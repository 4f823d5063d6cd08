import pytest
from django.test import override_settings
from django.urls import reverse

from hardened_privacy.internal.audit import AuditEvent, append
from hardened_privacy.models import AuditRecord
from tests.factories import UserFactory, force_login_verified
from tests.hardened_privacy.test_audit import _as_table_owner

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


VERIFY = "admin:hardened_privacy_auditrecord_verify"


def _verified_events():
    return list(
        AuditRecord.objects.filter(event="privacy_audit_verified").order_by("pk")
    )


def test_changelist_offers_chain_verification(admin_client_, record):
    response = admin_client_.get(
        reverse("admin:hardened_privacy_auditrecord_changelist")
    )
    assert f'href="{reverse(VERIFY)}">Verify chains</a>'.encode() in response.content


def test_verify_page_only_runs_on_post(admin_client_, record):
    response = admin_client_.get(reverse(VERIFY))
    assert response.status_code == 200
    assert b'value="Verify chains"' in response.content
    assert b"chain-reports" not in response.content
    assert _verified_events() == []


def test_verify_reports_intact_chains_and_is_audited(admin_client_, record):
    append(
        AuditEvent.from_payload(
            {"event": "authz_fail", "outcome": "denied", "tenant": "7"},
            "hardened_rbac.audit",
            "WARNING",
        )
    )
    in_global = AuditRecord.objects.filter(chain="global").count()
    response = admin_client_.post(reverse(VERIFY))
    assert response.status_code == 200
    assert [(r.chain, r.count, r.problem) for r in response.context["reports"]] == [
        ("global", in_global, None),
        ("tenant:7", 1, None),
    ]
    assert b"All 2 chains intact." in response.content
    [event] = _verified_events()
    assert (event.outcome, event.actor, event.target) == (
        "success",
        str(response.wsgi_request.user.pk),
        "audit:all",
    )
    assert event.ip == "127.0.0.1"
    assert (event.data["chains"], event.data["broken"]) == (2, 0)


def test_verify_names_the_first_altered_record(admin_client_, record):
    second = append(
        AuditEvent.from_payload(
            {"event": "authz_fail", "outcome": "denied", "target": "doc:2"},
            "hardened_rbac.audit",
            "WARNING",
        )
    )
    append(
        AuditEvent.from_payload(
            {"event": "authz_fail", "outcome": "denied", "target": "doc:3"},
            "hardened_rbac.audit",
            "WARNING",
        )
    )
    _as_table_owner(
        lambda: AuditRecord.objects.filter(pk=second.pk).update(target="doc:9")
    )
    response = admin_client_.post(reverse(VERIFY))
    [report] = response.context["reports"]
    assert report.problem is not None
    assert (report.problem.record_id, report.problem.sequence) == (
        second.pk,
        second.sequence,
    )
    assert report.problem.reason == "its contents were altered"
    change = reverse("admin:hardened_privacy_auditrecord_change", args=[second.pk])
    assert f'<a href="{change}">record id={second.pk}</a>'.encode() in (
        response.content
    )
    assert b"1 of 1 chain failed verification." in response.content
    [event] = _verified_events()
    assert event.outcome == "failure"
    assert event.data["first_breaks"] == [
        {"chain": "global", "record": second.pk, "sequence": second.sequence}
    ]


def test_verify_without_the_audit_key_fails_closed(admin_client_, record):
    with override_settings(HARDENED_PRIVACY_AUDIT_KEY=None):
        response = admin_client_.post(reverse(VERIFY))
    assert response.status_code == 200
    assert b"The chains could not be verified" in response.content
    assert b"intact" not in response.content


def test_verify_refuses_non_staff(client, record):
    user = UserFactory(is_staff=False)
    force_login_verified(client, user)
    response = client.post(reverse(VERIFY))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))
    assert _verified_events() == []


def test_verify_refuses_anonymous_visitors(client, record):
    response = client.post(reverse(VERIFY))
    assert response.status_code == 302
    assert _verified_events() == []


def test_verify_needs_a_second_factor(client, record):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(reverse(VERIFY))
    assert response.status_code == 302
    assert _verified_events() == []


def test_verify_needs_permission_to_view_the_log(client, record):
    force_login_verified(client, UserFactory(is_staff=True))
    assert client.post(reverse(VERIFY)).status_code == 403
    assert _verified_events() == []


def test_verify_is_open_to_staff_who_may_view_the_log(client, record):
    from django.contrib.auth.models import Permission

    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_auditrecord"))
    force_login_verified(client, user)
    response = client.post(reverse(VERIFY))
    assert response.status_code == 200
    assert [r.chain for r in response.context["reports"]] == ["global"]
