"""OpenAI's Batch API, for the `ProviderBatches` part (OAI "Batch": `CreateBatchRequest`, `Batch`,
`BatchRequestInput`, `BatchRequestOutput`), and what Mistral's batch jobs share with it.

A batch is a JSONL file uploaded with purpose `batch` (`POST {base}/files`), each line
`{custom_id, method: "POST", url, body}` with the chat body the interactive road would send, then
`POST {base}/batches` with its id and a 24-hour window. Results are JSONL files too (the output and the error
file), each line `{custom_id, response: {status_code, body}, error}`: a body of 200 is a chat completion, read with
the chat translator; another status holds the upstream's error body, mapped as an interactive call's.
Azure's Batch is the same API at its own root (`/openai/files`, `/openai/batches`, with `api-version`), whose
lines name the endpoint without `/v1`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Final
from urllib.parse import quote

import orjson

from babelgate.errors import GatewayError, UpstreamProtocolError
from babelgate.http import read_body
from babelgate.providers.batch import (
    BatchLine,
    BatchOutcome,
    ProviderBatchState,
    ProviderBatchStatus,
    count,
    jsonl_objects,
)
from babelgate.providers.transport import ErrorMapper, Upstream, read_json_object
from babelgate.schema.chat import ChatResponse

FILES_PATH: Final = "/files"
BATCHES_PATH: Final = "/batches"
CHAT_ENDPOINT: Final = "/v1/chat/completions"
COMPLETION_WINDOW: Final = "24h"  # the only window OpenAI and Azure's global batches offer

# OAI `Batch.status` → where the batch stands. "cancelling" still runs: lines in flight finish, and their
# results are in the output file once it is "cancelled".
STATES: Final[dict[str, ProviderBatchState]] = {
    "validating": "running",
    "in_progress": "running",
    "finalizing": "running",
    "cancelling": "running",
    "completed": "ended",
    "failed": "failed",
    "expired": "expired",
    "cancelled": "cancelled",
}

# A line's own error codes that say it never ran (OAI: the batch expired or was cancelled before it): absent from
# the outcomes, as the protocol wants lines the provider never ran.
NOT_RUN: Final = frozenset({"batch_expired", "batch_cancelled"})


def jsonl(lines: Sequence[BatchLine], body_of: Callable[[BatchLine], dict[str, Any]], url: str | None) -> bytes:
    """The input file: one `BatchRequestInput` per line, its body the one `chat` would send, never streamed; without
    `url`, Mistral's `{custom_id, body}`."""
    out = bytearray()
    for line in lines:
        body = body_of(line)
        body.pop("stream", None)
        body.pop("stream_options", None)
        item = {"custom_id": line.custom_id, "body": body}
        if url is not None:
            item = {"custom_id": line.custom_id, "method": "POST", "url": url, "body": body}
        out += orjson.dumps(item)
        out += b"\n"
    return bytes(out)


async def upload(upstream: Upstream, url: str, data: bytes, provider: str) -> str:
    """The uploaded input file's id (`POST /files`, purpose `batch`, as the SDKs send it: multipart)."""
    import aiohttp

    form = aiohttp.FormData(quote_fields=False)
    form.add_field("purpose", "batch")
    form.add_field("file", data, filename="batch.jsonl", content_type="application/jsonl")
    _, parsed = await read_json_object(await upstream.post_form(url, form), provider)
    return string_field(parsed, "id", provider)


async def submitted(
    upstream: Upstream, files_url: str, data: bytes, provider: str, create: Callable[[str], Awaitable[str]]
) -> str:
    """The provider batch made from `data`: the input file uploaded, then `create(file_id)` (the batch's id). A
    batch the upstream would not make leaves no input file behind: the file is deleted (as well as it can be: a
    failed delete leaves it to the provider's own expiry) and the refusal raised."""
    file_id = await upload(upstream, files_url, data, provider)
    try:
        return await create(file_id)
    except Exception:
        with contextlib.suppress(Exception):
            await read_body(await upstream.delete(f"{files_url}/{quote(file_id, safe='')}"))
        raise


def string_field(parsed: dict[str, Any], name: str, provider: str) -> str:
    value = parsed.get(name)
    if not isinstance(value, str) or not value:
        raise UpstreamProtocolError(provider=provider, detail=f"the body has no {name}")
    return value


def status_of(batch: dict[str, Any], provider: str) -> ProviderBatchStatus:
    """An OAI `Batch` as the engine reads it."""
    state = STATES.get(str(batch.get("status")))
    if state is None:
        raise UpstreamProtocolError(provider=provider, detail="the batch has an unknown status")
    counts = batch.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    failed = count(counts.get("failed"))
    return ProviderBatchStatus(
        state,
        total=count(counts.get("total")),
        succeeded=max(count(counts.get("completed")) - failed, 0),  # OAI's `completed` counts the failed too
        failed=failed,
        message=first_error(batch.get("errors")),
    )


def first_error(errors: Any) -> str | None:
    """Why a batch failed as a whole: the first of its `errors.data` (with the line it names), or None."""
    data = errors.get("data") if isinstance(errors, dict) else None
    if not isinstance(data, list) or not data or not isinstance(data[0], dict):
        return None
    first = data[0]
    message = str(first.get("message") or first.get("code") or "the batch failed")
    line = first.get("line")
    return f"line {line}: {message}" if isinstance(line, int) else message


async def results(
    upstream: Upstream,
    file_urls: Sequence[str],
    read: Callable[[dict[str, Any]], BatchOutcome | None],
    provider: str,
) -> AsyncIterator[BatchOutcome]:
    """Every line's outcome of the results files (the output file, then the error file), line by line."""
    for url in file_urls:
        async for line in jsonl_objects(await upstream.get(url), provider):
            outcome = read(line)
            if outcome is not None:
                yield outcome


def outcome_of(
    line: dict[str, Any],
    *,
    from_wire: Callable[[dict[str, Any]], ChatResponse],
    map_error: ErrorMapper,
    provider: str,
    scrub: Callable[[str], str],
) -> BatchOutcome | None:
    """One `BatchRequestOutput` (OpenAI's, Azure's and Mistral's alike): the answer through `from_wire`, an error
    status through the provider's error table, a line that never ran None."""
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str):
        raise UpstreamProtocolError(provider=provider, detail="a results line has no custom_id")
    response = line.get("response")
    if isinstance(response, dict) and isinstance(response.get("status_code"), int):
        status, body = response["status_code"], response.get("body")
        if status < 400 and isinstance(body, dict):
            try:
                return BatchOutcome(custom_id, from_wire(body))
            except (AttributeError, TypeError, ValueError, KeyError):
                error: GatewayError = UpstreamProtocolError(provider=provider, detail="the body has the wrong shape")
                return BatchOutcome(custom_id, None, error)
        raw = body if isinstance(body, bytes | str) else orjson.dumps(body)
        return BatchOutcome(custom_id, None, map_error(status, _bytes(raw), None, provider=provider, scrub=scrub))
    error_object = line.get("error")
    if isinstance(error_object, dict):
        if error_object.get("code") in NOT_RUN:
            return None
        raw = orjson.dumps({"error": error_object})
        return BatchOutcome(custom_id, None, map_error(400, raw, None, provider=provider, scrub=scrub))
    raise UpstreamProtocolError(provider=provider, detail="a results line has neither a response nor an error")


def _bytes(raw: bytes | str) -> bytes:
    return raw.encode() if isinstance(raw, str) else raw
