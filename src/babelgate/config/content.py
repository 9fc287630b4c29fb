"""What may be sent to the models and what is kept of it: the guardrails (guardrails/), the conversation log and
its exporters (conversation/). Sections of the configuration (models.py's `Config`), apart from the routing and
governance ones."""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from babelgate.config.strict import Strict as _Strict

GUARDRAIL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
PII_ENTITIES: Final = ("email", "phone", "credit_card", "iban", "ssn", "ip", "secret")
GuardrailKind = Literal["pii", "regex", "words", "http", "moderation", "bedrock", "azure_content_safety", "presidio"]
GuardrailStage = Literal["input", "output"]
# What each kind needs besides its name (docs/guardrails.md).
_GUARDRAIL_NEEDS: Final[dict[str, tuple[str, ...]]] = {
    "regex": ("patterns",),
    "words": ("words",),
    "http": ("url",),
    "moderation": ("model",),
    "bedrock": ("guardrail_id", "provider"),
    "azure_content_safety": ("base_url", "api_key"),
    "presidio": ("analyzer_url",),
}


class GuardrailConfig(_Strict):
    """One guardrail: what it looks for (`kind`), where (`stage`: the request's texts, the answer's, or both) and
    what it does with what it finds (`action`). It runs for a request when `server.guardrails`, the model's, the
    team's or the key's `guardrails` name it (docs/guardrails.md)."""

    name: str
    kind: GuardrailKind
    stage: tuple[GuardrailStage, ...] = ("input", "output")
    action: Literal["block", "mask", "log"] = "block"
    # pii: the built-in detectors it runs (all of them when unset), and how a `mask` shows what it hid.
    entities: tuple[str, ...] = PII_ENTITIES
    mask_style: Literal["redact", "placeholder", "reversible"] = "placeholder"
    patterns: tuple[str, ...] = ()  # regex
    words: tuple[str, ...] = ()  # words
    # External checkers: where, with what, for how long, and what a checker that failed or timed out means.
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    timeout: float = Field(default=5.0, gt=0)
    fail: Literal["open", "closed"] = "closed"
    model: str | None = None  # moderation: a public model that serves /v1/moderations
    guardrail_id: str | None = None  # bedrock
    guardrail_version: str = "DRAFT"
    provider: str | None = None  # bedrock: the provider whose region and credentials call it
    base_url: str | None = None  # azure_content_safety
    api_key: str | None = Field(default=None, repr=False)
    analyzer_url: str | None = None  # presidio
    anonymizer_url: str | None = None
    # azure_content_safety: the severity (0, 2, 4, 6 in its four levels) from which a category blocks; 2: medium.
    threshold: int = Field(default=2, ge=0, le=7)
    # External checkers at the input: asked while the upstream is already called; its answer waits for theirs.
    parallel: bool = False

    @field_validator("url", "base_url", "analyzer_url", "anonymizer_url")
    @classmethod
    def _service_url(cls, value: str | None) -> str | None:
        """A checker's address: http(s), a host, no credentials in it (they would show wherever the URL does)."""
        if value is None:
            return None
        scheme, _, rest = value.partition("://")
        authority = rest.split("/", 1)[0].split("?", 1)[0]
        if scheme not in ("http", "https") or not authority:
            raise ValueError("expected an http:// or https:// URL with a host")
        if "@" in authority:
            raise ValueError("must not hold credentials: give them in headers or api_key (env:VAR)")
        return value.rstrip("/")

    @field_validator("stage", mode="before")
    @classmethod
    def _stages(cls, value: Any) -> Any:
        return (value,) if isinstance(value, str) else value

    @field_validator("entities")
    @classmethod
    def _entities(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [name for name in value if name not in PII_ENTITIES]
        if unknown:
            raise ValueError(f"unknown entities {', '.join(unknown)} (known: {', '.join(PII_ENTITIES)})")
        return value

    @model_validator(mode="after")
    def _complete(self) -> GuardrailConfig:
        if not GUARDRAIL_NAME.match(self.name):
            raise ValueError(f"guardrail name {self.name!r} may only hold letters, digits, '_', '.', '-'")
        if not self.stage:
            raise ValueError("stage: give input, output or both")
        missing = [need for need in _GUARDRAIL_NEEDS.get(self.kind, ()) if not getattr(self, need)]
        if missing:
            raise ValueError(f"a {self.kind} guardrail needs {' and '.join(missing)}")
        if self.action == "mask" and self.kind in ("moderation", "bedrock", "azure_content_safety"):
            raise ValueError(f"a {self.kind} guardrail can block or log, not mask: it finds no places in the text")
        if self.anonymizer_url and self.mask_style == "reversible":
            raise ValueError(
                "a reversible mask is made in the gateway (it keeps what it hid): leave anonymizer_url out"
            )
        if self.parallel:
            if self.kind in ("pii", "regex", "words"):
                raise ValueError("parallel is for external checkers: a local guardrail takes no time to wait for")
            if "input" not in self.stage:
                raise ValueError("parallel applies to the input stage: give stage input")
            if self.action == "mask":
                raise ValueError(
                    "a parallel guardrail can block or log, not mask: a mask must change what is sent,"
                    " and a parallel check runs while the request is already on its way"
                )
        return self

    def secret_values(self) -> list[str]:
        """What no log line, answer or metric may show: the api key, header values."""
        values = [*self.headers.values(), *([self.api_key] if self.api_key else [])]
        return [value for value in values if len(value) >= 8]


class ContentLogConfig(_Strict):
    """The conversation log (docs/logging.md): each logged request's input and output as the model saw them
    (after the masking guardrails), kept in the store. Off unless `enabled`; with `keys` or `teams` only those
    callers are logged, without them every caller is."""

    enabled: bool = False
    keys: tuple[str, ...] = Field(default=(), description="virtual key ids whose requests are logged")
    teams: tuple[str, ...] = Field(default=(), description="teams whose members' requests are logged")
    retention: float = Field(default=30 * 24 * 3600.0, ge=0, description="seconds a logged request is kept; 0: ever")
    max_bytes: int = Field(
        default=1_048_576, ge=1024, le=64 * 1024 * 1024, description="a request's input and output kept at most"
    )


class LoggingConfig(_Strict):
    content: ContentLogConfig = Field(default_factory=ContentLogConfig)


class ExporterConfig(_Strict):
    """Where logged exchanges also go (docs/logging.md): an OTLP collector as GenAI spans, Langfuse through its
    OTLP endpoint, or a webhook signed as the alert webhooks are. Only what the conversation log keeps leaves."""

    type: Literal["otlp", "langfuse", "webhook"]
    name: str | None = None  # in metrics and logs; the type when unset
    endpoint: str | None = None  # otlp: the collector's OTLP/HTTP base (…:4318) or its /v1/traces
    headers: dict[str, str] = Field(default_factory=dict, repr=False)  # otlp, webhook
    host: str | None = None  # langfuse: https://cloud.langfuse.com or a self-hosted one
    public_key: str | None = None  # langfuse
    secret_key: str | None = Field(default=None, repr=False)  # langfuse
    url: str | None = None  # webhook
    secret: str | None = Field(default=None, repr=False)  # webhook: the HMAC-SHA256 key
    timeout: float = Field(default=10.0, gt=0, description="seconds one delivery may take")
    batch: int = Field(default=64, ge=1, le=4096, description="exchanges sent together at most")
    queue_limit: int = Field(default=10_000, ge=1, description="exchanges waiting at most; past it the oldest drop")
    retries: int = Field(default=6, ge=0, description="delivery retries after the first try, with backoff")

    @model_validator(mode="after")
    def _complete(self) -> ExporterConfig:
        needs = {"otlp": ("endpoint",), "langfuse": ("host", "public_key", "secret_key"), "webhook": ("url", "secret")}
        missing = [need for need in needs[self.type] if not getattr(self, need)]
        if missing:
            raise ValueError(f"a {self.type} exporter needs {' and '.join(missing)}")
        return self

    @property
    def label(self) -> str:
        return self.name or self.type

    def secret_values(self) -> list[str]:
        """What no log line, answer or metric may show: the secret key, the signing secret, header values."""
        values = [*self.headers.values(), *(value for value in (self.secret_key, self.secret) if value)]
        return [value for value in values if len(value) >= 8]
