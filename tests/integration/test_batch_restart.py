"""A batch survives its gateway: `babelgate serve` SIGKILLed while the batch's lines run, then started again on
the same store, answers every line exactly once in the output, and never runs again a line whose outcome it had
recorded (the fake upstream counts what it received); a batch whose finisher died is finished by another
instance."""

from __future__ import annotations

import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from babelgate.store.batch_records import BatchRecord, Chunk, Outcome
from babelgate.store.batch_sqlite import SQLiteBatchStore
from tests.conftest import CLOSED_PORT_URL, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, completion
from tests.fakes.scripted import Reply
from tests.integration.test_batches import batch_file, client_of, finished, jsonl
from tests.integration.test_cli_serve import _free_port, _wait_ready
from tests.services import run_aside
from tests.waiting import eventually

KEY = "sk-batch-owner-0123456789"
# How to start a gateway process (its URL), the processes started, and their SQLite store.
Served = tuple[Callable[[], str], list[subprocess.Popen[bytes]], Path]
LINES = 300


def recorded(store: Path) -> set[str]:
    try:
        database = sqlite3.connect(store, timeout=5)
        try:
            return {row[0] for row in database.execute("SELECT custom_id FROM babelgate_batch_lines")}
        finally:
            database.close()
    except sqlite3.OperationalError:  # the table is not there yet
        return set()


@pytest.fixture
def serve(tmp_path: Path, upstream: FakeOpenAI) -> Iterator[Served]:
    store = tmp_path / "state.db"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"store: {{url: 'sqlite:{store}'}}\n"
        f"server: {{api_keys: [env:OWNER_KEY]}}\n"
        f"providers:\n  openai: {{type: openai, base_url: '{upstream.base_url}', api_key: env:UPSTREAM}}\n"
        f"files: {{dir: '{tmp_path / 'files'}'}}\n"
        "batches: {concurrency: 4, lease_seconds: 1}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS"))}
    env.update({"OLLAMA_BASE_URL": CLOSED_PORT_URL, "UPSTREAM": "sk-upstream-0000", "OWNER_KEY": KEY})
    processes: list[subprocess.Popen[bytes]] = []

    def start() -> str:
        port = _free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "babelgate.cli", "serve", "--config", str(config), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        processes.append(process)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process)
        return url

    yield start, processes, store
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)


def test_a_batch_killed_mid_way_finishes_after_a_restart_with_every_line_once(
    serve: Served, upstream: FakeOpenAI
) -> None:
    start, processes, store = serve
    # Slow enough answers that the kill finds lines recorded, lines in flight and lines not started.
    upstream.chat_responder = lambda body: Reply(json=completion("ok", model=body["model"]), first_byte_delay=0.02)
    url = start()
    with client_of(url, KEY) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(LINES))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    assert eventually(lambda: len(recorded(store)) >= 60, 30)
    processes[0].send_signal(signal.SIGKILL)
    processes[0].wait(timeout=10)
    before = recorded(store)
    assert 60 <= len(before) < LINES
    sent_before = Counter(r.json["messages"][0]["content"] for r in upstream.received if r.json)

    url = start()
    with client_of(url, KEY) as client:
        batch = finished(client, created.id, 60)
        assert batch.status == "completed" and batch.request_counts.completed == LINES, batch
        output = jsonl(client.files.content(batch.output_file_id).content)
    assert Counter(line["custom_id"] for line in output) == Counter(f"line-{n}" for n in range(LINES))
    sent = Counter(r.json["messages"][0]["content"] for r in upstream.received if r.json)
    assert set(sent) == {f"Say {n}" for n in range(LINES)}
    for custom_id in before:  # recorded before the kill: never sent again
        assert sent[f"Say {custom_id.removeprefix('line-')}"] == 1, custom_id
    # Only what was in flight or not yet written at the kill ran twice.
    again = sum(sent.values()) - LINES
    assert again <= sum(sent_before.values()) - len(before)


def test_a_batch_whose_finisher_died_is_finished_by_another_instance(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    store_path = tmp_path / "state.db"

    async def crashed_while_finalizing() -> None:
        store = SQLiteBatchStore(store_path)
        record = BatchRecord("batch_dead", None, None, "openai", "in_progress", 100, int(time.time()) + 3600, 2, "f")
        await store.create_batch(record, [Chunk("batch_dead", 0, 0, 2, 0, 10), Chunk("batch_dead", 1, 2, 2, 0, 0)])
        answer = b'{"object": "chat.completion"}'
        outcomes = [Outcome(0, "a", "ok", 200, "r0", answer), Outcome(1, "b", "ok", 400, "r1", b'{"error": {}}')]
        await store.record_lines("batch_dead", outcomes, done=0)
        assert await store.claim("dead", now=0.0, until=1.0) is not None  # its lease ran out long ago
        assert await store.set_status("batch_dead", "finalizing", since=("in_progress",), body={"finalizing_at": 5})
        await store.close()

    run_aside(crashed_while_finalizing())
    gateway = make_gateway(
        f"files: {{dir: '{tmp_path / 'files'}'}}\n", env={"BABELGATE_STORE_URL": f"sqlite:{store_path}"}
    )
    with client_of(gateway, "unused") as client:
        batch = finished(client, "batch_dead")
        assert batch.status == "completed" and batch.finalizing_at == 5
        assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
        assert [line["custom_id"] for line in jsonl(client.files.content(batch.output_file_id).content)] == ["a"]
        assert [line["custom_id"] for line in jsonl(client.files.content(batch.error_file_id).content)] == ["b"]
