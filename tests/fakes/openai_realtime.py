"""A fake OpenAI Realtime upstream on 127.0.0.1: a WebSocket server (the `websockets` library) that checks every
client event against the openai SDK's own types (GA `RealtimeClientEvent`, or the beta one for a client that sent
`OpenAI-Beta: realtime=v1`) and the upstream key, and answers with a scripted conversation: `session.created`, a
response of text and audio deltas (base64 PCM), a function call, `response.done` with usage.

It takes WebRTC calls too, as OpenAI does: `POST /v1/realtime/calls` (an SDP offer, bare or in OpenAI's multipart
with a `session` part) answers 201 with an SDP answer and `Location: /v1/realtime/calls/{call_id}`, and
`/v1/realtime?call_id=…` is the call's sideband WebSocket. A front on the public port reads each request's head:
a POST is answered there, anything else is piped to the WebSocket server behind it (which speaks GET only)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.parser
import email.policy
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


# The answer's transport lines: a browser accepts them as a remote description (no media will flow: nothing listens).
ANSWER_TRANSPORT: Final = (
    "a=ice-ufrag:fake\r\na=ice-pwd:fakefakefakefakefakefake\r\na=fingerprint:sha-256 "
    + ":".join(["AB"] * 32)
    + "\r\na=setup:active\r\n"
)


def answer_for(offer: str) -> str:
    """An SDP answer to `offer`, as OpenAI's would be shaped: one section per offered one, same mids, in order
    (audio as Opus, the data channel over SCTP)."""
    sections = [section for section in offer.split("\r\nm=")[1:]]
    mids = [line[6:] for section in sections for line in section.split("\r\n") if line.startswith("a=mid:")]
    lines = ["v=0", "o=- 4242 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE " + " ".join(mids)]
    for section, mid in zip(sections, mids, strict=True):
        if section.startswith("audio"):
            lines += ["m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=rtcp-mux", "a=rtpmap:111 opus/48000/2"]
            lines += ["a=sendrecv"]
        else:
            lines += ["m=application 9 UDP/DTLS/SCTP webrtc-datachannel", "c=IN IP4 0.0.0.0", "a=sctp-port:5000"]
        lines += [f"a=mid:{mid}"]
        lines += ANSWER_TRANSPORT.rstrip("\r\n").split("\r\n")
    return "\r\n".join(lines) + "\r\n"


@dataclass
class Call:
    """One `POST /v1/realtime/calls` as the fake saw it."""

    call_id: str
    headers: dict[str, str]
    content_type: str
    sdp: str
    session: dict[str, Any] | None  # the `session` part (None: a bare SDP body)


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
        self.calls: list[Call] = []
        # Also send `response.output_item.done` for the function call (the Agents SDK runs a tool on it).
        self.item_events = False
        self.hangups: list[str] = []
        self._socket_server: Server | None = None
        self._socket_port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        self.connections.clear()
        self.violations.clear()
        self.calls.clear()
        self.hangups.clear()
        self.item_events = False
        self.refuse_status = None
        self.drop_after_responses = None
        self.deltas = ["Hello"]

    async def start(self) -> None:
        self.server = await serve(self._serve, "127.0.0.1", 0, process_request=self._handshake, max_size=None)
        self._socket_port = next(iter(self.server.sockets)).getsockname()[1]
        self._front = await asyncio.start_server(self._front_door, "127.0.0.1", 0)
        self.port = self._front.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._front.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await self._front.wait_closed()

    # The front: POSTs answered here, WebSockets piped behind

    async def _front_door(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if head.startswith(b"POST "):
                await self._post(head, reader, writer)
                return
            back_reader, back_writer = await asyncio.open_connection("127.0.0.1", self._socket_port)
            back_writer.write(head)
            await asyncio.gather(_pipe(reader, back_writer), _pipe(back_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    async def _post(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        path = request_line.split(" ")[1]
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        status, answer, extra = self._call(path, headers, body)
        kind = "application/sdp" if status == 201 else "application/json"
        out = [f"HTTP/1.1 {status} X", f"Content-Type: {kind}", f"Content-Length: {len(answer)}", "Connection: close"]
        out += [f"{name}: {value}" for name, value in extra.items()]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + answer)
        await writer.drain()

    def _call(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes, dict[str, str]]:
        """OpenAI's answer to a POST on /v1/realtime/calls[/{id}/hangup]: (status, body, extra headers)."""
        if self.refuse_status is not None:
            return self.refuse_status, _error("The server is overloaded.", "server_error", "overloaded"), {}
        if headers.get("authorization") != f"Bearer {self.key}":
            self.violations.append(f"calls authorization: {headers.get('authorization')!r}")
            return 401, _error("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"), {}
        if path.startswith("/v1/realtime/calls/") and path.endswith("/hangup"):
            self.hangups.append(path.split("/")[4])
            return 200, b"", {}
        if path.split("?")[0] != "/v1/realtime/calls":
            self.violations.append(f"calls path: {path}")
            return 404, _error("Not found.", "invalid_request_error", None), {}
        kind = headers.get("content-type", "")
        session: dict[str, Any] | None = None
        if kind.startswith("multipart/form-data"):
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {kind}\r\n\r\n".encode() + body
            )
            parts = {
                part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
                for part in message.iter_parts()
            }
            sdp = bytes(parts.get("sdp") or b"").decode()
            if "session" in parts:
                session = orjson.loads(parts["session"])
        elif kind.startswith("application/sdp"):
            sdp = body.decode()
        else:
            self.violations.append(f"calls content type: {kind!r}")
            return 400, _error("Unsupported content type.", "invalid_request_error", None), {}
        if not sdp.startswith("v=0"):
            self.violations.append(f"calls sdp: {sdp[:40]!r}")
            return 400, _error("The SDP offer is invalid.", "invalid_request_error", "invalid_offer"), {}
        if session is not None and (session.get("type") != "realtime" or not session.get("model")):
            self.violations.append(f"calls session: {session!r}")
        call_id = _id("rtc")
        self.calls.append(Call(call_id, headers, kind, sdp, session))
        return 201, answer_for(sdp).encode(), {"Location": f"/v1/realtime/calls/{call_id}"}

    def model_of(self, call_id: str) -> str | None:
        return next(((c.session or {}).get("model") for c in self.calls if c.call_id == call_id), None)

    def _handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.refuse_status is not None:
            body = orjson.dumps({"error": {"message": "refused", "type": "server_error", "code": None}})
            return connection.respond(self.refuse_status, body.decode())
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            self.violations.append(f"authorization: {request.headers.get('Authorization')!r}")
            return connection.respond(401, '{"error": {"message": "bad key", "type": "invalid_request_error"}}')
        if not request.path.startswith(("/v1/realtime?model=", "/v1/realtime?call_id=")):
            self.violations.append(f"path: {request.path}")
        return None

    async def _serve(self, socket: ServerConnection) -> None:
        request = socket.request
        assert request is not None
        seen = Connection(request.path, {name.lower(): value for name, value in request.headers.raw_items()})
        self.connections.append(seen)
        beta = seen.headers.get("openai-beta") == "realtime=v1"
        if "call_id=" in request.path:  # a call's sideband: the call's model
            model = self.model_of(request.path.split("call_id=", 1)[1]) or "unknown-call"
        else:
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
            if self.item_events:
                done = {**call, "object": "realtime.item", "status": "completed"}
                await self._send(
                    socket,
                    {"type": "response.output_item.done", "response_id": response_id, "output_index": 1, "item": done},
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


def _error(message: str, kind: str, code: str | None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Bytes from one side to the other until it ends; a side that ends is cut at once (a dropped upstream)."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.transport.abort()
