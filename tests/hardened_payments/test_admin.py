import pytest
from django.urls import reverse

from hardened_payments import ledger
from hardened_payments.ledger import Leg
from hardened_payments.money import Money
from tests.factories import UserFactory, force_login_verified

MODELS = ["ledgeraccount", "ledgertransfer", "ledgerentry", "idempotencykey"]


@pytest.fixture
def admin_client(client, db):
    user = UserFactory(is_staff=True, is_superuser=True)
    force_login_verified(client, user)
    return client


@pytest.fixture
def posted(tenant):
    bank = ledger.open_account(tenant, "bank", "USD", allow_negative=True)
    seller = ledger.open_account(tenant, "seller", "USD")
    return ledger.post_transfer(
        tenant, "t-1", [Leg(bank, Money(-5, "USD")), Leg(seller, Money(5, "USD"))]
    )


@pytest.mark.parametrize("model", MODELS)
def test_changelists_show_rows(admin_client, posted, model):
    response = admin_client.get(reverse(f"admin:hardened_payments_{model}_changelist"))
    assert response.status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_nobody_adds_money_records_by_hand(admin_client, model):
    response = admin_client.get(reverse(f"admin:hardened_payments_{model}_add"))
    assert response.status_code == 403


def test_transfer_page_is_read_only(admin_client, posted):
    url = reverse("admin:hardened_payments_ledgertransfer_change", args=[posted.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"t-1" in response.content
    assert admin_client.post(url, {"description": "x"}).status_code == 403
    delete = reverse("admin:hardened_payments_ledgertransfer_delete", args=[posted.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    posted.refresh_from_db()
    assert posted.description == ""
