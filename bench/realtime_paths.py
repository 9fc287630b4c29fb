"""The Realtime door's own cost per second of audio: a session on `/v1/realtime` through `babelgate serve` (a
static key), on each road that carries audio as it comes:

- relayed, to a fake Realtime upstream that answers each `input_audio_buffer.append` with the same audio as a
  `response.output_audio.delta`;
- translated, to a fake Gemini Live upstream that answers each `realtimeInput` audio message (the client's 24 kHz
  resampled to 16 kHz by the gateway) with as long a piece of 24 kHz audio in a `serverContent` (translated back
  into output audio deltas).

The client sends 20 ms chunks of 24 kHz PCM as fast as the session takes them and reads each one back; the
gateway's CPU (from /proc) per second of audio it carried each way.

Run: `python bench/realtime_paths.py [--seconds N] [--rounds R]` (a quick check: `--seconds 20 --rounds 1`).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.translated import cpu_seconds  # noqa: E402
from bench.translated import serve as serve_gateway  # noqa: E402
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=120, help="seconds of audio per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    loop = LoopThread()
    upstreams: Any = loop.run(_upstreams())
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
        "models:\n  voice: {provider: rt, model: gpt-realtime}\n"
        "  live: {provider: gem, model: gemini-live-2.5-flash-preview}\n"
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
    finally:
        gateway.terminate()
        gateway.wait(10)
        for upstream in upstreams:
            upstream.close()
            loop.run(upstream.wait_closed())
    print(f"{args.seconds} s of 24 kHz audio x {args.rounds} rounds a road, 20 ms chunks, each answered as long")
    for road, rounds in found.items():
        print(f"{road + ' road, gateway CPU':<32} {statistics.median(rounds) * 1e3:>7.2f} ms per second of audio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
