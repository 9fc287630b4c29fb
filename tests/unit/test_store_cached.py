"""CachedStore: answers from its cache at once, writes behind, and never lets a failed write reach the caller."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from babelgate.frontends.responses import wire
from babelgate.store import CachedStore, StoredResponse, open_cached_store
from babelgate.store.cached import WRITE_BEHIND_WINDOW
from babelgate.store.memory import MemoryResponseStore
from babelgate.store.sqlite import SQLiteResponseStore

T0 = 1_700_000_000
SECRET = "the user's private question"


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class ControlledStore(MemoryResponseStore):
    """A memory store whose puts and gets wait for a gate, and which can be told to fail."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.put_gate = asyncio.Event()
        self.put_gate.set()
        self.get_gate = asyncio.Event()
        self.get_gate.set()
        self.fail_puts = False
        self.fail_purges = False
        self.gets: list[str] = []
        self.puts: list[StoredResponse] = []
        self.purges = 0
        self.closed = False

    async def put(self, record: StoredResponse) -> None:
        await self.put_gate.wait()
        await self._put_now(record)

    async def _put_now(self, record: StoredResponse) -> None:
        if self.fail_puts:
            raise ConnectionError("database went away")
        self.puts.append(record)
        await super().put(record)

    async def get(self, response_id: str) -> StoredResponse | None:
        self.gets.append(response_id)
        found = await super().get(response_id)
        await self.get_gate.wait()  # the answer is read, but still on its way back
        return found

    async def purge_expired(self) -> int:
        self.purges += 1
        if self.fail_purges:
            raise ConnectionError("database went away")
        return await super().purge_expired()

    async def close(self) -> None:
        self.closed = True


