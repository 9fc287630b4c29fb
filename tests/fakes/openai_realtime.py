"""A fake OpenAI Realtime upstream on 127.0.0.1: a WebSocket server (the `websockets` library) that checks every
client event against the openai SDK's own types (GA `RealtimeClientEvent`, or the beta one for a client that sent
`OpenAI-Beta: realtime=v1`) and the upstream key, and answers with a scripted conversation: `session.created`, a
response of text and audio deltas (base64 PCM), a function call, `response.done` with usage."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from openai.types.beta.realtime import RealtimeClientEvent as BetaClientEvent
from openai.types.realtime import RealtimeClientEvent
from pydantic import TypeAdapter, ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

GA_EVENTS: Final = TypeAdapter(RealtimeClientEvent)
BETA_EVENTS: Final = TypeAdapter(BetaClientEvent)
# 16-bit PCM, every byte value in turn: an audio delta that arrives changed is seen at once.
PCM: Final = bytes(range(256)) * 8
USAGE: Final = {
    "total_tokens": 300,
    "input_tokens": 120,
    "output_tokens": 180,
    "input_token_details": {"text_tokens": 20, "audio_tokens": 100, "cached_tokens": 10},
    "output_token_details": {"text_tokens": 30, "audio_tokens": 150},
}
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


@dataclass
class Connection:
    path: str
    headers: dict[str, str]
    events: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)


class FakeRealtime:
    def __init__(self, key: str) -> None:
        self.key = key
        self.server: Server | None = None
        self.port = 0
        self.connections: list[Connection] = []
        self.violations: list[str] = []
        self.refuse_status: int | None = None  # answer the handshake with this status instead
        self.drop_after_responses: int | None = None  # drop the TCP connection after this many responses
        self.open_now = 0  # sockets open at this moment
        self.deltas = ["Hello"]  # the pieces of each response's text (and of its audio's transcript)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        self.connections.clear()
        self.violations.clear()
        self.refuse_status = None
        self.drop_after_responses = None
        self.deltas = ["Hello"]

    async def start(self) -> None:
        self.server = await serve(self._serve, "127.0.0.1", 0, process_request=self._handshake, max_size=None)
        self.port = next(iter(self.server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse_status is not None:
            body = orjson.dumps({"error": {"message": "refused", "type": "server_error", "code": None}})
            return connection.respond(self.refuse_status, body.decode())
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            self.violations.append(f"authorization: {request.headers.get('Authorization')!r}")
            return connection.respond(401, '{"error": {"message": "bad key", "type": "invalid_request_error"}}')
        if not request.path.startswith("/v1/realtime?model="):
            self.violations.append(f"path: {request.path}")
        return None

    async def _serve(self, socket: ServerConnection) -> None:
        request = socket.request
        assert request is not None
        seen = Connection(request.path, {name.lower(): value for name, value in request.headers.raw_items()})
        self.connections.append(seen)
        beta = seen.headers.get("openai-beta") == "realtime=v1"
        model = request.path.split("model=", 1)[1]
        self.open_now += 1
        responses = 0
        try:
            await self._send(socket, {"type": "session.created", "session": _session(model, beta)})
            async for message in socket:
                event = orjson.loads(message)
                seen.events.append(event)
                try:
                    (BETA_EVENTS if beta else GA_EVENTS).validate_python(event)
                except ValidationError as error:
                    self.violations.append(f"{event.get('type')}: {error.errors()[:2]}")
                kind = event["type"]
                if kind == "session.update":
                    session = {**_session(model, beta), **event["session"]}
                    if session.get("model") not in (None, model):
                        self.violations.append(f"session.model {session['model']!r} is not the upstream's {model!r}")
                    await self._send(socket, {"type": "session.updated", "session": session})
                elif kind == "input_audio_buffer.append":
                    seen.audio += base64.b64decode(event["audio"])
                elif kind == "conversation.item.create":
                    item = {"id": _id("item"), **event["item"]}
                    await self._send(
                        socket,
                        {
                            "type": "conversation.item.added" if not beta else "conversation.item.created",
                            "previous_item_id": None,
                            "item": item,
                        },
                    )
                elif kind == "response.create":
                    responses += 1
                    asks_tool = not any(
                        e["type"] == "conversation.item.create" and e["item"].get("type") == "function_call_output"
                        for e in seen.events
                    )
                    await self._respond(socket, beta, tool=asks_tool)
                    if self.drop_after_responses is not None and responses >= self.drop_after_responses:
                        socket.transport.abort()
                        return
        finally:
            self.open_now -= 1

    async def _send(self, socket: ServerConnection, event: dict[str, Any]) -> None:
        await socket.send(orjson.dumps({"event_id": _id("event"), **event}).decode())

    async def _respond(self, socket: ServerConnection, beta: bool, *, tool: bool) -> None:
        text, audio, transcript = (
            ("response.text.delta", "response.audio.delta", "response.audio_transcript.delta")
            if beta
            else ("response.output_text.delta", "response.output_audio.delta", "response.output_audio_transcript.delta")
        )
        response_id, item_id = _id("resp"), _id("item")
        common = {"response_id": response_id, "item_id": item_id, "output_index": 0, "content_index": 0}
        await self._send(
            socket,
            {
                "type": "response.created",
                "response": {"id": response_id, "object": "realtime.response", "status": "in_progress", "output": []},
            },
        )
        for piece in self.deltas:
            await self._send(socket, {"type": text, **common, "delta": piece})
        for half in (PCM[: len(PCM) // 2], PCM[len(PCM) // 2 :]):
            await self._send(socket, {"type": audio, **common, "delta": base64.b64encode(half).decode()})
        for piece in self.deltas:
            await self._send(socket, {"type": transcript, **common, "delta": piece})
        output: list[dict[str, Any]] = []
        if tool:
            call = {
                "id": _id("item"),
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city":"Oslo"}',
            }
            await self._send(
                socket,
                {
                    "type": "response.function_call_arguments.done",
                    "response_id": response_id,
                    "item_id": call["id"],
                    "output_index": 1,
                    "call_id": "call_1",
                    "name": "get_weather",
                    "arguments": call["arguments"],
                },
            )
            output.append(call)
        await self._send(
            socket,
            {
                "type": "response.done",
                "response": {
                    "id": response_id,
                    "object": "realtime.response",
                    "status": "completed",
                    "output": output,
                    "usage": USAGE,
                },
            },
        )


def _session(model: str, beta: bool) -> dict[str, Any]:
    if beta:
        return {"id": "sess_1", "object": "realtime.session", "model": model, "modalities": ["text", "audio"]}
    return {
        "id": "sess_1",
        "object": "realtime.session",
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
    }
