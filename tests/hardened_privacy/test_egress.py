import base64
import json
import logging
import ssl
import time
from typing import Any

import pytest
from django.test import override_settings

from hardened_privacy.egress import EgressClient, get_egress_client
from hardened_privacy.exceptions import (
    EgressAddressRefused,
    EgressConnectionError,
    EgressHostNotAllowed,
    EgressRedirectRefused,
    EgressRefused,
    EgressRequestInvalid,
    EgressResponseTooLarge,
    EgressTimeout,
)

from .egress_servers import (
    ConnectProxy,
    make_certificate,
    serve,
    server_tls_context,
)

LOOPBACK_ONLY = ["127.0.0.1/32"]


class Resolver:
    """Answers from a table, records every lookup, never asks real DNS."""

    def __init__(self, table):
        self.table = table
        self.calls = []

    def __call__(self, host, port):
        self.calls.append(host)
        answer = self.table[host]
        if callable(answer):
            return answer()
        return answer


@pytest.fixture
def server():
    with serve() as running:
        yield running


@pytest.fixture
def port(server):
    return server.server_address[1]


def client_for(port, table=None, **kwargs):
    options: dict[str, Any] = {
        "allowed_hosts": [f"api.test:{port}"],
        "allowed_schemes": ["http"],
        "resolver": Resolver(table or {"api.test": ["127.0.0.1"]}),
        "permitted_networks": LOOPBACK_ONLY,
        "timeout": 5,
    }
    options.update(kwargs)
    return EgressClient(**options)


def audit_records(caplog):
    return [
        r.hardened_audit
        for r in caplog.records
        if r.name == "hardened_privacy.audit" and hasattr(r, "hardened_audit")
    ]


def test_allowed_host_is_fetched_through_the_checked_address(server, port):
    client = client_for(port)

    response = client.get(f"http://api.test:{port}/ok")

    assert response.status == 200
    assert response.body == b"hello"
    assert response.text() == "hello"
    assert response.url == f"http://api.test:{port}/ok"
    assert server.requests[-1]["host"] == f"api.test:{port}"
    assert client.resolver.calls == ["api.test"]


def test_json_body_is_parsed(server, port):
    response = client_for(port).get(f"http://api.test:{port}/json")

    assert response.json() == {"summary": "ok"}
    with pytest.raises(json.JSONDecodeError):
        client_for(port).get(f"http://api.test:{port}/ok").json()


def test_post_sends_the_body(server, port):
    response = client_for(port).post(f"http://api.test:{port}/echo", body=b"a=1")

    assert response.body == b"posted:a=1"


def test_name_is_resolved_once_so_rebinding_cannot_swap_the_address(server, port):
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    client = client_for(port, {"api.test": lambda: next(answers)})

    response = client.get(f"http://api.test:{port}/host")

    assert response.body == f"api.test:{port}".encode()
    assert client.resolver.calls == ["api.test"]


@pytest.mark.parametrize(
    "url",
    [
        "http://other.test/ok",
        "http://api.test/ok",
        "https://api.test:{port}/ok",
        "ftp://api.test:{port}/ok",
        "file:///etc/passwd",
        "http://user:pass@api.test:{port}/ok",
        "http://api.test:{port}@other.test/ok",
        "http://api.test:{port}\\@other.test/ok",
        "http://api.test:{port}/ok\r\nX-Injected: 1",
        "http:///ok",
        "http://api.test:99999/ok",
        "http://sub.api.test:{port}/ok",
    ],
)
def test_urls_outside_the_allowlist_are_refused(server, port, url):
    client = client_for(port)

    with pytest.raises(EgressHostNotAllowed):
        client.get(url.format(port=port))

    assert client.resolver.calls == []
    assert server.requests == []


def test_wildcard_entry_matches_subdomains_only(server, port):
    client = client_for(
        port,
        {"a.api.test": ["127.0.0.1"], "api.test": ["127.0.0.1"]},
        allowed_hosts=[f"*.api.test:{port}"],
    )

    assert client.get(f"http://a.api.test:{port}/ok").status == 200
    with pytest.raises(EgressHostNotAllowed):
        client.get(f"http://api.test:{port}/ok")


def test_host_header_cannot_be_supplied(server, port):
    with pytest.raises(EgressHostNotAllowed):
        client_for(port).get(
            f"http://api.test:{port}/ok", headers={"Host": "internal.test"}
        )

    assert server.requests == []