def record(response_id: str = "resp_1", *, text: str = SECRET, expires_at: int | None = None) -> StoredResponse:
    return StoredResponse(
        id=response_id,
        created_at=T0,
        expires_at=expires_at,
        response={"id": response_id, "output_text": text},
        input_items=[{"id": "msg_1", "type": "message", "role": "user", "content": text}],
        conversation=[{"type": "message", "role": "user", "content": text}],
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def inner(clock: FakeClock) -> ControlledStore:
    return ControlledStore(clock)


async def test_get_sees_a_put_while_the_inner_write_is_blocked(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, clock=clock)
    inner.put_gate.clear()
    await asyncio.wait_for(store.put(record()), timeout=1)  # does not wait for the blocked write
    assert await store.get("resp_1") == record()
    assert await MemoryResponseStore.get(inner, "resp_1") is None
    inner.put_gate.set()
    await store.close()
    assert inner.puts == [record()]


async def test_inner_write_failure_is_logged_not_raised(
    inner: ControlledStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = CachedStore(inner, clock=clock)
    inner.fail_puts = True
    with caplog.at_level(logging.ERROR, logger="babelgate.store"):
        await store.put(record())
        await store.flush()
    assert await store.get("resp_1") == record()  # still served from this process's cache
    [logged] = [r for r in caplog.records if r.name == "babelgate.store"]
    assert "resp_1" in logged.getMessage()
    assert SECRET not in caplog.text
    await store.close()


async def test_flush_waits_for_pending_writes(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, clock=clock)
    inner.put_gate.clear()
    await store.put(record("resp_1"))
    await store.put(record("resp_2"))
    flushing = asyncio.create_task(store.flush())
    await asyncio.sleep(0.01)
    assert not flushing.done()
    inner.put_gate.set()
    await asyncio.wait_for(flushing, timeout=1)
    assert [r.id for r in inner.puts] == ["resp_1", "resp_2"]
    await store.close()


async def test_close_flushes_then_closes_the_inner_store(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, clock=clock)
    inner.put_gate.clear()
    await store.put(record())
    closing = asyncio.create_task(store.close())
    await asyncio.sleep(0.01)
    assert not inner.closed
    inner.put_gate.set()
    await asyncio.wait_for(closing, timeout=1)
    assert inner.closed
    assert inner.puts == [record()]


async def test_purge_runs_at_most_once_per_interval(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, purge_interval=60, clock=clock)
    for i in range(3):
        await store.put(record(f"resp_{i}"))
        await store.flush()
    assert inner.purges == 1
    clock.now = T0 + 59
    await store.put(record("resp_3"))
    await store.flush()
    assert inner.purges == 1
    clock.now = T0 + 60
    await store.put(record("resp_4"))
    await store.flush()
    assert inner.purges == 2
    await store.close()


async def test_purge_removes_expired_records_from_the_inner_store(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, purge_interval=60, clock=clock)
    await store.put(record("resp_short", expires_at=T0 + 10))
    await store.flush()
    clock.now = T0 + 100
    await store.put(record("resp_new"))
    await store.flush()
    assert inner.purges == 2
    assert await MemoryResponseStore.purge_expired(inner) == 0  # the scheduled purge already took it
    await store.close()


async def test_purge_failure_is_logged_not_raised(
    inner: ControlledStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    store = CachedStore(inner, clock=clock)
    inner.fail_purges = True
    with caplog.at_level(logging.ERROR, logger="babelgate.store"):
        await store.put(record())
        await store.flush()
    assert "purging expired responses failed" in caplog.text
    assert await store.get("resp_1") == record()
    await store.close()


async def test_evicted_record_is_read_from_the_inner_store_and_cached_again(
    inner: ControlledStore, clock: FakeClock
) -> None:
    store = CachedStore(inner, capacity=2, clock=clock)
    for i in range(3):
        await store.put(record(f"resp_{i}"))
    await store.flush()
    assert await store.get("resp_2") == record("resp_2")
    assert inner.gets == []
    assert await store.get("resp_0") == record("resp_0")  # the least recently used one was evicted
    assert inner.gets == ["resp_0"]
    assert await store.get("resp_0") == record("resp_0")
    assert inner.gets == ["resp_0"]
    await store.close()


async def test_evicted_record_with_a_pending_write_is_read_after_the_write(
    inner: ControlledStore, clock: FakeClock
) -> None:
    store = CachedStore(inner, capacity=1, clock=clock)
    inner.put_gate.clear()
    await store.put(record("resp_0"))
    await store.put(record("resp_1"))  # evicts resp_0 before it reached the inner store
    reading = asyncio.create_task(store.get("resp_0"))
    await asyncio.sleep(0.01)
    assert not reading.done()
    inner.put_gate.set()
    assert await asyncio.wait_for(reading, timeout=1) == record("resp_0")
    await store.close()


async def test_expired_cached_record_is_not_returned(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, clock=clock)
    await store.put(record(expires_at=T0 + 10))
    clock.now = T0 + 10
    assert await store.get("resp_1") is None
    await store.close()


async def test_delete_removes_from_cache_and_inner_store(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, clock=clock)
    await store.put(record())
    assert await store.delete("resp_1") is True
    assert await store.get("resp_1") is None
    assert await MemoryResponseStore.get(inner, "resp_1") is None
    assert await store.delete("resp_1") is False
    await store.close()


async def test_delete_waits_for_a_pending_write_of_the_same_id(inner: ControlledStore, clock: FakeClock) -> None:
    store = CachedStore(inner, clock=clock)
    inner.put_gate.clear()
    await store.put(record())
    deleting = asyncio.create_task(store.delete("resp_1"))
    await asyncio.sleep(0.01)
    inner.put_gate.set()
    assert await asyncio.wait_for(deleting, timeout=1) is True
    await store.flush()
    assert await MemoryResponseStore.get(inner, "resp_1") is None  # the late write did not bring it back
    await store.close()


class FirstWriteSlow(ControlledStore):
    """The first write is held up (a slow connection, a lock) while a later one would go straight through."""

    async def put(self, record: StoredResponse) -> None:
        if record.response["output_text"] == "first":
            await self.put_gate.wait()
        await self._put_now(record)


async def test_a_slow_write_does_not_land_after_a_later_write_of_the_same_id(clock: FakeClock) -> None:
    inner = FirstWriteSlow(clock)
    store = CachedStore(inner, clock=clock)
    inner.put_gate.clear()
    await store.put(record(text="first"))
    await store.put(record(text="second"))
    await asyncio.sleep(0.01)
    inner.put_gate.set()
    await store.flush()
    assert [r.response["output_text"] for r in inner.puts] == ["first", "second"]
    assert await MemoryResponseStore.get(inner, "resp_1") == record(text="second")
    await store.close()


async def test_inner_read_racing_a_put_does_not_cache_the_older_record(
    inner: ControlledStore, clock: FakeClock
) -> None:
    store = CachedStore(inner, capacity=1, clock=clock)
    await store.put(record(text="old"))
    await store.put(record("resp_other"))  # evicts resp_1
    await store.flush()
    inner.get_gate.clear()
    reading = asyncio.create_task(store.get("resp_1"))
    await asyncio.sleep(0.01)
    await store.put(record(text="new"))
    inner.get_gate.set()
    assert await reading == record(text="old")  # it read before the put; only its caching is refused
    assert await store.get("resp_1") == record(text="new")
    await store.close()


async def test_records_put_through_the_cache_are_on_disk_once_it_is_closed(tmp_path: Path) -> None:
    path = tmp_path / "responses.db"
    store = CachedStore(SQLiteResponseStore(path))
    records = [record(f"resp_{i}") for i in range(20)]
    for r in records:
        await store.put(r)
    await store.close()
    reopened = SQLiteResponseStore(path)
    assert [await reopened.get(r.id) for r in records] == records
    await reopened.close()


class CountingStore(ControlledStore):
    """Counts how the cache hands writes over: whole batches, or one record at a time."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.batches: list[list[str]] = []
        self.refused: set[str] = set()  # ids whose write the storage refuses, alone or in a batch

    async def put_many(self, records: list[StoredResponse]) -> None:
        self.batches.append([record.id for record in records])
        await self.put_gate.wait()
        if any(record.id in self.refused for record in records):
            raise ConnectionError("one row of the batch was refused")
        for record in records:
            await self._put_now(record)

    async def put(self, record: StoredResponse) -> None:
        await self.put_many([record])


async def test_writes_made_while_one_is_under_way_reach_the_inner_store_together(clock: FakeClock) -> None:
    inner = CountingStore(clock)
    store = CachedStore(inner, clock=clock)
    inner.put_gate.clear()
    await store.put(record("resp_0"))
    await asyncio.sleep(0.01)  # its write is under way, held at the gate
    for i in range(1, 50):
        await store.put(record(f"resp_{i}"))
    inner.put_gate.set()
    await store.flush()
    assert inner.batches == [["resp_0"], [f"resp_{i}" for i in range(1, 50)]]
    assert [r.id for r in inner.puts] == [f"resp_{i}" for i in range(50)]
    await store.close()


async def test_puts_start_no_task_per_write(clock: FakeClock) -> None:
    inner = CountingStore(clock)
    store = CachedStore(inner, purge_interval=3600, clock=clock)
    inner.put_gate.clear()
    await store.put(record("resp_first"))  # starts the drainer (and the first purge)
    before = len(asyncio.all_tasks())
    for i in range(20):
        await store.put(record(f"resp_{i}"))
    assert len(asyncio.all_tasks()) == before
    inner.put_gate.set()
    await store.close()


async def test_a_refused_record_does_not_cost_the_rest_of_its_batch_their_write(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    inner = CountingStore(clock)
    inner.refused = {"resp_bad"}
    store = CachedStore(inner, clock=clock)
    inner.put_gate.clear()
    await store.put(record("resp_0"))
    await asyncio.sleep(0.01)  # its write is under way, held at the gate
    for response_id in ("resp_1", "resp_bad", "resp_2"):
        await store.put(record(response_id))
    with caplog.at_level(logging.ERROR, logger="babelgate.store"):
        inner.put_gate.set()
        await store.flush()
    assert ["resp_1", "resp_bad", "resp_2"] in inner.batches  # tried together first
    assert [r.id for r in inner.puts] == ["resp_0", "resp_1", "resp_2"]
    [logged] = [r for r in caplog.records if r.name == "babelgate.store"]
    assert "resp_bad" in logged.getMessage()
    assert SECRET not in caplog.text
    await store.close()


async def test_a_delete_runs_after_the_writes_queued_before_it_and_before_later_ones(clock: FakeClock) -> None:
    inner = CountingStore(clock)
    store = CachedStore(inner, capacity=0, clock=clock)
    inner.put_gate.clear()
    await store.put(record("resp_1", text="old"))
    deleting = asyncio.create_task(store.delete("resp_1"))
    await asyncio.sleep(0.01)
    await store.put(record("resp_1", text="new"))
    inner.put_gate.set()
    assert await asyncio.wait_for(deleting, timeout=1) is True
    await store.flush()
    assert await store.get("resp_1") == record("resp_1", text="new")
    assert inner.batches == [["resp_1"], ["resp_1"]]
    await store.close()


async def test_a_failed_inner_delete_reaches_its_caller_and_later_changes_still_run(clock: FakeClock) -> None:
    class FailingDelete(ControlledStore):
        async def delete(self, response_id: str) -> bool:
            raise ConnectionError("database went away")

    inner = FailingDelete(clock)
    store = CachedStore(inner, clock=clock)
    await store.put(record("resp_1"))
    with pytest.raises(ConnectionError):
        await store.delete("resp_1")
    await store.put(record("resp_2"))
    await store.flush()
    assert [r.id for r in inner.puts] == ["resp_1", "resp_2"]
    await store.close()


# --- a shared store: another instance's write may land a moment after its client knows the id -------------


class LateStore(MemoryResponseStore):
    """The shared store, where another instance's write of a record lands `after` seconds from now."""

    def __init__(self, record: StoredResponse | None, after: float) -> None:
        super().__init__()
        self.late, self.ready_at, self.reads = record, time.monotonic() + after, 0

    async def get(self, response_id: str) -> StoredResponse | None:
        self.reads += 1
        late = self.late
        if late is not None and late.id == response_id and time.monotonic() >= self.ready_at:
            return late
        return await super().get(response_id)


def _late(response_id: str) -> StoredResponse:
    return StoredResponse(
        id=response_id, created_at=int(time.time()), expires_at=None, response={}, input_items=[], conversation=[]
    )


def _shared(inner: MemoryResponseStore) -> CachedStore:
    return CachedStore(inner, capacity=0, made_at=wire.response_created_at)


async def test_a_shared_store_finds_a_response_just_made_elsewhere_once_its_write_lands() -> None:
    response_id = wire.new_response_id()
    record = await _shared(LateStore(_late(response_id), after=0.3)).get(response_id)
    assert record is not None and record.id == response_id


async def test_a_shared_store_does_not_wait_for_an_old_a_future_or_a_foreign_missing_id() -> None:
    old = f"{wire.RESPONSE_PREFIX}{(time.time_ns() // 1_000_000) - 60_000:012x}{'0' * 32}"
    future = f"{wire.RESPONSE_PREFIX}{'f' * 12}{'0' * 32}"
    for response_id in (old, future, "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b", "nope"):
        inner = LateStore(None, after=0)
        started = time.monotonic()
        assert await _shared(inner).get(response_id) is None
        assert time.monotonic() - started < 0.05 and inner.reads == 1


async def test_a_shared_store_gives_up_on_a_new_missing_id_after_the_write_behind_window() -> None:
    inner = LateStore(None, after=0)
    started = time.monotonic()
    assert await _shared(inner).get(wire.new_response_id()) is None
    assert WRITE_BEHIND_WINDOW - 0.2 < time.monotonic() - started < WRITE_BEHIND_WINDOW + 0.5


async def test_an_id_deleted_here_is_not_waited_for_and_an_embedded_store_never_waits() -> None:
    shared = _shared(LateStore(None, after=0))
    response_id = wire.new_response_id()
    await shared.delete(response_id)
    embedded = open_cached_store("memory", made_at=wire.response_created_at)  # read-your-writes: no wait
    started = time.monotonic()
    assert await shared.get(response_id) is None and await embedded.get(wire.new_response_id()) is None
    assert time.monotonic() - started < 0.05


async def test_a_write_behind_put_needs_no_deadline_and_any_other_put_keeps_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway's store is a deadline around a write-behind cache: a put there only remembers and queues, so it
    arms no timer; a store whose puts may wait (no cache in between) keeps its deadline. Deadlines are seen as the
    timers `asyncio.timeout` arms on the loop (the store's own functions may be compiled: not patched here)."""
    from babelgate.store.timed import TimedStore

    loop = asyncio.get_running_loop()
    deadlines: list[object] = []
    call_at = loop.call_at

    def arming(when: float, callback: Any, *args: Any, **kwargs: Any) -> asyncio.TimerHandle:
        if isinstance(getattr(callback, "__self__", None), asyncio.Timeout):
            deadlines.append(callback)
        return call_at(when, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_at", arming)
    stored = record()
    cached = open_cached_store("memory")
    await cached.put(stored)
    assert deadlines == []
    assert await cached.get("resp_1") is not None and len(deadlines) == 1  # a read may wait: bounded
    deadlines.clear()
    await TimedStore(MemoryResponseStore()).put(stored)
    assert len(deadlines) == 1
