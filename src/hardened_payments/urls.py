from django.urls import path

from hardened_payments import views

app_name = "hardened_payments"

urlpatterns = [
    path("<slug:tenant_slug>/charges/", views.create_charge, name="charge"),
    path(
        "<slug:tenant_slug>/payments/<int:payment_id>/refunds/",
        views.create_refund,
        name="refund",
    ),
]
