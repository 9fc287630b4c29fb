"""The WebRTC calls this gateway created (`POST /v1/realtime/calls`): which provider holds each and whose key made
it, so that a hang-up or a sideband WebSocket (`/v1/realtime?call_id=…`) reaches that provider, for that key only.
Kept in this process's memory; a call is forgotten after `CALL_SECONDS` (OpenAI ends calls within an hour)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

CALL_SECONDS: Final = 2 * 3600
LIMIT: Final = 100_000  # calls kept at most; past it the oldest go


@dataclass(frozen=True, slots=True)
class PlacedCall:
    call_id: str
    provider: str  # the provider's name in the configuration
    key_id: str | None  # the caller's key (a client secret's: the key that made it)
    model: str  # the public model the call was made with
    upstream_model: str
    created: float


class Calls:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self._calls: dict[str, PlacedCall] = {}

    def remember(self, call_id: str, call: PlacedCall) -> None:
        calls = self._calls
        if len(calls) >= self.limit:
            horizon = time.time() - CALL_SECONDS
            for known in [known for known, placed in calls.items() if placed.created < horizon]:
                del calls[known]
            while len(calls) >= self.limit:  # dicts keep their order: the first is the oldest
                del calls[next(iter(calls))]
        calls[call_id] = call

    def find(self, call_id: str, key_id: str | None) -> PlacedCall | None:
        """The call, when `key_id` made it and it is recent; None otherwise (another key's call is not told)."""
        call = self._calls.get(call_id)
        if call is None or call.key_id != key_id or call.created < time.time() - CALL_SECONDS:
            return None
        return call

    def forget(self, call_id: str) -> None:
        self._calls.pop(call_id, None)

    def __len__(self) -> int:
        return len(self._calls)
