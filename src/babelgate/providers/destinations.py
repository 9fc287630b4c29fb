"""Where the gateway may connect when a client names the URL (the media fetcher's images, a request's
own MCP server): one safe-destination policy, so that no client can point the gateway's network at
the cloud metadata service, loopback or an internal host (SSRF).

* scheme: https only (http when the policy allows it); no credentials in the URL;
* host: an IP literal must be spelled canonically and be a public address (`check_url`); a name's
  resolved addresses must all be public (`check_address`, called by the connection's resolver, which
  then connects to exactly the addresses checked, so DNS rebinding cannot swap them);
* `allow_private_hosts` lists exact addresses reachable although not public; `allow_private` turns
  the address check off (tests only).

No aiohttp or httpx here: the media fetcher (aiohttp) and the tool loop's MCP client (httpx2) each
wire these checks into their own connections.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SHARED_ADDRESS_SPACE: Final = ipaddress.IPv4Network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the low 32 bits are an IPv4 address
_NAT64_LOCAL: Final = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: local-use, never public


class DestinationRules(Protocol):
    """What a policy says of destinations (MediaPolicy and the tool loop's server-URL policy both do)."""

    @property
    def allow_http(self) -> bool: ...

    @property
    def allow_private(self) -> bool: ...

    @property
    def allow_private_hosts(self) -> frozenset[str]: ...


class Refused(Exception):
    """A destination the policy refuses, for a reason the client caused; `detail` says why (no address)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def normalised_hosts(hosts: Iterable[str]) -> frozenset[str]:
    """Exact IP addresses, normalised ("0:0::1" is "::1"); a name or a network is a ValueError."""
    return frozenset(str(ipaddress.ip_address(host)) for host in hosts)


def _in(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> Callable[[IPAddress], bool]:
    return lambda address: address.version == network.version and address in network


# Checked in order; the first match names the refusal. `is_global` alone is not enough: on the
# Python versions we support it calls multicast, 6to4 and NAT64 addresses global.
_NOT_PUBLIC: Final[tuple[tuple[Callable[[IPAddress], bool], str], ...]] = (
    (lambda a: a.is_unspecified, "unspecified"),
    (lambda a: a.is_loopback, "loopback"),
    (lambda a: a.is_link_local, "link-local"),
    (lambda a: a.is_multicast, "multicast"),
    (_in(_SHARED_ADDRESS_SPACE), "shared (carrier-grade NAT)"),
    (_in(_NAT64_LOCAL), "local NAT64"),
    (lambda a: isinstance(a, ipaddress.IPv6Address) and a.is_site_local, "site-local"),
    (lambda a: a.is_private, "private"),
    (lambda a: a.is_reserved, "reserved"),
    (lambda a: not a.is_global, "non-public"),
)


def parse_url(url: str) -> URL:
    from yarl import URL  # aiohttp's URL type, loaded with the first URL a client names

    try:
        return URL(url)
    except (ValueError, TypeError):
        raise Refused("the URL is not valid") from None


def check_url(url: URL, policy: DestinationRules) -> None:
    """Refuse a URL by its scheme, credentials or literal address, before any lookup or connection."""
    if url.scheme == "http" and not policy.allow_http:
        raise Refused("plain http URLs are not fetched; use https")
    if url.scheme not in ("http", "https"):
        raise Refused("only http and https URLs are fetched" if policy.allow_http else "only https URLs are fetched")
    if url.user is not None or url.password is not None:
        raise Refused("URLs must not carry credentials")
    if not url.host or not url.raw_host:
        raise Refused("the URL has no host")
    # A client connects by the raw (still percent-encoded) host; both spellings must pass.
    for host in {url.host, url.raw_host}:
        check_host(host, policy)


def check_host(host: str, policy: DestinationRules) -> IPAddress | None:
    """Refuse an IP-literal host that is not allowed; the address it names, None for a name."""
    address = literal_address(host)
    if address is not None:
        check_address(address, policy)
    return address


def literal_address(host: str) -> IPAddress | None:
    """The address an IP-literal host names; None for a name.

    Clients connect to an IP literal without asking a resolver, so literals are checked here.
    Only canonical spellings pass: the OS also reads `2130706433`, `0177.0.0.1`, `127.1` and
    `0x7f.1` as 127.0.0.1, and a spelling our parser and the OS read differently must not reach it.
    """
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    bare = host.rstrip(".")
    if ":" in bare or (bare.isascii() and bare.replace(".", "").isdigit()) or _inet_aton_reads(bare):
        raise Refused("the URL's host is not a canonically written IP address or host name")
    return None


def _inet_aton_reads(host: str) -> bool:
    try:
        socket.inet_aton(host)
    except (OSError, ValueError):  # ValueError: embedded NUL
        return False
    return True


def check_address(address: IPAddress, policy: DestinationRules) -> None:
    """Refuse an address that is not public, judging the IPv4 address inside an IPv6 one as well."""
    if policy.allow_private or str(address) in policy.allow_private_hosts:
        return
    for view in _views(address):
        for is_kind, kind in _NOT_PUBLIC:
            if is_kind(view):
                raise Refused(f"the URL's host is a {kind} address, which the gateway does not connect to")


def check_resolved(host: str, policy: DestinationRules) -> IPAddress:
    """A resolver's answer checked: the address, or Refused when it is not one or not allowed."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise Refused("the URL's host resolved to an address the gateway cannot check") from None
    check_address(address, policy)
    return address


def _views(address: IPAddress) -> tuple[IPAddress, ...]:
    """The address and every IPv4 address it carries (and so routes to)."""
    if isinstance(address, ipaddress.IPv4Address):
        return (address,)
    # These two ARE their IPv4 address: ::ffff:a.b.c.d on a dual-stack socket, 64:ff9b::a.b.c.d through
    # the NAT64 gateway of an IPv6-only network (where DNS64 hands out such addresses for every name).
    if address.ipv4_mapped is not None:
        return (address.ipv4_mapped,)
    if address in _NAT64:
        return (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF),)
    embedded: list[IPAddress] = []
    if address.sixtofour is not None:
        embedded.append(address.sixtofour)
    if address.teredo is not None:
        embedded.extend(address.teredo)
    return (address, *embedded)
