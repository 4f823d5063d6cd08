"""Count one attempt in a fixed-window counter of the rate-limit cache.

The counters are django-ratelimit's: the same key, window and expiry, so
both ways of counting below add to one count. On Django's Redis cache
backend an attempt is counted by one Lua script in one round trip, which
increments the counter and gives a counter it created its expiry, through
one Redis client kept per cache connection. On any other backend
django-ratelimit's ``get_usage`` counts it.

A counter only grows within its window, so once this process has seen one
over its limit, every later attempt on it is refused until the window ends,
whatever the cache would answer. Such counters are remembered per cache
connection (at most ``MAX_REMEMBERED_EXHAUSTED`` of them, the oldest
forgotten first) and their attempts are refused without a round trip, so a
flood from one address costs the cache one count per window and process.
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

MAX_REMEMBERED_EXHAUSTED = 4096

_scripts: weakref.WeakKeyDictionary[RedisCache, Script] = weakref.WeakKeyDictionary()
# Per cache connection: counter key -> (count, limit, end of its window).
_exhausted: weakref.WeakKeyDictionary[BaseCache, dict[str, tuple[int, int, int]]] = (
    weakref.WeakKeyDictionary()
)


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
    limit, period = _split_rate(rate)
    window = _get_window(value, period)
    key = cache.make_key(_make_cache_key(group, window, rate, value, ALL))
    remembered = _remembered(cache, key)
    if remembered is not None:
        return remembered

    if isinstance(cache, RedisCache):
        counted = _increment_script(cache)(keys=[key], args=[period + EXPIRATION_FUDGE])
        usage = Usage(int(counted), limit, window - int(time.time()))
    else:
        counts = get_usage(
            request,
            group=group,
            key=lambda _group, _request: value,
            rate=rate,
            increment=True,
        )
        if counts is None or counts["time_left"] < 0:
            return None
        usage = Usage(counts["count"], counts["limit"], counts["time_left"])
    if usage.exhausted:
        _remember(cache, key, (usage.count, usage.limit, window))
    return usage


def _remembered(cache: BaseCache, key: str) -> Usage | None:
    """The counter ``key`` if this process saw it exhausted in its window."""
    seen = _exhausted.get(cache, {}).get(key)
    if seen is None:
        return None
    used, limit, window = seen
    time_left = window - int(time.time())
    if time_left < 0:
        _exhausted[cache].pop(key, None)
        return None
    return Usage(used, limit, time_left)


def _remember(cache: BaseCache, key: str, seen: tuple[int, int, int]) -> None:
    remembered = _exhausted.setdefault(cache, {})
    if key not in remembered and len(remembered) >= MAX_REMEMBERED_EXHAUSTED:
        remembered.pop(next(iter(remembered)), None)
    remembered[key] = seen
