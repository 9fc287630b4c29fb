"""The MCP gateway's one namespace (names and URIs that go back to the right server) and its access
patterns (mcp/aggregate.py), and the server configuration's checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from babelgate.config.models import Config, McpServerConfig
from babelgate.mcp.aggregate import Access, Namespace
from babelgate.mcp.stored import resolve


def _servers(*specs: tuple[str, str | None]) -> list[McpServerConfig]:
    return [McpServerConfig(name=name, prefix=prefix, url="http://127.0.0.1:1/mcp") for name, prefix in specs]


def test_names_split_back_to_their_server() -> None:
    names = Namespace(_servers(("github", None), ("git", None), ("db", "warehouse")))
    assert names.name("github", "create_issue") == "github__create_issue"
    assert names.split("github__create_issue") == ("github", "create_issue")
    assert names.split("git__log__all") == ("git", "log__all")  # a tool's own "__" stays in the tool
    assert names.name("db", "query") == "warehouse__query" and names.split("warehouse__query") == ("db", "query")
    for unknown in ("db__query", "nothing", "github__", "__x", "gitx__y"):
        assert names.split(unknown) is None


def test_uris_and_templates_round_trip() -> None:
    names = Namespace(_servers(("docs", None)))
    for uri in ("docs://readme", "file:///srv/a b.txt", "https://x.test/p?q=1#f", "mcp://docs/nested"):
        assert names.split_uri(names.uri("docs", uri)) == ("docs", uri)
    template = names.uri_template("docs", "docs://pages/{page}")
    assert "{page}" in template
    assert names.split_uri(template.replace("{page}", "7")) == ("docs", "docs://pages/7")
    assert names.split_uri("docs://readme") is None and names.split_uri("mcp://other/x") is None


def test_access_patterns() -> None:
    one_tool = Access(["docs/echo"])
    assert one_tool.server("docs") and one_tool.tool("docs", "echo") and not one_tool.tool("docs", "add")
    assert not one_tool.whole_server("docs") and not one_tool.server("github")
    glob = Access(["git*/create_*", "db"])
    assert glob.tool("github", "create_issue") and not glob.tool("github", "delete_repo")
    assert glob.whole_server("db") and glob.tool("db", "anything")
    assert Access(None).everything and Access(["*"]).tool("x", "y") and not Access([]).server("x")


def test_a_key_and_its_team_both_decide() -> None:
    assert Access.combined(None, None, default_all=False).server("docs") is False
    assert Access.combined(None, None, default_all=True).everything
    assert Access.combined(["docs"], None, default_all=False).tool("docs", "x")
    assert Access.combined(None, ["docs"], default_all=False).tool("docs", "x")
    both = Access.combined(["docs", "legacy"], ["legacy", "local"], default_all=False)
    assert both.server("legacy") and not both.server("docs") and not both.server("local")
    assert not both.everything


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "a__b", "url": "http://x/mcp"},
        {"name": "sse", "url": "http://x/mcp"},
        {"name": "ok"},  # neither url nor command
        {"name": "ok", "url": "http://x/mcp", "command": "run"},
        {"name": "ok", "url": "ftp://x/mcp"},
        {"name": "ok", "command": "run", "pass_through_auth": True},
    ],
)
def test_a_server_must_make_sense(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        McpServerConfig.model_validate(fields)


def test_names_and_prefixes_are_unique() -> None:
    with pytest.raises(ValidationError, match="used twice"):
        Config(mcp_servers=[{"name": "a", "url": "http://x/mcp"}, {"name": "a", "command": "run"}])
    with pytest.raises(ValidationError, match="prefix"):
        Config(mcp_servers=[{"name": "a", "url": "http://x/mcp"}, {"name": "b", "prefix": "a", "command": "run"}])


def test_transports_and_what_admin_shows() -> None:
    assert McpServerConfig(name="a", url="http://x/sse").kind == "sse"
    assert McpServerConfig(name="a", url="http://x/mcp").kind == "streamable_http"
    assert McpServerConfig(name="a", command="run").kind == "stdio"
    server = McpServerConfig(
        name="a",
        url="http://x/mcp",
        headers={"Authorization": "Bearer upstream-secret-1"},
        oauth={"token_url": "http://x/token", "client_id": "c", "client_secret": "oauth-secret-22"},
    )
    shown = str(server.public())
    assert "upstream-secret-1" not in shown and "oauth-secret-22" not in shown and "Authorization" in shown
    assert "upstream-secret-1" not in repr(server) and set(server.secret_values()) == {
        "Bearer upstream-secret-1",
        "oauth-secret-22",
    }


def test_api_bodies_resolve_env_references() -> None:
    server = resolve({"name": "a", "url": "http://x/mcp", "headers": {"X-Key": "env:THE_KEY"}}, {"THE_KEY": "v4lue"})
    assert server.headers == {"X-Key": "v4lue"}
    with pytest.raises(ValueError, match=r"headers\.X-Key: environment variable MISSING is not set"):
        resolve({"name": "a", "url": "http://x/mcp", "headers": {"X-Key": "env:MISSING"}}, {})
    with pytest.raises(ValueError, match="name"):
        resolve({"name": "bad name", "url": "http://x/mcp"}, {})


@pytest.mark.parametrize(
    ("entries", "url", "covered"),
    [
        (["https://mcp.example.com/tools/"], "https://mcp.example.com/tools/search", True),
        (["https://mcp.example.com/tools"], "https://mcp.example.com/tools", True),
        (["https://mcp.example.com/tools"], "https://MCP.example.com:443/tools/?q=1", True),
        (["https://mcp.example.com/tools"], "https://mcp.example.com/toolshed", False),  # a `/` boundary
        (["https://mcp.example.com/"], "https://mcp.example.com.evil.net/", False),
        (["https://mcp.example.com/"], "https://mcp.example.com\\@evil.net/", False),  # the client's parser decides
        (["https://mcp.example.com/"], "https://user:pw@mcp.example.com/", False),
        (["https://mcp.example.com/"], "http://mcp.example.com/", False),
        (["https://mcp.example.com/"], "https://mcp.example.com:8443/", False),
        (["https://*.example.com/"], "https://a.example.com/mcp", True),
        (["https://*/"], "https://anything.example/mcp", True),
        (["*", "local", "web/echo"], "https://mcp.example.com/", False),  # server patterns never cover a URL
        ([], "https://mcp.example.com/", False),
    ],
)
def test_url_entries_cover_urls_under_them(entries: list[str], url: str, covered: bool) -> None:
    assert Access(entries).url(url) is covered


def test_url_entries_of_a_key_and_its_team_must_both_cover() -> None:
    assert not Access(["https://a.example/"]).server("https:")  # a URL entry is no server pattern
    both = Access.combined(["https://a.example/"], ["https://*/"], default_all=False)
    assert both.url("https://a.example/mcp") and not both.url("https://b.example/mcp")
    assert Access.combined(None, None, default_all=True).url("https://b.example/mcp")
    assert not Access.combined(None, None, default_all=False).url("https://b.example/mcp")
