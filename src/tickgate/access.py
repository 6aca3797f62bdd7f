"""Who may use the gateway: client networks, page origins and host names, parsed and matched.

Pure functions over strings and `ipaddress` values, shared by the configuration (which refuses a
bad entry at start-up) and the server's access middleware (which applies them per request).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from tickgate.errors import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Bind addresses that mean "every interface".
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ORIGIN = re.compile(r"(https?)://(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?")
_OCTETS = re.compile(r"\d{1,3}(\.\d{1,3}){0,2}")


def parse_address(text: str) -> Address | None:
    """An IP address (brackets, an IPv6 zone and IPv4-mapped IPv6 undone), or None."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_loopback(host: str) -> bool:
    """True for `localhost` and loopback addresses (127.0.0.0/8, ::1): this machine only."""
    if host.strip().lower().rstrip(".") == "localhost":
        return True
    address = parse_address(host)
    return address is not None and address.is_loopback


def parse_network(entry: str) -> tuple[Network, ...]:
    """Client networks from one allow-list entry.

    Takes CIDR (`192.168.1.0/24`, `fd00::/8`), a single address, or the real gateway's
    `ips.allow` wildcard form (`10.*`, `172.17.0.*`, `*` for everyone). Raises ConfigError.
    """
    text = entry.strip()
    if text == "*":
        return (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
    if text.endswith(".*") and _OCTETS.fullmatch(text[:-2]):
        octets = text[:-2].split(".")
        padded = ".".join(octets + ["0"] * (4 - len(octets)))
        text = f"{padded}/{8 * len(octets)}"
    try:
        return (ipaddress.ip_network(text, strict=False),)
    except ValueError:
        raise ConfigError(
            f"allow_ip: {entry!r} is not an address, a CIDR network (10.0.0.0/8) "
            "or a wildcard (10.*)"
        ) from None


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Every network of `entries` (see `parse_network`). Raises ConfigError."""
    return tuple(network for entry in entries for network in parse_network(entry))


def address_allowed(address: Address, networks: Iterable[Network]) -> bool:
    """True when `address` is loopback (always served) or inside one of `networks`."""
    return address.is_loopback or any(address in network for network in networks)


def normalize_origin(text: str) -> str:
    """An origin as browsers send it: `scheme://host[:port]`, lower case, no default port.

    Raises ConfigError for anything else (a path, `*`, `null`, another scheme).
    """
    match = _ORIGIN.fullmatch(text.strip().lower().rstrip("/"))
    if match is None:
        raise ConfigError(
            f"allow_origin: {text!r} is not an origin like https://dashboard.example:8443 "
            "(scheme, host and optional port; no path, no wildcard)"
        )
    scheme, host, port = match.groups()
    if port is None or int(port) == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{int(port)}"


def normalize_host_name(text: str) -> str:
    """A host name or address for comparison: lower case, no brackets, no trailing dot.

    Raises ConfigError when it is empty or holds a port, a path or spaces.
    """
    name = text.strip().lower().rstrip(".")
    bare = name.strip("[]")
    if name == "*" or parse_address(bare) is not None:
        return bare
    if not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", name):
        raise ConfigError(f"allow_host: {text!r} is not a host name or address (no port)")
    return name


def host_of(header: str) -> str:
    """The host part of a `Host` header value (`[::1]:5000` -> `::1`), normalized for
    comparison; what cannot be a host comes back as given, lower case, and matches nothing."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    name, _, port = value.rpartition(":")
    if name and port.isdigit():
        value = name
    return value.rstrip(".")
