"""JSON endpoints that create charges, refunds and payouts.

Any active member of a tenant may charge in it and may pay out, or redirect,
only their own seller balance. A refund returns the tenant's money on any of
its payments, so it also needs ``REFUND_PERMISSION`` from a role granted in
that tenant; a member without it gets the answer a missing payment gets.
"""

import logging
import re

from django.contrib.auth.models import AbstractBaseUser
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_POST

from hardened_auth.client_ip import get_client_ip
from hardened_auth.conf import app_settings as auth_settings
from hardened_auth.stepup import step_up_required, step_up_response, verified_within
from hardened_payments.conf import app_settings
from hardened_payments.exceptions import (
    InsufficientFunds,
    InvalidTransfer,
    PaymentDeclined,
    ProviderError,
    RefundExceedsCaptured,
    TransferConflict,
)
from hardened_payments.idempotency import get_idempotency_key, idempotent
from hardened_payments.internal import audit, flows, payouts
from hardened_payments.internal.requests import (
    BadRequest,
    json_body,
    money_from,
    payment_method_from,
)
from hardened_payments.models import Payment
from hardened_payments.providers import get_provider
from hardened_rbac.decorators import policy_exempt
from hardened_rbac.models import Membership, Tenant
from hardened_rbac.roles import has_tenant_perm

logger = logging.getLogger(__name__)

CONNECTED_ACCOUNT = re.compile(r"^acct_[A-Za-z0-9]{1,64}$")
REUSED_KEY = "The key was already used for another refund."
REFUND_PERMISSION = "hardened_payments.add_refund"
NO_PAYMENT = "No such payment."
MEMBERS_ONLY = "The view finds the tenant through the user's active membership."
OWN_BALANCE_ONLY = (
    "The view finds the tenant through the user's active membership and acts"
    " only on the user's own seller balance."
)
REFUNDERS_ONLY = (
    "The view finds the tenant through the user's active membership and asks"
    " the roles granted there for hardened_payments.add_refund."
)


def _tenant_for(request: HttpRequest, slug: str) -> Tenant:
    user_pk = request.user.pk
    if user_pk is None:
        raise Http404("No such tenant.")
    membership = (
        Membership.objects.active()
        .select_related("tenant")
        .filter(tenant__slug=slug, user_id=user_pk)
        .first()
    )
    if membership is None:
        raise Http404("No such tenant.")
    return membership.tenant


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _payment_json(
    payment: Payment, client_secret: str | None = None
) -> dict[str, object]:
    data: dict[str, object] = {
        "id": payment.pk,
        "provider_id": payment.provider_id,
        "status": payment.status,
        "amount": payment.amount,
        "currency": payment.currency,
        "amount_refunded": payment.amount_refunded,
    }
    if payment.status == Payment.Status.REQUIRES_ACTION:
        data["client_secret"] = client_secret
    return data


