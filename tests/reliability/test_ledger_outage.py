"""The usage ledger while PostgreSQL is down: refused (killed) and silent (hung), through a TCP proxy
the test switches (tests/fakes/tcp_proxy.py), mid-load. The writer keeps to its backoff (a bounded
number of write attempts, an idle CPU), warns once, holds at most `ledger.queue_limit` rows and
counts what it drops, reports the real depth, and writes everything once the database is back.
SIGTERM while the database is down: the rows go to the spool and reach the database after a restart.

Each test uses a database of its own on the machine's PostgreSQL (tests/services.py), dropped after."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from babelgate.governance.ledger import Ledger
from babelgate.store.ledger_table import Row
from babelgate.store.postgres import PostgresResponseStore
from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread
from tests.fakes.tcp_proxy import Mode, TcpProxy
from tests.integration.test_cli_serve import _env, _free_port, _wait_ready
from tests.services import postgres_dsn, run_aside
from tests.unit.test_ledger_writer import entry, until
from tests.waiting import eventually

__all__ = ["postgres_dsn"]  # the fixture, imported for the tests below

TABLE = "babelgate_responses"  # the store's default table: each test has a database of its own
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}


async def _admin(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _count(dsn: str) -> int:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{TABLE}_ledger")
        return int(await connection.fetchval(f"SELECT count(*) FROM {TABLE}_ledger")) if exists else 0
    finally:
        await connection.close()


@pytest.fixture
def database(postgres_dsn: str) -> Iterator[tuple[str, str, int]]:
    """A fresh database: (its DSN, the DSN's host and port replaced by `{}`, the server's port)."""
    name = f"babelgate_ledger_{uuid.uuid4().hex[:12]}"
    run_aside(_admin(postgres_dsn, f"CREATE DATABASE {name}"))
    direct = re.sub(r"/[^/]*$", f"/{name}", postgres_dsn)
    port = int(re.search(r":(\d+)/", postgres_dsn).group(1))  # type: ignore[union-attr]
    yield direct, re.sub(r"@[^/]+/", "@{}/", direct), port
    run_aside(_admin(postgres_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def proxy(loop_thread: LoopThread, database: tuple[str, str, int]) -> Iterator[TcpProxy]:
    switch = TcpProxy("127.0.0.1", database[2])
    loop_thread.run(switch.start())
    yield switch
    loop_thread.run(switch.stop())


def _metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))


class CountingWrites:
    """The gateway's store as the ledger sees it, counting the writes the ledger asks for."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.attempts = 0

    async def append_usage(self, rows: list[Row]) -> None:
        self.attempts += 1
        await self.inner.append_usage(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _back(caplog: pytest.LogCaptureFixture) -> bool:
    return any("is back" in record.getMessage() for record in caplog.records)


def test_postgres_refusing_mid_load_backoff_one_warning_bounded_queue_and_recovery(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    loop_thread: LoopThread,
    proxy: TcpProxy,
    database: tuple[str, str, int],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    direct, through, _ = database
    # A spool of the test's own: the database is dropped before the gateway stops.
    gateway = make_gateway(
        f"store: {{url: '{through.format(proxy.dsn_host)}'}}\n"
        f"ledger: {{queue_limit: 500, spool_dir: '{tmp_path / 'spool'}'}}\n"
    )
    ledger = gateway.app.runtime.ledger
    ledger.store = counting = CountingWrites(ledger.store)
    caplog.set_level(logging.INFO, logger="babelgate.ledger")
    with httpx.Client(base_url=gateway.url, timeout=10) as client:
        client.post("/v1/chat/completions", json=CHAT).raise_for_status()
        assert eventually(lambda: run_aside(_count(direct)) == 1, 10)  # the store works, then goes
        loop_thread.run(proxy.switch(Mode.REFUSE))
        for _ in range(600):  # more than a batch (512), more than the queue holds (500)
            client.post("/v1/chat/completions", json=CHAT).raise_for_status()
        before, cpu = counting.attempts, time.process_time()
        time.sleep(3)  # the outage goes on, with nothing to serve
        cpu, attempts = time.process_time() - cpu, counting.attempts - before
        metrics = client.get("/metrics").text
    # Backoff from 0.5 s, doubling: at most a handful of tries in 3 s (the old writer: thousands).
    assert attempts <= 5, attempts
    assert cpu < 0.5, f"{cpu:.2f} s of CPU in 3 s of outage"
    assert _metric(metrics, "babelgate_ledger_queue_depth") == 500
    assert _metric(metrics, 'babelgate_ledger_dropped{reason="queue_full"}') == 100
    warnings = [r for r in caplog.records if r.name == "babelgate.ledger" and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and warnings[0].exc_info is None, [r.getMessage() for r in warnings]
    # It names the cause: the refused connection, or the pooled one the refusal cut (whichever write met it first).
    message = warnings[0].getMessage()
    assert any(cause in message for cause in ("ConnectionRefusedError", "InterfaceError", "ConnectionDoesNotExist")), (
        message
    )

    loop_thread.run(proxy.switch(Mode.PASS))
    # The next retry comes within the backoff's delay (at most 4 s here).
    assert eventually(lambda: run_aside(_count(direct)) == 501, 20)
    # The rows are in the database once its commit is, a moment before the writer (on the gateway's loop) hears
    # back, empties its count and reports the outage over: waited for, not read at once.
    assert eventually(lambda: ledger.depth == 0 and ledger.outage is None and _back(caplog), 10), (
        f"depth {ledger.depth}, outage {ledger.outage}"
    )
    assert any("is back" in r.getMessage() and "100 dropped" in r.getMessage() for r in caplog.records)


async def test_postgres_silent_writes_are_cut_at_the_deadline_and_none_is_written_twice(
    database: tuple[str, str, int],
) -> None:
    direct, through, port = database
    proxy = TcpProxy("127.0.0.1", port)
    await proxy.start()
    store = PostgresResponseStore(through.format(proxy.dsn_host))
    ledger = Ledger(store, write_seconds=1.0)
    try:
        ledger.record(entry(-1))
        await until(lambda: ledger.depth == 0)  # the pool is open and the tables made
        await proxy.switch(Mode.HANG)
        for n in range(1500):
            ledger.record(entry(n))
        await until(lambda: ledger.outage is not None)
        cpu, started = time.process_time(), time.monotonic()
        await asyncio.sleep(3)
        assert time.process_time() - cpu < 0.5
        assert ledger.depth == 1500 and ledger.outage is not None and ledger.outage.attempts <= 4
        await proxy.switch(Mode.PASS)  # what the silent server held arrives now: cut-short writes were rolled back
        await until(lambda: ledger.depth == 0, 40)
        assert time.monotonic() - started < 40
        assert await _count(direct) == 1501
    finally:
        await ledger.close()
        await store.close()
        await proxy.stop()


CONFIG = """
providers:
  openai: {{type: openai, base_url: '{base_url}', api_key: env:OPENAI_API_KEY}}
store: {{url: '{store}'}}
ledger: {{spool_dir: '{spool}'}}
"""


def test_sigterm_with_postgres_down_spools_and_the_restart_writes_every_row(
    tmp_path: Path, upstream: FakeOpenAI, loop_thread: LoopThread, proxy: TcpProxy, database: tuple[str, str, int]
) -> None:
    direct, through, _ = database
    spool = tmp_path / "spool"
    config = tmp_path / "babelgate.yaml"
    config.write_text(CONFIG.format(base_url=upstream.base_url, store=through.format(proxy.dsn_host), spool=spool))

    def serve(log: Path) -> tuple[str, subprocess.Popen[bytes]]:
        # The log to a file, not a pipe: with the store down every request may log a line or more,
        # and a pipe nobody reads until the end fills up and stops the gateway mid-test.
        port = _free_port()
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "babelgate.cli", "serve", "--config", str(config), "--port", str(port)],
                env=_env(OPENAI_API_KEY=UPSTREAM_KEY),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        return url, process

    loop_thread.run(proxy.switch(Mode.REFUSE))  # down before the first request, and through the shutdown
    first_log = tmp_path / "first.log"
    url, process = serve(first_log)
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            served = sum(client.post("/v1/chat/completions", json=CHAT).status_code == 200 for _ in range(700))
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    output = first_log.read_text()
    assert served == 700
    spooled = [len(path.read_bytes().splitlines()) for path in spool.glob("ledger-*.jsonl")]
    assert spooled == [700], output
    assert "written at the next start" in output and "lost" not in output

    loop_thread.run(proxy.switch(Mode.PASS))  # the database is back; the gateway starts again
    url, process = serve(tmp_path / "second.log")
    try:
        assert eventually(lambda: run_aside(_count(direct)) == 700, 20), run_aside(_count(direct))
        assert eventually(lambda: not list(spool.glob("*.jsonl")), 5)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert run_aside(_count(direct)) == 700  # once each
