"""Synthetic checks: a real client signs in and charges against a live site.

Each check talks HTTP to a running site by base URL, as a browser would,
with its own cookie jar, and returns a :class:`Result` with its latency and,
on failure, what went wrong. Nothing here imports the site's code paths; the
site is observed from outside.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin, urlsplit
from urllib.request import HTTPCookieProcessor, Request, build_opener

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
MAX_BODY = 2_000_000


class CheckFailed(Exception):
    """A step of a synthetic check got an answer it should not have."""


@dataclass
class Result:
    check: str
    ok: bool
    latency_ms: float
    base_url: str
    steps: list[str] = field(default_factory=list)
    status: int | None = None
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"event": "synthetic_check", **asdict(self)}


@dataclass
class Answer:
    status: int
    url: str
    body: bytes


class Session:
    """A cookie-keeping HTTP client bounded by one overall deadline."""

    def __init__(self, base_url: str, timeout: float) -> None:
        if urlsplit(base_url).scheme not in {"http", "https"}:
            raise ValueError("the base URL must start with http:// or https://")
        self.base_url = base_url.rstrip("/") + "/"
        self.deadline = time.monotonic() + timeout
        self.cookies = http.cookiejar.CookieJar()
        self.opener = build_opener(HTTPCookieProcessor(self.cookies))
        self.steps: list[str] = []

    def _remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise CheckFailed("the check ran out of time")
        return left

    def url(self, path: str) -> str:
        """The absolute URL of ``path``, taken under the base URL's own path."""
        return urljoin(self.base_url, path.lstrip("/"))

    def cookie(self, name: str) -> str:
        for cookie in self.cookies:
            if cookie.name == name and cookie.value:
                return cookie.value
        raise CheckFailed(f"the site set no {name} cookie")

    def request(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        url = self.url(path)
        request = Request(  # noqa: S310 - the base URL's scheme is checked
            url, data=data, method=method, headers=headers or {}
        )
        self.steps.append(f"{method} {urlsplit(url).path}")
        try:
            with self.opener.open(request, timeout=self._remaining()) as response:
                return Answer(response.status, response.url, response.read(MAX_BODY))
        except HTTPError as exc:
            return Answer(exc.code, exc.url, exc.read(MAX_BODY))
        except (URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CheckFailed(f"{method} {urlsplit(url).path}: {reason}") from None


def _expect(answer: Answer, *statuses: int) -> Answer:
    if answer.status not in statuses:
        path = urlsplit(answer.url).path
        raise CheckFailed(f"{path} answered {answer.status}")
    return answer


def _form_post(session: Session, path: str, fields: dict[str, str]) -> Answer:
    page = _expect(session.request("GET", path), 200)
    token = CSRF_INPUT.search(page.body.decode("utf-8", "replace"))
    if token is None:
        raise CheckFailed(f"{path} has no CSRF token in its form")
    data = urlencode({"csrfmiddlewaretoken": token.group(1), **fields}).encode()
    return session.request(
        "POST",
        path,
        data=data,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": session.url(path),
        },
    )


def sign_in(
    session: Session, *, email: str, password: str, login_path: str, account_path: str
) -> int:
    """Sign in through the login form, then open a page only members see."""
    landed = _expect(
        _form_post(session, login_path, {"login": email, "password": password}), 200
    )
    if urlsplit(landed.url).path == urlsplit(session.url(login_path)).path:
        raise CheckFailed("the login form was shown again: credentials refused")
    account = _expect(session.request("GET", account_path), 200)
    if urlsplit(account.url).path != urlsplit(session.url(account_path)).path:
        raise CheckFailed(f"{account_path} sent the signed-in client elsewhere")
    return account.status


def charge(
    session: Session, *, tenant: str, amount: int, currency: str, payment_method: str
) -> int:
    """Charge in test mode, then replay the request with the same key.

    The replay must name the same payment: the idempotency contract holds.
    """
    path = f"payments/{tenant}/charges/"
    body = json.dumps(
        {"amount": amount, "currency": currency, "payment_method": payment_method}
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": f"synthetic-{uuid.uuid4().hex}",
        "X-CSRFToken": session.cookie("csrftoken"),
        "Referer": session.base_url,
    }
    first = _expect(session.request("POST", path, data=body, headers=headers), 201)
    replay = _expect(session.request("POST", path, data=body, headers=headers), 201)
    created, replayed = json.loads(first.body), json.loads(replay.body)
    if created.get("id") is None or created.get("id") != replayed.get("id"):
        raise CheckFailed("replaying the charge with its key made another payment")
    if created.get("amount") != amount or created.get("currency") != currency:
        raise CheckFailed("the payment does not carry the amount that was charged")
    return first.status


def run(name: str, session: Session, step: Callable[[], int]) -> Result:
    """Time ``step``; any failure becomes a failed result, never a raise."""
    start = time.perf_counter()
    status: int | None = None
    error = ""
    try:
        status = step()
    except CheckFailed as exc:
        error = str(exc)
    except (ValueError, KeyError, AttributeError) as exc:
        error = f"unexpected answer: {type(exc).__name__}"
    latency = round((time.perf_counter() - start) * 1000, 1)
    return Result(
        check=name,
        ok=not error,
        latency_ms=latency,
        base_url=session.base_url,
        steps=list(session.steps),
        status=status,
        error=error,
    )
