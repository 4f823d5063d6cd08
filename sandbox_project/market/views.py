"""The marketplace pages: listings, checkout, orders, balance and payouts.

Every page lives under a tenant (``/t/<slug>/market/``). Forms that move
money carry an idempotency key made when the form is rendered, so a double
submit runs once; refunds above the configured limit and every payout ask
for a recent second factor first.
"""

import functools
from collections.abc import Callable
from fractions import Fraction
from typing import Any, TypeVar
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import reverse
from django.views.decorators.http import require_POST

from hardened_auth.client_ip import get_client_ip
from hardened_auth.conf import app_settings as auth_settings
from hardened_auth.stepup import verified_within
from hardened_payments.checkout import start_checkout
from hardened_payments.conf import app_settings as payments_settings
from hardened_payments.exceptions import (
    InsufficientFunds,
    InvalidTransfer,
    ProviderError,
    RefundExceedsCaptured,
    TransferConflict,
)
from hardened_payments.idempotency import (
    get_idempotency_key,
    idempotent_form,
    new_key,
)
from hardened_payments.internal import flows, payouts
from hardened_payments.models import (
    CheckoutSession,
    LedgerAccount,
    LedgerEntry,
    Payment,
    Payout,
    PayoutDestination,
    Refund,
)
from hardened_payments.money import Money, Rounding
from hardened_payments.providers import get_provider
from hardened_payments.views import CONNECTED_ACCOUNT
from hardened_rbac.decorators import policy_exempt, policy_required
from hardened_rbac.models import Tenant
from hardened_rbac.tenancy import current_tenant, require_tenant
from market import local, provider
from market.forms import AmountForm, ListingForm, to_money
from market.models import Listing, LocalProviderObject, Order
from market.policies import SETTLE_PAYOUT

FEE_RATE = Fraction(1, 10)
DESCRIPTION_LENGTH = 100

View = TypeVar("View", bound=Callable[..., HttpResponse])


def tenant_required(view: View) -> View:
    """Answer 404 outside ``/t/<slug>/``: the market always has a tenant."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if current_tenant() is None:
            raise Http404("No such tenant.")
        return view(request, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def fee_for(price: Money) -> Money:
    """The platform's share of a sale."""
    return price.multiply(FEE_RATE, Rounding.HALF_EVEN)


def _user_pk(request: HttpRequest) -> int:
    return int(str(request.user.pk))


def _step_up(back: str) -> HttpResponse:
    url = resolve_url(auth_settings.STEP_UP_URL)
    return HttpResponseRedirect(f"{url}?{urlencode({'next': back})}")


def _context(**values: Any) -> dict[str, Any]:
    return {"tenant": require_tenant(), "local": provider.is_active(), **values}


@login_required
@tenant_required
@policy_required("view", Listing)
def index(request: HttpRequest) -> HttpResponse:
    """The tenant's listings and the form to offer one."""
    return _index(request, ListingForm())


def _index(request: HttpRequest, form: ListingForm, status: int = 200) -> HttpResponse:
    listings = (
        Listing.objects.filter(is_active=True)
        .select_related("seller")
        .order_by("-created_at", "-id")
    )
    return render(
        request,
        "market/index.html",
        _context(listings=listings, form=form),
        status=status,
    )


@login_required
@tenant_required
@require_POST
@policy_exempt(reason="Any member offers listings as themselves in their tenant.")
def create_listing(request: HttpRequest) -> HttpResponse:
    """Offer a listing; the signed-in member is always its seller."""
    form = ListingForm(request.POST)
    currency = payments_settings.DEFAULT_CURRENCY
    price = to_money(form.cleaned_data["price"], currency) if form.is_valid() else None
    if price is None:
        if form.is_valid():
            form.add_error("price", "Use at most two decimal places.")
        return _index(request, form, status=400)
    listing = Listing.objects.create(
        seller_id=_user_pk(request),
        title=form.cleaned_data["title"],
        description=form.cleaned_data["description"],
        price=price.amount,
        currency=price.currency,
    )
    messages.success(request, f"{listing.title} is listed.")
    return HttpResponseRedirect(reverse("market:listing", args=[listing.pk]))


