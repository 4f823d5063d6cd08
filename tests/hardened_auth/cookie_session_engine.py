"""A session engine that keeps sessions in signed cookies under its own name."""

from django.contrib.sessions.backends import signed_cookies


class SessionStore(signed_cookies.SessionStore):
    """Django's signed-cookie store, renamed."""
