"""One namespace over many MCP servers, and who may see what in it.

Names: a tool or prompt `t` of server `s` is `s__t` (`s` is the server's `prefix`, its name unless set);
the first `__` splits it back, and server names and prefixes hold no `__`, so no two servers' names
collide. A resource's URI `u` of server `s` is `mcp://s/<u percent-encoded>` (a template keeps its
`{variables}` unencoded, so a client's expansion is decoded back to the server's own URI).

Access: a pattern list (a key's or team's `mcp` field): `server` (all of it), `server/tool` (fnmatch
patterns on both sides, `*` everything). Tools need a pattern matching the tool; prompts and resources
need the whole server (`server` or `server/*`). An entry that is an `http://` or `https://` URL is a
prefix of server URLs the caller may name in a model request (the Responses `mcp` tool's `server_url`,
the Messages connector's `url`): same scheme, host (an fnmatch pattern: `https://*/` is any https
host), port, and a path under the entry's at a `/`. Server patterns never match a URL: without a URL
entry a caller names configured servers only.
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

    __slots__ = ("_patterns", "_urls")

    def __init__(self, patterns: Iterable[str] | None) -> None:
        listed = None if patterns is None else tuple(patterns)
        self._patterns = (
            None
            if listed is None
            else tuple(
                (server, tool or "*") for server, _, tool in (p.partition("/") for p in listed if not is_url_entry(p))
            )
        )
        self._urls = None if listed is None else tuple(p for p in listed if is_url_entry(p))

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

    def url(self, url: str) -> bool:
        """Whether the caller may name `url` as a server of its own (a URL entry covers it)."""
        return self._urls is None or any(url_within(url, prefix) for prefix in self._urls)


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

    def url(self, url: str) -> bool:
        return self._a.url(url) and self._b.url(url)


def is_url_entry(pattern: str) -> bool:
    return pattern.startswith(("http://", "https://"))


def url_origin_path(url: str) -> tuple[str, str, int, str] | None:
    """A URL as the MCP client (httpx2) reads it: scheme, host, port (the default one filled in) and
    path without a trailing `/`; None when it does not parse or carries credentials."""
    import httpx2  # the MCP SDK's HTTP client, loaded with it

    try:
        parsed = httpx2.URL(url)
    except (httpx2.InvalidURL, TypeError, ValueError):
        return None
    scheme = parsed.scheme.lower()
    if scheme not in ("http", "https") or not parsed.host or parsed.userinfo:
        return None
    port = parsed.port or (443 if scheme == "https" else 80)
    return scheme, parsed.host.lower(), port, parsed.path.rstrip("/")


def url_within(url: str, prefix: str) -> bool:
    """Whether `url` lies under the URL entry `prefix` (its host an fnmatch pattern)."""
    mine, allowed = url_origin_path(url), url_origin_path(prefix)
    if mine is None or allowed is None:
        return False
    (scheme, host, port, path), (a_scheme, a_host, a_port, a_path) = mine, allowed
    return (
        scheme == a_scheme
        and fnmatchcase(host, a_host)
        and port == a_port
        and (not a_path or path == a_path or path.startswith(a_path + "/"))
    )


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
