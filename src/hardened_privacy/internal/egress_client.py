"""The guarded outbound HTTP client behind :mod:`hardened_privacy.egress`."""

import http.client
import ipaddress
import json
import logging
import re
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Literal

from hardened_privacy.conf import app_settings
from hardened_privacy.exceptions import (
    EgressAddressRefused,
    EgressConnectionError,
    EgressError,
    EgressHostNotAllowed,
    EgressLimitExceeded,
    EgressRedirectRefused,
    EgressRefused,
    EgressRequestInvalid,
    EgressResponseTooLarge,
    EgressTimeout,
)
from hardened_privacy.internal import egress_lookups
from hardened_privacy.internal.egress_addresses import (
    Network,
    parse_address,
    refusal_reason,
)
from hardened_privacy.internal.egress_policy import (
    Target,
    host_allowed,
    parse_target,
)
from hardened_privacy.internal.egress_transport import (
    PinnedConnection,
    Proxy,
    parse_proxy,
    remaining,
)

logger = logging.getLogger(__name__)
audit_logger = logging.getLogger("hardened_privacy.audit")

Resolver = Callable[[str, int], Iterable[str]]
Outcome = Literal["success", "failure", "denied"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 65536
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e\x80-\xff]*$")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver returns for ``host``, in order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass
class EgressResponse:
    """A complete response: status, headers, body and the final URL."""

    status: int
    reason: str
    headers: Message
    body: bytes
    url: str
    redirects: list[str] = field(default_factory=list)

    def text(self, encoding: str | None = None) -> str:
        charset = encoding or self.headers.get_content_charset() or "utf-8"
        return self.body.decode(charset, errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; ``ValueError`` when it is not JSON."""
        return json.loads(self.body)


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    actor: str | None
    tenant: str | None


class EgressClient:
    """Sends HTTP requests only where the egress policy allows.

    Arguments left as ``None`` are read from the ``HARDENED_PRIVACY_EGRESS_*``
    settings on every request. ``resolver`` replaces the system resolver and
    ``permitted_networks`` lets chosen internal networks through (never the
    cloud metadata endpoints); both exist for tests and for sites that call a
    known internal service, and neither can be set from settings.
    """

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] | None = None,
        allowed_schemes: Iterable[str] | None = None,
        proxy: str | None = None,
        timeout: float | None = None,
        max_response_bytes: int | None = None,
        max_redirects: int | None = None,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        permitted_networks: Iterable[str] = (),
    ) -> None:
        self._allowed_hosts = None if allowed_hosts is None else list(allowed_hosts)
        self._allowed_schemes = (
            None if allowed_schemes is None else list(allowed_schemes)
        )
        self._proxy = proxy
        self._timeout = timeout
        self._max_response_bytes = max_response_bytes
        self._max_redirects = max_redirects
        self.resolver = resolver or system_resolver
        self.ssl_context = ssl_context
        self.permitted_networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(n) for n in permitted_networks
        )
        if ssl_context is not None and (
            not ssl_context.check_hostname
            or ssl_context.verify_mode != ssl.CERT_REQUIRED
        ):
            raise EgressConnectionError(
                "The TLS context must verify certificates and host names."
            )

    @property
    def allowed_hosts(self) -> list[str]:
        if self._allowed_hosts is not None:
            return self._allowed_hosts
        return app_settings.EGRESS_ALLOWED_HOSTS

    @property
    def allowed_schemes(self) -> list[str]:
        if self._allowed_schemes is not None:
            return self._allowed_schemes
        return app_settings.EGRESS_ALLOWED_SCHEMES

    @property
    def proxy(self) -> Proxy | None:
        url = self._proxy if self._proxy is not None else app_settings.EGRESS_PROXY
        return parse_proxy(url) if url else None

    @property
    def timeout(self) -> float:
        if self._timeout is not None:
            return self._timeout
        return app_settings.EGRESS_TIMEOUT

    @property
    def max_response_bytes(self) -> int:
        if self._max_response_bytes is not None:
            return self._max_response_bytes
        return app_settings.EGRESS_MAX_RESPONSE_BYTES

    @property
    def max_redirects(self) -> int:
        if self._max_redirects is not None:
            return self._max_redirects
        return app_settings.EGRESS_MAX_REDIRECTS

    def get(self, url: str, **kwargs: Any) -> EgressResponse:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> EgressResponse:
        return self.request("POST", url, **kwargs)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        actor: object | None = None,
        tenant: object | None = None,
    ) -> EgressResponse:
        """Send one request and return the complete, capped response.

        Raises a subclass of :class:`~hardened_privacy.exceptions.EgressError`
        when the policy refuses the request, a cap is exceeded or the
        connection fails; every refusal and cap is audit-logged.
        """
        request = _Request(
            method=method.upper(),
            url=url,
            headers=dict(headers or {}),
            body=body,
            actor=None if actor is None else str(actor),
            tenant=None if tenant is None else str(tenant),
        )
        host = _host_for_log(url)
        try:
            return self._request(request)
        except EgressRefused as exc:
            _audit("egress_refused", "denied", request, host, exc)
            raise
        except EgressLimitExceeded as exc:
            _audit("egress_limit_exceeded", "failure", request, host, exc)
            raise
        except EgressError as exc:
            logger.warning(
                "Outbound request to %s failed: %s", host, type(exc).__name__
            )
            raise

    def _validate(self, request: _Request) -> None:
        if not _TOKEN.match(request.method):
            raise EgressRequestInvalid("The request method is malformed.")
        for name, value in request.headers.items():
            if not isinstance(name, str) or not _TOKEN.match(name):
                raise EgressRequestInvalid("A request header name is malformed.")
            if not isinstance(value, str) or not _HEADER_VALUE.match(value):
                raise EgressRequestInvalid(f"The {name} header value is malformed.")
            if name.lower() == "host":
                raise EgressHostNotAllowed(
                    "The Host header is set by the egress guard."
                )
        if request.body is not None and not isinstance(request.body, bytes):
            raise EgressRequestInvalid("The request body must be bytes.")
        if not any(name.lower() == "accept-encoding" for name in request.headers):
            request.headers["Accept-Encoding"] = "identity"

    def _request(self, request: _Request) -> EgressResponse:
        self._validate(request)
        deadline = time.monotonic() + self.timeout
        origin: tuple[str, str, int] | None = None
        redirects: list[str] = []
        url = request.url
        while True:
            target = self._check_target(url)
            if origin is not None and target.origin != origin:
                raise EgressRedirectRefused(
                    f"A redirect to another origin ({target.host}) was not followed."
                )
            origin = target.origin
            addresses = self._resolve(target, deadline)
            response = self._send(target, addresses, request, deadline)
            location = response.headers.get("Location")
            if response.status not in REDIRECT_STATUSES or not location:
                response.redirects = redirects
                logger.info(
                    "Outbound %s to %s returned %s",
                    request.method,
                    target.host,
                    response.status,
                )
                return response
            if len(redirects) >= self.max_redirects:
                raise EgressRedirectRefused("Too many redirects.")
            url = urllib.parse.urljoin(target.url(), location)
            redirects.append(url)
            if response.status == 303 or (
                response.status in (301, 302) and request.method == "POST"
            ):
                request.method = "GET"
                request.body = None

    def _check_target(self, url: str) -> Target:
        target = parse_target(url, self.allowed_schemes)
        if not host_allowed(target, self.allowed_hosts):
            raise EgressHostNotAllowed(
                f"The host {target.host}:{target.port} is not on the egress allowlist."
            )
        return target

    def _resolve(self, target: Target, deadline: float) -> list[str]:
        literal = parse_address(target.host)
        if literal is not None:
            found = [str(literal)]
        else:
            found = self._lookup(target, deadline)
        if not found:
            raise EgressConnectionError(f"The host {target.host} has no address.")
        for text in found:
            address = parse_address(text)
            reason = (
                "unparseable address"
                if address is None
                else refusal_reason(address, self.permitted_networks)
            )
            if reason is not None:
                raise EgressAddressRefused(
                    f"The host {target.host} resolves to a refused address ({reason})."
                )
        return found

    def _lookup(self, target: Target, deadline: float) -> list[str]:
        """Run the resolver (it has no timeout of its own) within the deadline."""

        def work() -> list[str]:
            return [str(a) for a in self.resolver(target.host, target.port)]

        lookup = egress_lookups.pool().submit(work)
        seconds = remaining(deadline)
        try:
            finished, found = lookup.wait(seconds)
        except Exception as exc:
            raise EgressConnectionError(
                f"The host {target.host} could not be resolved."
            ) from exc
        if not finished:
            raise EgressTimeout(f"Resolving {target.host} took longer than allowed.")
        return found  # type: ignore[no-any-return]

    def _connect(
        self, target: Target, addresses: list[str], deadline: float
    ) -> PinnedConnection:
        proxy = self.proxy
        for address in addresses:
            connection = PinnedConnection(
                target, address, deadline, proxy=proxy, ssl_context=self.ssl_context
            )
            try:
                connection.connect()
            except TimeoutError as exc:
                connection.close()
                raise EgressTimeout(
                    "The outbound request took longer than allowed."
                ) from exc
            except (OSError, EgressConnectionError) as exc:
                connection.close()
                logger.warning(
                    "Outbound connection to %s failed: %s",
                    target.host,
                    type(exc).__name__,
                )
                continue
            return connection
        raise EgressConnectionError(
            f"No address of {target.host} accepted a connection."
        )

    def _send(
        self,
        target: Target,
        addresses: list[str],
        request: _Request,
        deadline: float,
    ) -> EgressResponse:
        connection = self._connect(target, addresses, deadline)
        try:
            connection.request(
                request.method,
                target.path,
                body=request.body,
                headers=request.headers,
            )
            response = connection.getresponse()
            if response.status in REDIRECT_STATUSES:
                body = b""
            else:
                body = self._read_body(response)
            return EgressResponse(
                status=response.status,
                reason=response.reason,
                headers=response.msg,
                body=body,
                url=target.url(),
            )
        except TimeoutError as exc:
            raise EgressTimeout(
                "The outbound request took longer than allowed."
            ) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise EgressConnectionError(
                f"The response from {target.host} could not be read."
            ) from exc
        finally:
            connection.close()

    def _read_body(self, response: http.client.HTTPResponse) -> bytes:
        limit = self.max_response_bytes
        declared = response.getheader("Content-Length")
        if (
            declared is not None
            and declared.strip().isdigit()
            and int(declared) > limit
        ):
            raise EgressResponseTooLarge(
                f"The response declares {int(declared)} bytes; the cap is {limit}."
            )
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = response.read(min(CHUNK, limit + 1 - size))
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise EgressResponseTooLarge(
                    f"The response is larger than the cap of {limit} bytes."
                )
            chunks.append(chunk)


def _host_for_log(url: str) -> str | None:
    try:
        return urllib.parse.urlsplit(url).hostname
    except ValueError:
        return None


def _audit(
    event: str, outcome: Outcome, request: _Request, host: str | None, exc: Exception
) -> None:
    payload: dict[str, Any] = {
        "event": event,
        "actor": request.actor,
        "tenant": request.tenant,
        "target": host,
        "outcome": outcome,
        "ip": None,
        "method": request.method,
        "error": type(exc).__name__,
        "reason": str(exc),
    }
    audit_logger.warning(event, extra={"hardened_audit": payload})
