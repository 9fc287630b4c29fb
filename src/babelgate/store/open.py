"""Turns the configured store URL into a response store, and into the cached store the gateway uses."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from babelgate.store.base import Clock, ResponseStore
from babelgate.store.cached import CachedStore
from babelgate.store.memory import MemoryResponseStore
from babelgate.store.sqlite import SQLiteResponseStore
from babelgate.store.timed import DEFAULT_TIMEOUT, TimedStore

ACCEPTED_FORMS: Final = (
    "memory",
    "sqlite:///absolute/path.db",
    "sqlite:relative/path.db",
    "sqlite:~/path.db",
    "postgresql://user@host/db",
    "postgres://user@host/db",
)


def open_store(url: str, *, clock: Clock = time.time, timeout: float = DEFAULT_TIMEOUT) -> ResponseStore:
    if url in ("memory", "memory:"):
        return MemoryResponseStore(clock=clock)
    if url.startswith(("postgresql://", "postgres://")):
        # Imported here: asyncpg costs ~0.2 s of start-up that the embedded default never needs.
        from babelgate.store.postgres import PostgresResponseStore

        return PostgresResponseStore(url, clock=clock, timeout=timeout)
    if url.startswith("sqlite:"):
        return SQLiteResponseStore(sqlite_path(url), clock=clock)
    # Only the scheme goes into the message: a mistyped PostgreSQL URL may carry a password.
    raise ValueError(
        f"unsupported response store URL (scheme {url.partition(':')[0]!r}); use one of: {', '.join(ACCEPTED_FORMS)}"
    )


def open_cached_store(
    url: str,
    *,
    clock: Clock = time.time,
    made_at: Callable[[str], float | None] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> TimedStore:
    """The store the gateway uses: the configured one behind a write-behind cache, every call a
    request waits for bounded by `timeout` (timed.py). A store several gateways share (PostgreSQL)
    is cached only while a write is pending: another instance may replace or delete a record at any
    time, so a read must reach the database; and a miss on an id `made_at` says is a moment old is
    looked up again (another instance may still be writing it). A store only this process uses keeps
    a cache of recent records, and reads its own writes from it."""
    shared = url.startswith(("postgresql://", "postgres://"))
    cached = CachedStore(
        open_store(url, clock=clock, timeout=timeout),
        capacity=0 if shared else 1024,
        clock=clock,
        made_at=made_at if shared else None,
    )
    return TimedStore(cached, timeout=timeout)


def without_password(url: str) -> str:
    """The URL with the password of its user part removed (`postgresql://u@db/x`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}@{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def store_address(url: str) -> str:
    """Where a store URL points, fit to log and to show on `/health`: an SQLite file by its absolute path, a
    database URL without its password (in the user part or a `password` query parameter), or `memory`."""
    if url in ("memory", "memory:"):
        return "memory"
    if url.startswith("sqlite:"):
        try:
            return f"sqlite:{sqlite_path(url).absolute()}"
        except ValueError:
            return url
    parts = urlsplit(without_password(url))
    query = [(name, value) for name, value in parse_qsl(parts.query) if "password" not in name.lower()]
    return urlunsplit(parts._replace(query=urlencode(query)))


def sqlite_path(url: str) -> Path:
    rest = url.removeprefix("sqlite:")
    if rest.startswith("//"):
        # URL form: the authority must be empty, so "sqlite:///x" names the absolute path "/x".
        rest = rest.removeprefix("//")
        if not rest.startswith("/"):
            raise ValueError(
                f"a sqlite:// URL takes no host; write sqlite:///absolute/path.db or"
                f" sqlite:relative/path.db, got {url!r}"
            )
    if not rest:
        raise ValueError("a sqlite: store URL needs a file path, e.g. sqlite:///var/lib/babelgate/state.db")
    return Path(rest).expanduser()
