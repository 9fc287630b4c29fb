"""Bedrock's batch inference as a provider batch road, end to end: the official `openai` SDK's files and batches and
the `anthropic` SDK's message batches through the gateway, for a model on a bedrock provider with `batch_bucket`.
Its lines go as one model invocation job to the fake Bedrock's control plane (which checks every request against
botocore's service model and each record as InvokeModel would), their records and results through moto's S3; each
answered line comes back in the door's format with a ledger row naming the batch at half price, a failed record in
the error file. A cancelled batch stops its job. A bedrock provider without `batch_bucket`, or a group of lines under
Bedrock's minimum records per job, has its lines run here."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import BATCH_BUCKET, GatewayFactory, RunningApp
from tests.fakes.bedrock_upstream import AwsKey, FakeBedrock
from tests.integration.test_batches import client_of, finished, jsonl
from tests.integration.test_provider_batches import AWS_ACCESS_KEY, AWS_SECRET_KEY, BATCH_ROLE
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create
from tests.waiting import eventually

CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
CONFIG = """\
providers:
  bedrock:
    type: bedrock
    region: us-east-1
    base_url: {fake}
    aws_access_key_id: env:BEDROCK_ACCESS_KEY
    aws_secret_access_key: env:BEDROCK_SECRET_KEY
    batch_bucket: s3://{bucket}/gateway
    batch_role_arn: {role}
    options: {{batch_control_url: '{fake}', batch_s3_url: '{s3}', batch_min_records: 1}}
  bedrock-quota:
    type: bedrock
    region: us-east-1
    base_url: {fake}
    aws_access_key_id: env:BEDROCK_ACCESS_KEY
    aws_secret_access_key: env:BEDROCK_SECRET_KEY
    batch_bucket: s3://{bucket}/quota
    batch_role_arn: {role}
    options: {{batch_control_url: '{fake}', batch_s3_url: '{s3}'}}
  bedrock-here:
    type: bedrock
    region: us-east-1
    base_url: {fake}
    aws_access_key_id: env:BEDROCK_ACCESS_KEY
    aws_secret_access_key: env:BEDROCK_SECRET_KEY
models:
  claude: {{provider: bedrock, model: {model}, price: {{input: 3, output: 15}}}}
  claude-here: {{provider: bedrock-here, model: {model}, price: {{input: 3, output: 15}}}}
  claude-quota: {{provider: bedrock-quota, model: {model}, price: {{input: 3, output: 15}}}}
