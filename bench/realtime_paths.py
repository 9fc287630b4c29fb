"""The Realtime door's own cost per second of audio: a session on `/v1/realtime` through `babelgate serve` (a
static key), on each road that carries audio as it comes:

- relayed, to a fake Realtime upstream that answers each `input_audio_buffer.append` with the same audio as a
  `response.output_audio.delta`;
- translated, to a fake Gemini Live upstream that answers each `realtimeInput` audio message (the client's 24 kHz
  resampled to 16 kHz by the gateway) with as long a piece of 24 kHz audio in a `serverContent` (translated back
  into output audio deltas).

The client sends 20 ms chunks of 24 kHz PCM as fast as the session takes them and reads each one back; the
gateway's CPU (from /proc) per second of audio it carried each way.

Then the voice cascade's time to first audio: a chat model with a `realtime:` block on the test suite's fake
OpenAI upstream (transcription, chat and speech), one second of speech committed and a response asked for, the
time until the first audio delta, less the time the turn's three upstream calls (the transcription, the chat
stream, the first sentence's speech) spent in the upstream, from its handler's start to its last byte: what the
gateway adds (goal: under 20 ms).

Run: `python bench/realtime_paths.py [--seconds N] [--rounds R] [--turns T]` (a quick check: `--seconds 20
--rounds 1 --turns 5`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import math
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.translated import cpu_seconds  # noqa: E402
from bench.translated import serve as serve_gateway  # noqa: E402
from tests.fakes.openai_upstream import FakeOpenAI, text_stream  # noqa: E402
from tests.fakes.scripted import Reply  # noqa: E402
from tests.fakes.servers import LoopThread  # noqa: E402

KEY = "bench-realtime-static-key-0123456789"
UPSTREAM_KEY = "bench-realtime-upstream-key"
CHUNK_SECONDS = 0.02
CHUNK = bytes(range(256)) * 3 + bytes(192)  # 960 bytes: 20 ms of 24 kHz mono PCM16
CHUNK_B64 = base64.b64encode(CHUNK).decode()


async def _echo(socket: ServerConnection) -> None:
    """An upstream that speaks back what it hears: each appended chunk as one audio delta."""
    await socket.send(orjson.dumps({"type": "session.created", "event_id": "e0", "session": {}}).decode())
    async for message in socket:
        event = orjson.loads(message)
        if event.get("type") == "input_audio_buffer.append":
            delta = {"type": "response.output_audio.delta", "event_id": "e", "response_id": "r", "item_id": "i"}
            delta |= {"output_index": 0, "content_index": 0, "delta": event["audio"]}
            await socket.send(orjson.dumps(delta).decode())


async def _gemini_echo(socket: ServerConnection) -> None:
    """Gemini Live speaking back as long as it heard: 24 kHz audio for each 16 kHz piece."""
    async for message in socket:
        received = orjson.loads(message)
        if "setup" in received:
            await socket.send(orjson.dumps({"setupComplete": {}}))
            continue
        audio = (received.get("realtimeInput") or {}).get("audio")
        if isinstance(audio, dict):
            heard = len(base64.b64decode(audio.get("data") or ""))
            blob = {"mimeType": "audio/pcm;rate=24000", "data": base64.b64encode(bytes(heard * 3 // 2)).decode()}
            await socket.send(orjson.dumps({"serverContent": {"modelTurn": {"parts": [{"inlineData": blob}]}}}))


async def _upstreams() -> tuple[Server, Server]:
    return (
        await serve(_echo, "127.0.0.1", 0, max_size=None),
        await serve(_gemini_echo, "127.0.0.1", 0, max_size=None),
    )


async def _audio_back(ws: Any) -> None:
    """The next audio delta (what else comes, a response's opening events, is read past)."""
    while b'"response.output_audio.delta"' not in (await ws.recv()).encode():
        pass


async def measure(url: str, pid: int, chunks: int, rounds: int) -> list[float]:
    """The gateway's CPU seconds per second of audio carried (in and out), each round."""
    append = orjson.dumps({"type": "input_audio_buffer.append", "audio": CHUNK_B64}).decode()
    found = []
    async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}, max_size=None) as ws:
        await ws.recv()  # session.created
        for _ in range(50):  # warm: the connection, the session
            await ws.send(append)
            await _audio_back(ws)
        for _ in range(rounds):
            start = cpu_seconds(pid)
            # A window of chunks in flight, as a client streaming its microphone keeps a few.
            window = 10
            for sent in range(chunks):
                await ws.send(append)
                if sent >= window:
                    await _audio_back(ws)
            for _ in range(min(window, chunks)):
                await _audio_back(ws)
            found.append((cpu_seconds(pid) - start) / (chunks * CHUNK_SECONDS))
    return found


# The cascade's turn: one second of a 440 Hz tone at 24 kHz, and the chat model's answer (its first sentence is
# what is spoken first).
RATE = 24000
TURN = struct.pack(f"<{RATE}h", *(int(8000 * math.sin(2 * math.pi * 440 * n / RATE)) for n in range(RATE)))
ANSWER = ["Hello there, ", "friend. ", "The weather ", "is sunny today."]
FIRST_SENTENCE = "Hello there, friend."


def _answer(body: dict[str, Any]) -> Reply:
    return Reply(stream=text_stream(ANSWER, include_usage=True))  # type: ignore[arg-type]


