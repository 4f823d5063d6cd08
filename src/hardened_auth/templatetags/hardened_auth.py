"""Template tags of hardened_auth: ``{% load hardened_auth %}``."""

from typing import Any

from django import template

from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal import velocity

register = template.Library()


@register.simple_tag(takes_context=True)
def sign_in_challenge(context: template.Context) -> dict[str, Any] | None:
    """A fresh ALTCHA challenge when this client's next sign-in needs one.

    Use it on a sign-in page with ``{% sign_in_challenge as challenge %}``
    and include ``hardened_auth/altcha_widget.html`` inside the form when it
    is set. When the limiter cannot count, no challenge is shown: the sign-in
    itself is then refused with ``503``.
    """
    request = context.get("request")
    if request is None:
        return None
    try:
        stage = velocity.friction(request).stage
    except RateLimiterUnavailable:
        return None
    return velocity.new_challenge() if stage == "challenge" else None
