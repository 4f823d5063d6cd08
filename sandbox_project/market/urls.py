from django.urls import path

from market import views

app_name = "market"

urlpatterns = [
    path("", views.index, name="index"),
    path("listings/", views.create_listing, name="create_listing"),
    path("listings/<int:listing_id>/", views.listing_detail, name="listing"),
    path("listings/<int:listing_id>/checkout/", views.checkout, name="checkout"),
    path("orders/", views.orders, name="orders"),
    path("orders/<int:order_id>/", views.order_detail, name="order"),
    path("orders/<int:order_id>/refund/", views.refund_order, name="refund"),
    path("balance/", views.balance, name="balance"),
    path("payouts/", views.request_payout, name="payout"),
    path("payout-account/", views.payout_account, name="payout_account"),
    path(
        "provider/checkout/<str:session_id>/",
        views.local_checkout,
        name="local_checkout",
    ),
    path(
        "provider/payouts/<int:payout_id>/settle/",
        views.local_settle_payout,
        name="local_settle_payout",
    ),
]
