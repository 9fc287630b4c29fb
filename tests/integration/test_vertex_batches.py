"""Vertex AI batch prediction as a batch's provider road, end to end: the official `openai` SDK's files and batches and
the `anthropic` SDK's message batches through the gateway, for Gemini models served by a `vertex` provider with a
`batch_bucket`. The fake Vertex (tests/fakes/vertex_batches.py) checks the bearer token of every Cloud Storage and
Vertex call, the job it is asked to make and each input line with google-genai's types, and answers each line in
`predictions.jsonl`. Each line comes back once in the door's format, its ledger row names the batch at half price;
Claude lines go to batch prediction too, in Anthropic's format; every line of a provider without a bucket runs in
the gateway instead."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.google_credentials import ACCOUNT, FakeGoogleOAuth, service_account_key
from tests.fakes.servers import LoopThread, RunningApp
from tests.fakes.vertex_batches import BUCKET
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex
from tests.integration.test_batches import client_of, finished, jsonl
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create
from tests.waiting import eventually

PRICE = (0.3, 2.5)  # gemini's input and output, per million tokens


@pytest.fixture(scope="module")
def cloud(loop_thread: LoopThread) -> Iterator[tuple[TokenRegistry, FakeGoogleOAuth, FakeVertex]]:
    registry = TokenRegistry()
    oauth, vertex = FakeGoogleOAuth(registry), FakeVertex(registry)
    for fake in (oauth, vertex):
        loop_thread.run(fake.start())
    yield registry, oauth, vertex
    for fake in (oauth, vertex):
        loop_thread.run(fake.stop())


@pytest.fixture
def vertex(cloud: tuple[TokenRegistry, FakeGoogleOAuth, FakeVertex]) -> Iterator[FakeVertex]:
    for fake in cloud:
        fake.reset()
    yield cloud[2]
    assert cloud[2].violations == [], "the gateway sent Vertex AI or Cloud Storage what they refuse"


@pytest.fixture
def gateway(
    make_gateway: GatewayFactory,
    cloud: tuple[TokenRegistry, FakeGoogleOAuth, FakeVertex],
    vertex: FakeVertex,
    tmp_path: Path,
) -> RunningApp:
    oauth = cloud[1]
    key_file = tmp_path / "service-account.json"
    oauth.accounts[ACCOUNT] = service_account_key(key_file, oauth.token_uri)
    place = (
        f"type: vertex, project: {PROJECT}, location: {LOCATION}, base_url: '{vertex.base_url}', "
        f"credentials_file: '{key_file}'"
    )
    price = f"price: {{input: {PRICE[0]}, output: {PRICE[1]}}}"
    config = (
        "providers:\n"
        f"  gcp: {{{place}, batch_bucket: 'gs://{BUCKET}/gateway', options: {{storage_url: '{vertex.base_url}'}}}}\n"
        f"  gcp-here: {{{place}}}\n"
        "models:\n"
        f"  gemini: {{provider: gcp, model: gemini-2.5-flash, {price}}}\n"
        f"  claude: {{provider: gcp, model: 'claude-sonnet-4-5@20250929', {price}}}\n"
        f"  gemini-here: {{provider: gcp-here, model: gemini-2.5-flash, {price}}}\n"
        f"files: {{dir: '{tmp_path / 'files'}'}}\n"
        "batches: {poll_interval: 0.05}\n"
    )
    return make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER})


def _lines(models: list[str]) -> bytes:
    lines = [
        {
            "custom_id": f"{model}-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": f"Hi {n}"}]},
        }
        for n, model in enumerate(models)
    ]
    return "\n".join(json.dumps(line) for line in lines).encode()


def _paths(vertex: FakeVertex, ending: str) -> list[str]:
    return [r.path for r in vertex.received if r.path.endswith(ending)]


def _usage(gateway: RunningApp, batch_id: str) -> dict[str, dict[str, Any]]:
    answer = httpx.get(f"{gateway.url}/admin/usage?group_by=model&batch={batch_id}", headers=ADMIN, timeout=10)
    return {row["model"]: row for row in answer.json()["data"]}


def test_gemini_lines_go_to_batch_prediction_at_half_price(gateway: RunningApp, vertex: FakeVertex) -> None:
    # The engine numbers a provider batch's lines by their place in the file: line 2 (gemini-2) fails upstream.
    vertex.batch_jobs.failures["2"] = (400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
    models = ["gemini", "gemini", "gemini", "claude", "gemini"]
    key = _create(gateway)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_lines(models))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed", batch
        assert (batch.request_counts.completed, batch.request_counts.failed) == (4, 1), batch
        output = {line["custom_id"]: line for line in jsonl(client.files.content(batch.output_file_id).content)}
        errors = {line["custom_id"]: line for line in jsonl(client.files.content(batch.error_file_id).content)}
    assert sorted(output) == ["claude-3", "gemini-0", "gemini-1", "gemini-4"]
    for custom_id, line in output.items():
        body = line["response"]["body"]
        assert line["response"]["status_code"] == 200 and body["object"] == "chat.completion", custom_id
        assert body["choices"][0]["finish_reason"] == "stop" and body["usage"]["prompt_tokens"] > 0
    assert output["gemini-4"]["response"]["body"]["choices"][0]["message"]["content"] == "Answer to 4"
    assert list(errors) == ["gemini-2"]
    assert errors["gemini-2"]["response"]["status_code"] == 400
    assert "invalid argument" in errors["gemini-2"]["response"]["body"]["error"]["message"]
    # One job of the four Gemini lines and one of the Claude line; none of them on the interactive APIs.
    assert len(_paths(vertex, "/batchPredictionJobs")) == 2
    ids = sorted(
        sorted(json.loads(line).get("key") or json.loads(line)["custom_id"] for line in lines)
        for lines in _inputs(vertex)
    )
    assert ids == [["0", "1", "2", "4"], ["3"]]
    assert _paths(vertex, ":generateContent") == [] and _paths(vertex, ":rawPredict") == []
    assert eventually(lambda: sum(row["requests"] for row in _usage(gateway, created.id).values()) == 5, 10)
    gemini = _usage(gateway, created.id)["gemini"]
    assert gemini["requests"] == 4 and gemini["prompt_tokens"] > 0
    cost = (gemini["prompt_tokens"] * PRICE[0] + gemini["completion_tokens"] * PRICE[1]) / 1e6 * 0.5
    assert gemini["cost_usd"] == pytest.approx(cost, rel=1e-6)
    claude = _usage(gateway, created.id)["claude"]
    half = (claude["prompt_tokens"] * PRICE[0] + claude["completion_tokens"] * PRICE[1]) / 1e6 * 0.5
    assert claude["prompt_tokens"] > 0 and claude["cost_usd"] == pytest.approx(half, rel=1e-6)


def _inputs(vertex: FakeVertex) -> Iterator[list[bytes]]:
    for name, data in vertex.storage.objects.items():
        if name.endswith("/input.jsonl"):
            yield data.splitlines()


def test_a_cancelled_batch_cancels_its_job(gateway: RunningApp, vertex: FakeVertex) -> None:
    vertex.batch_jobs.hold = True
    key = _create(gateway)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_lines(["gemini"] * 3))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        assert eventually(lambda: any(job.fetched > 1 for job in list(vertex.batch_jobs.jobs.values())), 10)
        client.batches.cancel(created.id)
        batch = finished(client, created.id)
    assert batch.status == "cancelled", batch
    [job] = vertex.batch_jobs.jobs.values()
    assert job.job["state"] == "JOB_STATE_CANCELLED"
    assert len(_paths(vertex, ":cancel")) == 1
    assert _paths(vertex, ":generateContent") == []


def test_message_batches_with_the_anthropic_sdk_on_batch_prediction(gateway: RunningApp, vertex: FakeVertex) -> None:
    key = _create(gateway)["key"]
    with anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=30) as client:
        requests: Any = [
            {
                "custom_id": f"q{n}",
                "params": {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": f"Hi {n}"}]},
            }
            for n, model in enumerate(["gemini", "claude", "gemini"])
        ]
        created = client.messages.batches.create(requests=requests)
        assert eventually(lambda: client.messages.batches.retrieve(created.id).processing_status == "ended", 30)
        results = {result.custom_id: result.result for result in client.messages.batches.results(created.id)}
    assert sorted(results) == ["q0", "q1", "q2"]
    for result in results.values():
        assert result.type == "succeeded"
        assert result.message.role == "assistant" and result.message.content[0].type == "text"
        assert result.message.content[0].text.startswith("Answer to ")
    assert len(_paths(vertex, "/batchPredictionJobs")) == 2
    assert _paths(vertex, ":generateContent") == [] and _paths(vertex, ":rawPredict") == []


def test_without_a_bucket_the_lines_run_in_the_gateway(gateway: RunningApp, vertex: FakeVertex) -> None:
    key = _create(gateway)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(_lines(["gemini-here"] * 3))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 3, batch
    assert len(_paths(vertex, ":generateContent")) == 3
    assert _paths(vertex, "/batchPredictionJobs") == [] and vertex.storage.objects == {}
