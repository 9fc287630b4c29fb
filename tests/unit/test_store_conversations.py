"""The conversation log's table in every store (memory, SQLite, PostgreSQL when reachable): rows written in a
batch, read newest first with filters, text search in any case and cursor pages, one read whole, pruned by age,
and kept across a reopen of the store."""

from __future__ import annotations

from collections.abc import Callable

import orjson
import pytest

from babelgate.store import ResponseStore
from babelgate.store.conversation_table import LogQuery, LogRow, decode_cursor, encode_cursor, exchange_of
from babelgate.store.memory import MemoryResponseStore
from tests.services import postgres_dsn, postgres_table  # noqa: F401
from tests.unit.test_store_contract import T0, FakeClock, backend, clock, open_store, store  # noqa: F401


def _row(ts: float, request_id: str, *, key: str = "k1", team: str | None = "search", text: str = "hello") -> LogRow:
    summary = {"request_id": request_id, "started": ts, "model": "gpt", "key_id": key, "team": team, "truncated": False}
    content = {"system": [], "input": [{"role": "user", "parts": [{"type": "text", "content": text}]}], "output": []}
    return (
        ts,
        request_id,
        key,
        team,
        None,
        "gpt",
        orjson.dumps({**summary, "preview": text}).decode(),
        orjson.dumps(content).decode(),
        text,
    )


async def test_rows_are_read_newest_first_filtered_searched_and_paged(store: ResponseStore) -> None:  # noqa: F811
    await store.append_conversations(
        [
            _row(T0 + 1, "r1", text="Alpha 100%"),
            _row(T0 + 2, "r2", key="k2", team="ads", text="beta_x"),
            _row(T0 + 3, "r3", text="Gamma"),
            _row(T0 + 3, "r4", text="delta"),
        ]
    )
    every = await store.conversations(LogQuery(0, T0 + 10))
    assert [row[1] for row in every] == ["r4", "r3", "r2", "r1"]
    assert [row[1] for row in await store.conversations(LogQuery(0, T0 + 10, (("team", "ads"),)))] == ["r2"]
    assert [row[1] for row in await store.conversations(LogQuery(0, T0 + 10, (("key_id", "k1"),)))] == [
        "r4",
        "r3",
        "r1",
    ]
    assert [row[1] for row in await store.conversations(LogQuery(0, T0 + 10, q="gAMMA"))] == ["r3"]
    # LIKE's wildcards in `q` are the characters themselves
    assert [row[1] for row in await store.conversations(LogQuery(0, T0 + 10, q="100%"))] == ["r1"]
    assert [row[1] for row in await store.conversations(LogQuery(0, T0 + 10, q="a_x"))] == ["r2"]
    assert [row[1] for row in await store.conversations(LogQuery(0, T0 + 10, q="_"))] == ["r2"]
    assert [row[1] for row in await store.conversations(LogQuery(T0 + 2, T0 + 3))] == ["r2"]
    first = await store.conversations(LogQuery(0, T0 + 10, limit=2))
    assert [row[1] for row in first] == ["r4", "r3", "r2"]  # one more than the page: there is a next one
    after = decode_cursor(encode_cursor(first[1][0], first[1][1]))
    rest = await store.conversations(LogQuery(0, T0 + 10, limit=2, after=after))
    assert [row[1] for row in rest] == ["r2", "r1"]


async def test_one_row_whole_and_the_retention(
    open_store: Callable[[FakeClock], ResponseStore],  # noqa: F811
    clock: FakeClock,  # noqa: F811
    backend: object,  # noqa: F811
) -> None:
    opened = open_store(clock)
    await opened.append_conversations([_row(T0 - 100, "old"), _row(T0, "new", text="kept")])
    found = await opened.conversation("new")
    assert found is not None
    whole = exchange_of(found)
    assert whole["input"] == [{"role": "user", "parts": [{"type": "text", "content": "kept"}]}]
    assert "preview" not in whole and list(whole)[-1] == "truncated"
    assert await opened.conversation("nope") is None
    assert await opened.delete_conversations_before(T0 - 50) == 1
    assert [row[1] for row in await opened.conversations(LogQuery(0, T0 + 10))] == ["new"]
    if isinstance(opened, MemoryResponseStore):
        return  # nothing outlives it
    await opened.close()
    again = open_store(clock)  # a restart: the same file or database
    assert [row[1] for row in await again.conversations(LogQuery(0, T0 + 10))] == ["new"]


@pytest.mark.parametrize("cursor", ["@@", "bm90IGpzb24", encode_cursor(1.0, "x")[:-2]])
def test_a_cursor_that_is_not_ours_is_none(cursor: str) -> None:
    assert decode_cursor(cursor) is None