@login_required
@tenant_required
@policy_required("view", Listing, url_kwarg="listing_id")
def listing_detail(request: HttpRequest, listing_id: int) -> HttpResponse:
    """One listing, with a checkout form for everyone but its seller."""
    return _listing_page(request, request.policy_object)  # type: ignore[attr-defined]


def _listing_page(
    request: HttpRequest, listing: Listing, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "market/listing.html",
        _context(
            listing=listing,
            fee=fee_for(listing.price_money),
            own=listing.seller_id == request.user.pk,
            idempotency_key=new_key(),
        ),
        status=status,
    )


@login_required
@tenant_required
@require_POST
@policy_required("buy", Listing, url_kwarg="listing_id")
@idempotent_form
def checkout(request: HttpRequest, listing_id: int) -> HttpResponse:
    """Record the order and send the buyer to the provider's checkout page."""
    listing: Listing = request.policy_object  # type: ignore[attr-defined]
    if not listing.is_active or listing.seller_id == request.user.pk:
        messages.error(request, "This listing cannot be bought by you.")
        return _listing_page(request, listing, status=409)

    key = get_idempotency_key(request)
    price = listing.price_money
    fee = fee_for(price)
    try:
        with transaction.atomic():
            order = Order.objects.create(
                listing=listing,
                buyer_id=_user_pk(request),
                seller_id=listing.seller_id,
                amount=price.amount,
                fee=fee.amount,
                currency=price.currency,
                idempotency_key=key,
            )
            order_url = reverse("market:order", args=[order.pk])
            session = start_checkout(
                require_tenant(),
                request.user,  # type: ignore[arg-type]
                listing.seller,
                price,
                fee=fee,
                reference=f"market-order:{order.pk}",
                description=listing.title[:DESCRIPTION_LENGTH],
                success_url=request.build_absolute_uri(order_url),
                cancel_url=request.build_absolute_uri(
                    reverse("market:listing", args=[listing.pk])
                ),
                idempotency_key=key,
            )
            order.checkout = session
            order.save(update_fields=["checkout"])
    except ProviderError:
        messages.error(request, "The payment provider did not answer; try again.")
        return _listing_page(request, listing, status=502)
    response = HttpResponseRedirect(session.url)
    response.status_code = 303
    return response


@login_required
@tenant_required
@policy_required("view", Order)
def orders(request: HttpRequest) -> HttpResponse:
    """The member's purchases and sales in this tenant."""
    user_pk = _user_pk(request)
    allowed = request.policy_queryset.select_related(  # type: ignore[attr-defined]
        "listing", "buyer", "seller", "checkout__payment"
    )
    return render(
        request,
        "market/orders.html",
        _context(
            purchases=allowed.filter(buyer_id=user_pk),
            sales=allowed.filter(seller_id=user_pk),
        ),
    )


@login_required
@tenant_required
@policy_required("view", Order, url_kwarg="order_id")
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    """An order, its refunds and, for its seller, the refund form."""
    return _order_page(request, request.policy_object)  # type: ignore[attr-defined]


def _payment_of(order: Order) -> Payment | None:
    if order.checkout_id is None:
        return None
    session = CheckoutSession.objects.select_related("payment").get(
        pk=order.checkout_id
    )
    return session.payment


def _order_page(
    request: HttpRequest,
    order: Order,
    form: AmountForm | None = None,
    status: int = 200,
) -> HttpResponse:
    payment = _payment_of(order)
    refunded = Money(payment.amount_refunded if payment else 0, order.currency)
    return render(
        request,
        "market/order.html",
        _context(
            order=order,
            refunded=refunded,
            refunds=Refund.objects.filter(payment=payment) if payment else [],
            can_refund=(
                payment is not None
                and order.seller_id == request.user.pk
                and refunded < order.money
            ),
            form=form or AmountForm(),
            idempotency_key=new_key(),
        ),
        status=status,
    )


