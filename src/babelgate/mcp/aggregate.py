"""One namespace over many MCP servers, and who may see what in it.

Names: a tool or prompt `t` of server `s` is `s__t` (`s` is the server's `prefix`, its name unless set);
the first `__` splits it back, and server names and prefixes hold no `__`, so no two servers' names
collide. A resource's URI `u` of server `s` is `mcp://s/<u percent-encoded>` (a template keeps its
`{variables}` unencoded, so a client's expansion is decoded back to the server's own URI).

Access: a pattern list (a key's or team's `mcp` field): `server` (all of it), `server/tool` (fnmatch
patterns on both sides, `*` everything). Tools need a pattern matching the tool; prompts and resources
need the whole server (`server` or `server/*`).
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import Final
from urllib.parse import quote, unquote

from babelgate.config.models import McpServerConfig

SEPARATOR: Final = "__"
RESOURCE_SCHEME: Final = "mcp://"


class Access:
    """What one caller may use; `patterns` None: everything."""

    __slots__ = ("_patterns",)

    def __init__(self, patterns: Iterable[str] | None) -> None:
        self._patterns = (
            None
            if patterns is None
            else tuple((server, tool or "*") for server, _, tool in (p.partition("/") for p in patterns))
        )

    @classmethod
    def combined(cls, key: Iterable[str] | None, team: Iterable[str] | None, *, default_all: bool) -> Access:
        """A key's and its team's lists: both set, what both allow; one set, that one; neither, all
        (static keys, the master key) or nothing (virtual keys)."""
        if key is None and team is None:
            return cls(None if default_all else ())
        if key is None or team is None:
            return cls(key if key is not None else team)
        return _Both(cls(key), cls(team))

    @property
    def everything(self) -> bool:
        return self._patterns is None

    def server(self, server: str) -> bool:
        """Whether anything of `server` may be used (it is listed at all)."""
        return self._patterns is None or any(fnmatchcase(server, s) for s, _ in self._patterns)

    def whole_server(self, server: str) -> bool:
        return self._patterns is None or any(fnmatchcase(server, s) and t == "*" for s, t in self._patterns)

    def tool(self, server: str, tool: str) -> bool:
        return self._patterns is None or any(fnmatchcase(server, s) and fnmatchcase(tool, t) for s, t in self._patterns)


class _Both(Access):
    __slots__ = ("_a", "_b")

    def __init__(self, a: Access, b: Access) -> None:
        super().__init__(())
        self._a, self._b = a, b

    @property
    def everything(self) -> bool:
        return self._a.everything and self._b.everything

    def server(self, server: str) -> bool:
        return self._a.server(server) and self._b.server(server)

    def whole_server(self, server: str) -> bool:
        return self._a.whole_server(server) and self._b.whole_server(server)

    def tool(self, server: str, tool: str) -> bool:
        return self._a.tool(server, tool) and self._b.tool(server, tool)


class Namespace:
    """Names on /mcp ↔ (server, the server's own name)."""

    def __init__(self, servers: Iterable[McpServerConfig]) -> None:
        self._prefix = {server.name: server.namespace for server in servers}
        self._server = {prefix: name for name, prefix in self._prefix.items()}

    def name(self, server: str, item: str) -> str:
        return f"{self._prefix[server]}{SEPARATOR}{item}"

    def split(self, name: str) -> tuple[str, str] | None:
        prefix, separator, item = name.partition(SEPARATOR)
        server = self._server.get(prefix)
        if not separator or server is None or not item:
            return None
        return server, item

    def uri(self, server: str, uri: str) -> str:
        return f"{RESOURCE_SCHEME}{self._prefix[server]}/{quote(uri, safe='')}"

    def uri_template(self, server: str, template: str) -> str:
        return f"{RESOURCE_SCHEME}{self._prefix[server]}/{quote(template, safe='{}')}"

    def split_uri(self, uri: str) -> tuple[str, str] | None:
        if not uri.startswith(RESOURCE_SCHEME):
            return None
        prefix, slash, encoded = uri[len(RESOURCE_SCHEME) :].partition("/")
        server = self._server.get(prefix)
        if not slash or server is None or not encoded:
            return None
        return server, unquote(encoded)
