"""A fake Gemini Live upstream on 127.0.0.1: a WebSocket server (the `websockets` library) on the paths of Gemini's
and Vertex's `BidiGenerateContent`, checking the API key (`x-goog-api-key`) or the bearer token, and every client
message against google-genai's own `LiveClientMessage` (tests/unit/realtime/live_checks.py). It answers with a
scripted turn: `setupComplete`; for a user turn, `inputTranscription` (of spoken input), the model's audio (24 kHz
PCM, base64) with `outputTranscription`, then a `toolCall` when the setup declared functions; after the
`toolResponse`, the answer's audio and `turnComplete` with `usageMetadata`."""

from __future__ import annotations

import base64
import itertools
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from pydantic import ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from tests.unit.realtime.live_checks import gemini_client_message

GEMINI_PATH: Final = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
VERTEX_PATH: Final = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
OUTPUT_RATE: Final = 24_000
TONE_HZ: Final = 600.0


def sine(rate: int, hz: float, seconds: float, amplitude: int = 12_000) -> bytes:
    """16-bit little-endian mono PCM of a sine."""
    count = int(rate * seconds)
    return struct.pack(f"<{count}h", *(int(amplitude * math.sin(2 * math.pi * hz * n / rate)) for n in range(count)))


# The model's spoken answers: 0.1 s of a tone each, at Gemini's output rate.
SPOKEN: Final = sine(OUTPUT_RATE, TONE_HZ, 0.1)
HEARD: Final = "What is the weather in Paris?"
SAID_FIRST: Final = "Let me check."
SAID_LAST: Final = "It is sunny in Paris."
# Gemini's counts are the turn's so far: at the function call, then at the turn's end.
USAGE_AT_CALL: Final = {
    "promptTokenCount": 100,
    "responseTokenCount": 50,
    "totalTokenCount": 150,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 40}, {"modality": "AUDIO", "tokenCount": 60}],
    "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 50}],
}
USAGE_AT_END: Final = {
    "promptTokenCount": 160,
    "responseTokenCount": 90,
    "totalTokenCount": 250,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 70}, {"modality": "AUDIO", "tokenCount": 90}],
    "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 90}],
}


def vertex_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Vertex names the response's tokens as generateContent does."""
    renamed = {"responseTokenCount": "candidatesTokenCount", "responseTokensDetails": "candidatesTokensDetails"}
    return {renamed.get(name, name): value for name, value in usage.items()}


def samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2]))


def frequency(pcm: bytes, rate: int) -> float:
    """A tone's frequency from its zero crossings."""
    values = samples(pcm)
    crossings = sum(1 for a, b in itertools.pairwise(values) if (a < 0) != (b < 0))
    return crossings / 2 / (len(values) / rate)


@dataclass
class LiveConnection:
    path: str
    headers: dict[str, str]
    messages: list[dict[str, Any]] = field(default_factory=list)
    audio: bytearray = field(default_factory=bytearray)  # the realtimeInput audio, as it arrived (16 kHz PCM)
    mime_types: set[str] = field(default_factory=set)

    @property
    def setup(self) -> dict[str, Any]:
        return self.messages[0]["setup"]  # type: ignore[no-any-return]


