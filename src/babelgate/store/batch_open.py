"""The batch engine's store for the configured store URL: its tables beside the response store's, in the same
SQLite file or PostgreSQL database, or in memory."""

from __future__ import annotations

from babelgate.store.batch_memory import MemoryBatchStore
from babelgate.store.batch_records import BatchStore
from babelgate.store.batch_sqlite import SQLiteBatchStore
from babelgate.store.open import sqlite_path


def open_batch_store(url: str, *, timeout: float) -> BatchStore:
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here, as the response store's: asyncpg costs start-up time that SQLite never needs.
        from babelgate.store.batch_postgres import PostgresBatchStore

        return PostgresBatchStore(url, timeout=timeout)
    if url.startswith("sqlite:"):
        return SQLiteBatchStore(sqlite_path(url))
    return MemoryBatchStore()
