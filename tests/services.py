"""Fixtures for tests that need a real service on this machine (PostgreSQL, Redis).

When the service is unreachable its tests skip, unless BABELGATE_REQUIRE_SERVICES=1 (as in CI),
where a missing service is a failure rather than a silently thinner run. Import the fixtures
into a test module to use them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import asyncpg
import pytest

from tests.conftest import services_required

POSTGRES_DSN_ENV = "BABELGATE_TEST_POSTGRES_DSN"
REDIS_URL_ENV = "BABELGATE_TEST_REDIS_URL"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
# `redis.timeout` for gateways that must share exact state through Redis: the default (a quarter of a second)
# would take a busy machine's pause for an outage and fall back to each instance's own counts.
REDIS_TIMEOUT = 5

_T = TypeVar("_T")


def unavailable(reason: str) -> NoReturn:
    if services_required():
        pytest.fail(f"{reason} (BABELGATE_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def debian_binary(name: str, package: str, *paths: str) -> str:
    """A program from a Debian package (chromium, nginx, redis-server): the test skips without it, or fails
    under BABELGATE_REQUIRE_SERVICES=1. The suite installs nothing as root; `.ci/provision` does, for CI."""
    binary = shutil.which(name) or next((path for path in paths if os.path.exists(path)), None)
    if binary is None:
        unavailable(f"{name} is not installed (Debian: apt-get install {package}, or run .ci/provision as root)")
    return binary


def run_aside(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine on a private loop, so sync fixtures can talk to a service without disturbing
    (or needing) the test's own event loop; asyncio.run would unset the loop pytest-asyncio installed."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()


async def _probe(dsn: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=3)
    await connection.close()


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    dsn = os.environ.get(POSTGRES_DSN_ENV, DEFAULT_POSTGRES_DSN)
    try:
        run_aside(_probe(dsn))
    except Exception as exc:
        unavailable(f"PostgreSQL is unreachable ({type(exc).__name__}: {exc}); set {POSTGRES_DSN_ENV} to point at one")
    return dsn


async def _ping_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        await client.ping()
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get(REDIS_URL_ENV, DEFAULT_REDIS_URL)
    try:
        run_aside(_ping_redis(url))
    except Exception as exc:
        unavailable(f"Redis is unreachable ({type(exc).__name__}: {exc}); set {REDIS_URL_ENV} to point at one")
    return url


async def _drop_table(dsn: str, table: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(f"DROP TABLE IF EXISTS {table}, {table}_secrets, {table}_conversations")
    finally:
        await connection.close()


@pytest.fixture
def postgres_table(postgres_dsn: str) -> Iterator[str]:
    """A table name no other test (or parallel run) uses; the table is dropped afterwards."""
    table = f"babelgate_test_{uuid.uuid4().hex[:16]}"
    yield table
    run_aside(_drop_table(postgres_dsn, table))
