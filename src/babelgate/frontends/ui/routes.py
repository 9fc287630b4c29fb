"""`/ui`: the dashboard's page and its files, read once from `assets/`, with headers that keep the
page to its own origin (no inline script, no framing, no referrer) and let browsers revalidate.
Without a master key or single sign-on (auth.oidc) the dashboard is off, and the page says how to turn it on."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Final

from babelgate.answer import Answer
from babelgate.errors import MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.route import Frontend, Operation, PrefixRoute, Route

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

HTML: Final = (b"content-type", b"text/html; charset=utf-8")
TYPES: Final = {
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".html": b"text/html; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
    ".ico": b"image/x-icon",
    ".woff2": b"font/woff2",
}
SECURITY: Final = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    # The names carry no hash, and the files are small: a browser asks again rather than keep an old one.
    (b"cache-control", b"no-cache"),
]
OFF_PAGE: Final = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>babelgate dashboard: off</title>"
    b'<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;color:#222">'
    b"<h1>The dashboard is off</h1><p>It needs the gateway's master key: start the gateway with "
    b"<code>BABELGATE_MASTER_KEY</code> (or <code>server.master_key</code>) set, then log in here with it.</p>"
    b"<p>See docs/dashboard.md.</p></body></html>"
)
PREFIX: Final = "/ui/assets/"


@cache  # the package's files, the same for every gateway
def assets() -> dict[str, bytes]:
    """The built files by name, read once (they ship with the package; a name not among them is a
    404, and asking for any number of such names keeps nothing)."""
    folder = resources.files("babelgate.frontends.ui").joinpath("assets")
    if not folder.is_dir():
        return {}
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and not entry.name.startswith(".")
    }


async def page(runtime: Runtime, exchange: Exchange) -> Answer:
    """`/ui`: the single page (its own hash routes pick the view)."""
    _check_method(exchange)
    if not runtime.config.server.master_key and runtime.config.auth.oidc is None:
        return Answer(OFF_PAGE, None, status=404, content_type=HTML, headers=list(SECURITY))
    return _file(exchange, "index.html")


async def asset_file(runtime: Runtime, exchange: Exchange, name: str) -> Answer:
    """`/ui/assets/{name}`: the bundle's scripts and styles."""
    _check_method(exchange)
    return _file(exchange, name)


def _file(exchange: Exchange, name: str) -> Answer:
    found = assets().get(name)
    if found is None:
        raise NotFound(method=exchange.scope["method"], path=exchange.scope["path"])
    kind = TYPES.get(name[name.rfind(".") :], b"application/octet-stream")
    return Answer(found, None, content_type=(b"content-type", kind), headers=list(SECURITY))


def _check_method(exchange: Exchange) -> None:
    if exchange.scope["method"] not in ("GET", "HEAD"):
        raise MethodNotAllowed(method=exchange.scope["method"], path=exchange.scope["path"])


PAGE: Final = Operation("GET", answers="text/html")
ROUTES: dict[str, Route] = {
    "/ui": Route("ANY", page, "ui", public=True, operations=(PAGE,)),
    "/ui/": Route("ANY", page, "ui", public=True, operations=(PAGE,)),
}
ASSET_OPERATIONS: Final = {"": (Operation("GET", answers="text/javascript"),)}


FRONTEND: Final[Frontend] = Frontend(
    routes=ROUTES, prefix_routes=(PrefixRoute(PREFIX, "ui.asset", asset_file, True, "asset", ASSET_OPERATIONS),)
)