@pytest.mark.parametrize(
    ("method", "headers", "body"),
    [
        ("GET\r\nX: 1", {}, None),
        ("G ET", {}, None),
        ("GET", {"X-Test": "a\r\nInjected: 1"}, None),
        ("GET", {"X-Test": "a\nb"}, None),
        ("GET", {"Bad Name": "x"}, None),
        ("GET", {"X-Test": "nul\x00"}, None),
        ("GET", {"X-Test": 5}, None),
        ("POST", {}, "text, not bytes"),
    ],
)
def test_malformed_requests_are_refused(server, port, method, headers, body):
    with pytest.raises(EgressRequestInvalid):
        client_for(port).request(
            method, f"http://api.test:{port}/ok", headers=headers, body=body
        )

    assert server.requests == []


def test_responses_are_asked_not_to_be_compressed(server, port):
    client_for(port).get(f"http://api.test:{port}/ok")

    assert server.requests[-1]["accept_encoding"] == "identity"


REFUSED_ADDRESSES = [
    "127.0.0.1",
    "127.1.2.3",
    "0.0.0.0",  # noqa: S104
    "10.0.0.1",
    "10.255.255.255",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "169.254.169.254",
    "169.254.1.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "2002:7f00:1::1",
    "2002:a00:1::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "64:ff9b::a00:1",
]


@pytest.mark.parametrize("address", REFUSED_ADDRESSES)
def test_names_resolving_to_internal_addresses_are_refused(server, port, address):
    client = client_for(port, {"api.test": [address]}, permitted_networks=[])

    with pytest.raises(EgressAddressRefused):
        client.get(f"http://api.test:{port}/ok")

    assert server.requests == []


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]"]
)
def test_allowlisted_internal_ip_literals_are_refused(server, port, host):
    client = client_for(port, allowed_hosts=[f"{host}:{port}"], permitted_networks=[])

    with pytest.raises(EgressAddressRefused):
        client.get(f"http://{host}:{port}/ok")

    assert client.resolver.calls == []
    assert server.requests == []


def test_one_internal_address_among_public_ones_refuses_the_request(server, port):
    client = client_for(
        port, {"api.test": ["93.184.216.34", "10.0.0.1"]}, permitted_networks=[]
    )

    with pytest.raises(EgressAddressRefused):
        client.get(f"http://api.test:{port}/ok")


def test_metadata_endpoint_is_refused_even_when_its_network_is_permitted(port):
    client = client_for(
        port,
        {"api.test": ["169.254.169.254"]},
        permitted_networks=["169.254.0.0/16"],
    )

    with pytest.raises(EgressAddressRefused, match="metadata"):
        client.get(f"http://api.test:{port}/ok")


def test_refusal_is_audit_logged_without_the_query(caplog, port):
    client = client_for(port, {"api.test": ["10.0.0.1"]}, permitted_networks=[])

    with (
        caplog.at_level(logging.WARNING, "hardened_privacy.audit"),
        pytest.raises(EgressAddressRefused),
    ):
        client.get(f"http://api.test:{port}/ok?token=s3cr3t", actor=7, tenant=3)

    [payload] = audit_records(caplog)
    assert payload["event"] == "egress_refused"
    assert payload["outcome"] == "denied"
    assert payload["target"] == "api.test"
    assert payload["actor"] == "7"
    assert payload["tenant"] == "3"
    assert payload["error"] == "EgressAddressRefused"
    assert "s3cr3t" not in repr(payload)
    assert "s3cr3t" not in caplog.text


def test_unresolvable_name_is_a_connection_error(port):
    def fail(host, port):
        raise OSError("no such name")

    client = client_for(port, resolver=fail)

    with pytest.raises(EgressConnectionError):
        client.get(f"http://api.test:{port}/ok")


def test_slow_resolution_hits_the_total_time_cap(port):
    def slow(host, port):
        time.sleep(2)
        return ["127.0.0.1"]

    client = client_for(port, resolver=slow, timeout=0.3)
    started = time.monotonic()

    with pytest.raises(EgressTimeout, match="Resolving"):
        client.get(f"http://api.test:{port}/ok")

    assert time.monotonic() - started < 1


def test_empty_resolution_is_a_connection_error(port):
    with pytest.raises(EgressConnectionError):
        client_for(port, {"api.test": []}).get(f"http://api.test:{port}/ok")


def test_closed_port_is_a_connection_error():
    with serve() as finished:
        closed = finished.server_address[1]
    client = client_for(closed)

    with pytest.raises(EgressConnectionError):
        client.get(f"http://api.test:{closed}/ok")