@policy_exempt(MEMBERS_ONLY)
@require_POST
@idempotent
def create_charge(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """Charge a tokenised payment method; 3-D Secure answers 202."""
    tenant = _tenant_for(request, tenant_slug)
    try:
        body = json_body(request)
        amount = money_from(body)
        payment_method = payment_method_from(body)
    except BadRequest as exc:
        return _error(400, "bad_request", str(exc))

    key = get_idempotency_key(request)
    try:
        result = get_provider().create_payment(
            amount=amount,
            payment_method=payment_method,
            idempotency_key=key,
            metadata={"tenant": str(tenant.pk), "user": str(request.user.pk)},
        )
    except PaymentDeclined as exc:
        return _error(402, "payment_declined", str(exc))
    except ProviderError:
        return _error(502, "provider_unavailable", "The provider did not answer.")

    user = request.user
    assert isinstance(user, AbstractBaseUser)
    payment = flows.record_payment(tenant, user, result, key)
    status = 202 if payment.status == Payment.Status.REQUIRES_ACTION else 201
    return JsonResponse(_payment_json(payment, result.client_secret), status=status)


def _require_refunder(request: HttpRequest, tenant: Tenant, payment_id: int) -> None:
    """Refuse a member whose roles in ``tenant`` do not allow refunds.

    The refusal is the 404 a missing payment gets, raised before the payment
    is looked up, so it says nothing about which payments exist.
    """
    if has_tenant_perm(request.user, REFUND_PERMISSION, tenant):
        return
    audit.emit(
        "authz_fail",
        outcome="denied",
        request=request,
        tenant=tenant.pk,
        target=f"payment:{payment_id}",
        action="refund",
        permission=REFUND_PERMISSION,
        idempotency_key=get_idempotency_key(request),
    )
    raise Http404(NO_PAYMENT)


@policy_exempt(REFUNDERS_ONLY)
@require_POST
@idempotent
def create_refund(
    request: HttpRequest, tenant_slug: str, payment_id: int
) -> HttpResponse:
    """Refund part or all of a captured payment; large ones need step-up."""
    tenant = _tenant_for(request, tenant_slug)
    _require_refunder(request, tenant, payment_id)
    payment = Payment.objects.filter(tenant=tenant, pk=payment_id).first()
    if payment is None:
        raise Http404(NO_PAYMENT)
    try:
        amount = money_from(json_body(request), payment.currency)
    except BadRequest as exc:
        return _error(400, "bad_request", str(exc))

    limit = app_settings.REFUND_STEP_UP_ABOVE.get(amount.currency)
    needs_step_up = limit is None or amount.amount > limit
    if needs_step_up and not verified_within(request, auth_settings.STEP_UP_MAX_AGE):
        return step_up_response(request)

    try:
        refund = flows.refund(
            get_provider(),
            payment,
            amount,
            get_idempotency_key(request),
            actor=request.user.pk,
        )
    except RefundExceedsCaptured as exc:
        return _error(422, "refund_exceeds_captured", exc.messages[0])
    except TransferConflict:
        return _error(422, "idempotency_key_reused", REUSED_KEY)
    except InsufficientFunds:
        return _error(409, "insufficient_funds", "The tenant's funds are too low.")
    except ProviderError:
        return _error(502, "provider_unavailable", "The provider did not answer.")
    return JsonResponse(
        {"id": refund.pk, "provider_id": refund.provider_id, "amount": refund.amount},
        status=201,
    )


@policy_exempt(OWN_BALANCE_ONLY)
@require_POST
@step_up_required()
@idempotent
def create_payout(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """Pay out part of the seller's balance; needs a recent second factor."""
    tenant = _tenant_for(request, tenant_slug)
    try:
        amount = money_from(json_body(request))
    except BadRequest as exc:
        return _error(400, "bad_request", str(exc))

    seller_pk = int(str(request.user.pk))
    try:
        payout = payouts.request_payout(
            get_provider(), tenant, seller_pk, amount, get_idempotency_key(request)
        )
    except InsufficientFunds:
        return _error(422, "insufficient_funds", "The balance is too low.")
    except InvalidTransfer as exc:
        return _error(422, "no_destination", exc.messages[0])
    except ProviderError:
        return _error(502, "provider_unavailable", "The provider did not answer.")
    return JsonResponse(
        {
            "id": payout.pk,
            "provider_id": payout.provider_id,
            "status": payout.status,
            "amount": payout.amount,
            "currency": payout.currency,
        },
        status=201,
    )


@policy_exempt(OWN_BALANCE_ONLY)
@require_POST
@step_up_required()
def set_payout_destination(request: HttpRequest, tenant_slug: str) -> HttpResponse:
    """Change where the seller's payouts go; needs a recent second factor."""
    tenant = _tenant_for(request, tenant_slug)
    try:
        account = json_body(request).get("account")
    except BadRequest as exc:
        return _error(400, "bad_request", str(exc))
    if not isinstance(account, str) or not CONNECTED_ACCOUNT.match(account):
        return _error(400, "bad_request", "account must be a connected account id.")
    payouts.set_destination(
        tenant, int(str(request.user.pk)), account, get_client_ip(request) or None
    )
    return JsonResponse({"account": account})
