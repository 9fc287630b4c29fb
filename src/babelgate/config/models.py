"""The validated configuration: what a YAML file or the environment resolves to.

Secrets here are already resolved values: the YAML loader insists on `env:VAR` references so that
keys stay out of files, while an embedding app may build a `Config` in code with values it holds.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import Field, field_validator, model_validator

from babelgate.config.batches import BatchesConfig, FilesConfig
from babelgate.config.content import ExporterConfig, GuardrailConfig, LoggingConfig
from babelgate.config.identity import AuthConfig
from babelgate.config.realtime import CascadeConfig, RealtimeConfig
from babelgate.config.strict import Strict as _Strict
from babelgate.config.strict import as_list
from babelgate.redis_link import DEFAULT_MAX_CONNECTIONS, DEFAULT_TIMEOUT
from babelgate.sealing import parse_keys

DEFAULT_MAX_BODY_BYTES: Final = 32 * 1024 * 1024
UnsupportedTools = Literal["drop", "refuse"]
PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9_.-]+$")
STORE_SCHEMES: Final = ("sqlite:", "postgresql://", "postgres://")


class _WithKeys(_Strict):
    """A section with `api_keys` (providers, models, deployments): `api_key: X` is accepted as a
    shorthand for `api_keys: [X]`."""

    @model_validator(mode="before")
    @classmethod
    def _single_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            data = dict(data)
            data["api_keys"] = [*as_list(data.pop("api_key")), *as_list(data.get("api_keys", ()))]
        return data


_DIRECT: Final = frozenset({"none", "off", "false", "no", "direct", ""})


class TLSConfig(_Strict):
    """A provider's own TLS settings (http/tls.py); paths to PEM files."""

    verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None  # unset: the key is in client_cert's file


