"""A URLconf that routes dj-stripe's webhook endpoint, for hardened_payments.E019."""

from django.urls import include, path

urlpatterns = [
    path("payments/", include("hardened_payments.urls")),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
]