@login_required
@tenant_required
@require_POST
@policy_required("refund", Order, url_kwarg="order_id")
def refund_order(request: HttpRequest, order_id: int) -> HttpResponse:
    """Refund part or all of a paid order; large refunds need step-up."""
    order: Order = request.policy_object  # type: ignore[attr-defined]
    payment = _payment_of(order)
    form = AmountForm(request.POST)
    amount = (
        to_money(form.cleaned_data["amount"], order.currency)
        if (form.is_valid())
        else None
    )
    if payment is None or amount is None:
        form.add_error(None, "Enter an amount of a paid order.")
        return _order_page(request, order, form, status=400)

    limit = payments_settings.REFUND_STEP_UP_ABOVE.get(amount.currency)
    needs_step_up = limit is None or amount.amount > limit
    if needs_step_up and not verified_within(request, auth_settings.STEP_UP_MAX_AGE):
        return _step_up(reverse("market:order", args=[order.pk]))
    return _refund(request, order, payment, amount)


@idempotent_form
def _refund(
    request: HttpRequest, order: Order, payment: Payment, amount: Money
) -> HttpResponse:
    try:
        flows.refund(
            get_provider(),
            payment,
            amount,
            get_idempotency_key(request),
            actor=request.user.pk,
        )
    except (RefundExceedsCaptured, TransferConflict) as exc:
        form = AmountForm(request.POST)
        form.add_error(None, exc.messages[0])
        return _order_page(request, order, form, status=422)
    except InsufficientFunds:
        messages.error(request, "Your balance is too low for this refund.")
        return _order_page(request, order, status=409)
    except ProviderError:
        messages.error(request, "The payment provider did not answer; try again.")
        return _order_page(request, order, status=502)
    messages.success(request, f"Refunded {amount}.")
    return HttpResponseRedirect(reverse("market:order", args=[order.pk]))


def _seller_balance(tenant: Tenant, user_pk: int, currency: str) -> Money:
    account = LedgerAccount.objects.filter(
        tenant=tenant, code=f"seller-{user_pk}-{currency.lower()}"
    ).first()
    return Money(account.balance if account else 0, currency)


@login_required
@tenant_required
@policy_required("view", Order)
def balance(request: HttpRequest) -> HttpResponse:
    """The seller's balance and its ledger lines, payouts and payout form."""
    return _balance_page(request)


def _balance_page(
    request: HttpRequest, form: AmountForm | None = None, status: int = 200
) -> HttpResponse:
    tenant = require_tenant()
    user_pk = _user_pk(request)
    currency = payments_settings.DEFAULT_CURRENCY
    code = f"seller-{user_pk}-{currency.lower()}"
    entries = (
        LedgerEntry.objects.filter(account__tenant=tenant, account__code=code)
        .select_related("transfer")
        .order_by("-id")[:50]
    )
    seller_payouts = Payout.objects.filter(tenant=tenant, seller_id=user_pk)
    pending = sum(p.amount for p in seller_payouts if p.status == Payout.Status.PENDING)
    return render(
        request,
        "market/balance.html",
        _context(
            balance=_seller_balance(tenant, user_pk, currency),
            in_transit=Money(pending, currency),
            entries=[(e, Money(e.amount, e.currency)) for e in entries],
            payouts=seller_payouts,
            destination=PayoutDestination.objects.filter(
                tenant=tenant, user_id=user_pk
            ).first(),
            form=form or AmountForm(),
            idempotency_key=new_key(),
        ),
        status=status,
    )


@login_required
@tenant_required
@require_POST
@policy_exempt(reason="Pays out only the signed-in member's own balance.")
def request_payout(request: HttpRequest) -> HttpResponse:
    """Pay part of the balance out; needs a recent second factor."""
    if not verified_within(request, auth_settings.STEP_UP_MAX_AGE):
        return _step_up(reverse("market:balance"))
    return _payout(request)


