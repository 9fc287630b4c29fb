"""The cases every safe-destination test runs (providers/destinations.py): the media fetcher's
(tests/unit/test_media.py) and the tool loop's MCP server URLs (tests/unit/test_mcp_server_urls.py) share
them, so a case added here is tried on both roads. Also the socket spy both use and a fake resolver."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

# Refused before any lookup or connection under the default policy (public https only).
REFUSED_URLS = [
    "http://127.0.0.1/x",  # plain http under the default policy
    "https://127.0.0.1/x",
    "https://10.0.0.1/x",
    "https://172.16.5.4/x",
    "https://192.168.1.1/x",
    "https://169.254.169.254/latest/meta-data",
    "https://100.64.0.1/x",
    "https://0.0.0.0/x",
    "https://224.0.0.1/x",
    "https://240.0.0.1/x",
    "https://255.255.255.255/x",
    "https://[::1]/x",
    "https://[::]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://[::ffff:169.254.169.254]/x",
    "https://[fe80::1]/x",
    "https://[fe80::1%25eth0]/x",
    "https://[::1%25lo]/x",
    "https://[fc00::1]/x",
    "https://[fd12:3456::1]/x",
    "https://[ff02::1]/x",
    "https://[2002:7f00:1::]/x",  # 6to4 around 127.0.0.1
    "https://[2002:a9fe:a9fe::]/x",  # 6to4 around 169.254.169.254
    "https://[64:ff9b::a00:1]/x",  # NAT64 around 10.0.0.1
    "https://[64:ff9b::127.0.0.1]/x",
    "https://[64:ff9b:1::1]/x",  # local-use NAT64
    "https://2130706433/x",  # 127.0.0.1 in decimal
    "https://0177.0.0.1/x",  # ... in octal
    "https://127.1/x",  # ... shortened
    "https://0x7f.1/x",  # ... in hex
    "https://127.0.0.1./x",
    "https://134744072/x",  # even a public address (8.8.8.8) must be spelled canonically
    "https://localhost/x",
    "https://user:secret@example.com/x",
    "ftp://example.com/x",
    "file:///etc/passwd",
    "data:image/png;base64,iVBORw0KGgo=",
    "gopher://example.com/x",
    "//example.com/x",
    "https:///x",
    "not a url",
]

# What a name may resolve to that refuses it (any one address not allowed is enough), allowed: 127.0.0.1.
REFUSED_ANSWERS: list[tuple[str, ...]] = [
    ("169.254.169.254",),
    ("127.0.0.1", "10.0.0.1"),
    ("10.0.0.1", "127.0.0.1"),
    ("127.0.0.1", "::1"),
    ("127.0.0.1", "2002:a00:1::"),
    ("not-an-address",),
]

# Where an allowed host may redirect to without the gateway following (allowed: 127.0.0.1 only).
REDIRECT_TARGETS: list[str] = [
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:a9fe:a9fe]/",
    "http://10.0.0.1/",
    "http://2130706433/",
    "http://[::1]/",
    "file:///etc/passwd",
]


def watched_connects(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, int]]]:
    """Every address a socket connected to; anything but 127.0.0.1 is stopped and fails the test (a
    generator for a test module's own autouse fixture)."""
    seen: list[tuple[str, int]] = []
    original = socket.socket.connect

    def spy(sock: socket.socket, address: Any) -> None:
        seen.append((address[0], address[1]))
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError(111, "the safe-destination tests only talk to 127.0.0.1")
        original(sock, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    yield seen
    assert all(target == "127.0.0.1" for target, _ in seen), seen


class FakeResolver(AbstractResolver):
    """Answers every name with fixed addresses, so no test depends on real DNS."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        pass
