import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from hardened_privacy.exceptions import HardenedPrivacyConfigurationError
from hardened_privacy.models import ErasureRecord
from tests.factories import UserFactory
from tests.hardened_privacy.testapp.models import Invoice, Reminder, Visit

pytestmark = pytest.mark.django_db

CLASSIFICATION = {
    "hardened_privacy_tests.Visit": {
        "user": "internal",
        "created": "internal",
        "phone": {"level": "personal", "retention": 30},
        "kind": "internal",
    },
    "hardened_privacy_tests.Invoice": {
        "user": "internal",
        "created": "internal",
        "billing_name": "personal",
        "amount": "internal",
    },
}
HOLD = {"hardened_privacy_tests.Invoice": "Invoices are kept ten years (tax law)."}


@pytest.fixture(autouse=True)
def classified():
    with override_settings(
        HARDENED_PRIVACY_CLASSIFICATION=CLASSIFICATION,
        HARDENED_PRIVACY_LEGAL_HOLD_MODELS=HOLD,
    ):
        yield


@pytest.fixture
def ada():
    user = UserFactory(username="ada", email="ada@example.com", first_name="Ada")
    Visit.objects.create(
        user=user, reason="migraine", phone="+44 20 7946 0958", contact="a@b.org"
    )
    Invoice.objects.create(user=user, billing_name="Ada Lovelace", amount=1200)
    return user


def test_export_lists_classified_fields_and_withholds_secrets(ada):
    out = io.StringIO()
    call_command("hardened_privacy_export_subject", str(ada.pk), stdout=out)
    document = json.loads(out.getvalue())
    user = document["records"]["auth.User"][0]
    assert user["email"] == "ada@example.com"
    assert user["password"] == "[withheld: secret]"
    visit = document["records"]["hardened_privacy_tests.Visit"][0]
    assert (visit["reason"], visit["phone"], visit["kind"]) == (
        "migraine",
        "+44 20 7946 0958",
        "checkup",
    )
    assert "contact_index" in visit
    invoice = document["records"]["hardened_privacy_tests.Invoice"][0]
    assert invoice["billing_name"] == "Ada Lovelace"


def test_export_of_unknown_user_fails():
    with pytest.raises(CommandError, match="No user with id 999"):
        call_command("hardened_privacy_export_subject", "999")


def test_erasure_anonymises_personal_data_and_keeps_legal_holds(ada, tmp_path):
    ledger = tmp_path / "erasures.jsonl"
    out = io.StringIO()
    with override_settings(HARDENED_PRIVACY_ERASURE_LEDGER=str(ledger)):
        call_command(
            "hardened_privacy_erase_subject",
            str(ada.pk),
            requested_by="7",
            stdout=out,
        )
    ada.refresh_from_db()
    assert ada.username == f"erased-{ada.pk}"
    assert (ada.email, ada.first_name, ada.is_active) == ("", "", False)
    assert not ada.has_usable_password()
    visit = Visit.objects.get(user=ada)
    assert (visit.reason, visit.phone, visit.contact, visit.contact_index) == (
        None,
        "",
        None,
        None,
    )
    assert visit.kind == "checkup"
    invoice = Invoice.objects.get(user=ada)
    assert invoice.billing_name == "Ada Lovelace"
    assert "Kept 1 hardened_privacy_tests.Invoice rows: Invoices are kept" in (
        out.getvalue()
    )
    record = ErasureRecord.objects.get(subject=str(ada.pk))
    assert record.requested_by == "7"
    assert record.retained[0]["model"] == "hardened_privacy_tests.Invoice"
    assert json.loads(ledger.read_text())["subject"] == str(ada.pk)


def test_erasure_is_audited(ada, caplog):
    with caplog.at_level("INFO", logger="hardened_privacy.audit"):
        call_command(
            "hardened_privacy_erase_subject", str(ada.pk), stdout=io.StringIO()
        )
    [record] = [r for r in caplog.records if r.name == "hardened_privacy.audit"]
    assert record.hardened_audit["event"] == "privacy_subject_erased"
    assert record.hardened_audit["target"] == f"user:{ada.pk}"


def test_erasure_is_reapplied_after_a_restore(ada, tmp_path):
    ledger = tmp_path / "erasures.jsonl"
    with override_settings(HARDENED_PRIVACY_ERASURE_LEDGER=str(ledger)):
        call_command(
            "hardened_privacy_erase_subject", str(ada.pk), stdout=io.StringIO()
        )
        # A backup from before the erasure comes back: the data and even the
        # erasure table are as they were; only the ledger file remembers.
        type(ada).objects.filter(pk=ada.pk).update(
            username="ada", email="ada@example.com", is_active=True
        )
        Visit.objects.filter(user=ada).update(phone="+44 20 7946 0958")
        ErasureRecord.objects.all().delete()
        out = io.StringIO()
        call_command("hardened_privacy_reapply_erasures", stdout=out)
    assert "Re-applied 1 erasures." in out.getvalue()
    ada.refresh_from_db()
    assert (ada.username, ada.email) == (f"erased-{ada.pk}", "")
    assert Visit.objects.get(user=ada).phone == ""