async def cascade_first_audio(url: str, turns: int, upstream: TimedFakeOpenAI) -> list[tuple[float, float]]:
    """Each turn (a session each): seconds from committing a spoken turn to its answer's first audio delta, and the
    seconds of that spent in the upstream."""
    append = orjson.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(TURN).decode()}).decode()
    found = []
    for _ in range(turns + 2):  # the first two warm the connections
        async with connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}, max_size=None) as ws:
            await ws.recv()  # session.created
            await ws.send(append)
            upstream.spent.clear()
            start = time.perf_counter()
            await ws.send('{"type": "input_audio_buffer.commit"}')
            await ws.send('{"type": "response.create"}')
            await _audio_back(ws)
            through = time.perf_counter() - start
            while b'"response.done"' not in (await ws.recv()).encode():
                pass
            found.append((through, upstream.first_audios_calls()))
    return found[2:]


class TimedFakeOpenAI(FakeOpenAI):
    """The test suite's fake OpenAI upstream, with the time each request spent in it (from its handler's start to
    its last byte written): an upstream's own time, which the gateway's time to first audio includes."""

    def __init__(self) -> None:
        super().__init__()
        self.spent: list[tuple[str, float]] = []

    async def serve(self, app: web.Application) -> None:
        @web.middleware
        async def timed(request: web.Request, handler: Any) -> web.StreamResponse:
            start = time.perf_counter()
            try:
                return await handler(request)  # type: ignore[no-any-return]
            finally:
                self.spent.append((request.path, time.perf_counter() - start))

        app.middlewares.append(timed)
        await super().serve(app)

    def first_audios_calls(self) -> float:
        """The turn's transcription, its chat stream and its first sentence's speech: seconds in the upstream."""
        wanted = {"/v1/audio/transcriptions": 1, "/v1/chat/completions": 1, "/v1/audio/speech": 1}
        total = 0.0
        for path, seconds in self.spent:
            if wanted.get(path):
                wanted[path] -= 1
                total += seconds
        return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=120, help="seconds of audio per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--turns", type=int, default=20, help="spoken turns through the voice cascade")
    args = parser.parse_args()
    loop = LoopThread()
    upstreams: Any = loop.run(_upstreams())
    speaker = TimedFakeOpenAI()
    loop.run(speaker.start())
    speaker.chat_responder = _answer
    relay, live = (next(iter(upstream.sockets)).getsockname()[1] for upstream in upstreams)
    workdir = tempfile.TemporaryDirectory()
    path = Path(workdir.name) / "bench.yaml"
    path.write_text(
        "server:\n  api_keys: [env:BENCH_KEY]\n"
        "providers:\n"
        f"  rt: {{type: openai, base_url: 'http://127.0.0.1:{relay}/v1', api_key: env:BENCH_UPSTREAM_KEY,"
        " list_models: false}\n"
        f"  gem: {{type: gemini, base_url: 'http://127.0.0.1:{live}', api_key: env:BENCH_UPSTREAM_KEY,"
        " list_models: false}\n"
        f"  up: {{type: openai, base_url: '{speaker.base_url}', api_key: env:BENCH_UPSTREAM_KEY, list_models: false}}\n"
        "models:\n  voice: {provider: rt, model: gpt-realtime}\n"
        "  live: {provider: gem, model: gemini-live-2.5-flash-preview}\n"
        "  talker: {provider: up, model: gpt-4o-mini,"
        " realtime: {transcription: ears, speech: mouth, voice: marin, turn_detection: null}}\n"
        "  ears: {provider: up, model: gpt-4o-transcribe}\n"
        "  mouth: {provider: up, model: gpt-4o-mini-tts}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env |= {"BENCH_KEY": KEY, "BENCH_UPSTREAM_KEY": UPSTREAM_KEY, "BABELGATE_STORE_URL": "memory"}
    env |= {"OLLAMA_BASE_URL": "http://127.0.0.1:9"}
    gateway, base = serve_gateway(path, env)
    chunks = round(args.seconds / CHUNK_SECONDS)
    found = {}
    try:
        for road, model in (("relayed", "voice"), ("translated", "live")):
            url = base.replace("http://", "ws://") + f"/v1/realtime?model={model}"
            found[road] = asyncio.run(measure(url, gateway.pid, chunks, args.rounds))
        url = base.replace("http://", "ws://") + "/v1/realtime?model=talker"
        cascade = asyncio.run(cascade_first_audio(url, args.turns, speaker))
    finally:
        gateway.terminate()
        gateway.wait(10)
        loop.run(speaker.stop())
        for upstream in upstreams:
            upstream.close()
            loop.run(upstream.wait_closed())
    print(f"{args.seconds} s of 24 kHz audio x {args.rounds} rounds a road, 20 ms chunks, each answered as long")
    for road, rounds in found.items():
        print(f"{road + ' road, gateway CPU':<32} {statistics.median(rounds) * 1e3:>7.2f} ms per second of audio")
    through = statistics.median(turn for turn, _ in cascade) * 1e3
    added = statistics.median(turn - upstream for turn, upstream in cascade) * 1e3
    print(
        f"{'cascade, time to first audio':<32} {through:>7.2f} ms (median of {args.turns} turns), of which the"
        f" gateway adds {added:.2f} ms (the rest: the three upstream calls' own time)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
