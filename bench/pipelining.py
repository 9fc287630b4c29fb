"""Pipelined requests on one connection, round after round: the gateway worker's resident memory after each
(docs/reliability.md, "Pipelining").

Each round opens one connection, writes N requests on it without waiting for any answer (HTTP/1.1
pipelining; a thread writes while this one reads, as a pipelining client does), reads every answer and
checks each is a 200 of the expected kind, then reads the worker's VmRSS. `--keep-alive` sends the same
requests one after the other on one connection instead, for comparison.

Run: `.venv/bin/python bench/pipelining.py --requests 10000 --rounds 5 [--kind health|chat] [--keep-alive]`.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from typing import Final

from loadgen import request_body
from processes import GATEWAY_KEY, LOOPBACK, RESULTS, Children, Pinning, start_gateway, start_upstream
from procfs import memory_kib

REQUESTS: Final = {
    "health": b"GET /health HTTP/1.1\r\nHost: bench\r\n\r\n",
    "chat": (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer "
        + GATEWAY_KEY.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(request_body(False))
        + request_body(False)
    ),
}
EXPECT: Final = {"health": b'"status"', "chat": b'"chat.completion"'}


class Answers:
    """Whole answers (each with a Content-Length, as the gateway's are) counted out of a byte stream."""

    def __init__(self, expect: bytes) -> None:
        self.expect = expect
        self.count = 0
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self._buffer[:end]).lower()
            length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
            if len(self._buffer) < end + 4 + length:
                return
            body = bytes(self._buffer[end + 4 : end + 4 + length])
            if not head.startswith(b"http/1.1 200") or self.expect not in body:
                raise SystemExit(f"answer {self.count + 1} is not a good 200: {head[:80]!r} {body[:200]!r}")
            del self._buffer[: end + 4 + length]
            self.count += 1


def pipelined_round(port: int, request: bytes, count: int, expect: bytes) -> float:
    began = time.monotonic()
    with socket.create_connection((LOOPBACK, port), timeout=60) as connection:
        writer = threading.Thread(target=connection.sendall, args=(request * count,), daemon=True)
        writer.start()
        answers = Answers(expect)
        while answers.count < count:
            data = connection.recv(1 << 20)
            if not data:
                raise SystemExit(f"the gateway closed the connection after {answers.count} of {count} answers")
            answers.feed(data)
        writer.join()
    return time.monotonic() - began


def keep_alive_round(port: int, request: bytes, count: int, expect: bytes) -> float:
    began = time.monotonic()
    with socket.create_connection((LOOPBACK, port), timeout=60) as connection:
        answers = Answers(expect)
        for sent in range(1, count + 1):
            connection.sendall(request)
            while answers.count < sent:
                data = connection.recv(1 << 20)
                if not data:
                    raise SystemExit(f"the gateway closed the connection after {answers.count} answers")
                answers.feed(data)
    return time.monotonic() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kind", choices=sorted(REQUESTS), default="health")
    parser.add_argument("--keep-alive", action="store_true", help="one request at a time instead of pipelined")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    children = Children()
    try:
        pin = Pinning.detect(False)
        upstream = start_upstream(children, pin, chunks=5, chunk_delay_ms=0)
        with tempfile.TemporaryDirectory(prefix="babelgate-pipelining-") as store:
            gateway, port = start_gateway(children, pin, upstream, store)
            run = keep_alive_round if args.keep_alive else pipelined_round
            print(f"{'keep-alive' if args.keep_alive else 'pipelined'}, {args.requests} x {args.kind} a round")
            print(f"round  seconds  RSS MiB  peak MiB\n    0        -  {memory_kib(gateway.pid)['VmRSS'] / 1024:7.1f}")
            for number in range(1, args.rounds + 1):
                seconds = run(port, REQUESTS[args.kind], args.requests, EXPECT[args.kind])
                memory = memory_kib(gateway.pid)
                print(f"{number:5d}  {seconds:7.2f}  {memory['VmRSS'] / 1024:7.1f}  {memory['VmHWM'] / 1024:8.1f}")
    finally:
        children.stop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
