from django.urls import path

from hardened_payments import views, webhooks

app_name = "hardened_payments"

urlpatterns = [
    path("webhooks/stripe/", webhooks.stripe_webhook, name="stripe_webhook"),
    path("<slug:tenant_slug>/charges/", views.create_charge, name="charge"),
    path(
        "<slug:tenant_slug>/payments/<int:payment_id>/refunds/",
        views.create_refund,
        name="refund",
    ),
    path("<slug:tenant_slug>/payouts/", views.create_payout, name="payout"),
    path(
        "<slug:tenant_slug>/payout-destination/",
        views.set_payout_destination,
        name="payout_destination",
    ),
]
