"""The server-wide `realtime:` section: the bounds of a session on `/v1/realtime` and the voice cascade's default
(`transcription`, `speech`, `voice`, `turn_detection`), which a model's own `realtime:` block overrides field by
field (docs/realtime.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from babelgate.config.strict import Strict


class TurnDetectionConfig(Strict):
    """OpenAI's `server_vad`: energy-based speech detection, its defaults as OpenAI's."""

    type: Literal["server_vad"] = "server_vad"
    threshold: float = Field(default=0.5, ge=0, le=1, description="how loud speech must be, 0 (any sound) to 1")
    prefix_padding_ms: int = Field(default=300, ge=0, le=10_000, description="audio kept before speech starts")
    silence_duration_ms: int = Field(default=500, ge=50, le=10_000, description="silence that ends a turn")
    create_response: bool = True
    interrupt_response: bool = True

    def openai(self) -> dict[str, Any]:
        """As a session's `turn_detection` object."""
        return self.model_dump()


class CascadeConfig(Strict):
    """The voice cascade of a chat model without a realtime API: speech to text, the chat model, text to speech.
    Unset fields take the server-wide `realtime:` section's."""

    transcription: str | None = Field(default=None, min_length=1, description="the public model that transcribes")
    speech: str | None = Field(default=None, min_length=1, description="the public model that speaks")
    voice: str | None = Field(default=None, min_length=1, description="the speech model's voice")
    # "server_vad" or its settings; null: the client commits its audio itself.
    turn_detection: TurnDetectionConfig | None = Field(default_factory=TurnDetectionConfig)

    @field_validator("turn_detection", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        return {"type": value} if isinstance(value, str) else value

    @property
    def complete(self) -> bool:
        return self.transcription is not None and self.speech is not None

    def over(self, default: CascadeConfig) -> CascadeConfig:
        """This block with what it leaves unset taken from `default` (the server's)."""
        given = self.model_fields_set
        merged = {name: getattr(self if name in given else default, name) for name in type(self).model_fields}
        return type(self).model_construct(**merged)


class RealtimeConfig(CascadeConfig):
    """Bounds of one Realtime session; each one exceeded ends it with an `error` event and a close. Its cascade
    fields are every model's default."""

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

    def cascade(self) -> CascadeConfig:
        """The server's cascade fields alone."""
        return CascadeConfig.model_construct(**{name: getattr(self, name) for name in CascadeConfig.model_fields})
