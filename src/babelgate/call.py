"""One request's record, owned by the pipeline: who called, what it asked for, what served it, and how it
ended. The pipeline writes it (the router and governance add the answer's headers to it); accounting,
traces and hooks read it. The sink that carries the request (exchange.py for HTTP, a response on a
Responses WebSocket) is I/O only and holds none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from babelgate.errors import GatewayError
from babelgate.hooks import Hook, RequestContext
from babelgate.i18n import choose_language
from babelgate.providers.base import CallNotes

if TYPE_CHECKING:
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.guardrails.check import Decisions
    from babelgate.observability.tracing import AttemptRecord
    from babelgate.transcript import Transcript

Headers = list[tuple[bytes, bytes]]


class Call:
    __slots__ = (
        "_by_name",
        "attempt_log",
        "batch_id",
        "body_size",
        "chunk_hooks",
        "context",
        "details",
        "end_user",
        "error",
        "guarded",
        "headers_out",
        "key_id",
        "logged",
        "model",
        "notes",
        "provider",
        "query",
        "request_headers",
        "request_id",
        "requested_model",
        "route",
        "session",
        "signature",
        "virtual_key",
    )

    def __init__(self, route: str, request_id: bytes, request_headers: Headers) -> None:
        self.route = route  # the route's metric name (chat.completions, messages, …)
        self.request_id = request_id
        self.request_headers = request_headers  # as the client sent them (lower-case names)
        self._by_name: dict[bytes, bytes] | None = None  # the same, by name (the first of a repeated one)
        self.query = b""  # the URL's query string (Google's clients may send their key there)
        self.key_id: str | None = None  # the caller's key id (safe to log), once authenticated
        self.virtual_key: VirtualKey | None = None  # the caller's, when it sent one (its models, limits)
        # The AWS signature it was let in with (governance/sigv4.py), given back if it fails before its answer.
        self.signature: str | None = None
        self.end_user: str | None = None  # the end customer the request names (body or header), if any
        self.logged: Transcript | None = None  # what the conversation log keeps of it, when it covers the caller
        self.guarded: Decisions | None = None  # what its guardrails decided, when any ran (guardrails/check.py)
        self.requested_model = ""  # the public model name the client asked for
        self.provider = ""  # the provider and public model that served (or last tried) it
        self.model = ""
        self.body_size = 0  # bytes of the request, for the token estimate of tokens-per-minute limits
        self.notes: CallNotes | None = None  # what the serving attempt reported (usage, cost, adjustments)
        self.context: RequestContext | None = None  # what the hooks see, once they have seen it
        self.chunk_hooks: tuple[Hook, ...] = ()  # the hooks that see each piece of a stream, when any
        self.attempt_log: list[AttemptRecord] | None = None  # each attempt, when traces are on
        self.session: str | None = None  # its session's hash, when the model keeps sessions on a deployment
        self.batch_id: str | None = None  # the batch it is a line of, when the gateway runs it for one
        self.details: str | None = None  # what the ledger keeps of a Realtime session beside the totals (JSON)
        self.error: GatewayError | None = None  # what failed it (its code for metrics, its message for the ledger)
        # Headers the answer carries besides its own: the route's and attempts' (routing/), the rate limits'
        # (governance/), the cache's.
        self.headers_out: Headers = []

    def header(self, name: bytes) -> bytes | None:
        """The request's header `name` (lower case), the first when it was sent more than once. A request asks
        for half a dozen (its id, length, key, cache control, end customer…): the headers are put in a dict,
        in C, at the first ask, where a scan of them all per ask cost a request a few hundred bytecodes."""
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = dict(reversed(self.request_headers))
        return by_name.get(name)

    @property
    def language(self) -> str:
        value = self.header(b"accept-language")
        return choose_language(value.decode("latin-1") if value else None)

    def failed(self, error: GatewayError) -> None:
        """The request ended with `error` (whether or not the client could still be told)."""
        self.error = error

    @property
    def error_code(self) -> str:
        error = self.error
        return error.label if error is not None else ""

    def hook_context(self, model: str, provider: str, upstream_model: str, stream: bool) -> RequestContext:
        """What the hooks see of this request."""
        key = self.virtual_key
        return RequestContext(
            request_id=self.request_id.decode(),
            route=self.route,
            model=model,
            provider=provider,
            upstream_model=upstream_model,
            stream=stream,
            key_id=self.key_id,
            headers={k.decode("latin-1"): v.decode("latin-1") for k, v in self.request_headers},
            team=key.team if key is not None else None,
            key_metadata=key.metadata if key is not None else {},
        )
