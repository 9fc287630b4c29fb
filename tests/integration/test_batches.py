"""`/v1/batches` with the official `openai` SDK, end to end: a batch's lines run through the gateway's pipeline
against the fake upstream, its output and error files in OpenAI's format, its ledger rows naming the batch, a
cancel, a budget, and two keys that never see each other's files or batches."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any, Final

import httpx
import openai
import pytest

from babelgate.config import load_config
from babelgate.frontends.batches import jsonl as batch_jsonl
from babelgate.providers import PROVIDER_TYPES
from babelgate.store.batch_records import BatchRecord, Chunk, FileRecord
from babelgate.store.batch_sqlite import SQLiteBatchStore
from babelgate.store.file_contents import DirectoryContents
from tests.conftest import GatewayFactory, RunningApp, base_env
from tests.fakes.openai_upstream import FakeOpenAI, completion
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create
from tests.services import run_aside
from tests.waiting import eventually

# The fake OpenAI upstream with its batch API turned off (`options.batches: false`): these tests are about the
# lines the gateway runs itself (tests/integration/test_batch_provider_roads.py sends them to provider batches).
RUN_HERE: Final = (
    "providers:\n  openai: {type: openai, base_url: env:OPENAI_BASE_URL, api_key: env:OPENAI_API_KEY,"
    " options: {batches: false}}\n"
)


def gateway_with_files(
    make_gateway: GatewayFactory, tmp_path: Path, *, store: str = "memory", concurrency: int = 4
) -> RunningApp:
    config = f"{RUN_HERE}files:\n  dir: {tmp_path / 'files'}\nbatches:\n  concurrency: {concurrency}\n"
    return make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER, "BABELGATE_STORE_URL": store})


def client_of(gateway: RunningApp | str, key: str) -> openai.OpenAI:
    url = gateway if isinstance(gateway, str) else gateway.url
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=30)


def batch_file(count: int, *, model: str = "gpt-4o-mini", url: str = "/v1/chat/completions") -> bytes:
    lines = [
        {
            "custom_id": f"line-{n}",
            "method": "POST",
            "url": url,
            "body": {"model": model, "messages": [{"role": "user", "content": f"Say {n}"}]},
        }
        for n in range(count)
    ]
    return "\n".join(json.dumps(line) for line in lines).encode() + b"\n"


def finished(client: openai.OpenAI, batch_id: str, seconds: float = 30) -> Any:
    found: dict[str, Any] = {}

    def ended() -> bool:
        found["batch"] = client.batches.retrieve(batch_id)
        return found["batch"].status in ("completed", "failed", "expired", "cancelled")

    assert eventually(ended, seconds), found.get("batch")
    return found["batch"]


def jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_a_batch_runs_every_line_through_the_pipeline_and_writes_its_output(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path, store=f"sqlite:{tmp_path / 'state.db'}")
    key = _create(gateway, team="research")["key"]
    lines = batch_file(150) + batch_file(1, model="no-such-model").replace(b"line-0", b"unknown")
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(lines)), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v1/chat/completions",
            completion_window="24h",
            metadata={"job": "nightly"},
        )
        assert created.status == "validating" and created.request_counts.total == 151
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.metadata == {"job": "nightly"}
        assert (batch.request_counts.completed, batch.request_counts.failed) == (150, 1)
        assert batch.in_progress_at and batch.finalizing_at and batch.completed_at
        output = jsonl(client.files.content(batch.output_file_id).content)
        errors = jsonl(client.files.content(batch.error_file_id).content)
        assert client.files.retrieve(batch.output_file_id).purpose == "batch_output"
        listed = client.batches.list(limit=10)
        assert [b.id for b in listed.data] == [created.id]
    assert sorted(line["custom_id"] for line in output) == sorted(f"line-{n}" for n in range(150))
    first = output[0]
    assert first["id"].startswith("batch_req_") and first["error"] is None
    assert first["response"]["status_code"] == 200 and first["response"]["request_id"]
    assert first["response"]["body"]["object"] == "chat.completion"
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("unknown", 404)]
    assert errors[0]["response"]["body"]["error"]["code"] == "model_not_found"
    chats = [r for r in upstream.received if r.path.endswith("/chat/completions")]
    assert sorted(r.json["messages"][0]["content"] for r in chats) == sorted(f"Say {n}" for n in range(150))
    rows = lambda: httpx.get(gateway.url + "/admin/usage?group_by=batch", headers=ADMIN, timeout=10).json()["data"]  # noqa: E731
    assert eventually(lambda: any(row.get("batch") == created.id and row["requests"] == 151 for row in rows()), 10)


def test_a_cancelled_batch_stops_starting_lines(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path)
    with client_of(gateway, MASTER) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(400))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        cancelled = client.batches.cancel(created.id)
        assert cancelled.status in ("cancelling", "cancelled", "completed")
        batch = finished(client, created.id)
    assert batch.status in ("cancelled", "completed")
    if batch.status == "cancelled":
        assert batch.cancelled_at and batch.request_counts.completed < 400


def test_two_keys_never_see_each_others_files_or_batches(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path)
    alice, bob = _create(gateway)["key"], _create(gateway)["key"]
    with client_of(gateway, alice) as as_alice, client_of(gateway, bob) as as_bob:
        uploaded = as_alice.files.create(file=("in.jsonl", io.BytesIO(batch_file(2))), purpose="batch")
        created = as_alice.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert as_bob.files.list().data == [] and as_bob.batches.list().data == []
        for call in (
            lambda: as_bob.files.retrieve(uploaded.id),
            lambda: as_bob.files.content(uploaded.id),
            lambda: as_bob.files.delete(uploaded.id),
            lambda: as_bob.batches.retrieve(created.id),
            lambda: as_bob.batches.cancel(created.id),
        ):
            with pytest.raises(openai.NotFoundError):
                call()
        with pytest.raises(openai.NotFoundError):
            as_bob.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
        finished(as_alice, created.id)
    for user, role in (("ada", "admin"), ("tom", "team_admin")):
        answer = httpx.post(gateway.url + "/admin/users", json={"id": user, "role": role}, headers=ADMIN, timeout=10)
        assert answer.status_code == 201, answer.text
    admin = _create(gateway, user="ada")["key"]
    team_admin = _create(gateway, user="tom", team="blue")["key"]
    with client_of(gateway, admin) as as_admin:  # an admin's key sees everyone's
        assert [f.id for f in as_admin.files.list(purpose="batch").data] == [uploaded.id]
        assert [b.id for b in as_admin.batches.list().data] == [created.id]
    with client_of(gateway, team_admin) as as_team_admin:  # a team admin's key its team's only
        assert as_team_admin.files.list().data == []
    carol = _create(gateway, team="blue")["key"]
    with client_of(gateway, carol) as as_carol, client_of(gateway, team_admin) as as_team_admin:
        mine = as_carol.files.create(file=("a.txt", io.BytesIO(b"a")), purpose="user_data")
        assert [f.id for f in as_team_admin.files.list().data] == [mine.id]


def test_a_budget_refuses_a_batch_once_spent_and_stops_its_lines(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path, concurrency=1)
    # Each answer of the fake costs 9 prompt and 3 completion tokens of gpt-4o-mini: about $0.0000032.
    key = _create(gateway, budget_usd=0.00001)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(10))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        counts = batch.request_counts
        assert batch.status == "completed" and 3 <= counts.completed <= 4 and counts.completed + counts.failed == 10
        errors = jsonl(client.files.content(batch.error_file_id).content)
        assert {e["response"]["status_code"] for e in errors} == {429}
        assert {e["response"]["body"]["error"]["code"] for e in errors} == {"budget_exceeded"}
        with pytest.raises(openai.RateLimitError) as refused:  # spent: the next batch is refused at once
            client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert refused.value.code == "budget_exceeded"
    assert len([r for r in upstream.received if r.path.endswith("/chat/completions")]) == counts.completed


def test_lines_still_waiting_when_the_window_closes_expire(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    store_path, files = tmp_path / "state.db", tmp_path / "files"
    data = batch_file(3)

    async def past_its_window() -> None:
        store, contents = SQLiteBatchStore(store_path), DirectoryContents(files)
        await contents.write("file-late", data)
        await store.put_file(FileRecord("file-late", None, None, "batch", "in.jsonl", len(data), 1, None, 3))
        chunks, _ = batch_jsonl.chunks("batch_late", data, "/v1/chat/completions")
        chunks.append(Chunk("batch_late", len(chunks), 3, 3, 0, 0))
        now = int(time.time())
        record = BatchRecord("batch_late", None, None, "openai", "validating", now - 86_400, now - 1, 3, "file-late")
        await store.create_batch(record, chunks)
        await store.close()

    run_aside(past_its_window())
    gateway = make_gateway(f"files: {{dir: '{files}'}}\n", env={"BABELGATE_STORE_URL": f"sqlite:{store_path}"})
    with client_of(gateway, "unused") as client:
        batch = finished(client, "batch_late")
        assert batch.status == "expired" and batch.expired_at and batch.output_file_id is None
        assert (batch.request_counts.completed, batch.request_counts.failed) == (0, 3)
        errors = jsonl(client.files.content(batch.error_file_id).content)
    assert [(e["custom_id"], e["error"]["code"], e["response"]) for e in errors] == [
        (f"line-{n}", "batch_expired", None) for n in range(3)
    ]


def test_an_embeddings_batch(make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path)
    lines = [
        {
            "custom_id": f"e{n}",
            "method": "POST",
            "url": "/v1/embeddings",
            "body": {"model": "text-embedding-3-small", "input": f"text {n}"},
        }
        for n in range(5)
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    with client_of(gateway, _create(gateway)["key"]) as client:
        uploaded = client.files.create(file=("e.jsonl", io.BytesIO(data)), purpose="batch")
        created = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings", completion_window="24h")
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 5, batch
        output = jsonl(client.files.content(batch.output_file_id).content)
    assert {line["response"]["body"]["object"] for line in output} == {"list"}
    assert all(line["response"]["body"]["data"][0]["embedding"] for line in output)


def test_a_batch_whose_input_was_deleted_fails(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    store_path = tmp_path / "state.db"

    async def input_gone() -> None:
        store = SQLiteBatchStore(store_path)
        now = int(time.time())
        record = BatchRecord("batch_gone", None, None, "openai", "in_progress", now, now + 3600, 2, "file-gone")
        await store.create_batch(record, [Chunk("batch_gone", 0, 0, 2, 0, 50), Chunk("batch_gone", 1, 2, 2, 0, 0)])
        await store.close()

    run_aside(input_gone())
    gateway = make_gateway(f"files: {{dir: '{tmp_path}/files'}}\n", env={"BABELGATE_STORE_URL": f"sqlite:{store_path}"})
    with client_of(gateway, "unused") as client:
        batch = finished(client, "batch_gone")
    assert batch.status == "failed" and batch.failed_at and batch.errors is not None
    assert batch.errors.data[0].code == "input_file_missing" and batch.output_file_id is None


def test_a_rate_limited_key_runs_its_batch_within_its_limits(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path, concurrency=4)
    key = _create(gateway, max_concurrent=1)["key"]  # four lines at once meet a limit of one request in flight
    upstream.chat_responder = lambda body: Reply(json=completion("ok", model=body["model"]), first_byte_delay=0.05)
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(6))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id, 60)
    assert batch.status == "completed" and (batch.request_counts.completed, batch.request_counts.failed) == (6, 0)
    assert batch.error_file_id is None


def test_a_reload_that_moves_the_files_starts_a_new_engine(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, tmp_path: Path
) -> None:
    store = f"sqlite:{tmp_path / 'state.db'}"
    gateway = gateway_with_files(make_gateway, tmp_path, store=store)
    engine = gateway.app.app.batches.engine
    moved = tmp_path / "moved.yaml"
    moved.write_text(f"{RUN_HERE}files:\n  dir: {tmp_path / 'moved'}\nbatches:\n  concurrency: 2\n")
    config = load_config(moved, {**base_env(upstream), "BABELGATE_STORE_URL": store}, available_types=PROVIDER_TYPES)

    async def swap() -> None:
        gateway.app.app.swap(config)

    loop_thread.run(swap())
    assert (
        gateway.app.app.batches.engine is not engine
        and gateway.app.runtime.batch_wake == gateway.app.app.batches.engine.wake
    )
    with client_of(gateway, "unused") as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(3))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert finished(client, created.id).status == "completed"
    assert (tmp_path / "moved" / uploaded.id).exists()


def test_a_revoked_key_fails_the_lines_it_had_not_run(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path, concurrency=2)
    owner = _create(gateway)
    answer = httpx.post(gateway.url + "/admin/users", json={"id": "ada", "role": "admin"}, headers=ADMIN, timeout=10)
    assert answer.status_code == 201, answer.text
    admin = _create(gateway, user="ada")["key"]  # sees every batch, the revoked key's too
    upstream.chat_responder = lambda body: Reply(json=completion("ok", model=body["model"]), first_byte_delay=0.02)
    with client_of(gateway, owner["key"]) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(200))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
    revoked = httpx.delete(f"{gateway.url}/admin/keys/{owner['id']}", headers=ADMIN, timeout=10)
    assert revoked.status_code == 200, revoked.text
    with client_of(gateway, admin) as as_admin:
        batch = finished(as_admin, created.id, 60)
        counts = batch.request_counts
        assert batch.status == "completed" and counts.failed > 0 and counts.completed + counts.failed == 200
        errors = jsonl(as_admin.files.content(batch.error_file_id).content)
    assert {e["response"]["status_code"] for e in errors} == {401}
    sent = [r for r in upstream.received if r.path.endswith("/chat/completions")]
    assert len(sent) == counts.completed  # no line of the revoked key reached the upstream
