"""The line the state-showing commands (`keys`, `usage`) print under their answer: the store the gateway
keeps its virtual keys and usage ledger in, which every gateway with the same store shares, and whether
the gateway requires a key (`GET /health`)."""

from __future__ import annotations

from typing import Final

from babelgate.operator.client import Failed, Gateway
from babelgate.operator.render import compose, literal, out

ACCESS: Final = {
    "open": "open: no keys configured",
    "keys_required": "keys required",
    "no_live_keys": "keys required, and every virtual key is revoked or expired: no client can call",
    "unknown": "keys not read from the store yet",
}


def print_store(gateway: Gateway) -> None:
    """`store <where> (shared by every gateway using it) · <access>`; nothing from a gateway that does not say
    (one older than this command, or one that cannot be reached: the command's own answer has said so)."""
    try:
        health = gateway.call("GET", "/health").body
    except Failed:
        return
    store = health.get("store")
    if not isinstance(store, str):
        return
    access = ACCESS.get(str(health.get("access")), "")
    shared = "this gateway's memory alone" if store == "memory" else "shared by every gateway using it"
    line = compose("[dim]store[/] ", literal(store), f"[dim] ({shared})[/]")
    if access:
        line.append_text(compose("[dim] · [/]", literal(access)))
    out.print(line)
