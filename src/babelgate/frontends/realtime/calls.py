"""`POST /v1/realtime/calls`: a Realtime call over WebRTC, relayed. The caller's SDP offer (`application/sdp`, or
OpenAI's SDK's multipart with `sdp` and `session` parts) goes to a provider that takes WebRTC calls, with the
upstream's key; its SDP answer comes back (201, `Location: /v1/realtime/calls/{call_id}`). The media then flow
between the browser and the provider: the gateway sees the call's creation only, one ledger row (route
`realtime`, road `webrtc`) without tokens. `POST /v1/realtime/calls/{call_id}/hangup` ends a call it created.

Signed in as `/v1/realtime` is: a gateway key, or a client secret, whose session settings are the call's."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, quote

import orjson

from babelgate import pipeline
from babelgate.answer import Answer
from babelgate.errors import InvalidRequest, MethodNotAllowed, NotFound
from babelgate.exchange import Exchange
from babelgate.frontends.body_schema import OBJECT, STRING, obj
from babelgate.frontends.multipart import parse_form
from babelgate.frontends.realtime.sign_in import sign_in
from babelgate.frontends.route import Operation, PrefixRoute, Route
from babelgate.model_call import ModelCall
from babelgate.providers.base import CallNotes, realtime_calls_of
from babelgate.realtime.calls import PlacedCall
from babelgate.routing.registry import Deployment

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

ROUTE: Final = "realtime"  # the ledger's route: a call is a Realtime session on another road
SDP: Final = b"application/sdp"
CALLS_PATH: Final = "/v1/realtime/calls/"


async def create_call(runtime: Runtime, exchange: Exchange) -> ModelCall:
    record = exchange.call
    record.route = ROUTE
    signed = await sign_in(runtime, record)  # a client secret's one session is this call
    grant = signed[0] if signed is not None else None
    raw = await exchange.read_body(runtime.max_body_bytes)
    sdp, session = _offer(raw, exchange.header(b"content-type"))
    # The model: the caller's `session` part's, else the URL's, else the client secret's (as on /v1/realtime).
    model = session.pop("model", None)
    if model is None:
        named = parse_qs(record.query.decode("latin-1")).get("model")
        model = named[0] if named else None
    if grant is not None:  # the secret's settings, under what the caller sent beside them
        settings = dict(grant.session)
        granted = settings.pop("model", None)
        model = model if model is not None else granted
        session = {**settings, **session}
    if not isinstance(model, str) or not model:
        raise InvalidRequest("missing_field", param="model", code="missing_model")
    session.pop("type", None)
    calls = runtime.realtime.calls

    async def attempt(deployment: Deployment, notes: CallNotes) -> Answer:
        part = realtime_calls_of(deployment.provider)
        assert part is not None  # `_check`
        call = await part.realtime_call(deployment.model, sdp, session)
        headers = []
        if call.call_id is not None:
            calls.remember(
                call.call_id,
                PlacedCall(
                    call.call_id,
                    deployment.provider.name,
                    record.key_id,
                    deployment.public_name,
                    deployment.model,
                    time.time(),
                ),
            )
            headers.append((b"location", (CALLS_PATH + quote(call.call_id, safe="")).encode()))
        record.details = orjson.dumps({"road": "webrtc", "call_id": call.call_id}).decode()
        notes.completed = True
        return Answer(call.sdp, notes, status=201, content_type=(b"content-type", SDP), headers=headers)

    return ModelCall(model, attempt, False, check=_check)


def _check(deployment: Deployment) -> None:
    pipeline.require(realtime_calls_of(deployment.provider) is not None, deployment, "realtime calls (WebRTC)")


def _offer(raw: bytes, content_type: bytes | None) -> tuple[bytes, dict[str, Any]]:
    """The SDP offer and the session settings the caller sent (none with a bare `application/sdp` body)."""
    kind = (content_type or b"").split(b";", 1)[0].strip().lower()
    session: Any = {}
    if kind == SDP:
        sdp = raw
    else:
        form = parse_form(raw, content_type.decode("latin-1") if content_type is not None else None)
        parts = {part.name: part.data for part in form}
        if "sdp" not in parts:
            raise InvalidRequest("missing_field", param="sdp")
        sdp = parts["sdp"]
        if "session" in parts:
            session = pipeline.parse_json_object(parts["session"])
            if session.get("type", "realtime") != "realtime":
                raise InvalidRequest("wrong_type", param="session.type", expected="'realtime'")
    if not sdp.lstrip().startswith(b"v=0"):
        raise InvalidRequest("invalid_value", param="sdp", detail="expected an SDP offer (it begins with v=0)")
    return sdp, dict(session)


async def hang_up(runtime: Runtime, exchange: Exchange, rest: str) -> Answer:
    """Ends a call this gateway created, for the key that created it (anyone else's is not found)."""
    record = exchange.call
    method, path = exchange.scope["method"], exchange.scope["path"]
    call_id, _, suffix = rest.partition("/")
    if suffix != "hangup" or not call_id:
        raise NotFound(method=method, path=path)
    if method != "POST":
        raise MethodNotAllowed(method=method, path=path)
    await pipeline.identify(runtime, record)  # a client secret was spent on the call: its key hangs up
    placed = runtime.realtime.calls.find(call_id, record.key_id)
    provider = runtime.providers.get(placed.provider) if placed is not None else None
    part = realtime_calls_of(provider) if provider is not None else None
    if part is None:
        raise NotFound("realtime_call_not_found", code="call_not_found", call_id=call_id)
    await part.realtime_hangup(call_id)
    runtime.realtime.calls.forget(call_id)
    return Answer(b"", None, status=200, headers=[])


CALL_FORM: Final = obj(("sdp",), properties={"sdp": STRING, "session": OBJECT})
ROUTES: Final = {
    "/realtime/calls": Route(
        "POST",
        create_call,
        "realtime.calls",
        public=True,  # it signs in itself: a client secret is a key here, as on /v1/realtime
        operations=(Operation("POST", form=CALL_FORM, status=201, query=("model",), answers="application/sdp"),),
    ),
}
PREFIX_ROUTES: Final = (
    PrefixRoute(
        "/realtime/calls/",
        "realtime.calls.hangup",
        hang_up,
        public=True,
        parameter="call_id",
        operations={"/hangup": (Operation("POST"),)},
    ),
)
