"""The ``Idempotency-Key`` contract for views that move money.

A view wrapped in :func:`idempotent` needs an authenticated user and an
``Idempotency-Key`` header. The key is bound to the user and to a fingerprint
of the request (method, path and canonical body): a retry gets the stored
response with ``Idempotent-Replayed: true``, the same key on a different
request gets 422, and a repeat while the first is still running gets 409.
Only answers that did something (2xx and 3xx) are stored. A refusal (any
4xx: a malformed body, a declined card, a refund beyond the capture, too
little balance, a missing step-up) and a failure (an exception or a 5xx)
release the key and leave the store as it was, so the same key may be sent
again with a corrected request. A wrapped view therefore answers 4xx only
when it changed nothing. Keys expire after
``HARDENED_PAYMENTS_IDEMPOTENCY_KEY_TTL`` seconds;
``manage.py hardened_payments_purge_idempotency_keys`` removes them.

An HTML form that moves money uses :func:`idempotent_form` instead: the key
travels in the form's ``idempotency_key`` field, made by :func:`new_key` when
the form is rendered, so submitting the same rendered form twice runs the
view once and the repeat follows the first answer's redirect.
"""

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from hardened_payments.internal import idempotency as _idempotency

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponse])

# Refusals and failures start here: the key is released instead of storing
# them, so a corrected retry may use it.
REFUSED = 400
MISSING_KEY = {
    "header": "Send an Idempotency-Key header of 1 to 255 printable characters.",
    "form": "Submit the form as rendered: its idempotency key is missing.",
}


FORM_FIELD = _idempotency.FORM_FIELD
# Where the wrapper leaves the claimed key's provider form for the view.
PROVIDER_KEY_META = "hardened_payments.provider_key"


def new_key() -> str:
    """A fresh key for a form being rendered."""
    return secrets.token_urlsafe(24)


def get_idempotency_key(request: HttpRequest) -> str:
    """Return the key to forward to the provider for this request.

    It is derived from the signed-in user, the client's key and the request's
    fingerprint (see :func:`~hardened_payments.internal.idempotency.
    provider_key`), so keys never collide between users at the provider, and
    it is the key the flows store and use in ledger transfer ids.
    """
    key = request.META.get(PROVIDER_KEY_META)
    if not isinstance(key, str):
        raise ImproperlyConfigured("The view is not wrapped in @idempotent.")
    return key


def idempotent(view: ViewFunc) -> ViewFunc:
    """Run ``view`` at most once per user, key and request.

    The view is exempt from ``ATOMIC_REQUESTS``: the claim must commit before
    the view runs so that a concurrent repeat sees it and gets 409.
    """
    return _guard(view, _idempotency.read_key, "header")


def idempotent_form(view: ViewFunc) -> ViewFunc:
    """Like :func:`idempotent`, with the key in the ``idempotency_key`` field."""
    return _guard(view, _idempotency.read_form_key, "form")


def _guard(
    view: ViewFunc, read: Callable[[HttpRequest], str | None], where: str
) -> ViewFunc:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return _idempotency.error(401, "authentication_required", "Log in first.")
        key = read(request)
        if key is None:
            return _idempotency.error(
                400,
                "idempotency_key_required",
                MISSING_KEY[where],
            )

        digest = _idempotency.fingerprint(request)
        claimed = _idempotency.claim(request, user.pk, key, digest)
        if isinstance(claimed, HttpResponse):
            return claimed
        request.META[PROVIDER_KEY_META] = _idempotency.provider_key(
            user.pk, key, digest
        )
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            _idempotency.release(claimed)
            raise

        if response.status_code >= REFUSED or response.streaming:
            _idempotency.release(claimed)
        else:
            _idempotency.complete(claimed, response)
        return response

    return transaction.non_atomic_requests(wrapper)  # type: ignore[return-value]
