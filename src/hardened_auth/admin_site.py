"""An admin site that opens only to sessions with a verified second factor."""

from django_otp.admin import OTPAdminSite


class SecondFactorAdminSite(OTPAdminSite):  # type: ignore[misc]
    """django-otp's admin site: staff sign in with a password and a code.

    Install it as the default site with ``default_site`` on a custom
    ``AdminConfig``, or assign it to ``admin.site.__class__`` in the URLconf.
    """

    site_header = "Administration (second factor required)"
