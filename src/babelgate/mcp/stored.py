"""MCP servers added through the admin API (`/admin/mcp/servers`), kept in the store as documents so
they survive restarts. A document holds the fields as given: `env:VAR` references stay references
(the gateway resolves them when it loads the server), so a secret given that way is never written
down. A removed server is a tombstone (`{"removed": true}`): the store keeps documents, never deletes.

Every instance keeps the registry in step with the store (`StoredServers`, polled like virtual keys
and users): a server added or removed through one instance's admin API is served or dropped by every
instance sharing the store within the poll (0.5 s), whatever that instance was doing.

This module does not import the MCP SDK: reading the store at start costs nothing more when no server
was ever added.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import orjson
from pydantic import ValidationError

from babelgate.config.models import McpServerConfig
from babelgate.store.polled import Polled

if TYPE_CHECKING:
    from babelgate.mcp.servers import McpServers
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.mcp")
KIND: Final = "mcp_server"
ENV_PREFIX: Final = "env:"


def resolve(fields: Mapping[str, Any], environ: Mapping[str, str]) -> McpServerConfig:
    """The server the fields describe, `env:VAR` references resolved. Raises ValueError naming the
    field (a missing variable, a wrong value), never a value."""
    resolved = dict(fields)
    for field in ("headers", "env"):
        values = resolved.get(field)
        if isinstance(values, dict):
            resolved[field] = {name: _value(value, f"{field}.{name}", environ) for name, value in values.items()}
    oauth = resolved.get("oauth")
    if isinstance(oauth, dict) and "client_secret" in oauth:
        resolved["oauth"] = {**oauth, "client_secret": _value(oauth["client_secret"], "oauth.client_secret", environ)}
    try:
        return McpServerConfig.model_validate(resolved)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "body"
        raise ValueError(f"{where}: {error['msg']}") from None


def _value(value: Any, path: str, environ: Mapping[str, str]) -> Any:
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        found = environ.get(value[len(ENV_PREFIX) :])
        if not found:
            raise ValueError(f"{path}: environment variable {value[len(ENV_PREFIX) :]} is not set")
        return found
    return value


async def save(store: ResponseStore, fields: Mapping[str, Any]) -> None:
    await store.put_document(KIND, str(fields["name"]), orjson.dumps(dict(fields)))


async def remove(store: ResponseStore, name: str) -> None:
    await store.put_document(KIND, name, orjson.dumps({"removed": True}))


async def stored_names(store: ResponseStore) -> set[str]:
    return {name for name, body in (await store.documents(KIND)).items() if not orjson.loads(body).get("removed")}


async def load_stored(store: ResponseStore, environ: Mapping[str, str]) -> list[McpServerConfig]:
    servers = []
    for name, body in sorted((await store.documents(KIND)).items()):
        fields = orjson.loads(body)
        if fields.get("removed"):
            continue
        try:
            servers.append(resolve(fields, environ))
        except ValueError as exc:
            log.warning("the stored MCP server %s cannot be loaded: %s", name, exc)
    return servers


class StoredServers(Polled):
    """The servers the admin API keeps in the store, applied to this instance's registry: at start,
    then whenever the store's version of them moves. A server configured in the file is the file's
    (the API refuses to add or remove one of its names); every other server of the registry is the
    store's, so one the store no longer holds is removed."""

    what = "MCP servers"

    def __init__(
        self,
        store: ResponseStore,
        registry: Callable[[], McpServers],
        configured: Callable[[], set[str]],
        environ: Mapping[str, str],
    ) -> None:
        super().__init__()
        self.store = store
        self._registry = registry  # made on first need (the SDK is imported then)
        self._configured = configured
        self._environ = environ
        self.version = -1

    async def refresh(self) -> None:
        version = await self.store.document_version(KIND)
        if version != self.version:
            await self._apply(await self.store.documents(KIND))
            self.version = version
        self.read_again()

    async def _apply(self, documents: Mapping[str, bytes]) -> None:
        configured = self._configured()
        wanted: dict[str, McpServerConfig] = {}
        for name, body in sorted(documents.items()):
            fields = orjson.loads(body)
            if fields.get("removed") or name in configured:
                continue
            try:
                wanted[name] = resolve(fields, self._environ)
            except ValueError as exc:
                log.warning("the stored MCP server %s cannot be loaded: %s", name, exc)
        if not wanted and not documents:
            return  # nothing was ever added: no registry made for it
        registry = self._registry()
        names = set(registry.names())
        for name, server in wanted.items():
            if name not in names or registry.config(name) != server:  # new, or changed elsewhere
                registry.add(server)
        for name in names - configured - set(wanted):
            await registry.remove(name)  # removed through another instance
