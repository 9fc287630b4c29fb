"""OpenAI's Realtime API: the WebSocket on `/v1/realtime` (door.py) and `POST /v1/realtime/client_secrets`, which
makes a client secret (`ek_…`, realtime/secrets.py) for a browser or a phone to open one session with."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Final

from babelgate.answer import Answer, json_answer
from babelgate.errors import InvalidRequest
from babelgate.exchange import Exchange
from babelgate.frontends.body_schema import obj
from babelgate.frontends.later import later_websocket
from babelgate.frontends.realtime import calls
from babelgate.frontends.route import Frontend, Operation, Route
from babelgate.pipeline import parse_json_object
from babelgate.realtime.secrets import DEFAULT_SECONDS, MIN_SECONDS

if TYPE_CHECKING:
    from babelgate.runtime import Runtime

CLIENT_SECRETS_BODY: Final = obj(
    properties={
        "expires_after": obj(
            properties={"anchor": {"type": "string", "enum": ["created_at"]}}, integers={"seconds": (MIN_SECONDS, 7200)}
        ),
        "session": obj(strings=("type", "model", "instructions")),
    }
)


async def create_client_secret(runtime: Runtime, exchange: Exchange) -> Answer:
    """A client secret bound to the caller and to the session settings it describes (applied when the session
    opens). A model it names is checked now: one the caller may not use is refused here, not at connect."""
    raw = await exchange.read_body(runtime.max_body_bytes)
    body = parse_json_object(raw) if raw.strip() else {}
    seconds = _seconds(body.get("expires_after"), runtime.config.realtime.ephemeral_key_max_seconds)
    session = body.get("session", {})
    if not isinstance(session, dict):
        raise InvalidRequest("wrong_type", param="session", expected="an object")
    session_type = session.get("type", "realtime")
    if session_type != "realtime":
        raise InvalidRequest("wrong_type", param="session.type", expected="'realtime'")
    record = exchange.call
    model = session.get("model")
    if model is not None:
        if not isinstance(model, str) or not model:
            raise InvalidRequest("wrong_type", param="session.model", expected="a model name")
        runtime.governance.applicable(record.virtual_key, model)  # raises for a model the caller may not use
        runtime.registry.route(model)  # raises for an unknown one
    value, grant = runtime.realtime.secrets.issue(record.key_id, record.virtual_key, dict(session), seconds)
    expires_at = int(grant.expires_at)
    described: dict[str, Any] = {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_" + secrets.token_hex(12),
        "expires_at": expires_at,
        **{name: item for name, item in session.items() if name not in ("type", "object", "id", "expires_at")},
    }
    return json_answer({"value": value, "expires_at": expires_at, "session": described})


def _seconds(expires_after: Any, most: int) -> int:
    if expires_after is None:
        return DEFAULT_SECONDS
    if not isinstance(expires_after, dict):
        raise InvalidRequest("wrong_type", param="expires_after", expected="an object")
    anchor = expires_after.get("anchor", "created_at")
    if anchor != "created_at":
        raise InvalidRequest("wrong_type", param="expires_after.anchor", expected="'created_at'")
    seconds = expires_after.get("seconds", DEFAULT_SECONDS)
    if seconds.__class__ is not int or not MIN_SECONDS <= seconds <= most:
        raise InvalidRequest(
            "wrong_type", param="expires_after.seconds", expected=f"an integer from {MIN_SECONDS} to {most}"
        )
    return int(seconds)


FRONTEND: Final[Frontend] = Frontend(
    routes={
        "/realtime/client_secrets": Route(
            "POST",
            create_client_secret,
            "realtime.client_secrets",
            operations=(Operation("POST", body=CLIENT_SECRETS_BODY, body_optional=True),),
        ),
        **calls.ROUTES,
    },
    prefix_routes=calls.PREFIX_ROUTES,
    websocket_paths=frozenset({"/realtime", "/v1/realtime"}),
    # The sessions' machinery (relay, translation to Gemini Live, the voice cascade) loads at the first connection.
    websocket=later_websocket("babelgate.frontends.realtime.door", "serve_realtime"),
    operations={"realtime": "chat"},
)
