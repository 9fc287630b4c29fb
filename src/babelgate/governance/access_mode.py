"""Whether a gateway lets anyone in or requires a key, and why: its static keys, JWT callers and the
virtual keys of its store counted, one line that says so (logged at start and when it changes), and
the word `/health` shows.

A gateway is open only while nothing could ever be asked of a caller: no static key, no JWT callers, and
no virtual key in its store, live or not. Keys all revoked (or expired) keep it closed: revoking a key is
a decision to refuse someone, never one to let everyone in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Final, Literal

log = logging.getLogger("babelgate.access")

Kind = Literal["open", "keys_required", "no_live_keys", "unknown"]


@dataclass(frozen=True, slots=True)
class AccessMode:
    static_keys: int  # server.api_keys
    live_keys: int  # virtual keys that open the gateway now
    revoked_keys: int
    expired_keys: int
    jwt: bool  # auth.jwt: callers may present the identity provider's tokens
    known: bool = True  # the virtual keys were read from the store

    @property
    def kind(self) -> Kind:
        if not self.known:
            return "unknown"
        if self.static_keys or self.live_keys or self.jwt:
            return "keys_required"
        return "no_live_keys" if self.revoked_keys or self.expired_keys else "open"

    def line(self, store: str, listening: str | None = None) -> str:
        """What the log says of it: the mode, and what makes it so (`store`: where the virtual keys are)."""
        kind = self.kind
        if kind == "unknown":
            return f"keys required until the virtual keys in {store} can be read"
        if kind == "open":
            where = f" on {listening}" if listening else ""
            return f"open{where}: no keys configured (no server.api_keys, no virtual keys in {store})"
        dead = _dead(self.revoked_keys, self.expired_keys)
        if kind == "no_live_keys":
            return (
                f"keys required: the virtual keys in {store} are all {dead}; no client can call until a key is "
                "created (revoking every key does not open the gateway)"
            )
        parts = []
        if self.static_keys:
            parts.append(_count(self.static_keys, "static key") + " (server.api_keys)")
        if self.live_keys:
            parts.append(_count(self.live_keys, "virtual key") + f" in {store}")
        if self.jwt:
            parts.append("JWT callers (auth.jwt)")
        more = f"; {self.revoked_keys + self.expired_keys} more {dead}" if dead else ""
        return "keys required: " + ", ".join(parts) + more


def _count(number: int, what: str) -> str:
    return f"{number} {what}" + ("" if number == 1 else "s")


def _dead(revoked: int, expired: int) -> str:
    if revoked and expired:
        return "revoked or expired"
    return "revoked" if revoked else "expired" if expired else ""


# What makes the mode move, in the words of the line that reports it.
AT_START: Final = "at start"
KEYS_CHANGED: Final = "the virtual keys in the store changed"
RELOADED: Final = "the configuration was reloaded"


class ModeLog:
    """The last mode a gateway reported, to say it again only when it moves: the first report (once the
    virtual keys are read), a change of kind (open, keys required, no live keys) and every reload at INFO
    (WARNING when no key opens the gateway any more), a change of the counts only at DEBUG."""

    __slots__ = ("_said",)

    def __init__(self) -> None:
        self._said: AccessMode | None = None

    def note(self, mode: AccessMode, why: str, store: str, listening: str | None = None) -> None:
        kind = mode.kind
        said = self._said
        if kind == "unknown" or (said == mode and why != RELOADED):
            return  # unknown: said once the keys are read (or by the poller, when the store does not answer)
        self._said = mode
        level = logging.INFO
        if said is None:
            why = AT_START
        elif said.kind == kind and why != RELOADED:
            level = logging.DEBUG
        if kind == "no_live_keys" and level == logging.INFO:
            level = logging.WARNING
        log.log(level, "access: %s (%s)", mode.line(store, listening), why)
