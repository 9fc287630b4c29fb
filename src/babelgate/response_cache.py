"""An exact-match response cache: the same request to the same model gets the answer the client
got the first time, bytes for bytes (a stream is replayed as the same stream), without an upstream
call, for as long as the entry lives.

Opt-in, per model (`models.<name>.cache`) or per request (`x-babelgate-cache-ttl: <seconds>`).
`Cache-Control: no-cache` skips the lookup (the fresh answer is still stored), `no-store` skips
both. The key is a hash of the route, the public model name, whether it streams, and the request
body with its keys sorted and without the fields that do not change the answer (`user`,
`metadata`, `stream_options`…). Entries live in memory (an LRU of `cache.max_entries`) by default,
in Redis when `redis.url` is set, so every instance serves what any one cached. Answers that are
not a complete 200 (an error, a stream cut short) are never stored.

Scope: the cache is shared by every caller of a model. An entry can only be found by sending the
same request, so a caller learns nothing it did not already send; but an answer one caller got
is what another with the same request gets.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import orjson

from babelgate import headers
from babelgate.answer import JSON_TYPE, Answer
from babelgate.redis_link import RedisLink, RedisUnavailable
from babelgate.tap import tapped

if TYPE_CHECKING:
    from babelgate.call import Call

HEADER: Final = headers.CACHE
TTL_HEADER: Final = b"x-babelgate-cache-ttl"
# Request fields that change nothing in the answer: left out of the key.
IGNORED_FIELDS: Final = frozenset(
    {"user", "metadata", "stream_options", "store", "service_tier", "prompt_cache_key", "safety_identifier"}
)
# Headers of the first answer that are replayed (the others are the request's own).
REPLAYED: Final = frozenset({b"content-type", b"x-babelgate-adjusted-params", b"cache-control", b"x-accel-buffering"})
MAX_ENTRY_BYTES: Final = 4 * 1024 * 1024


@dataclass(slots=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]
    chunks: list[bytes]  # one body message each: a stream is replayed piece by piece
    provider: str
    model: str
    stored_at: float = field(default_factory=time.time)

    def encode(self) -> bytes:
        return orjson.dumps(
            {
                "status": self.status,
                "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in self.headers],
                "chunks": [chunk.decode("latin-1") for chunk in self.chunks],
                "provider": self.provider,
                "model": self.model,
                "stored_at": self.stored_at,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> Entry:
        fields = orjson.loads(data)
        return cls(
            fields["status"],
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fields["headers"]],
            [chunk.encode("latin-1") for chunk in fields["chunks"]],
            fields["provider"],
            fields["model"],
            fields["stored_at"],
        )


def cache_key(route: str, model: str, stream: bool, body: bytes) -> str | None:
    """None when the body is not a JSON object (nothing to cache: the call will refuse it)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict):
        return None
    kept = {name: value for name, value in parsed.items() if name not in IGNORED_FIELDS}
    normalised = orjson.dumps([route, model, stream, kept], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(normalised).hexdigest()


class ResponseCache:
    def __init__(
        self, *, max_entries: int = 10_000, redis: RedisLink | None = None, prefix: str = "babelgate:"
    ) -> None:
        """`redis`: the gateway's link, when the cache is shared (its owner closes it)."""
        self.max_entries = max_entries
        self.prefix = prefix
        self._memory: OrderedDict[str, tuple[float, Entry]] = OrderedDict()
        self._link = redis
        self.hits = 0
        self.misses = 0

    async def get(self, key: str) -> Entry | None:
        if self._link is not None and self._link.up:
            name = self.prefix + "cache:" + key
            try:
                data = await self._link.call(lambda redis: redis.get(name))
            except RedisUnavailable:
                pass  # the memory cache until Redis is back
            else:
                return Entry.decode(data) if data is not None else None
        found = self._memory.get(key)
        if found is None:
            return None
        expires, entry = found
        if expires <= time.monotonic():
            del self._memory[key]
            return None
        self._memory.move_to_end(key)
        return entry

    async def put(self, key: str, entry: Entry, ttl: float) -> None:
        if sum(len(chunk) for chunk in entry.chunks) > MAX_ENTRY_BYTES:
            return
        if self._link is not None and self._link.up:
            name, data = self.prefix + "cache:" + key, entry.encode()
            try:
                await self._link.call(lambda redis: redis.set(name, data, px=max(1, int(ttl * 1000))))
            except RedisUnavailable:
                pass  # the memory cache until Redis is back
            else:
                return
        self._memory[key] = (time.monotonic() + ttl, entry)
        self._memory.move_to_end(key)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How one request uses the cache: None from `policy()` when it does not."""

    key: str
    ttl: float
    read: bool
    write: bool


def policy(
    record: Call, model_ttl: float | None, route: str, model: str, stream: bool, body: bytes
) -> CachePolicy | None:
    requested = record.header(TTL_HEADER)
    ttl = model_ttl
    if requested is not None:
        try:
            ttl = float(requested)
        except ValueError:
            ttl = None
    if not ttl or ttl <= 0:
        return None
    control = (record.header(b"cache-control") or b"").lower()
    write = control.find(b"no-store") < 0
    read = write and control.find(b"no-cache") < 0
    if not (read or write):
        return None
    key = cache_key(route, model, stream, body)
    return CachePolicy(key, ttl, read, write) if key is not None else None


def replay(entry: Entry) -> Answer:
    """A stored answer, to be sent as it was first sent: one body message per stored piece."""
    content_type = next((header for header in entry.headers if header[0] == b"content-type"), JSON_TYPE)
    headers = [header for header in entry.headers if header[0] != b"content-type"]
    first = entry.chunks[0] if entry.chunks else b""
    rest = _Pieces(entry.chunks, 1) if len(entry.chunks) > 1 else None
    return Answer(first, None, status=entry.status, content_type=content_type, headers=headers, rest=rest)


class _Pieces:
    """A stored answer's pieces from `at` on, one at a time: an iterator class, where the compiled build (this
    module is in it: every request asks `policy`) takes no async generator."""

    __slots__ = ("_at", "_chunks")

    def __init__(self, chunks: list[bytes], at: int) -> None:
        self._chunks = chunks
        self._at = at

    def __aiter__(self) -> _Pieces:
        return self

    async def __anext__(self) -> bytes:
        at = self._at
        if at >= len(self._chunks):
            raise StopAsyncIteration
        self._at = at + 1
        return self._chunks[at]


class Recorder:
    """Keeps a copy of an answer as it goes out (its stream's frames as they pass)."""

    __slots__ = ("chunks", "headers", "size", "status", "too_big")

    def __init__(self, answer: Answer) -> None:
        self.status = answer.status
        self.headers = [(k, v) for k, v in (answer.content_type, *answer.headers) if k.lower() in REPLAYED]
        self.chunks: list[bytes] = []
        self.size = 0
        self.too_big = False
        self._keep(answer.body)
        if answer.rest is not None:
            answer.rest = tapped(answer.rest, self._keep)

    def _keep(self, body: bytes) -> None:
        if body and not self.too_big:
            self.size += len(body)
            if self.size > MAX_ENTRY_BYTES:
                self.too_big, self.chunks = True, []
            else:
                self.chunks.append(bytes(body))

    def entry(self, provider: str, model: str) -> Entry | None:
        """What to store, once the answer went out whole; None when it is not worth keeping."""
        if self.status != 200 or self.too_big:
            return None
        return Entry(200, self.headers, self.chunks, provider, model)