def test_same_host_redirect_is_followed(server, port):
    response = client_for(port).get(f"http://api.test:{port}/same-host")

    assert response.status == 200
    assert response.body == b"hello"
    assert response.redirects == [f"http://api.test:{port}/ok"]


def test_post_see_other_becomes_get(server, port):
    response = client_for(port).post(f"http://api.test:{port}/see-other", body=b"x")

    assert response.status == 200
    assert [r["method"] for r in server.requests] == ["POST", "GET"]


def test_same_host_redirect_is_checked_again(server, port):
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    client = client_for(port, {"api.test": lambda: next(answers)})

    with pytest.raises(EgressAddressRefused):
        client.get(f"http://api.test:{port}/same-host")

    assert client.resolver.calls == ["api.test", "api.test"]
    assert [r["path"] for r in server.requests] == ["/same-host"]


@pytest.mark.parametrize(
    "location",
    [
        "http://other.test/ok",
        "http://127.0.0.1:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/ok",
        "http://api.test:1/ok",
        "https://api.test:{port}/ok",
        "//evil.test/ok",
    ],
)
def test_redirects_to_other_origins_are_refused(caplog, server, port, location):
    client = client_for(port)

    with (
        caplog.at_level(logging.WARNING, "hardened_privacy.audit"),
        pytest.raises(EgressRefused),
    ):
        client.get(
            f"http://api.test:{port}/redirect/",
            headers={"X-Location": location.format(port=port)},
        )

    assert [r["path"] for r in server.requests] == ["/redirect/"]
    assert audit_records(caplog)[0]["event"] == "egress_refused"


def test_redirect_loop_stops_at_the_cap(server, port):
    client = client_for(port, max_redirects=2)

    with pytest.raises(EgressRedirectRefused, match="Too many"):
        client.get(f"http://api.test:{port}/loop")

    assert len(server.requests) == 3


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_oversized_responses_are_refused(caplog, server, port, path):
    client = client_for(port, max_response_bytes=1000)

    with (
        caplog.at_level(logging.WARNING, "hardened_privacy.audit"),
        pytest.raises(EgressResponseTooLarge),
    ):
        client.get(f"http://api.test:{port}{path}")

    [payload] = audit_records(caplog)
    assert payload["event"] == "egress_limit_exceeded"
    assert payload["outcome"] == "failure"


def test_bytes_beyond_the_declared_length_are_not_read(server, port):
    response = client_for(port, max_response_bytes=1000).get(
        f"http://api.test:{port}/lying-length"
    )

    assert response.body == b"z" * 10


def test_response_at_the_cap_is_returned(server, port):
    response = client_for(port, max_response_bytes=5000).get(
        f"http://api.test:{port}/big"
    )

    assert len(response.body) == 5000


@pytest.mark.parametrize("path", ["/slow-body", "/slow-headers"])
def test_slow_responses_hit_the_total_time_cap(caplog, server, port, path):
    client = client_for(port, timeout=0.6)
    started = time.monotonic()

    with (
        caplog.at_level(logging.WARNING, "hardened_privacy.audit"),
        pytest.raises(EgressTimeout),
    ):
        client.get(f"http://api.test:{port}{path}")

    assert time.monotonic() - started < 1.5
    assert audit_records(caplog)[0]["event"] == "egress_limit_exceeded"


def test_proxy_is_asked_to_connect_to_the_checked_address(server, port):
    proxy = ConnectProxy()
    proxy.start()
    try:
        client = client_for(port, proxy=f"http://127.0.0.1:{proxy.port}")
        response = client.get(f"http://api.test:{port}/host")
    finally:
        proxy.stop()

    assert response.body == f"api.test:{port}".encode()
    assert proxy.authorities == [f"127.0.0.1:{port}"]
    assert proxy.authorizations == [None]


def test_proxy_credentials_are_sent_as_basic_authorization(caplog, server, port):
    proxy = ConnectProxy()
    proxy.start()
    try:
        client = client_for(
            port, proxy=f"http://egress%40corp:p%3Ass%20w0rd@127.0.0.1:{proxy.port}"
        )
        response = client.get(f"http://api.test:{port}/ok")
    finally:
        proxy.stop()

    assert response.body == b"hello"
    expected = base64.b64encode(b"egress@corp:p:ss w0rd").decode()
    assert proxy.authorizations == [f"Basic {expected}"]
    assert "w0rd" not in caplog.text
    assert "w0rd" not in repr(client.proxy)


