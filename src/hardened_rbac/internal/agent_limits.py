"""Fixed-window counters of agent tool calls per user and per tenant.

Counters live in the cache named by ``HARDENED_RBAC_AGENT_RATE_LIMIT_CACHE``
so every process shares them. A cache that cannot count refuses the call.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import caches

from hardened_rbac.conf import app_settings
from hardened_rbac.exceptions import AgentToolLimiterUnavailable, AgentToolRateLimited
from hardened_rbac.internal.agent_registry import Tool, parse_rate

logger = logging.getLogger(__name__)

PREFIX = "hardened_rbac:agent:rate:v1"


def _count(key: str, period: int) -> int:
    window = int(time.time()) // period
    full_key = f"{key}:{period}:{window}"
    cache = caches[app_settings.AGENT_RATE_LIMIT_CACHE]
    cache.add(full_key, 0, timeout=period + 1)
    return int(cache.incr(full_key))


def consume(tool: Tool, user_id: object, tenant_id: object) -> None:
    """Count one call; raise when either rate is used up or cannot be counted."""
    for dimension, rate, owner in (
        ("user", tool.user_rate, f"{tenant_id}:{user_id}"),
        ("tenant", tool.tenant_rate, str(tenant_id)),
    ):
        limit, period = parse_rate(rate)
        try:
            used = _count(f"{PREFIX}:{tool.name}:{dimension}:{owner}", period)
        except Exception as exc:
            logger.error(
                "agent rate limit cache failed for %s: %s",
                tool.name,
                type(exc).__name__,
            )
            raise AgentToolLimiterUnavailable(
                "The agent tool rate limiter is unavailable; the call is refused."
            ) from exc
        if used > limit:
            raise AgentToolRateLimited(
                f"The {dimension} rate of {rate} for {tool.name!r} is used up."
            )
