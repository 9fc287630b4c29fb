"""Routing state several gateway instances share through Redis: open circuits, resting keys, and the
deployments sessions are pinned to (routing.affinity).

Without Redis each instance keeps its own (routing/health.py, providers/key_pool.py, routing/pins.py). With it,
every change is written to Redis (a key that expires when the state does) and published on a
channel; every instance applies what the others publish, and loads what is current when it
starts or reconnects. Nothing in a request waits for Redis: changes are sent by a task, and what
others said is already in local memory when a request asks.

A Redis outage degrades to per-instance state: the gateway's link (redis_link.py) opens its
breaker, nothing is sent meanwhile, and when its probe finds Redis back the subscription is made
again and what is current loaded.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

import orjson

from babelgate.providers.key_pool import KeyPools
from babelgate.redis_link import RedisLink, RedisUnavailable

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from babelgate.routing.health import Health
    from babelgate.routing.pins import Pins

log = logging.getLogger("babelgate.shared")
LATENCY_EVERY: Final = 2.0  # seconds between two exchanges of latency figures
_LATENCY_TTL: Final = 10  # seconds an instance's figures outlive it
_LINGER: Final = 1.0  # seconds a Redis key outlives the state it holds (clock differences)


class RedisShared:
    def __init__(
        self,
        redis: RedisLink,
        health: Health,
        *,
        prefix: str = "babelgate:",
        pins: Pins | None = None,
        pools: KeyPools | None = None,
    ) -> None:
        """`redis`: the gateway's link (its owner closes it); `pools`: the gateway's key pools, whose rests are
        shared."""
        self.health = health
        self.pins = pins
        self.pools = pools if pools is not None else KeyPools()
        self.prefix = prefix
        self.channel = f"{prefix}routing"
        self.instance = uuid.uuid4().hex[:12]  # its own messages come back to it: ignored
        self.started = False
        self.listening = False  # subscribed, and what was current loaded
        self._link = redis
        self._listener: asyncio.Task[None] | None = None
        self._latency: asyncio.Task[None] | None = None
        self._sends: set[asyncio.Task[None]] = set()

    @property
    def _up(self) -> bool:
        return self.listening and self._link.up

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect and listen in the background (never blocks, never raises)."""
        if self.started:
            return
        self.started = True
        self.health.shared = self
        if self.pins is not None:
            self.pins.shared = self
        self.pools.rest_listeners.append(self.key_rested)
        loop = asyncio.get_running_loop()
        self._listener = loop.create_task(self._listen())
        self._latency = loop.create_task(self._exchange_latencies())

    async def close(self) -> None:
        if not self.started:
            return
        with contextlib.suppress(ValueError):
            self.pools.rest_listeners.remove(self.key_rested)
        if self.health.shared is self:
            self.health.shared = None
        if self.pins is not None and self.pins.shared is self:
            self.pins.shared = None
        if self._sends:
            await asyncio.wait(set(self._sends), timeout=self._link.timeout * 2)
        for task in (self._listener, self._latency):
            if task is not None:
                await _stopped(task)
        self.started = False

    # --- what this instance tells the others (health.SharedHealth, KeyPools.rest_listeners) -------

    def circuit_changed(self, deployment: str, open_until: float) -> None:
        self._send(f"{self.prefix}circuit:{deployment}", open_until, {"k": "circuit", "n": deployment, "u": open_until})

    def key_rested(self, provider: str, label: str, until: float) -> None:
        self._send(f"{self.prefix}rest:{provider}:{label}", until, {"k": "rest", "p": provider, "l": label, "u": until})

    def pin_changed(self, key: str, deployment: str, until: float) -> None:
        message = {"k": "pin", "n": key, "d": deployment, "u": until}
        self._send(f"{self.prefix}pin:{key}", until, message, value=f"{until!r} {deployment}")

    def _send(self, key: str, until: float, message: dict[str, Any], value: str | None = None) -> None:
        if not self.started or not self._link.up:
            return  # while Redis is away each instance keeps its own
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._write(key, until, {**message, "i": self.instance}, value or repr(until)))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    async def _write(self, key: str, until: float, message: dict[str, Any], value: str) -> None:
        async def write(redis: Redis) -> None:
            async with redis.pipeline(transaction=False) as pipe:
                ttl = until - time.time()
                if ttl > 0:
                    pipe.set(key, value, px=int((ttl + _LINGER) * 1000))
                else:
                    pipe.delete(key)
                pipe.publish(self.channel, orjson.dumps(message))
                await pipe.execute()

        with contextlib.suppress(RedisUnavailable):  # lost with the outage; the state is kept here
            await self._link.call(write)

    # --- what the others told us -------------------------------------------------------------------

    async def _listen(self) -> None:
        """Subscribed while Redis is up; after an outage, once the link's probe finds it back, the
        subscription is made again and what changed meanwhile loaded."""
        while True:
            await self._link.wait_up()
            try:
                async with self._link.client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await self._link.call(lambda _: pubsub.subscribe(self.channel))
                    await self._load()
                    self.listening = True
                    while self._link.up:
                        message = await pubsub.get_message(timeout=1.0)
                        if message is not None:
                            self._apply(message.get("data"))
            except asyncio.CancelledError:
                raise
            except RedisUnavailable:
                pass  # the link opened its breaker: wait for its probe
            except Exception as exc:  # the subscription's connection failed
                self._link.failed(exc)
            finally:
                self.listening = False
            if self._link.up:  # left for a reason the breaker did not see: not in a tight loop
                await asyncio.sleep(self._link.timeout)

    async def _load(self) -> None:
        """What is current: open circuits, resting keys and pinned sessions, from their keys' values."""
        now = time.time()
        patterns = [f"{self.prefix}circuit:*", f"{self.prefix}rest:*"]
        if self.pins is not None:
            patterns.append(f"{self.prefix}pin:*")
        for pattern in patterns:
            for raw_key in await self._link.call(functools.partial(_scan, match=pattern)):
                await self._load_one(raw_key, now)

    async def _load_one(self, raw_key: Any, now: float) -> None:
        key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        value = await self._link.call(lambda redis: redis.get(key))
        text = value.decode() if isinstance(value, bytes) else str(value or "")
        until_text, _, deployment = text.partition(" ")  # a pin's value also names its deployment
        try:
            until = float(until_text) if value is not None else 0.0
        except ValueError:
            return
        if until <= now:
            return
        kind, _, name = key[len(self.prefix) :].partition(":")
        if kind == "circuit":
            self.health.learn_circuit(name, until)
        elif kind == "rest":
            provider, _, label = name.partition(":")
            self._learn_rest(provider, label, until)
        elif kind == "pin" and self.pins is not None and deployment:
            self.pins.learn(name, deployment, until)

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
            self._learn_rest(message["p"], message["l"], float(until))
        elif message.get("k") == "pin" and self.pins is not None:
            key, deployment = message.get("n"), message.get("d")
            if isinstance(key, str) and isinstance(deployment, str):
                self.pins.learn(key, deployment, float(until))

    def _learn_rest(self, provider: str, label: str, until: float) -> None:
        for pool in self.pools.of(provider):
            pool.learn_rest(label, until)

    # --- latency: each instance's figures in a hash of its own, averaged by every instance ---------

    async def _exchange_latencies(self) -> None:
        while True:
            await asyncio.sleep(LATENCY_EVERY)
            try:
                self.health.fleet_latency = await self._link.call(self._share_latencies)
            except RedisUnavailable:
                self.health.fleet_latency = {}  # back to this instance's own figures

    async def _share_latencies(self, redis: Redis) -> dict[str, float]:
        """Writes this instance's figures, answers the average of every instance's."""
        mine = self.health.local_latencies()
        own_key = f"{self.prefix}latency:{self.instance}"
        if mine:
            async with redis.pipeline(transaction=False) as pipe:
                pipe.hset(own_key, mapping={name: repr(value) for name, value in mine.items()})
                pipe.expire(own_key, _LATENCY_TTL)
                await pipe.execute()
        sums: dict[str, list[float]] = {}
        for raw_key in await _scan(redis, f"{self.prefix}latency:*"):
            figures: dict[Any, Any] = await redis.hgetall(raw_key)  # type: ignore[misc]
            for name, value in figures.items():
                deployment = name.decode() if isinstance(name, bytes) else str(name)
                sums.setdefault(deployment, []).append(float(value))
        return {name: sum(values) / len(values) for name, values in sums.items()}


async def _scan(redis: Redis, match: str) -> list[Any]:
    return [key async for key in redis.scan_iter(match=match, count=200)]


async def _stopped(task: asyncio.Task[None]) -> None:
    """Cancels `task` until it ends: a cancellation that arrives as a read's own timeout expires can be taken
    for that timeout (redis-py's reads wait under `asyncio.timeout`), and the task would listen on for ever."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    if not task.cancelled():
        with contextlib.suppress(Exception):
            task.result()
