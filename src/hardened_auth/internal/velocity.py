"""Progressive friction after bursts of failed sign-ins: delay, challenge, lock.

Failed sign-ins are counted per submitted identifier, per client IP and for
the whole site in fixed windows in the rate-limit cache. When a count passes
a stage's threshold the next attempts on that dimension are first spaced out
(a growing delay), then must carry a solved ALTCHA proof of work, then are
refused until the window ends. The site-wide count never locks, so an
attacker cannot lock everyone out.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from altcha import v1 as altcha_v1
from django.core.cache import caches
from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from hardened_auth.client_ip import get_client_ip
from hardened_auth.conf import app_settings
from hardened_auth.exceptions import RateLimiterUnavailable
from hardened_auth.internal.limiter import submitted_identifier

logger = logging.getLogger(__name__)

STAGES = ("delay", "challenge", "lock")
MAX_PAYLOAD_LENGTH = 4096
MAX_DELAY_SECONDS = 60


@dataclass(frozen=True)
class Friction:
    stage: str | None
    retry_after: int = 0
    dimension: str | None = None


def _cache() -> Any:
    from django.conf import settings

    return caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]


def _values(request: HttpRequest) -> dict[str, str | None]:
    return {
        "identifier": submitted_identifier(request),
        "ip": get_client_ip(request),
        "site": "all",
    }


def _key(dimension: str, value: str, suffix: str) -> str:
    digest = hashlib.sha256(f"{dimension}:{value}".encode()).hexdigest()[:32]
    window = int(time.time()) // app_settings.VELOCITY_WINDOW
    return f"hardened_auth.velocity.{suffix}.{window}.{digest}"


def record_failure(request: HttpRequest) -> None:
    """Count one failed sign-in on every dimension."""
    window = app_settings.VELOCITY_WINDOW
    cache = _cache()
    try:
        for dimension, value in _values(request).items():
            if value is None:
                continue
            count_key = _key(dimension, value, "count")
            if not cache.add(count_key, 1, window + 60):
                cache.incr(count_key)
            cache.set(_key(dimension, value, "last"), time.time(), window + 60)
    except Exception as exc:
        logger.error("velocity cache failed: %s", type(exc).__name__)


def friction(request: HttpRequest) -> Friction:
    """The strongest stage any dimension of this attempt has reached."""
    cache = _cache()
    now = time.time()
    window = app_settings.VELOCITY_WINDOW
    strongest = Friction(None)
    try:
        for dimension, value in _values(request).items():
            thresholds = app_settings.VELOCITY_THRESHOLDS.get(dimension, {})
            if value is None or not thresholds:
                continue
            count = int(cache.get(_key(dimension, value, "count"), 0))
            for rank, stage in enumerate(STAGES):
                limit = thresholds.get(stage)
                if limit is None or count < limit:
                    continue
                if stage == "delay":
                    last = float(cache.get(_key(dimension, value, "last"), 0))
                    wait = min(2 ** (count - limit), MAX_DELAY_SECONDS)
                    if now - last >= wait:
                        continue
                    retry = math.ceil(wait - (now - last))
                else:
                    retry = window - int(now) % window
                if strongest.stage is None or rank > STAGES.index(strongest.stage):
                    strongest = Friction(stage, retry, dimension)
    except Exception as exc:
        logger.error("velocity cache failed: %s", type(exc).__name__)
        raise RateLimiterUnavailable("velocity") from exc
    return strongest


def _hmac_key() -> str:
    return salted_hmac("hardened_auth.altcha", "challenge-key").hexdigest()


def new_challenge() -> dict[str, Any]:
    """A signed ALTCHA challenge for the widget, expiring in a few minutes."""
    expires = datetime.now() + timedelta(seconds=app_settings.ALTCHA_TTL)
    challenge = altcha_v1.create_challenge(
        altcha_v1.ChallengeOptions(
            hmac_key=_hmac_key(),
            max_number=app_settings.ALTCHA_MAX_NUMBER,
            expires=expires,
        )
    )
    return {
        "algorithm": challenge.algorithm,
        "challenge": challenge.challenge,
        "maxnumber": challenge.max_number,
        "salt": challenge.salt,
        "signature": challenge.signature,
    }


def challenge_solved(request: HttpRequest) -> bool:
    """Verify the submitted solution offline, and only once."""
    payload = str(request.POST.get("altcha", ""))
    if not payload or len(payload) > MAX_PAYLOAD_LENGTH:
        return False
    try:
        ok, _ = altcha_v1.verify_solution(payload, _hmac_key(), check_expires=True)
    except Exception:
        return False
    if not ok:
        return False
    used_key = (
        "hardened_auth.altcha.used." + hashlib.sha256(payload.encode()).hexdigest()
    )
    try:
        return bool(_cache().add(used_key, 1, app_settings.ALTCHA_TTL + 60))
    except Exception as exc:
        logger.error("velocity cache failed: %s", type(exc).__name__)
        raise RateLimiterUnavailable("altcha") from exc
