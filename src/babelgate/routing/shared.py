"""Routing state several gateway instances share through Redis: open circuits and resting keys.

Without Redis each instance keeps its own (routing/health.py, providers/key_pool.py). With it,
every change is written to Redis (a key that expires when the state does) and published on a
channel; every instance applies what the others publish, and loads what is current when it
starts or reconnects. Nothing in a request waits for Redis: changes are sent by a task, and what
others said is already in local memory when a request asks.

A Redis outage degrades to per-instance state: one warning, requests go on, the connection is
retried in the background with backoff, and one line says when it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.providers import key_pool
from babelgate.redis_link import TIMEOUT, RedisLink

if TYPE_CHECKING:
    from babelgate.routing.health import Health

log = logging.getLogger("babelgate.shared")
RECONNECT_MAX: Final = 10.0
LATENCY_EVERY: Final = 2.0  # seconds between two exchanges of latency figures
_LATENCY_TTL: Final = 10  # seconds an instance's figures outlive it
_LINGER: Final = 1.0  # seconds a Redis key outlives the state it holds (clock differences)


class RedisShared:
    def __init__(self, url: str, health: Health, *, prefix: str = "babelgate:") -> None:
        self.url = url
        self.health = health
        self.prefix = prefix
        self.channel = f"{prefix}routing"
        self.instance = uuid.uuid4().hex[:12]  # its own messages come back to it: ignored
        self.started = False
        self._link = RedisLink(url, use="routing state", meanwhile="routing state is per instance", health_check=5,
                               logger=log)
        self._listener: asyncio.Task[None] | None = None
        self._latency: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    @property
    def _up(self) -> bool:
        return self._link.up

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect and listen in the background (never blocks, never raises)."""
        if self.started:
            return
        self.started = True
        self.health.shared = self
        key_pool.rest_listeners.append(self.key_rested)
        loop = asyncio.get_running_loop()
        self._listener = loop.create_task(self._listen())
        self._latency = loop.create_task(self._exchange_latencies())

    async def close(self) -> None:
        if not self.started:
            return
        with contextlib.suppress(ValueError):
            key_pool.rest_listeners.remove(self.key_rested)
        if self.health.shared is self:
            self.health.shared = None
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=TIMEOUT * 2)
        for task in (self._listener, self._latency):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self._link.close()
        self.started = False

    # --- what this instance tells the others (health.SharedHealth, key_pool.rest_listeners) -------

    def circuit_changed(self, deployment: str, open_until: float) -> None:
        self._send(f"{self.prefix}circuit:{deployment}", open_until,
                   {"k": "circuit", "n": deployment, "u": open_until})

    def key_rested(self, provider: str, label: str, until: float) -> None:
        self._send(f"{self.prefix}rest:{provider}:{label}", until,
                   {"k": "rest", "p": provider, "l": label, "u": until})

    def _send(self, key: str, until: float, message: dict[str, Any]) -> None:
        if not self.started:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._write(key, until, {**message, "i": self.instance}))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _write(self, key: str, until: float, message: dict[str, Any]) -> None:
        try:
            async with self._link.client.pipeline(transaction=False) as pipe:
                ttl = until - time.time()
                if ttl > 0:
                    pipe.set(key, repr(until), px=int((ttl + _LINGER) * 1000))
                else:
                    pipe.delete(key)
                pipe.publish(self.channel, orjson.dumps(message))
                await pipe.execute()
        except Exception as exc:
            self._link.failed(exc)

    # --- what the others told us -------------------------------------------------------------------

    async def _listen(self) -> None:
        delay = 0.25
        while True:
            try:
                async with self._link.client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    await self._load()
                    self._link.answered()
                    delay = 0.25
                    while True:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            self._apply(message.get("data"))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._link.failed(exc)
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX, delay * 2)

    async def _load(self) -> None:
        """What is current: open circuits and resting keys, from their keys' values."""
        now = time.time()
        for pattern in (f"{self.prefix}circuit:*", f"{self.prefix}rest:*"):
            async for raw_key in self._link.client.scan_iter(match=pattern, count=200):
                await self._load_one(raw_key, now)

    async def _load_one(self, raw_key: Any, now: float) -> None:
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        value = await self._link.client.get(key)
        try:
            until = float(value) if value is not None else 0.0
        except ValueError:
            return
        if until <= now:
            return
        kind, _, name = key[len(self.prefix):].partition(":")
        if kind == "circuit":
            self.health.learn_circuit(name, until)
        elif kind == "rest":
            provider, _, label = name.partition(":")
            _learn_rest(provider, label, until)

    def _apply(self, data: Any) -> None:
        try:
            message = orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError):
            return
        if not isinstance(message, dict) or message.get("i") == self.instance:
            return
        until = message.get("u")
        if not isinstance(until, int | float):
            return
        if message.get("k") == "circuit" and isinstance(message.get("n"), str):
            self.health.learn_circuit(message["n"], float(until))
        elif message.get("k") == "rest" and isinstance(message.get("p"), str) and isinstance(message.get("l"), str):
            _learn_rest(message["p"], message["l"], float(until))

    # --- latency: each instance's figures in a hash of its own, averaged by every instance ---------

    async def _exchange_latencies(self) -> None:
        while True:
            await asyncio.sleep(LATENCY_EVERY)
            try:
                mine = self.health.local_latencies()
                own_key = f"{self.prefix}latency:{self.instance}"
                if mine:
                    async with self._link.client.pipeline(transaction=False) as pipe:
                        pipe.hset(own_key, mapping={name: repr(value) for name, value in mine.items()})
                        pipe.expire(own_key, _LATENCY_TTL)
                        await pipe.execute()
                sums: dict[str, list[float]] = {}
                async for raw_key in self._link.client.scan_iter(match=f"{self.prefix}latency:*", count=200):
                    figures: dict[Any, Any] = await self._link.client.hgetall(raw_key)  # type: ignore[misc]
                    for name, value in figures.items():
                        deployment = name.decode() if isinstance(name, bytes) else str(name)
                        sums.setdefault(deployment, []).append(float(value))
                self.health.fleet_latency = {name: sum(values) / len(values) for name, values in sums.items()}
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.fleet_latency = {}  # back to this instance's own figures
                self._link.failed(exc)

def _learn_rest(provider: str, label: str, until: float) -> None:
    for pool in key_pool.pools_of(provider):
        pool.learn_rest(label, until)
