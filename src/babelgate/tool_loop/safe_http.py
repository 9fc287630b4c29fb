"""The HTTP client the tool loop opens to an MCP server a request named by URL, held to the same
safe-destination policy as the media fetcher (providers/destinations.py): every connection, the
first and any the SDK makes after a redirect, goes through `CheckingBackend`, which refuses a
literal address the policy refuses, resolves a name itself, refuses it when any answer is not
allowed, and connects to exactly the addresses it checked (no second lookup: DNS rebinding cannot
swap them). No proxy from the environment is used (it would connect in the gateway's place)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from babelgate.providers.destinations import (
    DestinationRules,
    IPAddress,
    Refused,
    check_host,
    check_resolved,
    normalised_hosts,
)

if TYPE_CHECKING:
    import httpcore2
    import httpx2


@dataclass(frozen=True, slots=True)
class ServerUrlPolicy:
    """Where a request's own MCP server URL may lead (`tool_loop.server_urls` of the config)."""

    allow_http: bool = False
    allow_private_hosts: frozenset[str] = field(default_factory=frozenset)
    allow_private = False  # not a field: no config or test switches the address check off here

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow_private_hosts", normalised_hosts(self.allow_private_hosts))


PUBLIC_HTTPS: Final = ServerUrlPolicy()  # the default: public https addresses only


class Resolver(Protocol):
    """A name's addresses, as aiohttp's resolvers answer (a mapping with `host` per address), so one
    fake serves the media fetcher's tests and these."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]: ...


class SystemResolver:
    """The operating system's resolver (getaddrinfo, in the loop's executor)."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC) -> list[Any]:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        return [{"host": str(sockaddr[0])} for _family, _type, _proto, _name, sockaddr in found]


async def checked_addresses(host: str, port: int, policy: DestinationRules, resolver: Resolver) -> list[IPAddress]:
    """The addresses to connect to for `host`, every one allowed; Refused when any is not."""
    literal = check_host(host, policy)
    if literal is not None:
        return [literal]
    answers = await resolver.resolve(host, port, socket.AF_UNSPEC)
    addresses = [check_resolved(str(answer["host"]), policy) for answer in answers]
    if not addresses:
        raise Refused("the URL's host resolved to an address the gateway cannot check")
    return addresses


def checking_backend(policy: DestinationRules, resolver: Resolver) -> httpcore2.AsyncNetworkBackend:
    import httpcore2

    class CheckingBackend(httpcore2.AsyncNetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore2.AnyIOBackend()

        async def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,  # noqa: ASYNC109 (httpcore2's signature)
            local_address: str | None = None,
            socket_options: Iterable[Any] | None = None,
        ) -> httpcore2.AsyncNetworkStream:
            failure: Exception = OSError(f"no address to connect to for port {port}")
            for address in await checked_addresses(host, port, policy, resolver):
                try:  # TLS still verifies (and sends SNI for) the name: httpcore2 takes it from the URL
                    return await self._inner.connect_tcp(str(address), port, timeout, local_address, socket_options)
                except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                    failure = exc
            raise failure

        async def sleep(self, seconds: float) -> None:
            await self._inner.sleep(seconds)

    return CheckingBackend()


def client_factory(policy: DestinationRules, resolver: Resolver) -> Any:
    """A factory of httpx2 clients (the `mcp` SDK's `McpHttpClientFactory`) whose every connection is checked."""

    def create(
        headers: Mapping[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
    ) -> httpx2.AsyncClient:
        import httpcore2
        import httpx2
        from mcp.shared._httpx_utils import MCP_DEFAULT_SSE_READ_TIMEOUT, MCP_DEFAULT_TIMEOUT

        transport = httpx2.AsyncHTTPTransport(trust_env=False)
        # The transport's own pool, with the checking backend under it (httpx2 takes no backend itself).
        transport._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            network_backend=checking_backend(policy, resolver),
        )
        return httpx2.AsyncClient(
            headers=dict(headers or {}),
            timeout=timeout or httpx2.Timeout(MCP_DEFAULT_TIMEOUT, read=MCP_DEFAULT_SSE_READ_TIMEOUT),
            auth=auth,
            transport=transport,
            trust_env=False,
        )

    return create
