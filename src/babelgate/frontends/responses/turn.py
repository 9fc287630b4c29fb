"""One response, whichever transport carries it: prepare (validate, continue the conversation,
decode into a chat request), run (one answer or the event stream), and remember.

HTTP and WebSocket differ only in how they send events and where they look up earlier
responses (a WebSocket connection also remembers its own `store: false` responses).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from babelgate.errors import NotFound
from babelgate.frontends.one_answer import Frame, sse_event
from babelgate.frontends.prepare import prepared_request
from babelgate.frontends.responses import wire
from babelgate.frontends.responses.mcp import INCOMPLETE_LIMIT, McpTurn, event_item, prepare_mcp
from babelgate.frontends.responses.reasoning import ENCRYPTED_CONTENT, ReasoningSeal, open_items
from babelgate.frontends.responses.resource import ResponseShell
from babelgate.frontends.responses.stream import ResponsesStreamEncoder
from babelgate.frontends.responses.tools import ToolNames
from babelgate.frontends.responses.translate import chat_request, normalize_input, outcome, output_items
from babelgate.frontends.responses.validate import validate_item, validate_translatable
from babelgate.frontends.responses.wire import JSON
from babelgate.hooks import RequestContext
from babelgate.providers.base import CallNotes
from babelgate.routing.registry import Deployment
from babelgate.runtime import Runtime  # at run time: the compiled build's dataclasses resolve their fields' types
from babelgate.schema.chat import ChatRequest
from babelgate.schema.chunks import ChatChunk
from babelgate.store import ResponseStore, StoredResponse
from babelgate.streaming import SSE_DONE
from babelgate.tool_loop.loop import Loop, LoopEvent

if TYPE_CHECKING:
    from babelgate.call import Call

Lookup = Callable[[str], Awaitable[StoredResponse | None]]


@dataclass(slots=True)
class Turn:
    runtime: Runtime
    deployment: Deployment
    body: JSON
    request: ChatRequest
    shell: ResponseShell
    input_items: list[JSON]
    conversation: list[JSON]  # the items before this turn's input
    store: bool
    language: str
    notes: CallNotes
    context: RequestContext | None = None
    owner: str | None = None  # the gateway key id of the caller
    names: ToolNames | None = None  # chat names of namespaced functions → the client's (tools.py)
    seal: ReasoningSeal | None = None  # set when the client asked for sealed reasoning (reasoning.py)
    final: JSON | None = None  # the terminal resource of the whole answer (`answer`)
    encoder: ResponsesStreamEncoder | None = None  # the stream's (`stream_encoder`)
    mcp: McpTurn | None = None  # the request's MCP tools, run by the gateway (mcp.py, tool_loop/)

    @property
    def response(self) -> JSON | None:
        """The terminal resource once there is one: the whole answer's, or the one its stream ended with
        (completed, incomplete or failed)."""
        return self.encoder.final if self.encoder is not None else self.final

    def chunks(self) -> AsyncIterator[ChatChunk | LoopEvent]:
        """The upstream's stream of this turn (of each model turn, with the MCP tools' events between)."""
        mcp = self.mcp
        if mcp is not None:
            loop = Loop(self.deployment.provider, self.deployment.model, self.notes, mcp.toolbox)
            return loop.stream_closing(self.request, mcp.outcome, mcp.opening)
        return self.deployment.provider.stream(self.request, self.deployment.model, self.notes)

    def stream_encoder(self, frame: Frame = sse_event, trailer: bytes = SSE_DONE) -> ResponsesStreamEncoder:
        """The turn's event stream as a StreamEncoder (SSE with `[DONE]` unless told otherwise)."""
        self.encoder = ResponsesStreamEncoder(
            self.shell,
            self.names,
            self.seal,
            frame=frame,
            trailer=trailer,
            loop=self.mcp.outcome if self.mcp is not None else None,
        )
        return self.encoder

    def record(self) -> StoredResponse:
        response = self.response
        assert response is not None
        retention = self.runtime.config.responses.retention
        return StoredResponse(
            id=self.shell.id,
            created_at=self.shell.created_at,
            # Rounded up: stores compare whole seconds (store/base.py), and rounding down let a response made late
            # in a second expire within a tenth of a second of a one-second retention. Kept `retention` to
            # `retention` + 1 seconds.
            expires_at=math.ceil(time.time() + retention) if retention else None,
            response=response,
            input_items=self.input_items,
            conversation=[*self.conversation, *self.input_items],
            owner=self.owner,
        )