@idempotent_form
def _payout(request: HttpRequest) -> HttpResponse:
    form = AmountForm(request.POST)
    currency = payments_settings.DEFAULT_CURRENCY
    amount = (
        to_money(form.cleaned_data["amount"], currency) if (form.is_valid()) else None
    )
    if amount is None:
        form.add_error(None, "Enter an amount.")
        return _balance_page(request, form, status=400)
    try:
        payouts.request_payout(
            get_provider(),
            require_tenant(),
            _user_pk(request),
            amount,
            get_idempotency_key(request),
        )
    except InsufficientFunds:
        form.add_error(None, "Your balance is too low for this payout.")
        return _balance_page(request, form, status=422)
    except InvalidTransfer:
        form.add_error(None, "Set a payout account first.")
        return _balance_page(request, form, status=422)
    except ProviderError:
        messages.error(request, "The payment provider did not answer; try again.")
        return _balance_page(request, form, status=502)
    messages.success(
        request,
        f"Payout of {amount} requested; it is paid when the provider confirms it.",
    )
    return HttpResponseRedirect(reverse("market:balance"))


@login_required
@tenant_required
@require_POST
@policy_exempt(reason="Changes only the signed-in member's own payout account.")
def payout_account(request: HttpRequest) -> HttpResponse:
    """Set the connected account payouts go to; needs a recent second factor."""
    back = reverse("market:balance")
    if not verified_within(request, auth_settings.STEP_UP_MAX_AGE):
        return _step_up(back)
    account = request.POST.get("account", "").strip()
    if not CONNECTED_ACCOUNT.match(account):
        messages.error(request, "Enter a connected account id (acct_...).")
        return HttpResponseRedirect(back)
    payouts.set_destination(
        require_tenant(), _user_pk(request), account, get_client_ip(request) or None
    )
    messages.success(request, "Payout account saved.")
    return HttpResponseRedirect(back)


@login_required
@tenant_required
@policy_exempt(
    reason="Stands in for the provider's hosted page; only the session's buyer "
    "in this tenant may open it."
)
def local_checkout(request: HttpRequest, session_id: str) -> HttpResponse:
    """The local provider's checkout page; paying sends a signed event."""
    if not provider.is_active():
        raise Http404("No such checkout.")
    session = CheckoutSession.objects.filter(
        provider_id=session_id[:255],
        tenant=require_tenant(),
        buyer_id=_user_pk(request),
    ).first()
    stored = LocalProviderObject.objects.filter(
        kind="checkout.session", object_id=session_id[:100]
    ).first()
    if session is None or stored is None:
        raise Http404("No such checkout.")

    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            return HttpResponseRedirect(stored.data["cancel_url"])
        event = local.pay_checkout(session.provider_id)
        if event is not None:
            try:
                local.deliver(event)
            except local.DeliveryRefused:
                messages.error(request, "The webhook endpoint refused the payment.")
        return HttpResponseRedirect(stored.data["success_url"])
    return render(
        request,
        "market/local_checkout.html",
        _context(session=session, description=stored.data.get("description", "")),
    )


@login_required
@tenant_required
@require_POST
@policy_required(SETTLE_PAYOUT, Payout, url_kwarg="payout_id")
def local_settle_payout(request: HttpRequest, payout_id: int) -> HttpResponse:
    """Let the local provider's bank pay a payout: a signed payout.paid event."""
    if not provider.is_active():
        raise Http404("No such payout.")
    payout: Payout = request.policy_object  # type: ignore[attr-defined]
    event = local.pay_payout(payout.provider_id) if payout.provider_id else None
    if event is not None:
        try:
            local.deliver(event)
        except local.DeliveryRefused:
            messages.error(request, "The webhook endpoint refused the event.")
        else:
            messages.success(request, "The bank paid the payout.")
    return HttpResponseRedirect(reverse("market:balance"))
