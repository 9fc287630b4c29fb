"""A batch's input file, checked: JSON Lines (UTF-8), each `{custom_id, method: "POST", url, body}`, custom ids
unique, a url the engine runs, at most `batches.max_lines` lines. A malformed file is a 400 that names the line
(counted from 1, as an editor shows it) and why. Also where a batch's lines are cut into the chunks instances
claim. Both read a file line by line (`FileCheck`, `Chunker`): a stored file is fed to them a piece at a time
(streams.py's `stored_lines`), never read whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final

import orjson

from babelgate.errors import InvalidRequest
from babelgate.store.batch_records import Chunk

# The routes a line may name (with the `/v1` OpenAI's files carry), and the one the Messages batches run.
URLS: Final = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/completions")
MESSAGES_URL: Final = "/v1/messages"
# Lines an instance claims at a time: small enough that two instances share a batch of a few hundred lines,
# large enough that a claim (one store transaction) is a small part of the chunk's work, and that a chunk's lines
# for one model fill a provider batch whose API takes no fewer than 100 (Bedrock's default quota of records a job).
CHUNK_LINES: Final = 128
# A line as a feeder hands it: its number (from 1), its bytes' start and stop in the file, and the bytes.
Line = tuple[int, int, int, bytes]


def invalid(number: int, reason: str) -> InvalidRequest:
    return InvalidRequest("batch_line_invalid", param="file", code="invalid_batch_file", line=number, reason=reason)


def lines(data: bytes) -> Iterator[tuple[int, int, int]]:
    """Each line of `data` that is not blank: its number (from 1) and its bytes' start and stop in `data`."""
    start, number, size = 0, 0, len(data)
    while start < size:
        number += 1
        stop = data.find(b"\n", start)
        stop = size if stop < 0 else stop
        if data[start:stop].strip():
            yield number, start, stop
        start = stop + 1


def lines_of(data: bytes) -> Iterator[Line]:
    """`lines(data)` with each line's bytes."""
    for number, start, stop in lines(data):
        yield number, start, stop, data[start:stop]


def parse_line(raw: bytes, number: int) -> dict[str, Any]:
    try:
        line = orjson.loads(raw)  # orjson also refuses bytes that are not UTF-8
    except orjson.JSONDecodeError:
        raise invalid(number, "not a JSON object") from None
    if not isinstance(line, dict):
        raise invalid(number, "not a JSON object")
    return line


class FileCheck:
    """A batch file's lines checked one by one; `count` once every line was fed."""

    def __init__(self, max_lines: int, urls: tuple[str, ...] = URLS) -> None:
        self.max_lines, self.urls = max_lines, urls
        self.seen: set[str] = set()
        self.count = 0

    def feed(self, number: int, raw: bytes) -> None:
        self.count += 1
        if self.count > self.max_lines:
            raise invalid(number, f"a batch holds at most {self.max_lines} lines")
        line = parse_line(raw, number)
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise invalid(number, "custom_id must be a non-empty string")
        if custom_id in self.seen:
            raise invalid(number, f"custom_id {custom_id!r} is used twice")
        self.seen.add(custom_id)
        if line.get("method") != "POST":
            raise invalid(number, "method must be POST")
        if line.get("url") not in self.urls:
            raise invalid(number, f"url must be one of {', '.join(self.urls)}")
        body = line.get("body")
        if not isinstance(body, dict):
            raise invalid(number, "body must be a JSON object")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise invalid(number, "body.model must name a model")
        extra = set(line) - {"custom_id", "method", "url", "body"}
        if extra:
            raise invalid(number, f"unknown field {sorted(extra)[0]!r}")

    def finish(self) -> int:
        if not self.count:
            raise InvalidRequest("invalid_value", param="file", detail="the file holds no lines")
        return self.count


def check(data: bytes, max_lines: int, urls: tuple[str, ...] = URLS) -> int:
    """Checks a batch file held whole; answers its lines."""
    checker = FileCheck(max_lines, urls)
    for number, _, _, raw in lines_of(data):
        checker.feed(number, raw)
    return checker.finish()


class Chunker:
    """A batch's chunks of CHUNK_LINES lines, fed its file's lines; every line's url checked to be the batch's
    endpoint; and the models its lines name."""

    def __init__(self, batch_id: str, endpoint: str) -> None:
        self.batch_id, self.endpoint = batch_id, endpoint
        self.found: list[Chunk] = []
        self.models: set[str] = set()
        self.index = self.first = self.start = self.stop = 0

    def feed(self, number: int, begin: int, end: int, raw: bytes) -> None:
        line = parse_line(raw, number)
        if line.get("url") != self.endpoint:
            raise invalid(number, f"url must be the batch's endpoint {self.endpoint}")
        body = line.get("body")
        if isinstance(body, dict) and isinstance(body.get("model"), str):
            self.models.add(body["model"])
        if self.index % CHUNK_LINES == 0:
            if self.index:
                self.found.append(Chunk(self.batch_id, len(self.found), self.first, self.index, self.start, self.stop))
            self.first, self.start = self.index, begin
        self.stop = end
        self.index += 1

    def finish(self) -> tuple[list[Chunk], set[str]]:
        if self.index:
            self.found.append(Chunk(self.batch_id, len(self.found), self.first, self.index, self.start, self.stop))
            self.index = 0
        return self.found, self.models


def chunks(batch_id: str, data: bytes | Iterable[Line], endpoint: str) -> tuple[list[Chunk], set[str]]:
    """The chunks of a file held whole (or of its lines), and the models its lines name."""
    chunker = Chunker(batch_id, endpoint)
    for number, begin, end, raw in lines_of(data) if isinstance(data, bytes) else data:
        chunker.feed(number, begin, end, raw)
    return chunker.finish()
