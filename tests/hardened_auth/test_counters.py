import os
import time
import uuid

import pytest
import redis
from django.core.cache import caches
from django.test import RequestFactory
from django_ratelimit.core import get_usage

from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal import counters, limiter

GROUP = "hardened_auth.tests.counter"


def _request():
    return RequestFactory().post("/admin/login/", REMOTE_ADDR="192.0.2.7")


def _value() -> str:
    return f"id:{uuid.uuid4().hex}"


@pytest.fixture
def redis_cache(settings):
    """The default cache on the Redis server that REDIS_URL names."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "KEY_PREFIX": f"counters-{uuid.uuid4().hex}",
        }
    }
    return caches["default"]


@pytest.fixture
def commands(monkeypatch):
    """Record the name of every command a Redis client sends."""
    sent: list[str] = []
    real = redis.Redis.execute_command

    def execute_command(self, *args, **options):
        sent.append(str(args[0]).upper())
        return real(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", execute_command)
    return sent


def test_local_memory_cache_counts_through_django_ratelimit():
    value = _value()
    usages = [counters.count(_request(), GROUP, value, "2/h") for _ in range(3)]
    assert [u.count for u in usages if u is not None] == [1, 2, 3]
    assert [u.exhausted for u in usages if u is not None] == [False, False, True]
    assert all(u is not None and 0 <= u.time_left <= 3600 for u in usages)


def test_switched_off_django_ratelimit_counts_nothing(settings):
    settings.RATELIMIT_ENABLE = False
    assert counters.count(_request(), GROUP, _value(), "2/h") is None


@pytest.mark.redis
def test_redis_counts_an_attempt_in_one_round_trip(redis_cache, commands):
    value = _value()
    counters.count(_request(), GROUP, value, "5/m")
    commands.clear()
    usage = counters.count(_request(), GROUP, value, "5/m")
    assert commands == ["EVALSHA"]
    assert usage is not None
    assert (usage.count, usage.limit) == (2, 5)
    assert 0 <= usage.time_left <= 60


@pytest.mark.redis
def test_redis_and_django_ratelimit_add_to_one_counter(redis_cache):
    value = _value()
    first = counters.count(_request(), GROUP, value, "5/h")
    assert first is not None
    assert first.count == 1
    usage = get_usage(
        _request(),
        group=GROUP,
        key=lambda _group, _request: value,
        rate="5/h",
        increment=True,
    )
    assert usage is not None
    assert usage["count"] == 2
    third = counters.count(_request(), GROUP, value, "5/h")
    assert third is not None
    assert third.count == 3


@pytest.mark.redis
def test_redis_counter_expires_after_its_window(redis_cache):
    value = _value()
    counters.count(_request(), GROUP, value, "5/m")
    client = redis_cache._cache.get_client(write=True)
    [key] = client.keys(f"{redis_cache.key_prefix}:*")
    assert 0 < client.ttl(key) <= 60 + 5
    counters.count(_request(), GROUP, value, "5/m")
    assert 0 < client.ttl(key) <= 60 + 5


@pytest.mark.redis
def test_redis_over_its_limit_refuses_at_the_address(settings, redis_cache, commands):
    settings.HARDENED_AUTH_RATE_LIMITS = {"login": {"ip": "1/h", "identifier": "1/h"}}
    request = RequestFactory().post(
        "/admin/login/", {"username": "alice"}, REMOTE_ADDR="192.0.2.8"
    )
    counters.count(_request(), GROUP, _value(), "5/h")
    commands.clear()
    assert limiter.check(request, "login").allowed
    assert commands == ["EVALSHA", "EVALSHA"]

    commands.clear()
    refused = limiter.check(request, "login")
    assert (refused.allowed, refused.dimension) == (False, "ip")
    assert commands == ["EVALSHA"]

    commands.clear()
    again = limiter.check(request, "login")
    assert (again.allowed, again.dimension) == (False, "ip")
    assert commands == []


@pytest.mark.redis
def test_redis_counter_holding_no_number_fails_closed(redis_cache, caplog):
    value = _value()
    counters.count(_request(), GROUP, value, "5/h")
    client = redis_cache._cache.get_client(write=True)
    [key] = client.keys(f"{redis_cache.key_prefix}:*")
    client.set(key, "not a number", keepttl=True)
    with pytest.raises(RateLimiterUnavailable):
        limiter._count(_request(), GROUP, value, "5/h")
    assert "ResponseError" in caplog.text


@pytest.mark.redis
def test_redis_going_away_after_counting_fails_closed(redis_cache):
    value = _value()
    counters.count(_request(), GROUP, value, "5/h")
    pool = redis_cache._cache._get_connection_pool(write=True)
    pool.connection_kwargs["port"] = 1
    pool.reset()
    with pytest.raises(RateLimiterUnavailable):
        limiter._count(_request(), GROUP, value, "5/h")


@pytest.fixture
def get_usage_calls(settings, monkeypatch):
    """Count in a fresh local-memory cache; record what reaches it."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"counters-{uuid.uuid4().hex}",
        }
    }
    calls: list[str] = []
    real = get_usage

    def spy(request, **kwargs):
        calls.append(kwargs["group"])
        return real(request, **kwargs)

    monkeypatch.setattr(counters, "get_usage", spy)
    return calls


def test_exhausted_counter_refuses_without_asking_the_cache(get_usage_calls):
    value = _value()
    usages = [counters.count(_request(), GROUP, value, "1/h") for _ in range(4)]
    assert [u is not None and u.exhausted for u in usages] == [
        False,
        True,
        True,
        True,
    ]
    assert get_usage_calls == [GROUP, GROUP]
    assert all(u is not None and 1 <= u.time_left <= 3600 for u in usages[1:])


def test_remembered_counter_is_asked_again_once_its_window_ends(
    monkeypatch, get_usage_calls
):
    value = _value()
    for _ in range(2):
        counters.count(_request(), GROUP, value, "1/m")
    later = time.time() + 61
    monkeypatch.setattr(time, "time", lambda: later)
    usage = counters.count(_request(), GROUP, value, "1/m")
    assert usage is not None
    assert not usage.exhausted
    assert get_usage_calls == [GROUP] * 3


def test_only_the_latest_exhausted_counters_are_remembered(
    monkeypatch, get_usage_calls
):
    monkeypatch.setattr(counters, "MAX_REMEMBERED_EXHAUSTED", 2)
    values = [_value() for _ in range(3)]
    for value in values:
        for _ in range(2):
            counters.count(_request(), GROUP, value, "1/h")
    get_usage_calls.clear()
    for value in reversed(values):
        usage = counters.count(_request(), GROUP, value, "1/h")
        assert usage is not None
        assert usage.exhausted
    assert len(get_usage_calls) == 1


def test_another_cache_does_not_see_what_one_remembered(settings, get_usage_calls):
    value = _value()
    for _ in range(2):
        counters.count(_request(), GROUP, value, "1/h")
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"limits-{uuid.uuid4().hex}",
        },
    }
    settings.RATELIMIT_USE_CACHE = "limits"
    usage = counters.count(_request(), GROUP, value, "1/h")
    assert usage is not None
    assert not usage.exhausted
    assert len(get_usage_calls) == 3
