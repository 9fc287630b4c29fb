"""A road: how a session reaches its upstream. The relayed road (relay.py) speaks the Realtime protocol to an
upstream that speaks it too; the translated road (live.py, Gemini's Live API) implements the same four calls."""

from __future__ import annotations

from typing import Protocol

from babelgate.realtime.protocol import JSON


class Road(Protocol):
    name: str  # as the ledger names it: "relay", "translated", …
    # The server events it hands back are in the protocol the client asked for (a relay's upstream answers in
    # it); False: they are GA events, renamed for a beta client by the session.
    speaks_client_names: bool

    async def send(self, event: JSON, raw: str) -> None:
        """One client event (parsed, and as it came) to the upstream."""
        ...

    async def receive(self) -> tuple[JSON, str] | None:
        """The upstream's next server event (parsed, and as text to pass on); None when the upstream closed.
        Raises UpstreamError when it dropped."""
        ...

    async def close(self) -> None: ...
