"""The sandbox's admin site: a second factor first, deletions audited."""

from typing import Any

from django.contrib import admin

from enterprise.audit import AuditedDeletions
from hardened_auth.admin_site import SecondFactorAdminSite


class AuditedAdminSite(SecondFactorAdminSite):
    """Give every model admin registered here :class:`AuditedDeletions`.

    A model admin that already has it is registered as it is; any other is
    registered as a subclass with the mixin in front, the way ``register``
    builds a class from keyword options.
    """

    def register(
        self,
        model_or_iterable: Any,
        admin_class: type[admin.ModelAdmin] | None = None,  # type: ignore[type-arg]
        **options: Any,
    ) -> None:
        base = admin_class or admin.ModelAdmin
        if not issubclass(base, AuditedDeletions):
            base = type(base.__name__, (AuditedDeletions, base), {})
        super().register(model_or_iterable, base, **options)