async def owned(store: ResponseStore, response_id: str, owner: str | None) -> StoredResponse | None:
    """A stored response, for the gateway key that created it only: to any other key (with keys
    configured) it does not exist, so ids never leak one caller's conversations to another."""
    record = await store.get(response_id)
    return record if record is not None and record.owner == owner else None


def stored_conversation(previous: StoredResponse) -> list[JSON]:
    """The items of the conversation a stored response ends, checked as input items are: they were
    when they came in (or the gateway wrote them), but they come back from a database, and a
    request decoded from them must fail as a 400 naming the item, never as a 500."""
    conversation = [*previous.conversation, *previous.response.get("output", ())]
    for index, item in enumerate(conversation):
        validate_item(item, f"previous_response_id.items[{index}]")
    return conversation


def previous_not_found(response_id: str) -> NotFound:
    return NotFound(
        "previous_response_not_found",
        code="previous_response_not_found",
        param="previous_response_id",
        error_type="invalid_request_error",
        response_id=response_id,
    )


async def prepare(
    runtime: Runtime,
    body: JSON,
    deployment: Deployment,
    lookup: Lookup,
    *,
    language: str,
    context: RequestContext | None,
    notes: CallNotes,
    stream: bool,
    owner: str | None,
    call: Call | None = None,  # the request's record: its ledger rows (None: a test's, unaccounted)
) -> Turn:
    """`body` already passed `validate_create_body`; `deployment` serves this attempt (of the pipeline's model call)."""
    validate_translatable(body)
    conversation: list[JSON] = []
    previous_id = body.get("previous_response_id")
    if previous_id:
        previous = await lookup(previous_id)
        if previous is None:
            raise previous_not_found(previous_id)
        conversation = stored_conversation(previous)
    items = normalize_input(body.get("input"))
    seal = await _reasoning_seal(runtime, deployment, body, [*conversation, *items])
    reasoning = (
        {}
        if seal is None
        else open_items([*conversation, *items], seal, notes.adjusted, first_reported=len(conversation))
    )
    request, names = chat_request(body, conversation, items, notes.adjusted, reasoning=reasoning)
    request = await prepared_request(runtime, deployment, request, stream=stream, context=context, notes=notes)
    mcp = await prepare_mcp(
        runtime, body, conversation, items, request, call=call, deployment=deployment, stream=stream
    )
    if mcp is not None:
        request = mcp[1]
    store = body.get("store") is not False
    shell = ResponseShell.for_request(wire.new_response_id(), deployment.public_name, body, store=store)
    return Turn(
        runtime,
        deployment,
        body,
        request,
        shell,
        items,
        conversation,
        store,
        language,
        notes,
        context,
        owner,
        names=names,
        seal=seal if ENCRYPTED_CONTENT in (body.get("include") or ()) else None,
        mcp=mcp[0] if mcp is not None else None,
    )


async def _reasoning_seal(
    runtime: Runtime, deployment: Deployment, body: JSON, items: list[JSON]
) -> ReasoningSeal | None:
    """A seal when the client asks for sealed reasoning or sends some back; None (and no key
    lookup) for everyone else."""
    wanted = ENCRYPTED_CONTENT in (body.get("include") or ())
    if not wanted and not any(item.get("type") == "reasoning" and item.get("encrypted_content") for item in items):
        return None
    return ReasoningSeal(
        runtime.reasoning_sealer.sealer or await runtime.reasoning_sealer.get(), deployment.provider.name
    )


async def answer(turn: Turn) -> JSON:
    """The whole response at once (HTTP without `stream`)."""
    provider = turn.deployment.provider
    items: list[JSON] = []
    if turn.mcp is None:
        response = await provider.chat(turn.request, turn.deployment.model, turn.notes)
        usage = response.usage
    else:
        mcp = turn.mcp
        try:
            loop = Loop(provider, turn.deployment.model, turn.notes, mcp.toolbox)
            response = await loop.run(turn.request, mcp.outcome)
        finally:
            await mcp.toolbox.aclose()
        items = [event_item(event) for event in (*mcp.opening, *mcp.outcome.events)]
        usage = turn.notes.usage
    finish = response.choices[0].finish_reason if response.choices else None
    turn.notes.finish_reason = finish
    status, details = outcome(finish)
    if turn.mcp is not None and turn.mcp.outcome.limit is not None:
        status, details = "incomplete", INCOMPLETE_LIMIT
    turn.final = turn.shell.resource(
        status,
        [*items, *output_items(response, turn.names, turn.seal)],
        usage=wire.usage_to_wire(usage),
        incomplete_details=details,
    )
    return turn.final
