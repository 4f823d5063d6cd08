"""Count one attempt in a fixed-window counter of the rate-limit cache.

The counters are django-ratelimit's: the same key, window and expiry, so
both ways of counting below add to one count. On Django's Redis cache
backend an attempt is counted by one Lua script in one round trip, which
increments the counter and gives a counter it created its expiry, through
one Redis client kept per cache connection. On any other backend
django-ratelimit's ``get_usage`` counts it.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from django_ratelimit import ALL
from django_ratelimit.core import (
    EXPIRATION_FUDGE,
    _get_window,
    _make_cache_key,
    _split_rate,
    get_usage,
)

if TYPE_CHECKING:
    from redis.commands.core import Script

INCREMENT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""

_scripts: weakref.WeakKeyDictionary[RedisCache, Script] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Usage:
    """A counter after one attempt was added to it."""

    count: int
    limit: int
    time_left: int

    @property
    def exhausted(self) -> bool:
        return self.count > self.limit


def rate_limit_cache() -> BaseCache:
    """The cache named by django-ratelimit's ``RATELIMIT_USE_CACHE``."""
    return caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]


def _increment_script(cache: RedisCache) -> Script:
    script = _scripts.get(cache)
    if script is None:
        client = cache._cache.get_client(write=True)
        script = _scripts[cache] = client.register_script(INCREMENT_SCRIPT)
    return script


def count(request: HttpRequest, group: str, value: str, rate: str) -> Usage | None:
    """Add one attempt to the counter of ``value`` in ``group``.

    Returns ``None`` when the cache did not count it, for example because
    django-ratelimit is switched off; a cache error propagates.
    """
    if not getattr(settings, "RATELIMIT_ENABLE", True):
        return None
    cache = rate_limit_cache()
    if not isinstance(cache, RedisCache):
        usage = get_usage(
            request,
            group=group,
            key=lambda _group, _request: value,
            rate=rate,
            increment=True,
        )
        if usage is None or usage["time_left"] < 0:
            return None
        return Usage(usage["count"], usage["limit"], usage["time_left"])

    limit, period = _split_rate(rate)
    window = _get_window(value, period)
    key = cache.make_and_validate_key(_make_cache_key(group, window, rate, value, ALL))
    counted = _increment_script(cache)(keys=[key], args=[period + EXPIRATION_FUDGE])
    return Usage(int(counted), limit, window - int(time.time()))
