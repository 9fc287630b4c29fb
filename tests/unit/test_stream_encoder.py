"""The one stream loop of the frontends (frontends/stream_encoder.py): what it sends when, that it closes the
chunks however the stream ends, that `ending` runs before the last frame, and that a failure after the first
frame ends the answer with the same encoder's `fail`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.frontends.stream_encoder import StreamEncoder, encode_stream, stream_answer
from babelgate.providers.base import CallNotes


class Letters:
    """A StreamEncoder of strings: `start` and `finish` as told, each item its bytes ("" sends nothing)."""

    def __init__(self, start: bytes = b"<", finish: bytes = b">") -> None:
        self.opening, self.closing = start, finish

    def start(self) -> bytes:
        return self.opening

    def feed(self, item: str) -> bytes:
        return item.encode()

    def finish(self) -> bytes:
        return self.closing

    def fail(self, error: GatewayError, language: str) -> bytes:
        return b"!" + error.code.encode() + language.encode()


class Source:
    """Items, then optionally a failure; knows whether it was closed."""

    def __init__(self, *items: str, error: Exception | None = None) -> None:
        self.items, self.error, self.closed = items, error, False

    async def stream(self) -> AsyncIterator[str]:
        try:
            for item in self.items:
                yield item
            if self.error is not None:
                raise self.error
        finally:
            self.closed = True


async def collect(frames: AsyncIterator[bytes]) -> list[bytes]:
    return [frame async for frame in frames]


def run(items: AsyncIterator[str], encoder: StreamEncoder[str]) -> list[bytes]:
    return asyncio.run(collect(encode_stream(items, encoder)))


def test_start_goes_out_with_the_first_items_bytes_and_empty_results_are_not_sent() -> None:
    source = Source("a", "", "b")
    assert run(source.stream(), Letters()) == [b"<a", b"b", b">"]
    assert source.closed
    # The start waits for the first item, not for its first bytes.
    assert run(Source("", "a").stream(), Letters()) == [b"<", b"a", b">"]


def test_an_encoder_without_an_opening_sends_its_first_bytes_alone() -> None:
    assert run(Source("", "a").stream(), Letters(start=b"")) == [b"a", b">"]


def test_a_stream_without_items_is_its_start_and_finish_in_one_frame() -> None:
    assert run(Source().stream(), Letters()) == [b"<>"]


def test_ending_runs_after_finish_is_encoded_and_before_it_goes_out() -> None:
    order: list[str] = []

    class Told(Letters):
        def finish(self) -> bytes:
            order.append("finish")
            return b">"

    async def ending() -> None:
        order.append("ending")

    async def main() -> None:
        async for frame in encode_stream(Source("a").stream(), Told(), ending=ending):
            order.append(frame.decode())

    asyncio.run(main())
    assert order == ["<a", "finish", "ending", ">"]


def test_a_failure_is_raised_and_the_chunks_are_closed() -> None:
    source = Source("a", error=UpstreamProtocolError(provider="p", detail="cut"))
    with pytest.raises(UpstreamProtocolError):
        run(source.stream(), Letters())
    assert source.closed


def test_the_answer_holds_the_first_frame_and_its_error_event_is_the_encoders_fail() -> None:
    error = UpstreamProtocolError(provider="p", detail="cut")

    async def main() -> tuple[bytes, bytes]:
        answer = await stream_answer(Source("a", "b", error=error).stream(), Letters(), CallNotes())
        assert answer.rest is not None and answer.on_error is not None
        with pytest.raises(UpstreamProtocolError):
            await collect(answer.rest)
        return answer.body, answer.on_error(error, "de")

    first, event = asyncio.run(main())
    assert first == b"<a"
    assert event == b"!" + error.code.encode() + b"de"


def test_a_failure_before_the_first_frame_is_raised_by_the_answer_and_closes_the_chunks() -> None:
    source = Source(error=UpstreamProtocolError(provider="p", detail="cut"))
    with pytest.raises(UpstreamProtocolError):
        asyncio.run(stream_answer(source.stream(), Letters(), CallNotes()))
    assert source.closed
