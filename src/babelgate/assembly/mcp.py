"""The MCP part: upstream MCP servers (mcp/) and the gateway's /mcp endpoint over them, when `mcp_servers:` is
configured (the SDK loads only then). The registry follows the config (servers added, changed or gone) and
keeps its connections across reloads; with MCP on, the servers the admin API keeps in the store are this
instance's too: read at start, then polled (a server added or removed through another instance reaches this
one within the poll)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from babelgate.assembly.part import Background, Closer
from babelgate.assembly.store import StorePart
from babelgate.config.models import Config, McpServerConfig
from babelgate.runtime import Runtime

if TYPE_CHECKING:
    from babelgate.frontends.mcp_endpoint import McpEndpoint
    from babelgate.mcp.servers import McpServers
    from babelgate.mcp.stored import StoredServers


class McpPart:
    def __init__(
        self, config: Config, store: StorePart, background: Background, runtime: Callable[[], Runtime], version: str
    ) -> None:
        """`runtime`: the gateway's current one, which the /mcp endpoint serves with."""
        self._stores, self._background, self._runtime, self._version = store, background, runtime, version
        self.started = False
        self.servers: McpServers | None = None
        self.endpoint: McpEndpoint | None = None
        self.stored: StoredServers | None = None
        self._configured: tuple[McpServerConfig, ...] | None = None  # the config's servers; None: MCP is off
        self._follow(config)

    def start(self, lifespan: bool) -> None:
        self.started = True
        self._stored_servers()

    def reload(self, config: Config) -> Sequence[Closer]:
        removed = self._follow(config)
        self._stored_servers()
        return removed

    async def aclose(self) -> None:
        if self.stored is not None:
            await self.stored.close()
        if self.endpoint is not None:
            await self.endpoint.aclose()
        if self.servers is not None:
            await self.servers.aclose()

    def _follow(self, config: Config) -> Sequence[Closer]:
        """The registry follows the config; answers the removals of the servers the old config had and the new one
        has not (not those the admin API added)."""
        old = self._configured or ()
        self._configured = config.mcp_servers
        if config.mcp_servers is None and self.servers is None:
            return ()
        servers = self._registry()
        wanted = {server.name: server for server in config.mcp_servers or ()}
        current = {server.name: server for server in servers.configs()}
        for name, server in wanted.items():
            if current.get(name) != server:
                servers.add(server)
        return [
            functools.partial(servers.remove, server.name)
            for server in old
            if server.name not in wanted and server.name in current
        ]

    def _registry(self) -> McpServers:
        if self.servers is None:
            from babelgate.frontends.mcp_endpoint import McpEndpoint
            from babelgate.mcp.servers import McpServers

            self.servers = McpServers()
            self.endpoint = McpEndpoint(self.servers, self._runtime, version=self._version)
        return self.servers

    def _stored_servers(self) -> None:
        """With MCP on, read the servers the admin API keeps in the store now, and poll them."""
        if self._configured is None or not self.started:
            return
        store = self._stores.store
        if self.stored is None:
            from babelgate.mcp.stored import StoredServers

            self.stored = StoredServers(
                store, self._registry, lambda: {server.name for server in self._configured or ()}, os.environ
            )
            self.stored.start()
        elif self.stored.store is not store:  # a reload moved the store
            self.stored.store, self.stored.version = store, -1
        self._background.run(self._refresh_stored())

    async def _refresh_stored(self) -> None:
        if self.stored is not None:
            await self.stored.try_refresh()
