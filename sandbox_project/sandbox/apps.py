"""The sandbox's admin: Django's, opened only after a second factor.

Its site also audits every deletion, "delete selected" included.
"""

from django.contrib.admin.apps import AdminConfig


class SecondFactorAdminConfig(AdminConfig):
    """Install ``AuditedAdminSite`` as the default ``admin.site``."""

    default_site = "enterprise.admin_site.AuditedAdminSite"
