"""One guarded client for every outbound HTTP request a site makes.

Use it for agent tools, webhooks the site sends and language-model calls::

    from hardened_privacy.egress import get_egress_client

    response = get_egress_client().post(
        "https://api.example.com/v1/summaries", body=payload, actor=user.pk
    )

Only hosts in ``HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS`` and schemes in
``HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES`` are reached. The host name is
resolved once, every address is checked, and the connection goes to the
checked address, so internal addresses stay out of reach through DNS,
rebinding or redirects. See ``docs/hardened_privacy_ai.md``.
"""

from typing import Any

from hardened_privacy.internal.egress_client import (
    EgressClient,
    EgressResponse,
    system_resolver,
)

__all__ = ["EgressClient", "EgressResponse", "get_egress_client", "system_resolver"]


def get_egress_client(**kwargs: Any) -> EgressClient:
    """A client configured from settings; keyword arguments override them."""
    return EgressClient(**kwargs)
