"""The server-wide `realtime:` section: the bounds of a session on `/v1/realtime` (docs/realtime.md). The voice
cascade's fields (`transcription`, `speech`, `voice`, `turn_detection`) are reserved names here, not yet read."""

from __future__ import annotations

from pydantic import Field

from babelgate.config.strict import Strict


class RealtimeConfig(Strict):
    """Bounds of one Realtime session; each one exceeded ends it with an `error` event and a close."""

    max_session_seconds: float = Field(default=3600.0, gt=0, description="seconds a session may last")
    idle_timeout_seconds: float = Field(
        default=600.0, gt=0, description="seconds without an event either way before a session is closed"
    )
    max_event_bytes: int = Field(
        default=16 * 1024 * 1024, ge=1024, description="bytes of one event from the client (audio appends included)"
    )
    max_sessions_per_key: int | None = Field(
        default=100, ge=1, description="sessions open at once per caller's key; null: no bound"
    )
    drain_seconds: float = Field(
        default=30.0, ge=0, description="seconds running sessions continue after shutdown begins, then close 1012"
    )
    ephemeral_key_max_seconds: int = Field(
        default=7200,
        ge=10,
        description="the longest `expires_after.seconds` an ephemeral key (a client secret) may ask for",
    )
