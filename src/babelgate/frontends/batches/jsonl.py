"""A batch's input file, checked: JSON Lines, each `{custom_id, method: "POST", url, body}`, custom ids unique,
a url the engine runs, at most `batches.max_lines` lines. A malformed file is a 400 that names the line (counted
from 1, as an editor shows it) and why. Also where a batch's lines are cut into the chunks instances claim."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.store.batch_records import Chunk

# The routes a line may name (with the `/v1` OpenAI's files carry), and the one the Messages batches run.
URLS: Final = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/completions")
MESSAGES_URL: Final = "/v1/messages"
# Lines an instance claims at a time: small enough that two instances share a batch of a few hundred lines,
# large enough that a claim (one store transaction) is a small part of the chunk's work.
CHUNK_LINES: Final = 64


def invalid(number: int, reason: str) -> InvalidRequest:
    return InvalidRequest("batch_line_invalid", param="file", code="invalid_batch_file", line=number, reason=reason)


def lines(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Each line that is not blank: its number (from 1) and its bytes' start and stop in `data`."""
    start, number, size = 0, 0, len(data)
    while start < size:
        number += 1
        stop = data.find(b"\n", start)
        stop = size if stop < 0 else stop
        if data[start:stop].strip():
            yield number, start, stop
        start = stop + 1


def parse_line(raw: bytes, number: int) -> dict[str, Any]:
    try:
        line = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid(number, "not a JSON object") from None
    if not isinstance(line, dict):
        raise invalid(number, "not a JSON object")
    return line


def check(data: bytes, max_lines: int, urls: tuple[str, ...] = URLS) -> int:
    """Checks a batch file; answers its lines."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest("invalid_value", param="file", detail=f"not UTF-8 text (byte {error.start})") from None
    seen: set[str] = set()
    count = 0
    for number, start, stop in lines(data):
        count += 1
        if count > max_lines:
            raise invalid(number, f"a batch holds at most {max_lines} lines")
        line = parse_line(data[start:stop], number)
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise invalid(number, "custom_id must be a non-empty string")
        if custom_id in seen:
            raise invalid(number, f"custom_id {custom_id!r} is used twice")
        seen.add(custom_id)
        if line.get("method") != "POST":
            raise invalid(number, "method must be POST")
        if line.get("url") not in urls:
            raise invalid(number, f"url must be one of {', '.join(urls)}")
        body = line.get("body")
        if not isinstance(body, dict):
            raise invalid(number, "body must be a JSON object")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise invalid(number, "body.model must name a model")
        extra = set(line) - {"custom_id", "method", "url", "body"}
        if extra:
            raise invalid(number, f"unknown field {sorted(extra)[0]!r}")
    if not count:
        raise InvalidRequest("invalid_value", param="file", detail="the file holds no lines")
    return count


def chunks(batch_id: str, data: bytes, endpoint: str) -> tuple[list[Chunk], set[str]]:
    """The batch's chunks of CHUNK_LINES lines, every line's url checked to be the batch's endpoint, and the
    models its lines name."""
    found: list[Chunk] = []
    models: set[str] = set()
    first = start = stop = 0
    index = 0
    for number, begin, end in lines(data):
        line = parse_line(data[begin:end], number)
        if line.get("url") != endpoint:
            raise invalid(number, f"url must be the batch's endpoint {endpoint}")
        body = line.get("body")
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            models.add(body["model"])
        if index % CHUNK_LINES == 0:
            if index:
                found.append(Chunk(batch_id, len(found), first, index, start, stop))
            first, start = index, begin
        stop = end
        index += 1
    if index:
        found.append(Chunk(batch_id, len(found), first, index, start, stop))
    return found, models
