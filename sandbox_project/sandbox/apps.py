"""The sandbox's admin: Django's, opened only after a second factor."""

from django.contrib.admin.apps import AdminConfig


class SecondFactorAdminConfig(AdminConfig):
    """Install ``SecondFactorAdminSite`` as the default ``admin.site``."""

    default_site = "hardened_auth.admin_site.SecondFactorAdminSite"
