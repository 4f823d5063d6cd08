"""URLs of hardened_auth; include them under a prefix such as ``auth/``."""

from django.urls import path

from hardened_auth import views

app_name = "hardened_auth"

urlpatterns = [
    path("step-up/", views.step_up, name="step_up"),
]
