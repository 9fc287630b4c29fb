"""A provider's own batch API, as the gateway's batch engine uses it: the optional `ProviderBatches` part.

A gateway batch (`/v1/batches`, `/v1/messages/batches`) may mix lines for many models. The engine groups the lines
whose deployment's provider has this part (the `batch` capability) into one provider batch per provider and
upstream model, hands them over as canonical requests, polls, and reads the outcomes back; every other line it runs
itself through the pipeline. A provider's part translates the canonical requests into its own batch format
(OpenAI's JSONL of `/v1/chat/completions` bodies, Anthropic's `requests[]` of Messages params, Gemini's
`InlinedRequest`s, …), stores them where its API wants them (its files API, a bucket), and translates each result
back with the same translator its interactive `chat` uses.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import orjson

from babelgate.errors import GatewayError, InvalidRequest, UpstreamProtocolError
from babelgate.http import UpstreamResponse, iter_body
from babelgate.schema.chat import ChatRequest, ChatResponse

# Where a provider batch stands: still running (queued, validating, in progress, finalizing), ended (results may be
# read; some lines may have failed), or ended without results for the lines not yet done (cancelled, expired, failed).
ProviderBatchState = Literal["running", "ended", "cancelled", "expired", "failed"]


@dataclass(frozen=True, slots=True)
class BatchLine:
    """One line of a provider batch: the caller's id for it (unique within the batch) and its canonical request,
    whose `model` the provider ignores (the upstream model is the batch's)."""

    custom_id: str
    request: ChatRequest


@dataclass(frozen=True, slots=True)
class ProviderBatchStatus:
    state: ProviderBatchState
    total: int
    succeeded: int
    failed: int
    # Why a batch failed as a whole (a malformed input file, an expired credential), as the provider said it.
    message: str | None = None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """One line's result: an answer (its `usage` is the provider's count) or the error the provider gave it."""

    custom_id: str
    response: ChatResponse | None
    error: GatewayError | None = None


class ProviderBatches(Protocol):
    """Optional part, with the `batch` capability: the upstream's own batch API, for chat requests."""

    async def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> str:
        """Sends `lines` for the upstream `model` as one provider batch; its provider id, which the engine stores
        (a restart polls it again, never submits twice)."""
        ...

    async def batch_status(self, batch_id: str) -> ProviderBatchStatus: ...

    def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        """Every line's outcome, once the batch has ended (in any order; lines the provider never ran absent)."""
        ...

    async def cancel_batch(self, batch_id: str) -> None: ...

    def batches_model(self, model: str) -> bool:
        """Whether the part takes lines for the upstream `model` (a provider with several APIs may batch some of
        its models only); the engine runs the others itself."""
        ...

    def minimum_lines(self, model: str) -> int:
        """The fewest lines a provider batch for `model` may hold (Bedrock's jobs have a quota of records); the
        engine runs a smaller group itself rather than send a batch the upstream would refuse."""
        ...


# What the provider parts share.


def batches_on(options: dict[str, Any], default: bool) -> bool:
    """Whether a provider serves its batch part: `options.batches` (true or false) when set, else `default` (what
    its type or profile says of the upstream: OpenAI's own API has one, a compatible server has none)."""
    value = options.get("batches")
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError("options.batches: expected true or false")
    return value


def checked_lines(lines: Sequence[BatchLine]) -> Sequence[BatchLine]:
    """`lines` as a provider batch may take them: at least one, each `custom_id` once (every provider matches its
    results to the lines by it)."""
    if not lines:
        raise InvalidRequest("invalid_value", param="requests", detail="a provider batch needs at least one line")
    seen: set[str] = set()
    for line in lines:
        if line.custom_id in seen:
            raise InvalidRequest("invalid_value", param="custom_id", detail=f"{line.custom_id!r} is used twice")
        seen.add(line.custom_id)
    return lines


async def jsonl_objects(response: UpstreamResponse, provider: str) -> AsyncIterator[dict[str, Any]]:
    """A JSONL body's objects as they arrive (a results file may be large: it is never held whole); a line that is
    not a JSON object is the upstream's protocol error."""
    async with contextlib.aclosing(jsonl_of(iter_body(response), provider)) as objects:
        async for parsed in objects:
            yield parsed


async def jsonl_of(pieces: AsyncGenerator[bytes, None], provider: str) -> AsyncGenerator[dict[str, Any], None]:
    """The JSONL objects of bytes that arrive in pieces (an HTTP body, a bucket's object), a line cut between two
    pieces read whole."""
    rest = b""
    async with contextlib.aclosing(pieces):
        async for chunk in pieces:
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if line.strip():
                    yield _json_line(line, provider)
    if rest.strip():
        yield _json_line(rest, provider)


def _json_line(line: bytes, provider: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(line)
    except orjson.JSONDecodeError:
        raise UpstreamProtocolError(provider=provider, detail="a results line is not JSON") from None
    if not isinstance(parsed, dict):
        raise UpstreamProtocolError(provider=provider, detail="a results line is not an object")
    return parsed


def count(value: Any) -> int:
    """A count as upstreams write it: a number, or a string of one (proto3's int64 in JSON); else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0
