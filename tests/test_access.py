"""Parsing and matching of client networks, origins and host names (pure)."""

from __future__ import annotations

import ipaddress

import pytest

from tickgate import access
from tickgate.errors import ConfigError


@pytest.mark.parametrize(
    ("entry", "inside", "outside"),
    [
        ("192.168.1.0/24", "192.168.1.77", "192.168.2.1"),
        ("10.*", "10.200.3.4", "11.0.0.1"),
        ("172.17.0.*", "172.17.0.9", "172.17.1.9"),
        ("192.0.2.7", "192.0.2.7", "192.0.2.8"),
        ("fd00::/8", "fd12::1", "fe80::1"),
        ("*", "203.0.113.5", None),
    ],
)
def test_allow_list_entries_match_what_they_name(
    entry: str, inside: str, outside: str | None
) -> None:
    networks = access.parse_networks([entry])
    assert access.address_allowed(ipaddress.ip_address(inside), networks)
    if outside is not None:
        assert not access.address_allowed(ipaddress.ip_address(outside), networks)


def test_loopback_is_always_served_and_mapped_addresses_are_undone() -> None:
    networks = access.parse_networks(["10.0.0.0/8"])
    mapped = access.parse_address("::ffff:127.0.0.1")
    assert mapped == ipaddress.ip_address("127.0.0.1")
    assert access.address_allowed(mapped, networks)
    assert access.address_allowed(ipaddress.ip_address("::1"), networks)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "10.*.*", "example.com", "", "1.2.3.4.*"])
def test_bad_allow_list_entries_are_refused(entry: str) -> None:
    with pytest.raises(ConfigError, match="allow_ip"):
        access.parse_network(entry)


@pytest.mark.parametrize(
    ("text", "origin"),
    [
        ("https://Dash.Example:8443/", "https://dash.example:8443"),
        ("https://dash.example:443", "https://dash.example"),
        ("http://127.0.0.1:80", "http://127.0.0.1"),
        ("http://[::1]:5000", "http://[::1]:5000"),
    ],
)
def test_origins_are_normalized_as_browsers_send_them(text: str, origin: str) -> None:
    assert access.normalize_origin(text) == origin


@pytest.mark.parametrize("text", ["*", "null", "https://dash.example/app", "ftp://x", "dash"])
def test_what_is_not_an_origin_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="allow_origin"):
        access.normalize_origin(text)


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("127.0.0.1:5000", "127.0.0.1"),
        ("[::1]:5000", "::1"),
        ("[::1]", "::1"),
        ("LocalHost.:5000", "localhost"),
        ("gw.example", "gw.example"),
        ("evil.example:5000", "evil.example"),
    ],
)
def test_host_of_a_host_header(header: str, host: str) -> None:
    assert access.host_of(header) == host


def test_host_names_are_checked() -> None:
    assert access.normalize_host_name("GW.Example.") == "gw.example"
    assert access.normalize_host_name("[::1]") == "::1"
    assert access.normalize_host_name("*") == "*"
    with pytest.raises(ConfigError, match="allow_host"):
        access.normalize_host_name("gw.example:5000")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.2", False),
        ("myhost", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert access.is_loopback(host) is loopback
