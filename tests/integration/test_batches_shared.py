"""Two gateway instances on one PostgreSQL share one batch: each claims chunks of its lines (none claimed twice),
every line answered once, and either instance answers for the batch."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from babelgate.frontends.batches.jsonl import CHUNK_LINES
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, completion
from tests.fakes.scripted import Reply
from tests.integration.test_batches import RUN_HERE, batch_file, client_of, finished, jsonl
from tests.integration.test_virtual_keys import MASTER, _create
from tests.many_instances import fresh_database
from tests.services import postgres_dsn, run_aside  # noqa: F401 (fixture)

CHUNKS = 5
LINES = CHUNKS * CHUNK_LINES


@pytest.fixture
def database(postgres_dsn: str) -> Iterator[str]:  # noqa: F811 (the fixture)
    with fresh_database(postgres_dsn, f"babelgate_batches_{uuid.uuid4().hex[:12]}") as dsn:
        yield dsn


async def _holders(dsn: str) -> list[str]:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return [row[0] for row in await connection.fetch("SELECT holder FROM babelgate_batch_chunks")]
    finally:
        await connection.close()


def test_two_instances_share_one_batch(
    database: str, make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    settings = f"{RUN_HERE}files:\n  dir: {tmp_path / 'files'}\nbatches:\n  concurrency: 4\n"
    env = {"BABELGATE_MASTER_KEY": MASTER, "BABELGATE_STORE_URL": database}
    first = make_gateway(settings, env=env)
    key = _create(first)["key"]
    second = make_gateway(settings, env=env)  # reads the key ring, the key included, before its first request
    upstream.chat_responder = lambda body: Reply(json=completion("ok", model=body["model"]), first_byte_delay=0.01)
    with client_of(first, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(LINES))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    with client_of(second, key) as client:  # the other instance knows the batch, the key and the files
        batch = finished(client, created.id, 60)
        assert batch.status == "completed" and batch.request_counts.completed == LINES, batch
        output = jsonl(client.files.content(batch.output_file_id).content)
    assert Counter(line["custom_id"] for line in output) == Counter(f"line-{n}" for n in range(LINES))
    sent = Counter(r.json["messages"][0]["content"] for r in upstream.received if r.json)
    assert sent == Counter(f"Say {n}" for n in range(LINES))  # no line ran twice
    holders = Counter(run_aside(_holders(database)))
    # Both instances ran chunks (those of lines, and the one that finishes the batch).
    assert len(holders) == 2 and sum(holders.values()) == CHUNKS + 1, holders