def test_proxy_refusing_the_tunnel_is_a_connection_error(port):
    proxy = ConnectProxy()
    proxy.start()
    try:
        client = client_for(
            port,
            {"api.test": ["93.184.216.34"]},
            proxy=f"http://127.0.0.1:{proxy.port}",
            permitted_networks=[],
        )
        with pytest.raises(EgressConnectionError):
            client.get(f"http://api.test:{port}/ok")
    finally:
        proxy.stop()

    assert proxy.authorities == [f"93.184.216.34:{port}"]


@pytest.mark.parametrize(
    "proxy",
    ["https://p.test:3128", "http://u@p.test:1", "p", "http://p.test:1/\r\nX: 1"],
)
def test_malformed_proxy_is_refused(port, proxy):
    with pytest.raises(EgressConnectionError):
        client_for(port, proxy=proxy).get(f"http://api.test:{port}/ok")


@pytest.fixture
def tls(tmp_path):
    cert, key = make_certificate(tmp_path, "api.test")
    other_cert, other_key = make_certificate(tmp_path, "other.test")
    trust = ssl.create_default_context(cafile=str(cert))
    trust.load_verify_locations(cafile=str(other_cert))
    return {
        "right": server_tls_context(cert, key),
        "wrong": server_tls_context(other_cert, other_key),
        "client": trust,
    }


def test_https_uses_the_name_for_sni_and_verification(tls):
    with serve(tls["right"]) as secure:
        port = secure.server_address[1]
        client = client_for(port, allowed_schemes=["https"], ssl_context=tls["client"])
        response = client.get(f"https://api.test:{port}/host")

    assert response.body == f"api.test:{port}".encode()


def test_https_certificate_for_another_name_is_refused(tls):
    with serve(tls["wrong"]) as secure:
        port = secure.server_address[1]
        client = client_for(port, allowed_schemes=["https"], ssl_context=tls["client"])
        with pytest.raises(EgressConnectionError):
            client.get(f"https://api.test:{port}/ok")


def test_unverifying_tls_context_is_rejected():
    context = ssl.create_default_context()
    context.check_hostname = False

    with pytest.raises(EgressConnectionError):
        EgressClient(ssl_context=context)


def test_settings_configure_the_default_client(server, port):
    client = get_egress_client(
        resolver=Resolver({"api.test": ["127.0.0.1"]}),
        permitted_networks=LOOPBACK_ONLY,
    )

    with pytest.raises(EgressHostNotAllowed):
        client.get(f"http://api.test:{port}/ok")
    with override_settings(
        HARDENED_PRIVACY_EGRESS_ALLOWED_HOSTS=[f"api.test:{port}"],
        HARDENED_PRIVACY_EGRESS_ALLOWED_SCHEMES=["http"],
        HARDENED_PRIVACY_EGRESS_MAX_RESPONSE_BYTES=10,
    ):
        assert client.get(f"http://api.test:{port}/ok").body == b"hello"
        with pytest.raises(EgressResponseTooLarge):
            client.get(f"http://api.test:{port}/big")


def test_default_schemes_refuse_plain_http(port):
    client = get_egress_client(allowed_hosts=[f"api.test:{port}"])

    with pytest.raises(EgressHostNotAllowed, match="scheme"):
        client.get(f"http://api.test:{port}/ok")


@pytest.mark.django_db
def test_refusal_is_stored_in_the_audit_chain(port):
    from hardened_privacy.models import AuditRecord

    client = client_for(port, {"api.test": ["169.254.169.254"]})

    with pytest.raises(EgressAddressRefused):
        client.get(f"http://api.test:{port}/latest?token=s3cr3t", actor=7)

    row = AuditRecord.objects.get(event="egress_refused")
    assert (row.outcome, row.actor, row.target) == ("denied", "7", "api.test")
    assert row.data["error"] == "EgressAddressRefused"
    assert "s3cr3t" not in repr(row.data)


def test_system_resolver_answer_for_localhost_is_refused(server, port):
    client = EgressClient(
        allowed_hosts=[f"localhost:{port}"], allowed_schemes=["http"], timeout=5
    )

    with pytest.raises(EgressAddressRefused, match="loopback"):
        client.get(f"http://localhost:{port}/ok")

    assert server.requests == []


def test_system_resolver_addresses_are_tried_in_turn(server, port):
    client = EgressClient(
        allowed_hosts=[f"localhost:{port}"],
        allowed_schemes=["http"],
        permitted_networks=["127.0.0.0/8", "::1/128"],
        timeout=5,
    )

    assert client.get(f"http://localhost:{port}/ok").body == b"hello"