class ProviderConfig(_WithKeys):
    type: str = "openai"
    base_url: str | None = None
    api_keys: tuple[str, ...] = ()
    timeout: float | None = Field(default=None, gt=0, description="first byte and between chunks")
    first_byte_timeout: float | None = Field(default=None, gt=0, description="until the answer begins")
    chunk_timeout: float | None = Field(default=None, gt=0, description="between stream chunks")
    connect_timeout: float | None = Field(default=None, gt=0)
    total_timeout: float | None = Field(default=None, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    profile: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    list_models: bool = True
    models_cache_ttl: float = Field(default=600.0, ge=0)
    # An http:// proxy URL for this provider's calls, or "none"; unset: HTTPS_PROXY/HTTP_PROXY/NO_PROXY.
    proxy: str | None = Field(default=None, repr=False)
    tls: TLSConfig | None = None
    # The clouds' own keys (docs/decisions.md, "Cloud providers' configuration"), each read only by its provider type.
    # AWS Bedrock: the region, and credentials when not the AWS chain's (the key pair and token are secrets: env:VAR
    # references).
    region: str | None = None
    aws_access_key_id: str | None = Field(default=None, repr=False)
    aws_secret_access_key: str | None = Field(default=None, repr=False)
    aws_session_token: str | None = Field(default=None, repr=False)
    aws_profile: str | None = None
    # A cloud's batch jobs (Bedrock, Vertex AI): where their input and results are kept (`s3://bucket/prefix`,
    # `gs://bucket/prefix`), and the role Bedrock assumes to reach it (an IAM service role's ARN). Unset: the
    # gateway runs the lines itself.
    batch_bucket: str | None = None
    batch_role_arn: str | None = None
    # Google Vertex AI: the project and location (`global` too) of its URLs, and a service-account key file (unset:
    # application default credentials, the metadata server).
    project: str | None = None
    location: str | None = None
    credentials_file: str | None = None
    # Azure OpenAI and Foundry: `api_version` set -> the deployment-style API; Entra ID's tenant and app,
    # and the app's secret (an env: reference; unset with tenant and client set: workload identity).
    api_version: str | None = None
    tenant_id: str | None = None
    client_id: str | None = None
    client_secret: str | None = Field(default=None, repr=False)

    def secret_values(self) -> tuple[str, ...]:
        """Every secret value this provider holds: what no log line, error or metric may show."""
        held = (self.aws_access_key_id, self.aws_secret_access_key, self.aws_session_token, self.client_secret)
        return (*self.api_keys, *(value for value in held if value))

    @field_validator("proxy", mode="before")
    @classmethod
    def _no_proxy(cls, value: Any) -> Any:
        """`proxy: false` (YAML's `no` and `off` too) and the words for it mean "go direct": "none"."""
        if value is False or (isinstance(value, str) and value.strip().lower() in _DIRECT):
            return "none"
        if value is True:
            raise ValueError("expected an http://host:port URL, or none (true names no proxy)")
        return value

    @field_validator("base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


Balance = Literal["weighted", "least_busy", "lowest_latency"]


class BackoffConfig(_Strict):
    initial: float = Field(default=0.25, gt=0, description="seconds: the bound of the first retry's wait")
    max: float = Field(default=8.0, gt=0, description="seconds: the largest bound")


class CircuitConfig(_Strict):
    failures: int = Field(default=5, ge=1, description="consecutive failures that open the circuit")
    cooldown: float = Field(default=30.0, gt=0, description="seconds a deployment is skipped, then one probe")


AffinityKey = Literal["prompt_cache_key", "session_header", "user", "prefix"]
AFFINITY_KEYS: Final[tuple[AffinityKey, ...]] = ("prompt_cache_key", "session_header", "user", "prefix")


class AffinityConfig(_Strict):
    """Session affinity (routing/affinity.py, docs/routing.md "Affinity"): a session's requests keep
    reaching the deployment that served it, so the provider's prompt cache stays warm. Each key unset
    here is the server-wide section's (for a model's own), then the default."""

    keys: tuple[AffinityKey, ...] | None = Field(
        default=None, description="what names a session, first found wins; [] turns affinity off"
    )
    ttl: float | None = Field(default=None, gt=0, description="seconds a pin lasts after the session's last request")
    headers: tuple[str, ...] | None = Field(
        default=None, description="session headers besides the known agents' (session_header)"
    )

    @field_validator("keys", mode="before")
    @classmethod
    def _one_or_many_keys(cls, value: Any) -> Any:
        return None if value is None else as_list(value)

    @field_validator("headers", mode="before")
    @classmethod
    def _header_names(cls, value: Any) -> Any:
        return None if value is None else [str(name).strip().lower() for name in as_list(value)]


class RoutingConfig(_Strict):
    """How a model's attempts go (docs/routing.md). Every key is optional; a model's own `routing`
    overrides the server-wide section key by key."""

    retries: int | None = Field(default=None, ge=0, le=10)
    backoff: BackoffConfig | None = None
    budget: float | None = Field(default=None, gt=0, description="seconds for all attempts together")
    balance: Balance | None = None
    circuit: CircuitConfig | None = None
    key_cooldown: float | None = Field(
        default=None, gt=0, description="seconds a key rests after a 429 without Retry-After"
    )
    fallbacks: tuple[str, ...] | None = None  # server-wide only: the default fallback list
    affinity: AffinityConfig | None = None  # off unless set (docs/decisions.md, "Session affinity is off by default")


class TimeoutsConfig(_Strict):
    """A model's (or deployment's) own timeouts, in seconds; each unset one is the provider's."""

    connect: float | None = Field(default=None, gt=0)
    first_byte: float | None = Field(default=None, gt=0)
    chunk: float | None = Field(default=None, gt=0, description="between stream chunks")
    total: float | None = Field(default=None, gt=0)

    def provider_fields(self) -> dict[str, float]:
        """The same settings under the provider config's names."""
        names = {
            "connect": "connect_timeout",
            "first_byte": "first_byte_timeout",
            "chunk": "chunk_timeout",
            "total": "total_timeout",
        }
        return {names[key]: value for key, value in self.model_dump().items() if value is not None}


class PriceConfig(_Strict):
    """US dollars per million tokens, and per 1,000 searches for rerank models (docs/governance.md, "Cost")."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0, description="cache reads; unset: input")
    cache_write: float | None = Field(default=None, ge=0, description="prompt-cache writes; unset: input")
    reasoning: float | None = Field(default=None, ge=0, description="reasoning tokens; unset: output")
    audio_input: float | None = Field(default=None, ge=0, description="audio tokens in, uncached; unset: input")
    audio_output: float | None = Field(default=None, ge=0, description="audio tokens out; unset: output")
    per_search: float | None = Field(default=None, ge=0, description="dollars per 1,000 searches (rerank)")
    # The share taken off this price for a line sent through a provider's own batch API (lines the gateway runs
    # itself pay the price): 0.5, half price, as OpenAI, Anthropic, Gemini and Mistral sell their batches.
    batch_discount: float = Field(default=0.5, ge=0, le=1, description="share off the price through a batch API")

    @model_validator(mode="before")
    @classmethod
    def _searches_alone(cls, value: Any) -> Any:
        # A rerank model priced by the search alone needs no token prices: they default to 0 there.
        if isinstance(value, dict) and value.get("per_search") is not None:
            return {"input": 0.0, "output": 0.0, **value}
        return value


class LimitsConfig(_Strict):
    """Rate limits shared by every caller of a model, or of a team (docs/governance.md)."""

    rpm: int | None = Field(default=None, ge=1, description="requests per minute (sliding window)")
    tpm: int | None = Field(default=None, ge=1, description="tokens per minute (sliding window)")
    max_concurrent: int | None = Field(default=None, ge=1, description="requests at once")


class TeamConfig(LimitsConfig):
    """A team's limits and budget, shared by every virtual key whose `team` names it."""

    budget_usd: float | None = Field(default=None, ge=0)
    budget_period: Literal["day", "week", "month"] | None = None
    # MCP servers (or `server/tool` patterns) the team's keys may use (docs/decisions.md, "MCP servers and who may use
    # them"); unset: the key's own.
    mcp: tuple[str, ...] | None = None
    guardrails: tuple[str, ...] = ()  # added to the server's for every request of the team's keys


MCP_SERVER_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")


class McpOAuthConfig(_Strict):
    """OAuth 2.0 client credentials for an upstream MCP server: the gateway fetches a token from
    `token_url` and keeps it until shortly before it expires."""

    token_url: str
    client_id: str
    client_secret: str = Field(repr=False)
    scope: str | None = None
    audience: str | None = None


class McpServerConfig(_Strict):
    """One upstream MCP server (docs/decisions.md, "MCP servers and who may use them"): `url` (streamable HTTP, or SSE)
    or `command`/`args` (stdio)."""

    name: str
    url: str | None = None
    # How `url` is spoken; unset: SSE when the path ends in `/sse`, else streamable HTTP.
    transport: Literal["streamable_http", "sse"] | None = None
    headers: dict[str, str] = Field(default_factory=dict, repr=False)  # values may be env:VAR references
    command: str | None = None
    args: tuple[str, ...] = ()
    env: dict[str, str] = Field(default_factory=dict, repr=False)  # values may be env:VAR references
    cwd: str | None = None
    timeout: float = Field(default=60.0, gt=0, description="seconds a call may take (per call: less)")
    connect_timeout: float = Field(default=15.0, gt=0, description="seconds to connect and initialize")
    max_result_bytes: int = Field(default=4 * 1024 * 1024, ge=1, description="largest tool result passed on")
    oauth: McpOAuthConfig | None = None
    # Per-user tokens: the caller's `X-Mcp-Authorization` header goes upstream as `Authorization`
    # (one upstream session per distinct token). Off unless the operator turns it on for the server.
    pass_through_auth: bool = False
    # What its tools and prompts are prefixed with on /mcp (`<prefix>__<tool>`); unset: the name.
    prefix: str | None = None

    @field_validator("name", "prefix")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and (not MCP_SERVER_NAME.match(value) or "__" in value or value.endswith("_")):
            raise ValueError(f"{value!r} may hold letters, digits, '_' and '-' (not '__', not ending in '_')")
        if value in ("sse", "messages"):  # the paths of /mcp's older SSE transport
            raise ValueError(f"{value!r} is reserved")
        return value

    @property
    def namespace(self) -> str:
        return self.prefix or self.name

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError("set either url (streamable HTTP or SSE) or command (stdio)")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError("url must be an http:// or https:// address")
        if self.pass_through_auth and self.url is None:
            raise ValueError("pass_through_auth needs a url (a stdio server has no Authorization header)")
        return self

    @property
    def kind(self) -> str:
        """stdio, sse or streamable_http."""
        if self.command is not None:
            return "stdio"
        if self.transport is not None:
            return self.transport
        return "sse" if (self.url or "").rstrip("/").endswith("/sse") else "streamable_http"

    def secret_values(self) -> list[str]:
        """What no log line, answer or admin page may show: header and env values, the OAuth secret."""
        values = [*self.headers.values(), *self.env.values()]
        if self.oauth is not None:
            values.append(self.oauth.client_secret)
        return [value for value in values if len(value) >= 8]

    def public(self) -> dict[str, Any]:
        """The server as /admin shows it: header and env names, never their values."""
        out = self.model_dump(exclude={"headers", "env", "oauth"})
        out["args"] = list(self.args)
        out["headers"] = {name: "***" for name in self.headers}
        out["env"] = {name: "***" for name in self.env}
        out["transport"] = self.kind
        if self.oauth is not None:
            out["oauth"] = {**self.oauth.model_dump(exclude={"client_secret"}), "client_secret": "***"}
        return out


class ModelCacheConfig(_Strict):
    ttl: float = Field(gt=0, description="seconds an answer is served from the cache")


class CacheConfig(_Strict):
    max_entries: int = Field(default=10_000, ge=1, description="of the in-memory cache (LRU)")


class TelemetryConfig(_Strict):
    """OpenTelemetry traces (observability/tracing.py); off without an endpoint."""

    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP collector, e.g. http://collector:4318")
    service_name: str = "babelgate"
    sample_ratio: float = Field(default=1.0, ge=0, le=1, description="share of traces kept (parent-based)")
    export_interval: float = Field(default=5.0, gt=0, description="seconds between exports")


class LedgerConfig(_Strict):
    retention: float = Field(
        default=90 * 24 * 3600.0, ge=0, description="seconds a ledger row is kept; 0 keeps it forever"
    )
    queue_limit: int = Field(
        default=100_000,
        ge=1,
        description="rows kept in memory while the store cannot take"
        " them (about 1 KB each); past it the oldest are dropped and counted",
    )
    spool_dir: Path = Field(
        default_factory=lambda: state_dir() / "ledger-spool",
        description="where rows the store did not take at shutdown wait for the next start",
    )
    content: bool = Field(
        default=False, description="keep MCP tool calls' arguments and results in their ledger rows (`content`)"
    )
    content_max_bytes: int = Field(
        default=65_536, ge=256, le=16 * 1024 * 1024, description="a tool call's content kept at most (then cut)"
    )


class DeploymentConfig(_WithKeys):
    """One place a model is served: a provider, its name for the model, and how much traffic it gets."""

    provider: str
    model: str = Field(min_length=1, description="the upstream's name for the model")
    weight: float = Field(default=1.0, gt=0)
    # A key pool of this deployment's own (env:VAR references); unset: the provider's keys.
    api_keys: tuple[str, ...] = ()
    timeouts: TimeoutsConfig | None = None
    defaults: dict[str, Any] = Field(default_factory=dict, description="set when the client did not")
    overrides: dict[str, Any] = Field(default_factory=dict, description="always set")
    price: PriceConfig | None = None  # unset: the model's, else the price table's for `model`
    # Where on its cloud this deployment is served, when not where its provider says (docs/decisions.md, "Cloud
    # providers' configuration": one model in two regions of one project is two deployments of one provider).
    project: str | None = None
    location: str | None = None
    region: str | None = None  # AWS Bedrock's


class ModelConfig(_WithKeys):
    """A public model: one deployment (`provider`, `model`) or several (`deployments`), with
    fallbacks (public model names) tried when they are exhausted (docs/decisions.md, "Deployments, fallbacks and the
    route header")."""

    provider: str | None = None
    model: str | None = Field(default=None, min_length=1, description="the upstream's name for the model")
    weight: float = Field(default=1.0, gt=0)
    api_keys: tuple[str, ...] = ()
    timeouts: TimeoutsConfig | None = None
    deployments: tuple[DeploymentConfig, ...] = ()
    fallbacks: tuple[str, ...] = ()
    context_window_fallbacks: tuple[str, ...] = ()
    content_policy_fallbacks: tuple[str, ...] = ()
    routing: RoutingConfig | None = None
    defaults: dict[str, Any] = Field(default_factory=dict, description="set when the client did not")
    overrides: dict[str, Any] = Field(default_factory=dict, description="always set")
    # `/v1/responses` requests for this model go to the upstream's own Responses API unchanged
    # (built-in tools work); only providers that have one accept it.
    native_responses: bool = False
    # A hosted tool (web_search, file_search…) the provider has no equivalent for: dropped and
    # reported, or refused with a 400. Unset: the server's `unsupported_tools`.
    unsupported_tools: UnsupportedTools | None = None
    price: PriceConfig | None = None  # unset: the price table's for each deployment's upstream model
    limits: LimitsConfig | None = None  # for all callers together (docs/governance.md)
    cache: ModelCacheConfig | None = None  # exact-match response cache (response_cache.py)
    guardrails: tuple[str, ...] = ()  # added to the server's for every request to this model
    # The voice cascade on /v1/realtime for this chat model (config/realtime.py); unset fields: the server's.
    realtime: CascadeConfig | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ModelConfig:
        if self.deployments:
            if self.provider is not None or self.model is not None:
                raise ValueError("give either provider and model, or deployments, not both")
        elif self.provider is None or self.model is None:
            missing = " and ".join(name for name in ("provider", "model") if getattr(self, name) is None)
            raise ValueError(f"{missing}: Field required (or a list of deployments)")
        return self

    def all_deployments(self) -> tuple[DeploymentConfig, ...]:
        """The deployments, the one-deployment form included (its defaults and overrides apply to it)."""
        if self.deployments:
            return tuple(
                DeploymentConfig(
                    provider=d.provider,
                    model=d.model,
                    weight=d.weight,
                    api_keys=d.api_keys,
                    timeouts=_merged_timeouts(self.timeouts, d.timeouts),
                    defaults={**self.defaults, **d.defaults},
                    overrides={**self.overrides, **d.overrides},
                    price=d.price or self.price,
                    project=d.project,
                    location=d.location,
                    region=d.region,
                )
                for d in self.deployments
            )
        assert self.provider is not None and self.model is not None
        return (
            DeploymentConfig(
                provider=self.provider,
                model=self.model,
                weight=self.weight,
                api_keys=self.api_keys,
                timeouts=self.timeouts,
                defaults=self.defaults,
                overrides=self.overrides,
                price=self.price,
            ),
        )


def _merged_timeouts(model: TimeoutsConfig | None, deployment: TimeoutsConfig | None) -> TimeoutsConfig | None:
    if model is None or deployment is None:
        return deployment or model
    return TimeoutsConfig(**{**model.model_dump(exclude_none=True), **deployment.model_dump(exclude_none=True)})


class CorsConfig(_Strict):
    """Cross-origin requests from browsers (off unless `server.cors` is set; cors.py)."""

    allow_origins: tuple[str, ...] = Field(min_length=1, description="origins, or '*' for any")
    allow_methods: tuple[str, ...] = ("GET", "POST", "PATCH", "DELETE")
    allow_headers: tuple[str, ...] = (
        "authorization",
        "content-type",
        "x-api-key",
        "anthropic-version",
        "anthropic-beta",
        "openai-beta",
        "x-babelgate-cache-ttl",
    )
    expose_headers: tuple[str, ...] = (
        "x-request-id",
        "x-babelgate-route",
        "x-babelgate-attempts",
        "x-babelgate-adjusted-params",
        "x-babelgate-cost-usd",
        "x-babelgate-cache",
        "retry-after",
    )
    allow_credentials: bool = False
    max_age: int = Field(default=600, ge=0)

    @model_validator(mode="after")
    def _credentials_need_origins(self) -> CorsConfig:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("allow_credentials needs the origins named: browsers refuse credentials with '*'")
        return self


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    unsupported_tools: UnsupportedTools = "drop"
    port: int = Field(default=8080, ge=0, le=65535)
    api_keys: tuple[str, ...] = ()
    # Opens the admin API (/admin/): an env: reference or BABELGATE_MASTER_KEY; unset: it is off.
    master_key: str | None = Field(default=None, repr=False, min_length=16)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    # What one client connection may hold (server_protocol.py): its request head's size, and the
    # time to send the head and then the body; past them, 431 or 408 and the connection closes.
    max_header_bytes: int = Field(default=65536, ge=4096)
    # Connections open at once to one upstream origin; a request past it waits for one to free.
    # Each stream holds one for its whole length, so this bounds the streams per provider.
    max_upstream_connections: int = Field(default=10000, ge=1)
    header_timeout: float = Field(default=10.0, gt=0)
    body_timeout: float = Field(default=60.0, gt=0)
    # On SIGTERM: stop accepting, let requests and streams in flight finish for up to this many
    # seconds, then cut what is left, flush the ledger and stores, and exit.
    shutdown_timeout: float = Field(default=30.0, ge=0)
    cors: CorsConfig | None = None
    default_timeout: float | None = Field(default=None, gt=0)
    providers_from_env: bool = True
    log_level: str = "info"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, with the request id
    guardrails: tuple[str, ...] = ()  # the guardrails every request passes (names of the top-level `guardrails`)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys_list(cls, value: Any) -> Any:
        return as_list(value) if isinstance(value, str | list | tuple) else value


def state_dir() -> Path:
    """The gateway's directory under the user's state directory (XDG): what outlives a restart."""
    return Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "babelgate"


def default_store_url() -> str:
    """SQLite under the user's state directory, so a restart finds earlier responses."""
    return f"sqlite:{state_dir() / 'babelgate.db'}"


class StoreConfig(_Strict):
    """Where shared state lives: `memory`, `sqlite:PATH` or `postgresql://…`."""

    url: str = Field(default_factory=default_store_url)
    # Seconds any store call a request waits for may take (store/timed.py); past it, a 503.
    timeout: float = Field(default=5.0, gt=0, description="seconds a store call may take before a request gets 503")

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value not in ("memory", "memory:") and not value.startswith(STORE_SCHEMES):
            raise ValueError("expected 'memory', 'sqlite:PATH', or a 'postgresql://' URL")
        return value


class RedisConfig(_Strict):
    """Where several gateway instances share routing state (routing/shared.py)."""

    url: str = Field(repr=False, description="redis://[user:password@]host:port/db or rediss://…")
    prefix: str = Field(default="babelgate:", min_length=1, description="of every key and channel")
    max_connections: int = Field(
        default=DEFAULT_MAX_CONNECTIONS,
        ge=2,  # a subscription holds one
        description="connections to Redis this process opens at most (one pool for all uses)",
    )
    timeout: float = Field(
        default=DEFAULT_TIMEOUT,
        gt=0,
        le=10,
        description="seconds a Redis call may take (connect and answer) "
        "before Redis is taken for down and state kept per instance",
    )

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value


class ResponsesConfig(_Strict):
    retention: float = Field(
        default=30 * 24 * 3600.0, ge=0, description="seconds a stored response is kept; 0 keeps it until deleted"
    )
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


class WebhookConfig(_Strict):
    """Where alerts go (governance/alerts.py): a JSON body signed with HMAC-SHA256, or Slack's format."""

    url: str = Field(description="http(s) URL the alert is POSTed to")
    secret: str | None = Field(default=None, repr=False, description="env:VAR; signs the body (HMAC-SHA256)")
    format: Literal["json", "slack"] = "json"


class AlertsConfig(_Strict):
    """Alerts: budget thresholds, key expiry ahead, a provider's circuit open for long."""

    webhooks: list[WebhookConfig] = Field(default_factory=list)
    budget_thresholds: list[float] = Field(default_factory=lambda: [50.0, 80.0, 100.0])
    key_expiry_days: float = Field(default=7.0, gt=0, description="alert when a key expires within this")
    circuit_open_seconds: float = Field(default=300.0, gt=0, description="alert when a circuit stays open this long")
    check_seconds: float = Field(default=30.0, gt=0, description="how often expiry and circuits are looked at")
    retries: int = Field(default=6, ge=0, description="delivery retries after the first try, with backoff")

    @field_validator("budget_thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if any(not 0 < item <= 1000 for item in value):
            raise ValueError("thresholds are percents of a budget, above 0")
        return sorted(set(value))


class ServerUrlsConfig(_Strict):
    """Where a request's own MCP server URL may lead: public https addresses only, as for fetched media,
    unless these say otherwise."""

    allow_http: bool = False
    # Exact IP addresses (not names, not networks) reachable although not public (an internal MCP host).
    allow_private_hosts: tuple[str, ...] = ()

    @field_validator("allow_private_hosts")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            ipaddress.ip_address(host)  # a ValueError names what is not an address
        return value


class ToolLoopConfig(_Strict):
    """Bounds of the loop the gateway runs for MCP tools inside model requests (tool_loop/)."""

    max_calls: int = Field(default=20, ge=1, description="MCP tool calls per request")
    max_seconds: float = Field(default=300.0, gt=0, description="seconds for all turns and calls of a request")
    call_timeout: float = Field(default=60.0, gt=0, description="seconds for one tool call or listing")
    # Off: requests name configured servers only. On: a request may name a server by URL, where the
    # caller's `mcp` field allows that URL (docs/mcp.md) and `server_urls` allows the destination.
    allow_server_urls: bool = Field(
        default=False, description="whether requests may name MCP servers by URL (false: configured servers only)"
    )
    server_urls: ServerUrlsConfig = Field(default_factory=ServerUrlsConfig)


class Config(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    redis: RedisConfig | None = None
    responses: ResponsesConfig = Field(default_factory=ResponsesConfig)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    models: dict[str, ModelConfig] = Field(default_factory=dict)
    aliases: dict[str, str] = Field(default_factory=dict)
    prices: dict[str, PriceConfig] = Field(default_factory=dict)  # upstream model pattern → price
    teams: dict[str, TeamConfig] = Field(default_factory=dict)
    alerts: AlertsConfig | None = None
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    tool_loop: ToolLoopConfig = Field(default_factory=ToolLoopConfig)
    # Upstream MCP servers behind /mcp (mcp/); unset: no MCP endpoint unless the admin API added some.
    # An empty list turns the endpoint on for servers added through the admin API only.
    mcp_servers: tuple[McpServerConfig, ...] | None = None
    # Checks of what goes to the models and comes back (guardrails/); each runs where a `guardrails` list names it.
    guardrails: tuple[GuardrailConfig, ...] = ()
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    exporters: tuple[ExporterConfig, ...] = ()
    # Bounds of Realtime sessions on /v1/realtime (config/realtime.py).
    realtime: RealtimeConfig = Field(default_factory=RealtimeConfig)
    # Uploaded files (/v1/files) and the batch engine (/v1/batches, /v1/messages/batches): config/batches.py.
    files: FilesConfig = Field(default_factory=FilesConfig)
    batches: BatchesConfig = Field(default_factory=BatchesConfig)

    @field_validator("mcp_servers")
    @classmethod
    def _mcp_names(cls, value: tuple[McpServerConfig, ...] | None) -> tuple[McpServerConfig, ...] | None:
        if value is None:
            return None
        names: set[str] = set()
        prefixes: set[str] = set()
        for server in value:
            if server.name in names:
                raise ValueError(f"MCP server name {server.name!r} is used twice")
            if server.namespace in prefixes:
                raise ValueError(f"MCP prefix {server.namespace!r} is used twice (tool names would collide)")
            names.add(server.name)
            prefixes.add(server.namespace)
        return value

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
            for number, deployment in enumerate(model.all_deployments()):
                if deployment.provider not in self.providers:
                    where = f"models.{name}.deployments[{number}]" if model.deployments else f"models.{name}"
                    raise ValueError(
                        f"{where}.provider: unknown provider {deployment.provider!r}"
                        f" (configured: {', '.join(sorted(self.providers)) or 'none'})"
                    )
            for field_name in ("fallbacks", "context_window_fallbacks", "content_policy_fallbacks"):
                if name in getattr(model, field_name):
                    raise ValueError(f"models.{name}.{field_name}: a model cannot be its own fallback")
        self._guardrail_names()
        return self

    def _guardrail_names(self) -> None:
        known: set[str] = set()
        for guardrail in self.guardrails:
            if guardrail.name in known:
                raise ValueError(f"guardrail name {guardrail.name!r} is used twice")
            known.add(guardrail.name)
        lists = [("server.guardrails", self.server.guardrails)]
        lists += [(f"models.{name}.guardrails", model.guardrails) for name, model in self.models.items()]
        lists += [(f"teams.{name}.guardrails", team.guardrails) for name, team in self.teams.items()]
        for where, names in lists:
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(
                    f"{where}: unknown guardrail {', '.join(map(repr, unknown))}"
                    f" (configured: {', '.join(sorted(known)) or 'none'})"
                )
        for guardrail in self.guardrails:
            if guardrail.kind == "bedrock" and guardrail.provider not in self.providers:
                raise ValueError(f"guardrails.{guardrail.name}.provider: unknown provider {guardrail.provider!r}")
            if guardrail.kind == "bedrock" and self.providers[guardrail.provider or ""].type != "bedrock":
                raise ValueError(
                    f"guardrails.{guardrail.name}.provider: {guardrail.provider!r} is not a bedrock provider"
                )