def test_reapply_dry_run_lists_subjects_and_changes_nothing(ada, tmp_path):
    gone = UserFactory(username="gone")
    ledger = tmp_path / "erasures.jsonl"
    with override_settings(HARDENED_PRIVACY_ERASURE_LEDGER=str(ledger)):
        for user in (ada, gone):
            call_command(
                "hardened_privacy_erase_subject", str(user.pk), stdout=io.StringIO()
            )
        type(ada).objects.filter(pk=ada.pk).update(username="ada", is_active=True)
        gone.delete()
        out = io.StringIO()
        call_command("hardened_privacy_reapply_erasures", dry_run=True, stdout=out)
        progress = io.StringIO()
        call_command("hardened_privacy_reapply_erasures", stdout=progress)
    assert out.getvalue() == (
        f"Would erase subject {ada.pk} again.\n"
        "1 erasures would be re-applied (dry run).\n"
    )
    assert progress.getvalue() == (
        f"  1/1: subject {ada.pk} erased\nRe-applied 1 erasures.\n"
    )
    ada.refresh_from_db()
    assert ada.username == f"erased-{ada.pk}"


def test_reapply_dry_run_leaves_restored_data(ada, tmp_path):
    ledger = tmp_path / "erasures.jsonl"
    with override_settings(HARDENED_PRIVACY_ERASURE_LEDGER=str(ledger)):
        call_command(
            "hardened_privacy_erase_subject", str(ada.pk), stdout=io.StringIO()
        )
        type(ada).objects.filter(pk=ada.pk).update(username="ada", is_active=True)
        records = ErasureRecord.objects.count()
        call_command(
            "hardened_privacy_reapply_erasures", dry_run=True, stdout=io.StringIO()
        )
    ada.refresh_from_db()
    assert (ada.username, ada.is_active) == ("ada", True)
    assert ErasureRecord.objects.count() == records


def test_unreadable_ledger_is_reported(tmp_path):
    ledger = tmp_path / "erasures.jsonl"
    ledger.write_text("not json\n")
    with (
        override_settings(HARDENED_PRIVACY_ERASURE_LEDGER=str(ledger)),
        pytest.raises(HardenedPrivacyConfigurationError, match="line 1"),
    ):
        call_command("hardened_privacy_reapply_erasures", stdout=io.StringIO())


def _visit(user, days_ago, **values):
    visit = Visit.objects.create(user=user, **values)
    Visit.objects.filter(pk=visit.pk).update(
        created=timezone.now() - datetime.timedelta(days=days_ago)
    )
    return visit


RETENTION = {"hardened_privacy_tests.Visit": {"AGE_FIELD": "created"}}


def test_retention_dry_run_reports_and_changes_nothing():
    user = UserFactory()
    old = _visit(user, 40, phone="+1 415 555 2671", reason="x")
    with override_settings(
        HARDENED_PRIVACY_RETENTION_MODELS=RETENTION,
        HARDENED_PRIVACY_RETENTION_DAYS={"personal": 365},
    ):
        out = io.StringIO()
        call_command("hardened_privacy_retention", stdout=out)
    assert "Visit: anonymise phone older than 30 days: 1 rows due (dry run)" in (
        out.getvalue()
    )
    old.refresh_from_db()
    assert old.phone == "+1 415 555 2671"


def test_retention_anonymises_expired_fields_in_batches():
    user = UserFactory()
    old = [
        _visit(user, 40, phone=f"+1 415 555 26{i:02d}", reason="r") for i in range(5)
    ]
    recent = _visit(user, 5, phone="+1 415 555 2699", reason="r")
    very_old = _visit(user, 400, phone="+1 415 555 2698", reason="r", contact="a@b.c")
    with override_settings(
        HARDENED_PRIVACY_RETENTION_MODELS=RETENTION,
        HARDENED_PRIVACY_RETENTION_DAYS={"personal": 365},
    ):
        out = io.StringIO()
        call_command("hardened_privacy_retention", apply=True, batch_size=2, stdout=out)
    assert "anonymise phone older than 30 days: 6 of 6 rows done" in out.getvalue()
    assert "anonymise reason, contact older than 365 days: 1 of 1 rows done" in (
        out.getvalue()
    )
    for visit in old:
        visit.refresh_from_db()
        assert (visit.phone, visit.reason) == ("", "r")
    recent.refresh_from_db()
    assert recent.phone == "+1 415 555 2699"
    very_old.refresh_from_db()
    assert (very_old.reason, very_old.contact, very_old.contact_index) == (
        None,
        None,
        None,
    )


def test_retention_delete_action():
    user = UserFactory()
    _visit(user, 40, phone="1")
    keep = _visit(user, 1, phone="2")
    policy = {
        "hardened_privacy_tests.Visit": {
            "AGE_FIELD": "created",
            "ACTION": "delete",
            "DAYS": 90,
        }
    }
    with override_settings(HARDENED_PRIVACY_RETENTION_MODELS=policy):
        call_command("hardened_privacy_retention", apply=True, stdout=io.StringIO())
    assert list(Visit.objects.all()) == [keep]


