"""open_store: which URL gives which store, and that a configured store touches nothing until used."""

from __future__ import annotations

from pathlib import Path

import pytest

from babelgate.store import StoredResponse, open_store
from babelgate.store.memory import MemoryResponseStore
from babelgate.store.postgres import PostgresResponseStore
from babelgate.store.sqlite import SQLiteResponseStore


def record(response_id: str = "resp_1") -> StoredResponse:
    return StoredResponse(
        id=response_id,
        created_at=1_700_000_000,
        expires_at=None,
        response={"id": response_id, "object": "response"},
        input_items=[],
        conversation=[],
    )


@pytest.mark.parametrize("url", ["memory", "memory:"])
async def test_memory_urls_open_a_memory_store(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, MemoryResponseStore)
    await store.close()


async def test_absolute_sqlite_url_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.db"
    store = open_store(f"sqlite://{path}")
    assert isinstance(store, SQLiteResponseStore)
    await store.put(record())
    await store.close()
    assert path.is_file()


async def test_relative_sqlite_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("sqlite:data/state.db")
    await store.put(record())
    await store.close()
    assert (tmp_path / "data" / "state.db").is_file()


async def test_sqlite_url_expands_the_home_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    store = open_store("sqlite:~/.babelgate/state.db")
    await store.put(record())
    await store.close()
    assert (tmp_path / ".babelgate" / "state.db").is_file()


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:9/test", "postgres://u:p@127.0.0.1:9/test"])
async def test_postgres_urls_open_a_postgres_store_without_connecting(url: str) -> None:
    store = open_store(url)  # port 9 refuses connections: a connection attempt here would fail
    assert isinstance(store, PostgresResponseStore)
    await store.close()


@pytest.mark.parametrize("url", ["", "redis://localhost", "mysql://root@localhost/db", "memory:x", "file:///tmp/x.db"])
def test_other_schemes_are_refused_naming_the_accepted_forms(url: str) -> None:
    with pytest.raises(ValueError) as refused:
        open_store(url)
    for form in ("memory", "sqlite:///", "sqlite:relative", "sqlite:~/", "postgresql://", "postgres://"):
        assert form in str(refused.value)


@pytest.mark.parametrize("url", ["sqlite:", "sqlite://", "sqlite://host/state.db"])
def test_sqlite_urls_without_a_local_path_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        open_store(url)


def test_refusal_does_not_echo_a_password() -> None:
    with pytest.raises(ValueError) as refused:
        open_store("postgresq://admin:hunter2@db.internal/prod")
    assert "hunter2" not in str(refused.value)
    assert "postgresql://" in str(refused.value)


def test_invalid_postgres_table_name_is_refused() -> None:
    with pytest.raises(ValueError, match="identifier"):
        PostgresResponseStore("postgresql://127.0.0.1:9/test", table="responses; DROP TABLE users")


async def test_sqlite_store_creates_nothing_until_first_use(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "state.db"
    store = open_store(f"sqlite://{path}")
    assert not (tmp_path / "not").exists()
    await store.close()
    assert not (tmp_path / "not").exists()
    used = open_store(f"sqlite://{path}")
    assert not (tmp_path / "not").exists()
    assert await used.get("resp_1") is None
    assert path.is_file()
    await used.close()


async def test_sqlite_records_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite://{tmp_path / 'state.db'}"
    before = open_store(url)
    await before.put(record("resp_1"))
    await before.put(record("resp_2"))
    assert await before.delete("resp_2")
    await before.close()
    after = open_store(url)
    assert await after.get("resp_1") == record("resp_1")
    assert await after.get("resp_2") is None
    await after.close()


async def test_closed_sqlite_store_refuses_further_use(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'state.db'}")
    await store.put(record())
    await store.close()
    with pytest.raises(RuntimeError, match="closed"):
        await store.get("resp_1")
