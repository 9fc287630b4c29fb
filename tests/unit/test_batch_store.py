"""The batch store's contract, the same for memory, SQLite and PostgreSQL (skipped without the service): chunks
claimed once until their lease runs out, leases renewed by their holder only, an outcome recorded once and
counted once, a chunk finished with its last outcomes, listings by scope and cursor, status moves that one caller
wins."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from babelgate.store.batch_memory import MemoryBatchStore
from babelgate.store.batch_records import BatchRecord, BatchStore, Chunk, FileRecord, Outcome, Scope
from babelgate.store.batch_sqlite import SQLiteBatchStore
from tests.many_instances import fresh_database
from tests.services import postgres_dsn  # noqa: F401 (fixture)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        with fresh_database(dsn, f"babelgate_store_{uuid.uuid4().hex[:12]}") as database:
            yield database
    else:
        yield "memory" if request.param == "memory" else str(tmp_path / "state.db")


@pytest.fixture
async def store(where: str) -> AsyncIterator[BatchStore]:
    if where == "memory":
        opened: BatchStore = MemoryBatchStore()
    elif where.startswith("postgresql"):
        from babelgate.store.batch_postgres import PostgresBatchStore

        opened = PostgresBatchStore(where, timeout=10)
    else:
        opened = SQLiteBatchStore(Path(where))
    yield opened
    await opened.close()


def batch(batch_id: str, *, owner: str = "k1", team: str | None = None, created_at: int = 100) -> BatchRecord:
    return BatchRecord(batch_id, owner, team, "openai", "validating", created_at, created_at + 86_400, 4, "file-1")


CHUNKS = [Chunk("b1", 0, 0, 2, 0, 20), Chunk("b1", 1, 2, 4, 21, 40)]


async def test_chunks_are_claimed_once_until_their_lease_runs_out(store: BatchStore) -> None:
    await store.create_batch(batch("b1"), CHUNKS)
    first = await store.claim("one", now=1000.0, until=1010.0)
    second = await store.claim("two", now=1000.0, until=1010.0)
    assert first == CHUNKS[0] and second == CHUNKS[1]
    assert await store.claim("three", now=1005.0, until=1015.0) is None
    await store.renew("one", [("b1", 0)], until=1030.0)
    await store.renew("three", [("b1", 1)], until=1030.0)  # not its chunk: no change
    assert await store.claim("three", now=1020.0, until=1040.0) == CHUNKS[1]  # two's lease ran out
    assert await store.claim("four", now=1020.0, until=1040.0) is None  # one's was renewed


async def test_an_outcome_is_recorded_and_counted_once(store: BatchStore) -> None:
    await store.create_batch(batch("b1"), CHUNKS)
    ok, refused = Outcome(0, "a", "ok", 200, "r0", b"{}"), Outcome(1, "b", "ok", 429, "r1", b'{"error":{}}')
    await store.record_lines("b1", [ok, refused])
    await store.record_lines("b1", [Outcome(0, "a", "ok", 500, "again", b"{}"), Outcome(2, "c", "expired")], done=0)
    await store.record_lines("b1", [Outcome(3, "d", "canceled")], done=1)
    record = await store.get_batch("b1")
    assert record is not None
    assert (record.succeeded, record.errored, record.expired, record.canceled) == (1, 1, 1, 1)
    assert await store.recorded_lines("b1", 0, 2) == {0, 1}
    assert await store.open_chunks("b1") == 0
    outcomes = await store.outcomes("b1", -1, 10)
    assert [o.line for o in outcomes] == [0, 1, 2, 3] and outcomes[0].request_id == "r0"  # the first outcome kept
    assert [o.line for o in await store.outcomes("b1", 1, 1)] == [2]
    assert await store.claim("x", now=1.0, until=2.0) is None  # finished chunks are never claimed


async def test_a_status_move_is_won_once_and_merges_the_body(store: BatchStore) -> None:
    await store.create_batch(batch("b1"), CHUNKS)
    assert await store.set_status("b1", "in_progress", since=("validating",), body={"in_progress_at": 5})
    assert not await store.set_status("b1", "in_progress", since=("validating",), body={"in_progress_at": 6})
    await store.remember("b1", {"provider:0:p:m": {"id": "pb_1"}})
    record = await store.get_batch("b1")
    assert record is not None and record.status == "in_progress"
    assert record.body == {"in_progress_at": 5, "provider:0:p:m": {"id": "pb_1"}}
    assert await store.set_status("b1", "cancelling", since=("in_progress",), body={})
    assert await store.claim("x", now=1.0, until=2.0) == CHUNKS[0]  # a cancelling batch's lines are still claimed
    assert await store.delete_batch("b1") and await store.get_batch("b1") is None
    assert await store.claim("x", now=10.0, until=20.0) is None


async def test_listings_by_scope_and_cursor(store: BatchStore) -> None:
    for n, (owner, team) in enumerate([("k1", None), ("k2", "blue"), ("k1", "blue"), ("k3", None)]):
        await store.create_batch(batch(f"b{n}", owner=owner, team=team, created_at=100 + n), [])
        await store.put_file(FileRecord(f"file-{n}", owner, team, "batch", "f", 1, 100 + n, None if n else 50, 1))
    newest = await store.list_batches(Scope(owner="k1"), "openai", after=None, limit=10)
    assert [b.id for b in newest] == ["b2", "b0"]
    assert [b.id for b in await store.list_batches(Scope(owner="k1"), "openai", after="b2", limit=10)] == ["b0"]
    team = await store.list_batches(Scope(owner="k9", team="blue"), "openai", after=None, limit=10)
    assert [b.id for b in team] == ["b2", "b1"]
    assert len(await store.list_batches(Scope(everyone=True), "openai", after=None, limit=10)) == 4
    assert await store.list_batches(Scope(everyone=True), "anthropic", after=None, limit=10) == []
    files = await store.list_files(Scope(owner="k1"), purpose="batch", after=None, limit=5, ascending=True, now=60)
    assert [f.id for f in files] == ["file-2"]  # file-0 expired at 50
    assert [f.id for f in await store.expired_files(60, 10)] == ["file-0"]
    assert await store.delete_file("file-0") and await store.get_file("file-0") is None
