"""Checks of the realtime translators' output against the SDKs' own types: OpenAI's realtime events (pydantic,
which takes unknown fields, so those are looked for too) and google-genai's Live messages (which refuse them)."""

from __future__ import annotations

import typing
from typing import Annotated, Any, Final

import pydantic
from google.genai import types as genai
from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent

from babelgate.realtime.gemini_live.events import GA_NAMES


def _by_type(union: Any) -> dict[str, type[pydantic.BaseModel]]:
    """The union's members by their `type` literal: one model's errors, not every member's."""
    members = typing.get_args(typing.get_args(union)[0]) if typing.get_origin(union) is Annotated else ()
    members = members or typing.get_args(union)
    return {typing.get_args(model.model_fields["type"].annotation)[0]: model for model in members}


SERVER_EVENTS: Final = _by_type(RealtimeServerEvent)
CLIENT_EVENTS: Final = _by_type(RealtimeClientEvent)
# Fields OpenAI's own server sends that its SDK's types leave out.
_SENT_BY_OPENAI = {"id", "object"}


def _extras(model: Any, path: str = "") -> list[str]:
    out: list[str] = []
    if isinstance(model, pydantic.BaseModel):
        out += [f"{path}.{name}" for name in (model.model_extra or {}) if name not in _SENT_BY_OPENAI]
        for name in type(model).model_fields:
            out += _extras(getattr(model, name), f"{path}.{name}")
    elif isinstance(model, list):
        for index, item in enumerate(model):
            out += _extras(item, f"{path}[{index}]")
    return out


def openai_server_event(event: dict[str, Any], *, beta: bool = False) -> Any:
    """A server event as the OpenAI SDK reads it. This SDK has no beta realtime types: a beta event is checked
    as the GA event of the same meaning, after its name and the GA-only fields are put right."""
    if beta:
        event = {**event, "type": GA_NAMES.get(event["type"], event["type"])}
        assert event["type"] != "conversation.item.done", "a beta client has no conversation.item.done"
        if event["type"] in ("session.created", "session.updated"):
            assert "modalities" in event["session"] and "output_modalities" not in event["session"]
            return event
        if event["type"] in ("response.created", "response.done"):
            assert "modalities" in event["response"]
            response = {k: v for k, v in event["response"].items() if k != "modalities"}
            response["output"] = [_beta_item(item) for item in response.get("output", [])]
            event = {**event, "response": response}
        for key in ("item",):
            if key in event:
                event[key] = _beta_item(event[key])
    assert event["type"] in SERVER_EVENTS, f"not an OpenAI realtime server event: {event['type']}"
    parsed = SERVER_EVENTS[event["type"]].model_validate(event)
    extras = _extras(parsed)
    assert not extras, f"{event['type']}: fields the SDK does not know: {extras}"
    return parsed


def _beta_item(item: dict[str, Any]) -> dict[str, Any]:
    content = [
        {**part, "type": {"audio": "output_audio", "text": "output_text"}.get(part.get("type"), part.get("type"))}
        for part in item.get("content", [])
    ]
    return {**item, "content": content} if "content" in item else item


def openai_client_event(event: dict[str, Any]) -> Any:
    assert event["type"] in CLIENT_EVENTS, f"not an OpenAI realtime client event: {event['type']}"
    parsed = CLIENT_EVENTS[event["type"]].model_validate(event)
    extras = _extras(parsed)
    assert not extras, f"{event['type']}: fields the SDK does not know: {extras}"
    return parsed


def gemini_client_message(message: dict[str, Any]) -> genai.LiveClientMessage:
    """google-genai's `LiveClientSetup` leaves out `realtimeInputConfig`, which its converters write into the
    setup from `LiveConnectConfig.realtime_input_config`: that part is checked against its own type."""
    for name in ("realtimeInputConfig", "realtime_input_config"):
        if isinstance(message.get("setup"), dict) and name in message["setup"]:
            setup = dict(message["setup"])
            genai.RealtimeInputConfig.model_validate(setup.pop(name))
            message = {**message, "setup": setup}
    return genai.LiveClientMessage.model_validate(message)


def gemini_server_message(message: dict[str, Any]) -> genai.LiveServerMessage:
    return genai.LiveServerMessage.model_validate(message)