files: {{dir: '{files}'}}
batches: {{poll_interval: 0.05}}
"""


@pytest.fixture
def bedrock(bedrock_upstream: FakeBedrock, moto_s3: str, no_aws_environment: None) -> FakeBedrock:
    bedrock_upstream.iam[AWS_ACCESS_KEY] = AwsKey(AWS_SECRET_KEY)
    bedrock_upstream.batch_jobs.s3_url = moto_s3
    return bedrock_upstream


def _gateway(make_gateway: GatewayFactory, tmp_path: Path, bedrock: FakeBedrock) -> RunningApp:
    config = CONFIG.format(
        fake=bedrock.base_url,
        bucket=BATCH_BUCKET,
        role=BATCH_ROLE,
        s3=bedrock.batch_jobs.s3_url,
        model=CLAUDE,
        files=tmp_path / "files",
    )
    env = {"BABELGATE_MASTER_KEY": MASTER, "BEDROCK_ACCESS_KEY": AWS_ACCESS_KEY, "BEDROCK_SECRET_KEY": AWS_SECRET_KEY}
    return make_gateway(config, env=env)


def _lines(model: str, count: int) -> bytes:
    lines = [
        {
            "custom_id": f"line-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": f"Say {n}"}]},
        }
        for n in range(count)
    ]
    return "\n".join(json.dumps(line) for line in lines).encode()


def _invocations(bedrock: FakeBedrock) -> list[Any]:
    return [r for r in bedrock.received if r.path.startswith("/model/")]


def test_a_batch_for_claude_on_bedrock_runs_as_one_job_at_half_price(
    make_gateway: GatewayFactory, tmp_path: Path, bedrock: FakeBedrock
) -> None:
    gateway = _gateway(make_gateway, tmp_path, bedrock)
    bedrock.batch_jobs.failing_words["Say 3"] = (400, "Malformed input request: the prompt is refused")
    with client_of(gateway, _create(gateway)["key"]) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_lines("claude", 5))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed", batch
        assert (batch.request_counts.completed, batch.request_counts.failed) == (4, 1)
        output = jsonl(client.files.content(batch.output_file_id).content)
        errors = jsonl(client.files.content(batch.error_file_id).content)
    [job] = bedrock.batch_jobs.created
    assert job["modelId"] == CLAUDE and job["roleArn"] == BATCH_ROLE
    assert bedrock.batch_jobs.records_run == 5
    assert _invocations(bedrock) == []  # nothing on the runtime's interactive API
    assert sorted(line["custom_id"] for line in output) == ["line-0", "line-1", "line-2", "line-4"]
    for line in output:
        body = line["response"]["body"]
        assert line["response"]["status_code"] == 200 and body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"].startswith("Answer to ")
        assert body["choices"][0]["finish_reason"] == "stop"
    [error] = errors
    assert error["custom_id"] == "line-3" and error["response"]["status_code"] == 400
    assert "refused" in error["response"]["body"]["error"]["message"]

    def rows() -> list[dict[str, Any]]:
        answer = httpx.get(gateway.url + "/admin/usage?group_by=batch", headers=ADMIN, timeout=10)
        return [row for row in answer.json()["data"] if row.get("batch") == created.id]

    assert eventually(lambda: bool(rows()) and rows()[0]["requests"] == 5, 10)
    [row] = rows()
    # Four answers of the fake's 9 + 3 tokens at $3 and $15 a million, at half the price through the batch job.
    assert row["cost_usd"] == pytest.approx(4 * (9 * 3 + 3 * 15) / 1e6 * 0.5)


def test_a_cancelled_batch_stops_its_job(make_gateway: GatewayFactory, tmp_path: Path, bedrock: FakeBedrock) -> None:
    gateway = _gateway(make_gateway, tmp_path, bedrock)
    bedrock.batch_jobs.hold = True
    with client_of(gateway, _create(gateway)["key"]) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_lines("claude", 3))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert eventually(lambda: len(bedrock.batch_jobs.jobs) == 1, 30)
        client.batches.cancel(created.id)
        batch = finished(client, created.id)
    assert batch.status == "cancelled", batch
    [job] = bedrock.batch_jobs.jobs.values()
    assert job["status"] == "Stopped" and bedrock.batch_jobs.records_run == 0
    assert [r.method for r in bedrock.received if r.path.endswith("/stop")] == ["POST"]


def test_a_message_batch_for_claude_on_bedrock_takes_the_same_road(
    make_gateway: GatewayFactory, tmp_path: Path, bedrock: FakeBedrock
) -> None:
    gateway = _gateway(make_gateway, tmp_path, bedrock)
    bedrock.batch_jobs.failing_words["Say 1"] = (400, "Malformed input request: the prompt is refused")
    with anthropic.Anthropic(
        base_url=gateway.url, api_key=_create(gateway)["key"], max_retries=0, timeout=30
    ) as client:
        requests = [
            {
                "custom_id": f"m{n}",
                "params": {"model": "claude", "max_tokens": 20, "messages": [{"role": "user", "content": f"Say {n}"}]},
            }
            for n in range(3)
        ]
        created = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert eventually(lambda: client.messages.batches.retrieve(created.id).processing_status == "ended", 30)
        results = {r.custom_id: r.result for r in client.messages.batches.results(created.id)}
    assert len(bedrock.batch_jobs.created) == 1 and _invocations(bedrock) == []
    assert results["m1"].type == "errored" and results["m1"].error.error.type == "invalid_request_error"  # type: ignore[union-attr]
    for custom_id in ("m0", "m2"):
        message = results[custom_id].message  # type: ignore[union-attr]
        assert message.type == "message" and message.content[0].text.startswith("Answer to ")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "model",
    [
        "claude-here",  # a provider without batch_bucket
        "claude-quota",  # with one, but fewer lines than Bedrock's minimum records per job (100 by default)
    ],
)
def test_lines_bedrock_would_not_batch_are_run_here(
    make_gateway: GatewayFactory, tmp_path: Path, bedrock: FakeBedrock, model: str
) -> None:
    gateway = _gateway(make_gateway, tmp_path, bedrock)
    with client_of(gateway, _create(gateway)["key"]) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_lines(model, 3))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 3, batch
        output = jsonl(client.files.content(batch.output_file_id).content)
    assert bedrock.batch_jobs.created == []
    assert len([r for r in _invocations(bedrock) if r.path.endswith("/invoke")]) == 3
    assert {line["response"]["body"]["choices"][0]["message"]["content"] for line in output} == {
        "Hello from Claude on Bedrock!"
    }
