"""Claiming, replaying and releasing ``Idempotency-Key`` values."""

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from hardened_payments.conf import app_settings
from hardened_payments.internal import audit
from hardened_payments.models import IdempotencyKey

logger = logging.getLogger(__name__)

HEADER = "HTTP_IDEMPOTENCY_KEY"
FORM_FIELD = "idempotency_key"
FORM_TYPES = ("application/x-www-form-urlencoded",)
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"
PROVIDER_KEY_PREFIX = "hp_"
PROVIDER_KEY_CONTEXT = "hardened_payments.provider_key.v1"
MISMATCH = ("idempotency_key_mismatch", 422, "The key was used for another request.")
IN_USE = ("idempotency_key_in_use", 409, "A request with this key is still running.")


def read_key(request: HttpRequest) -> str | None:
    """Return the request's key if it is 1-255 printable ASCII characters."""
    return _valid(request.META.get(HEADER))


def read_form_key(request: HttpRequest) -> str | None:
    """Return the key a submitted form carries in its ``idempotency_key``."""
    if request.method != "POST" or request.content_type not in FORM_TYPES:
        return None
    return _valid(request.POST.get(FORM_FIELD))


def _valid(value: object) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_KEY_LENGTH:
        return None
    if not all(" " < ch <= "~" for ch in value):
        return None
    return value


def _canonical_body(request: HttpRequest) -> bytes:
    body = request.body
    content_type = request.content_type or ""
    if content_type == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError:
            return body
        return json.dumps(
            parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    if content_type == "application/x-www-form-urlencoded":
        pairs = sorted(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        return json.dumps(pairs).encode()
    return body


def fingerprint(request: HttpRequest) -> str:
    """Digest of the method, the path and the canonical form of the body."""
    digest = hashlib.sha256()
    for part in (request.method or "").encode(), request.path.encode():
        digest.update(len(part).to_bytes(8, "big") + part)
    digest.update(_canonical_body(request))
    return digest.hexdigest()


def provider_key(user_id: object, key: str, digest: str) -> str:
    """The key forwarded to the provider for one user's key and request.

    The provider keeps one pool of keys for the whole account, while a
    client's key belongs to its user: two users sending ``order-1`` must not
    meet at the provider. The SHA-256 of the user's id, the key and the
    request's fingerprint names exactly what the local store binds, so a
    retry of the same request reaches the provider under the same key and
    a corrected request after a refusal under a new one.
    """
    hashed = hashlib.sha256()
    for part in (PROVIDER_KEY_CONTEXT, str(user_id), key, digest):
        encoded = part.encode()
        hashed.update(len(encoded).to_bytes(8, "big") + encoded)
    return PROVIDER_KEY_PREFIX + hashed.hexdigest()


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _replay(stored: IdempotencyKey) -> HttpResponse:
    response = HttpResponse(
        bytes(stored.response_body or b""),
        status=stored.response_status or 200,
        content_type=stored.response_content_type or None,
    )
    if stored.response_location:
        response["Location"] = stored.response_location
    response[REPLAYED_HEADER] = "true"
    return response


@dataclass(frozen=True, slots=True)
class Claim:
    """A key taken for one request, and the row it replaced, if any."""

    stored: IdempotencyKey
    previous: dict[str, Any] | None = None


RESETTABLE = (
    "fingerprint",
    "state",
    "response_status",
    "response_content_type",
    "response_body",
    "response_location",
    "created_at",
    "expires_at",
)


def claim(
    request: HttpRequest, user_id: int, key: str, digest: str
) -> Claim | HttpResponse:
    """Take the key for this request, or return the answer a repeat gets."""
    now = timezone.now()
    expires = now + timedelta(seconds=app_settings.IDEMPOTENCY_KEY_TTL)
    with transaction.atomic():
        try:
            with transaction.atomic():
                return Claim(
                    IdempotencyKey.objects.create(
                        user_id=user_id,
                        key=key,
                        fingerprint=digest,
                        state=IdempotencyKey.State.IN_PROGRESS,
                        created_at=now,
                        expires_at=expires,
                    )
                )
        except IntegrityError:
            stored = IdempotencyKey.objects.select_for_update().get(
                user_id=user_id, key=key
            )

        abandoned = (
            stored.state == IdempotencyKey.State.IN_PROGRESS
            and stored.fingerprint == digest
            and stored.created_at
            <= now - timedelta(seconds=app_settings.IDEMPOTENCY_LOCK_TIMEOUT)
        )
        if stored.expires_at <= now or abandoned:
            previous = {name: getattr(stored, name) for name in RESETTABLE}
            stored.fingerprint = digest
            stored.state = IdempotencyKey.State.IN_PROGRESS
            stored.response_status = None
            stored.response_content_type = ""
            stored.response_body = None
            stored.response_location = ""
            stored.created_at = now
            stored.expires_at = expires
            stored.save()
            return Claim(stored, previous)

    if stored.fingerprint != digest:
        event, status, message = MISMATCH
    elif stored.state == IdempotencyKey.State.IN_PROGRESS:
        event, status, message = IN_USE
    else:
        audit.emit(
            "idempotency_replayed",
            outcome="success",
            request=request,
            target=request.path,
            idempotency_key=key,
        )
        return _replay(stored)
    audit.emit(
        event,
        outcome="denied",
        request=request,
        target=request.path,
        idempotency_key=key,
    )
    return error(status, event, message)


def release(claimed: Claim) -> None:
    """Undo a claim whose request failed or was refused, so a retry may run.

    A new key is forgotten; a key that replaced an expired or abandoned row
    gets that row back as it was.
    """
    running = IdempotencyKey.objects.filter(
        pk=claimed.stored.pk,
        state=IdempotencyKey.State.IN_PROGRESS,
        created_at=claimed.stored.created_at,
    )
    if claimed.previous is None:
        running.delete()
    else:
        running.update(**claimed.previous)


def complete(claimed: Claim, response: HttpResponse) -> None:
    """Store the response that every retry with this key will get."""
    IdempotencyKey.objects.filter(pk=claimed.stored.pk).update(
        state=IdempotencyKey.State.COMPLETED,
        response_status=response.status_code,
        response_content_type=response.get("Content-Type", ""),
        response_body=response.content,
        response_location=response.get("Location", "")[:2000],
    )
