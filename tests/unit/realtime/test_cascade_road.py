"""The cascade road on its own (realtime/cascade/road.py), its three models faked: what it answers to events the
integration tests do not reach."""

from __future__ import annotations

import asyncio
import base64
import struct
from collections.abc import AsyncIterator
from typing import Any

import pytest

from babelgate.config.realtime import CascadeConfig
from babelgate.errors import GatewayError, UpstreamUnavailable
from babelgate.realtime.cascade import road as road_module
from babelgate.realtime.cascade.road import CascadeRoad
from babelgate.schema.chat import ChatRequest
from babelgate.schema.chunks import ChatChunk, ChunkChoice, Delta

LOUD = struct.pack("<2400h", *([8000, -8000] * 1200))  # 100 ms of a loud square wave at 24 kHz


class Models:
    def __init__(self, *, speech_error: GatewayError | None = None, hold: asyncio.Event | None = None) -> None:
        self.speech_error = speech_error
        self.hold = hold
        self.requests: list[ChatRequest] = []

    async def transcribe(self, wav: bytes) -> str:
        return "hello"

    async def chat(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        for piece in ("Hi there, you. ", "Bye now."):
            yield ChatChunk("c", 0, "m", [ChunkChoice(0, Delta(content=piece))])
            if self.hold is not None:
                await self.hold.wait()

    async def speak(self, text: str, voice: str) -> AsyncIterator[bytes]:
        if self.speech_error is not None:
            raise self.speech_error
        yield b"\x01\x00" * 240


def payload(error: GatewayError) -> dict[str, Any]:
    return {"type": "server_error", "code": error.code or error.label, "message": "it failed", "param": None}


def road(models: Models, **cascade: Any) -> CascadeRoad:
    config = CascadeConfig(transcription="ears", speech="mouth", **cascade)
    return CascadeRoad(models, "talker", config, beta=False, error_payload=payload, tag="t")


async def events_until(road: CascadeRoad, kind: str) -> list[dict[str, Any]]:
    events = []
    while True:
        received = await asyncio.wait_for(road.receive(), 5)
        assert received is not None
        events.append(received[0])
        if received[0]["type"] == kind:
            return events


async def send(road: CascadeRoad, event: dict[str, Any]) -> None:
    await road.send(event, "")


def test_a_manual_commit_of_too_little_audio_is_refused_and_a_clear_empties_the_buffer() -> None:
    async def scenario() -> list[dict[str, Any]]:
        cascade = road(Models(), turn_detection=None)
        await events_until(cascade, "session.created")
        await send(cascade, {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(2400)).decode()})
        await send(cascade, {"type": "input_audio_buffer.commit", "event_id": "e1"})
        refused = await events_until(cascade, "error")
        await send(cascade, {"type": "input_audio_buffer.append", "audio": base64.b64encode(bytes(9600)).decode()})
        await send(cascade, {"type": "input_audio_buffer.clear"})
        await send(cascade, {"type": "input_audio_buffer.commit"})
        cleared = await events_until(cascade, "error")
        await cascade.close()
        return refused + cleared

    events = asyncio.run(scenario())
    assert events[0]["error"]["code"] == "input_audio_buffer_commit_empty" and events[0]["error"]["event_id"] == "e1"
    assert "has 50ms" in events[0]["error"]["message"]
    assert [e["type"] for e in events[1:]] == ["input_audio_buffer.cleared", "error"]


def test_a_speech_model_that_fails_ends_the_response_failed() -> None:
    async def scenario() -> list[dict[str, Any]]:
        cascade = road(Models(speech_error=UpstreamUnavailable(provider="up")))
        await events_until(cascade, "session.created")
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
        await send(cascade, {"type": "conversation.item.create", "item": item})
        await send(cascade, {"type": "response.create"})
        events = await events_until(cascade, "response.done")
        await cascade.close()
        return events

    events = asyncio.run(scenario())
    assert any(e["type"] == "error" and e["error"]["message"] == "it failed" for e in events)
    assert events[-1]["response"]["status"] == "failed"


def test_one_response_at_a_time_and_cancel_needs_one() -> None:
    async def scenario() -> list[dict[str, Any]]:
        hold = asyncio.Event()
        cascade = road(Models(hold=hold))
        await events_until(cascade, "session.created")
        await send(cascade, {"type": "response.cancel"})
        events = await events_until(cascade, "error")
        await send(cascade, {"type": "response.create"})
        events += await events_until(cascade, "response.created")
        await send(cascade, {"type": "response.create"})
        events += await events_until(cascade, "error")
        hold.set()
        events += await events_until(cascade, "response.done")
        await cascade.close()
        return events

    events = asyncio.run(scenario())
    errors = [e["error"]["code"] for e in events if e["type"] == "error"]
    assert errors == ["response_cancel_not_active", "conversation_already_has_active_response"]
    assert events[-1]["response"]["status"] == "completed"


def test_session_update_changes_voice_modalities_and_turn_detection_but_not_the_model() -> None:
    async def scenario() -> dict[str, Any]:
        cascade = road(Models())
        await events_until(cascade, "session.created")
        session = {
            "type": "realtime",
            "model": "other",
            "output_modalities": ["text"],
            "audio": {"input": {"turn_detection": None}, "output": {"voice": "verse"}},
        }
        await send(cascade, {"type": "session.update", "session": session})
        (updated,) = await events_until(cascade, "session.updated")
        assert cascade._vad is None and cascade.state.voice == "verse"
        await cascade.close()
        return updated["session"]  # type: ignore[no-any-return]

    session = asyncio.run(scenario())
    assert session["model"] == "talker" and session["output_modalities"] == ["text"]
    assert session["audio"]["input"]["turn_detection"] is None


def test_items_are_deleted_and_unknown_events_refused() -> None:
    async def scenario() -> list[dict[str, Any]]:
        cascade = road(Models())
        await events_until(cascade, "session.created")
        item = {"id": "i1", "type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}
        await send(cascade, {"type": "conversation.item.create", "item": item})
        await send(cascade, {"type": "conversation.item.delete", "item_id": "i1"})
        events = await events_until(cascade, "conversation.item.deleted")
        await send(cascade, {"type": "conversation.item.delete", "item_id": "i1"})
        await send(cascade, {"type": "transcription_session.update"})
        events += await events_until(cascade, "error")
        events += await events_until(cascade, "error")
        assert cascade.state.items == []
        await cascade.close()
        return events

    codes = [e["error"]["code"] for e in asyncio.run(scenario()) if e["type"] == "error"]
    assert codes == ["item_not_found", "unsupported_event"]


def test_a_turn_that_never_falls_silent_is_committed_at_the_buffers_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(road_module, "MAX_BUFFER_BYTES", 48_000)  # one second

    async def scenario() -> list[dict[str, Any]]:
        cascade = road(Models())
        await events_until(cascade, "session.created")
        for _ in range(15):  # 1.5 s of loud audio in 100 ms appends
            await send(cascade, {"type": "input_audio_buffer.append", "audio": base64.b64encode(LOUD).decode()})
        events = await events_until(cascade, "input_audio_buffer.committed")
        await cascade.close()
        return events

    kinds = [e["type"] for e in asyncio.run(scenario())]
    assert kinds == [
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
    ]
