"""Runtime: everything a request may use that a config decides (providers, registry, router, hooks,
stores, limits). Frontends take it as an argument and never import the app that mounts them.

It is immutable: a reload builds a new one and swaps a reference (app.py), so requests in flight
finish on the runtime they started with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from babelgate.config.batches import default_files_dir
from babelgate.config.models import Config
from babelgate.conversation.log import ConversationLog
from babelgate.cors import Cors
from babelgate.governance.admission import Governance
from babelgate.governance.alerts import Alerts
from babelgate.governance.audit import AuditLog
from babelgate.governance.directory import Directory
from babelgate.governance.gateway_keys import GatewayKeys
from babelgate.governance.ledger import Ledger
from babelgate.governance.refusals import RefusalLog
from babelgate.governance.virtual_keys import KeyRing
from babelgate.guardrails.registry import Guardrails
from babelgate.hooks import Hook
from babelgate.observability.metrics import Metrics
from babelgate.providers.base import Provider
from babelgate.realtime.sessions import RealtimeState
from babelgate.response_cache import ResponseCache
from babelgate.routing.catalog import ModelCatalog
from babelgate.routing.registry import ModelRegistry
from babelgate.routing.router import Router
from babelgate.sealing import SealerSource
from babelgate.store import ResponseStore
from babelgate.store.batch_memory import MemoryBatchStore
from babelgate.store.batch_records import BatchStore
from babelgate.store.file_contents import DirectoryContents, FileContents

if TYPE_CHECKING:  # the MCP SDK, PyJWT and `cryptography` load only when configured
    from babelgate.identity.jwt_callers import JwtCallers
    from babelgate.identity.oidc import OidcClient
    from babelgate.mcp.servers import McpServers


@dataclass(frozen=True, slots=True)
class Runtime:
    """Everything a request needs that a config decides."""

    config: Config
    providers: dict[str, Provider]
    registry: ModelRegistry
    router: Router
    catalog: ModelCatalog
    keys: GatewayKeys
    key_ring: KeyRing  # the virtual keys (the admin API writes them)
    governance: Governance  # limits and budgets of keys, users, teams, end users and models
    directory: Directory  # users and teams (the admin API writes them)
    audit: AuditLog  # every admin action
    alerts: Alerts  # budget thresholds, key expiry, open circuits → webhooks
    ledger: Ledger  # one row per request, written in batches (governance/ledger.py)
    cache: ResponseCache  # exact-match answers (response_cache.py)
    hooks: tuple[Hook, ...]
    typed_hooks: tuple[Hook, ...]
    chunk_hooks: tuple[Hook, ...]  # the hooks that override on_stream_chunk
    metrics: Metrics
    response_store: ResponseStore
    reasoning_sealer: SealerSource  # seals reasoning state clients carry (frontends/responses/reasoning.py)
    max_body_bytes: int
    version: str
    created: int
    started_monotonic: float
    refusals: RefusalLog  # the log of refused callers, the gateway's (one across reloads)
    cors: Cors | None = None  # server.cors: None answers no browser from another origin
    jwt: JwtCallers | None = None  # auth.jwt: callers presenting the identity provider's JWTs
    oidc: OidcClient | None = None  # auth.oidc: people signing in to the dashboard
    mcp_servers: McpServers | None = None  # upstream MCP servers (mcp/); None: none configured
    # Provider name → what is wrong with its credentials, as the provider found at load (no secret in it).
    credential_problems: dict[str, str] = field(default_factory=dict)
    # The configured guardrails and which of them each request passes (guardrails/); none: nothing is checked.
    guardrails: Guardrails = field(default_factory=Guardrails.none)
    # The conversation log (conversation/log.py), when logging.content is on: None costs a request one test.
    conversations: ConversationLog | None = None
    # Realtime sessions running and client secrets (realtime/sessions.py): the gateway's, one across reloads.
    realtime: RealtimeState = field(default_factory=RealtimeState)
    # Files, batches and their lines' outcomes (frontends/batches/), and where files' contents are (the gateway's
    # batches part sets both from the config).
    batch_store: BatchStore = field(default_factory=MemoryBatchStore)
    file_contents: FileContents = field(default_factory=lambda: DirectoryContents(default_files_dir()))
    # Tells the batch engine a batch is waiting (batch_engine/): it claims at once instead of at its next poll.
    batch_wake: Callable[[], None] = field(default=lambda: None)
