"""Files' contents in an S3-compatible bucket (`files.s3`), against moto's S3 server on 127.0.0.1: uploads, their
contents and deletes go to objects under the prefix, signed with botocore's SigV4 from its credential chain; a
batch's input is read from the bucket by ranges and its output written there."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import boto3
import openai
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.test_batches import RUN_HERE, batch_file, client_of, finished, jsonl
from tests.integration.test_virtual_keys import MASTER, _create

BUCKET = "babelgate-files"


@pytest.fixture
def s3(no_aws_environment: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEFILES0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "moto-secret-for-the-files-test")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    yield url
    server.stop()


def objects(url: str) -> dict[str, bytes]:
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    listed = client.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed}


def test_files_and_a_batch_in_a_bucket(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, s3: str, tmp_path: Path
) -> None:
    gateway = make_gateway(
        f"{RUN_HERE}files:\n  dir: {tmp_path / 'unused'}\n"
        f"  s3: {{bucket: {BUCKET}, endpoint_url: '{s3}', prefix: 'bg/'}}\n",
        env={"BABELGATE_MASTER_KEY": MASTER},
    )
    with client_of(gateway, _create(gateway)["key"]) as client:
        note = client.files.create(file=("note.txt", io.BytesIO(b"kept in a bucket")), purpose="user_data")
        assert objects(s3) == {f"bg/{note.id}": b"kept in a bucket"}
        assert client.files.content(note.id).content == b"kept in a bucket"
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(150))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 150
        output = jsonl(client.files.content(batch.output_file_id).content)
        assert sorted(line["custom_id"] for line in output) == sorted(f"line-{n}" for n in range(150))
        assert f"bg/{batch.output_file_id}" in objects(s3)
        client.files.delete(note.id)
        assert f"bg/{note.id}" not in objects(s3)
        with pytest.raises(openai.NotFoundError):
            client.files.content(note.id)
    assert not (tmp_path / "unused").exists()
