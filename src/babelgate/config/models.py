"""The validated configuration: what a YAML file or the environment resolves to.

Secrets here are already resolved values: the YAML loader insists on `env:VAR` references so that
keys stay out of files, while an embedding app may build a `Config` in code with values it holds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from babelgate.sealing import parse_keys

DEFAULT_MAX_BODY_BYTES: Final = 32 * 1024 * 1024
UnsupportedTools = Literal["drop", "refuse"]
PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
STORE_SCHEMES: Final = ("sqlite:", "postgresql://", "postgres://")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProviderConfig(_Strict):
    type: str = "openai"
    base_url: str | None = None
    api_keys: tuple[str, ...] = ()
    timeout: float | None = Field(default=None, gt=0, description="first byte and between chunks")
    connect_timeout: float | None = Field(default=None, gt=0)
    total_timeout: float | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    profile: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    list_models: bool = True
    models_cache_ttl: float = Field(default=600.0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _single_key(cls, data: Any) -> Any:
        # `api_key: X` is accepted as a shorthand for `api_keys: [X]`.
        if isinstance(data, dict) and "api_key" in data:
            data = dict(data)
            data["api_keys"] = [*_as_list(data.pop("api_key")), *_as_list(data.get("api_keys", ()))]
        return data

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


def _as_list(value: Any) -> list[Any]:
    """One value or several: a lone string must never be spread into its characters."""
    return [value] if isinstance(value, str) else list(value)


class ModelConfig(_Strict):
    provider: str
    model: str = Field(min_length=1, description="the upstream's name for the model")
    defaults: dict[str, Any] = Field(default_factory=dict, description="set when the client did not")
    overrides: dict[str, Any] = Field(default_factory=dict, description="always set")
    # `/v1/responses` requests for this model go to the upstream's own Responses API unchanged
    # (built-in tools work); only providers that have one accept it.
    native_responses: bool = False
    # A hosted tool (web_search, file_search…) the provider has no equivalent for: dropped and
    # reported, or refused with a 400. Unset: the server's `unsupported_tools`.
    unsupported_tools: UnsupportedTools | None = None


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    unsupported_tools: UnsupportedTools = "drop"
    port: int = Field(default=8080, ge=0, le=65535)
    api_keys: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    default_timeout: float | None = Field(default=None, gt=0)
    providers_from_env: bool = True
    log_level: str = "info"

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_list(cls, value: Any) -> Any:
        return _as_list(value) if isinstance(value, str | list | tuple) else value


def default_store_url() -> str:
    """SQLite under the user's state directory (XDG), so a restart finds earlier responses."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return f"sqlite:{Path(state) / 'babelgate' / 'babelgate.db'}"


class StoreConfig(_Strict):
    """Where shared state lives: `memory`, `sqlite:PATH` or `postgresql://…`."""

    url: str = Field(default_factory=default_store_url)

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value not in ("memory", "memory:") and not value.startswith(STORE_SCHEMES):
            raise ValueError("expected 'memory', 'sqlite:PATH', or a 'postgresql://' URL")
        return value


class ResponsesConfig(_Strict):
    retention: float = Field(default=30 * 24 * 3600.0, ge=0,
                             description="seconds a stored response is kept; 0 keeps it until deleted")
    # Seals reasoning state clients carry (sealing.py): 32 bytes as hex or base64; `NEW,OLD` while
    # rotating (OLD still opens). Unset: a key is generated once and kept in the store, shared by
    # every gateway that shares the store.
    reasoning_key: str | None = Field(default=None, repr=False)

    @field_validator("reasoning_key")
    @classmethod
    def _reasoning_key(cls, value: str | None) -> str | None:
        if value is not None:
            parse_keys(value)  # its ValueError names the expected forms, never the value
        return value


class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    responses: ResponsesConfig = Field(default_factory=ResponsesConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, value: dict[str, ProviderConfig]) -> dict[str, ProviderConfig]:
        for name in value:
            if not PROVIDER_NAME.match(name):
                raise ValueError(f"provider name {name!r} may only hold letters, digits, '_', '.', '-'")
        return value

    @model_validator(mode="after")
    def _references(self) -> Config:
        for name, model in self.models.items():
            if model.provider not in self.providers:
                raise ValueError(
                    f"models.{name}.provider: unknown provider {model.provider!r}"
                    f" (configured: {', '.join(sorted(self.providers)) or 'none'})"
                )
        return self
