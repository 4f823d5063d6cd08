"""Parse an outbound URL and match it against the host allowlist.

Allowlist entries are host names (``api.example.com``), wildcard suffixes
(``*.example.com``, which matches sub-domains but not the bare domain), IP
literals, and any of those with an explicit port (``api.example.com:8443``).
An entry without a port allows only the scheme's default port.
"""

import functools
import logging
import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

from hardened_privacy.exceptions import EgressHostNotAllowed
from hardened_privacy.internal.egress_addresses import parse_address

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}

_FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x20\x7f\\]")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Target:
    """One checked origin and the request target to send to it."""

    scheme: str
    host: str
    port: int
    path: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def is_ip_literal(self) -> bool:
        return parse_address(self.host) is not None

    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = DEFAULT_PORTS.get(self.scheme)
        netloc = host if self.port == default else f"{host}:{self.port}"
        return f"{self.scheme}://{netloc}{self.path}"


@functools.lru_cache(maxsize=1024)
def normalise_host(host: str) -> str:
    """Lower-case ASCII form of ``host``; IDNA-encoded, no trailing dot.

    Results are remembered; a name that is refused is checked again each
    time it comes up.
    """
    host = host.strip().rstrip(".").lower()
    address = parse_address(host)
    if address is not None and "%" not in host:
        return str(address)
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise EgressHostNotAllowed("The host name is not a valid name.") from exc
    labels = ascii_host.split(".")
    if not all(_HOST_LABEL.match(label) for label in labels):
        raise EgressHostNotAllowed("The host name is not a valid name.")
    return ascii_host


def parse_target(url: str, schemes: Iterable[str]) -> Target:
    """Split ``url`` into a :class:`Target`; refuse anything ambiguous."""
    if not isinstance(url, str) or _FORBIDDEN_CHARACTERS.search(url):
        raise EgressHostNotAllowed("The URL contains forbidden characters.")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {s.lower() for s in schemes} or scheme not in DEFAULT_PORTS:
        raise EgressHostNotAllowed(f"The scheme {scheme!r} is not allowed.")
    if "@" in parts.netloc:
        raise EgressHostNotAllowed("URLs with credentials are not allowed.")
    if not parts.hostname:
        raise EgressHostNotAllowed("The URL has no host.")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise EgressHostNotAllowed("The URL has an invalid port.") from exc
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return Target(scheme, normalise_host(parts.hostname), port, path)


def parse_entry(entry: str) -> tuple[str, int | None]:
    """Split an allowlist entry into its host and optional port."""
    entry = entry.strip().lower()
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif entry.count(":") == 1:
        host, port = entry.split(":")
    else:
        host, port = entry, None
    return host, int(port) if port else None


def host_allowed(target: Target, allowed: Iterable[str]) -> bool:
    """Whether an allowlist entry covers the target's host and port."""
    for raw in allowed:
        try:
            if _entry_matches(raw, target):
                return True
        except (ValueError, EgressHostNotAllowed):
            logger.error("Ignoring a malformed egress allowlist entry.")
    return False


def _entry_matches(raw: str, target: Target) -> bool:
    host, port = parse_entry(raw)
    wanted_port = port if port is not None else DEFAULT_PORTS[target.scheme]
    if wanted_port != target.port:
        return False
    if host.startswith("*."):
        suffix = normalise_host(host[2:])
        return target.host.endswith("." + suffix) and not target.is_ip_literal
    return normalise_host(host) == target.host


def entry_valid(raw: object) -> bool:
    """Whether ``raw`` is a well-formed allowlist entry."""
    if not isinstance(raw, str) or not raw.strip():
        return False
    try:
        host, port = parse_entry(raw)
        normalise_host(host[2:] if host.startswith("*.") else host)
    except (ValueError, EgressHostNotAllowed):
        return False
    return port is None or 0 < port < 65536