class FakeGeminiLive:
    def __init__(self, *, api_keys: frozenset[str] = frozenset(), bearer: Callable[[str], bool] | None = None) -> None:
        self.api_keys = api_keys
        self.bearer = bearer  # whether a bearer token is good (Vertex with Google credentials)
        self.server: Server | None = None
        self.port = 0
        self.connections: list[LiveConnection] = []
        self.violations: list[str] = []
        self.drop_after_audio = False  # drop the TCP connection after the model's first audio
        self.refuse_status: int | None = None  # answer the handshake with this status instead
        self.refuse_setup: tuple[int, str] | None = None  # close the socket with this code and reason at the setup

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.connections.clear()
        self.violations.clear()
        self.drop_after_audio = False
        self.refuse_status = None
        self.refuse_setup = None

    async def start(self) -> None:
        self.server = await serve(self._serve, "127.0.0.1", 0, process_request=self._handshake, max_size=None)
        self.port = next(iter(self.server.sockets)).getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse_status is not None:
            body = orjson.dumps({"error": {"code": self.refuse_status, "message": "refused", "status": "UNAVAILABLE"}})
            return connection.respond(self.refuse_status, body.decode())
        if request.path not in (GEMINI_PATH, VERTEX_PATH):
            self.violations.append(f"path: {request.path}")
            return connection.respond(404, "not found")
        key = request.headers.get("x-goog-api-key")
        authorization = request.headers.get("Authorization") or ""
        if key is not None:
            signed = key in self.api_keys
        else:
            signed = (
                self.bearer is not None
                and authorization.startswith("Bearer ")
                and self.bearer(authorization.removeprefix("Bearer "))
            )
        if not signed:
            self.violations.append(f"unsigned: key={key is not None} authorization={bool(authorization)}")
            return connection.respond(401, '{"error": {"code": 401, "message": "unauthenticated"}}')
        return None

    async def _serve(self, socket: ServerConnection) -> None:
        request = socket.request
        assert request is not None
        seen = LiveConnection(request.path, {name.lower(): value for name, value in request.headers.raw_items()})
        self.connections.append(seen)
        vertex = request.path == VERTEX_PATH
        answered_tool = False
        async for raw in socket:
            message = orjson.loads(raw)
            seen.messages.append(message)
            try:
                gemini_client_message(message)
            except ValidationError as error:
                self.violations.append(f"{sorted(message)}: {error.errors()[:2]}")
            if len(seen.messages) == 1:
                if "setup" not in message:
                    self.violations.append(f"the first message is not the setup: {sorted(message)}")
                    return
                self._check_setup(message["setup"], vertex)
                if self.refuse_setup is not None:
                    await socket.close(*self.refuse_setup)
                    return
                await self._send(socket, {"setupComplete": {}})
                continue
            if "setup" in message:
                self.violations.append("a second setup")
            realtime = message.get("realtimeInput") or {}
            if vertex and "audioStreamEnd" in realtime:
                self.violations.append("audioStreamEnd on Vertex, which has none")
            audio = realtime.get("audio")
            if isinstance(audio, dict):
                seen.mime_types.add(str(audio.get("mimeType")))
                seen.audio += base64.b64decode(audio.get("data") or "")
            ends_turn = bool(
                "activityEnd" in realtime
                or realtime.get("audioStreamEnd")
                or (message.get("clientContent") or {}).get("turnComplete")
            )
            tools = bool(seen.setup.get("tools"))
            if ends_turn:
                if not await self._first_part(socket, seen, spoken=bool(seen.audio), vertex=vertex):
                    return
                if tools and not answered_tool:
                    usage = vertex_usage(USAGE_AT_CALL) if vertex else USAGE_AT_CALL
                    call = {"id": "fc_1", "name": "get_weather", "args": {"city": "Paris"}}
                    await self._send(socket, {"toolCall": {"functionCalls": [call]}, "usageMetadata": usage})
                else:
                    await self._last_part(socket, vertex)
            elif "toolResponse" in message:
                answered_tool = True
                responses = message["toolResponse"].get("functionResponses") or []
                if [r.get("id") for r in responses] != ["fc_1"]:
                    self.violations.append(f"toolResponse for {responses}")
                await self._last_part(socket, vertex)

    def _check_setup(self, setup: dict[str, Any], vertex: bool) -> None:
        model = setup.get("model") or ""
        if vertex and not model.startswith(("projects/", "publishers/google/models/")):
            self.violations.append(f"a Vertex setup's model {model!r}")
        if not vertex and not model.startswith("models/"):
            self.violations.append(f"a Gemini setup's model {model!r}")

    async def _first_part(self, socket: ServerConnection, seen: LiveConnection, *, spoken: bool, vertex: bool) -> bool:
        if spoken:
            await self._send(socket, {"serverContent": {"inputTranscription": {"text": HEARD, "finished": True}}})
        await self._audio(socket, SAID_FIRST)
        if self.drop_after_audio:
            socket.transport.abort()
            return False
        return True

    async def _last_part(self, socket: ServerConnection, vertex: bool) -> None:
        await self._audio(socket, SAID_LAST)
        usage = vertex_usage(USAGE_AT_END) if vertex else USAGE_AT_END
        await self._send(socket, {"serverContent": {"turnComplete": True}, "usageMetadata": usage})

    async def _audio(self, socket: ServerConnection, said: str) -> None:
        blob = {"mimeType": f"audio/pcm;rate={OUTPUT_RATE}", "data": base64.b64encode(SPOKEN).decode()}
        await self._send(socket, {"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}})
        await self._send(socket, {"serverContent": {"outputTranscription": {"text": said}}})

    async def _send(self, socket: ServerConnection, message: dict[str, Any]) -> None:
        await socket.send(orjson.dumps(message))  # binary frames, as Gemini sends them
