"""`/v1/files` with the official `openai` SDK: upload, list (purpose, order, cursor), retrieve, content, delete, an
upload's expiry, the purge of expired files, and a malformed `batch` file refused with the line and why."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import openai
import pytest

from babelgate.batch_engine.engine import purge_expired_files
from babelgate.store.batch_memory import MemoryBatchStore
from babelgate.store.batch_records import FileRecord
from babelgate.store.file_contents import DirectoryContents
from tests.conftest import GatewayFactory
from tests.integration.test_batches import batch_file, client_of, gateway_with_files
from tests.integration.test_virtual_keys import MASTER


def test_files_upload_list_retrieve_content_and_delete(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path)
    with client_of(gateway, MASTER) as client:
        uploaded = client.files.create(file=("notes.txt", io.BytesIO(b"hello")), purpose="user_data")
        assert uploaded.object == "file" and uploaded.bytes == 5 and uploaded.filename == "notes.txt"
        assert uploaded.purpose == "user_data" and uploaded.id.startswith("file-")
        batch = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(3))), purpose="batch")
        assert batch.expires_at is not None  # a batch file is kept 30 days unless told otherwise
        short = client.files.create(
            file=("x.txt", io.BytesIO(b"x")),
            purpose="user_data",
            expires_after={"anchor": "created_at", "seconds": 3600},
        )
        assert short.expires_at == short.created_at + 3600
        assert client.files.retrieve(uploaded.id).id == uploaded.id
        assert client.files.content(uploaded.id).content == b"hello"
        listed = client.files.list()
        assert {f.id for f in listed.data} == {uploaded.id, batch.id, short.id}
        assert [f.id for f in client.files.list(purpose="batch").data] == [batch.id]
        first = client.files.list(limit=1, order="asc")
        assert len(first.data) == 1 and first.has_more
        rest = client.files.list(limit=10, order="asc", after=first.data[0].id)
        assert len(rest.data) == 2 and not rest.has_more
        deleted = client.files.delete(uploaded.id)
        assert deleted.deleted and deleted.id == uploaded.id
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve(uploaded.id)
    assert not (tmp_path / "files" / uploaded.id).exists()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (
            b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m"}}\nnot json\n',
            "line 2",
        ),
        (batch_file(1) + batch_file(1), "used twice"),
        (b'{"custom_id": "a", "method": "GET", "url": "/v1/chat/completions", "body": {"model": "m"}}\n', "POST"),
        (b'{"custom_id": "a", "method": "POST", "url": "/v1/images", "body": {"model": "m"}}\n', "url must be"),
        (b'{"custom_id": "a", "method": "POST", "url": "/v1/embeddings", "body": {}}\n', "body.model"),
    ],
)
def test_a_malformed_batch_file_is_a_400_naming_the_line(
    make_gateway: GatewayFactory, tmp_path: Path, content: bytes, reason: str
) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path)
    with client_of(gateway, MASTER) as client, pytest.raises(openai.BadRequestError) as refused:
        client.files.create(file=("in.jsonl", io.BytesIO(content)), purpose="batch")
    assert reason in refused.value.message and "line" in refused.value.message
    assert refused.value.code == "invalid_batch_file"


async def test_the_purge_removes_expired_files_contents_then_records(tmp_path: Path) -> None:
    store, contents = MemoryBatchStore(), DirectoryContents(tmp_path)
    now = int(time.time())
    for file_id, expires_at in (("file-old", now - 1), ("file-new", now + 3600), ("file-kept", None)):
        await contents.write(file_id, b"x")
        await store.put_file(FileRecord(file_id, "k", None, "user_data", "f", 1, now - 10, expires_at))
    assert await purge_expired_files(store, contents) == 1
    assert sorted(os.listdir(tmp_path)) == ["file-kept", "file-new"]
    assert await store.get_file("file-old") is None and await store.get_file("file-new") is not None


def test_a_large_file_comes_back_whole(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    gateway = gateway_with_files(make_gateway, tmp_path)
    data = bytes(range(256)) * (10 * 1024 + 7)  # 2.5 MiB and a little: three pieces, the last a short one
    with client_of(gateway, MASTER) as client:
        uploaded = client.files.create(file=("big.bin", io.BytesIO(data)), purpose="user_data")
        assert client.files.content(uploaded.id).content == data
