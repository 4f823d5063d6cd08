"""Signals sent by hardened_payments.

``checkout_completed``
    Sent inside the transaction that pays a checkout session, after its
    ledger transfer is posted. Keyword arguments: ``session`` (the
    :class:`~hardened_payments.models.CheckoutSession`) and ``event_id`` (the
    provider event that paid it). A receiver that raises rolls the payment
    back and leaves the event to be retried.

``checkout_expired``
    Sent when a verified event says an open checkout session expired unpaid.
    Keyword arguments: ``session`` and ``event_id``.
"""

from django.dispatch import Signal

checkout_completed = Signal()
checkout_expired = Signal()
