"""A micro-measure of the upstream client alone: CPU per `UpstreamClient.send` + body read against an
instant fake upstream on 127.0.0.1 (its own process, so only the client's CPU is counted).

    .venv/bin/python bench/upstream_client.py                       # this checkout's client
    .venv/bin/python bench/upstream_client.py --against /tmp/old/src   # and another's, interleaved

`--against` takes a `src` folder of another babelgate checkout (`git archive REV src | tar -x -C
/tmp/old`); the two clients run in turns, `--rounds` times each, so drifts of the machine hit both.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BODY = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}'
)
ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\n\r\n"
    + BODY
)
REQUEST = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]}'
SRC = Path(__file__).resolve().parent.parent / "src"


def serve() -> None:
    """The fake upstream: answers every request on a keep-alive connection at once."""
    import httptools
    import uvloop

    class Upstream(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.parser = httptools.HttpRequestParser(self)

        def data_received(self, data: bytes) -> None:
            self.parser.feed_data(data)

        def on_message_complete(self) -> None:
            self.transport.write(ANSWER)

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(Upstream, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)  # the port, for the parent
        await asyncio.Event().wait()

    uvloop.run(main())


def measure(port: int, requests: int) -> None:
    """Prints µs of this process's CPU per request (after a warm-up)."""
    from types import MappingProxyType

    import uvloop

    from babelgate.http import Timeouts, UpstreamClient, read_body

    async def main() -> None:
        client = UpstreamClient()
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        headers = MappingProxyType({"Authorization": "Bearer sk-x", "Content-Type": "application/json"})
        timeouts = Timeouts()

        async def one() -> None:
            response = await client.send(
                "POST", url, provider="openai", headers=headers, body=REQUEST, timeouts=timeouts
            )
            await read_body(response)

        for _ in range(2000):
            await one()
        start = time.process_time()
        for _ in range(requests):
            await one()
        print(f"{(time.process_time() - start) / requests * 1e6:.2f}")
        await client.close()

    uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", help="another checkout's src folder, measured in turns with this one")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    if args.measure:
        measure(args.measure, args.requests)
        return
    upstream = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
    try:
        assert upstream.stdout is not None
        port = int(upstream.stdout.readline())
        sources = {"this": str(SRC)} | ({"against": args.against} if args.against else {})
        figures: dict[str, list[float]] = {name: [] for name in sources}
        for _ in range(args.rounds):
            for name, src in sources.items():
                env = os.environ | {"PYTHONPATH": src}
                out = subprocess.run(
                    [sys.executable, __file__, "--measure", str(port), "--requests", str(args.requests)],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                figures[name].append(float(out.stdout))
        for name, values in figures.items():
            print(
                f"{name:8} median {statistics.median(values):6.2f} µs CPU per request "
                f"(min {min(values):.2f}, max {max(values):.2f}; {args.rounds} rounds of {args.requests})"
            )
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