def _retention(**options):
    out = io.StringIO()
    call_command("hardened_privacy_retention", stdout=out, **options)
    return out.getvalue()


def test_retention_leaves_anonymised_rows_alone_on_the_next_run():
    user = UserFactory()
    _visit(user, 40, phone="+1 415 555 2671")
    _visit(user, 40, phone="")
    with override_settings(HARDENED_PRIVACY_RETENTION_MODELS=RETENTION):
        assert "phone older than 30 days: 1 rows due (dry run)" in _retention()
        assert "phone older than 30 days: 1 of 1 rows done" in _retention(apply=True)
        again = _retention(apply=True)
        dry_run = _retention()
    assert "phone older than 30 days: 0 of 0 rows done" in again
    assert "Total: 0 rows" in again
    assert "phone older than 30 days: 0 rows due (dry run)" in dry_run
    assert set(Visit.objects.values_list("phone", flat=True)) == {""}


def test_retention_knows_unique_fields_erased_by_row(settings):
    old = UserFactory(username="old", email="old@example.com")
    young = UserFactory(username="young", email="young@example.com")
    type(old).objects.filter(pk=old.pk).update(
        date_joined=timezone.now() - datetime.timedelta(days=40)
    )
    settings.HARDENED_PRIVACY_CLASSIFICATION = {
        **CLASSIFICATION,
        "auth.User": {"username": {"level": "personal", "retention": 30}},
    }
    settings.HARDENED_PRIVACY_RETENTION_MODELS = {
        "auth.User": {"AGE_FIELD": "date_joined"}
    }
    assert "username older than 30 days: 1 of 1 rows done" in _retention(apply=True)
    assert "username older than 30 days: 0 rows due" in _retention()
    old.refresh_from_db()
    young.refresh_from_db()
    assert (old.username, young.username) == (f"erased-{old.pk}", "young")
    type(old).objects.filter(pk=old.pk).update(username="erased-999999")
    assert "username older than 30 days: 1 rows due" in _retention()


def test_retention_reads_encrypted_values_to_find_anonymised_rows():
    for text in ["call the dentist", "", "renew passport"]:
        reminder = Reminder.objects.create(text=text)
        Reminder.objects.filter(pk=reminder.pk).update(
            created=timezone.now() - datetime.timedelta(days=10)
        )
    Reminder.objects.create(text="recent")
    policy = {"hardened_privacy_tests.Reminder": {"AGE_FIELD": "created", "DAYS": 7}}
    with override_settings(
        HARDENED_PRIVACY_CLASSIFICATION={
            "hardened_privacy_tests.Reminder": {
                "created": "internal",
                "text": "personal",
            }
        },
        HARDENED_PRIVACY_RETENTION_MODELS=policy,
    ):
        assert "text older than 7 days: 2 rows due" in _retention()
        done = _retention(apply=True, batch_size=2)
        assert "text older than 7 days: 0 rows due" in _retention()
    assert "text older than 7 days: 2 of 2 rows done" in done
    assert sorted(Reminder.objects.values_list("text", flat=True)) == [
        "",
        "",
        "",
        "recent",
    ]


def test_retention_prints_each_batch_and_resumes():
    user = UserFactory()
    for i in range(5):
        _visit(user, 40, phone=f"+1 415 555 26{i:02d}")
    with override_settings(HARDENED_PRIVACY_RETENTION_MODELS=RETENTION):
        first = _retention(apply=True, batch_size=2, max_batches=2)
        assert Visit.objects.exclude(phone="").count() == 1
        second = _retention(apply=True, batch_size=2)
    assert "  batch 1, 2/5\n  batch 2, 4/5\n" in first
    assert "phone older than 30 days: 4 of 5 rows done" in first
    assert "  batch 1, 1/1\n" in second
    assert "phone older than 30 days: 1 of 1 rows done" in second
    assert Visit.objects.exclude(phone="").count() == 0


def test_retention_refuses_a_bad_max_batches():
    with (
        override_settings(HARDENED_PRIVACY_RETENTION_MODELS=RETENTION),
        pytest.raises(CommandError, match="--max-batches"),
    ):
        _retention(apply=True, max_batches=0)


@pytest.mark.parametrize(
    "policy",
    [
        {"nope.Model": {"AGE_FIELD": "created"}},
        {"hardened_privacy_tests.Visit": {"ACTION": "shred", "AGE_FIELD": "created"}},
        {"hardened_privacy_tests.Visit": {}},
    ],
)
def test_bad_retention_policies_are_refused(policy):
    with (
        override_settings(HARDENED_PRIVACY_RETENTION_MODELS=policy),
        pytest.raises(HardenedPrivacyConfigurationError),
    ):
        call_command("hardened_privacy_retention", stdout=io.StringIO())
