"""Batches across providers and doors, on the lines the gateway runs itself (every provider's batch API turned off
with `options.batches: false`; tests/integration/test_batch_provider_roads.py has them on): an OpenAI batch whose
lines name an OpenAI, an Anthropic and a Gemini model (each line through the gateway's own pipeline to its fake
upstream), and Anthropic's `/v1/messages/batches` with the official `anthropic` SDK (create, retrieve, list,
results, cancel, delete)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import anthropic
import pytest

from tests.conftest import ANTHROPIC_KEY, GEMINI_KEY, GatewayFactory, RunningApp
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.scripted import Reply
from tests.integration.test_batches import client_of, finished, jsonl
from tests.integration.test_virtual_keys import MASTER, _create
from tests.waiting import eventually

CONFIG = """\
providers:
  openai: {type: openai, base_url: env:OPENAI_BASE_URL, api_key: env:OPENAI_API_KEY, options: {batches: false}}
  anthropic: {type: anthropic, base_url: env:ANTHROPIC_BASE_URL, api_key: env:ANTHROPIC_API_KEY,
              options: {batches: false}}
  gemini: {type: gemini, base_url: env:GEMINI_BASE_URL, api_key: env:GEMINI_API_KEY, options: {batches: false}}
models:
  claude: {provider: anthropic, model: claude-sonnet-4-5}
  gemini: {provider: gemini, model: gemini-2.5-flash}
  gpt: {provider: openai, model: gpt-4o-mini}
"""


def mixed_gateway(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    anthropic_fake: ant.FakeAnthropic,
    gemini_fake: gem.FakeGemini,
    *,
    store: str = "memory",
) -> RunningApp:
    return make_gateway(
        CONFIG + f"files:\n  dir: {tmp_path / 'files'}\n",
        env={
            "BABELGATE_MASTER_KEY": MASTER,
            "BABELGATE_STORE_URL": store,
            "GEMINI_API_KEY": GEMINI_KEY,
            "GEMINI_BASE_URL": gemini_fake.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY,
            "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
        },
    )


def test_one_batch_runs_lines_on_three_providers(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    gateway = mixed_gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream)
    models = ["gpt", "claude", "gemini"] * 4
    lines = [
        {
            "custom_id": f"{model}-{n}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": f"Hi {n}"}]},
        }
        for n, model in enumerate(models)
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    key = _create(gateway)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("mixed.jsonl", io.BytesIO(data)), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and batch.request_counts.completed == 12, batch
        output = {line["custom_id"]: line for line in jsonl(client.files.content(batch.output_file_id).content)}
    assert batch.error_file_id is None
    assert set(output) == {line["custom_id"] for line in lines}
    for custom_id, line in output.items():
        body = line["response"]["body"]
        assert body["object"] == "chat.completion" and body["choices"][0]["message"]["content"], custom_id
    assert len([r for r in anthropic_upstream.received if r.path.endswith("/messages")]) == 4
    assert len([r for r in gemini_upstream.received if "generateContent" in r.path]) == 4
    assert len([r for r in upstream.received if r.path.endswith("/chat/completions")]) == 4


def messages_client(gateway: RunningApp, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=30)


def test_message_batches_with_the_anthropic_sdk(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    gateway = mixed_gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream)
    key = _create(gateway)["key"]
    anthropic_upstream.script(Reply(status=400, json=ant.error_body("invalid_request_error", "max_tokens: too many")))
    with messages_client(gateway, key) as client:
        requests = [
            {
                "custom_id": f"q{n}",
                "params": {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]},
            }
            for n, model in enumerate(["claude", "claude", "gpt", "gemini", "nonexistent"])
        ]
        created = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert created.type == "message_batch" and created.id.startswith("msgbatch_")
        assert created.processing_status == "in_progress" and created.request_counts.processing == 5
        state: dict[str, anthropic.types.messages.MessageBatch] = {}

        def ended() -> bool:
            state["batch"] = client.messages.batches.retrieve(created.id)
            return state["batch"].processing_status == "ended"

        assert eventually(ended, 30)
        batch = state["batch"]
        assert batch.results_url and batch.ended_at is not None
        counts = batch.request_counts
        assert (counts.succeeded, counts.errored, counts.processing) == (3, 2, 0)
        results = {result.custom_id: result.result for result in client.messages.batches.results(created.id)}
        assert [b.id for b in client.messages.batches.list(limit=5).data] == [created.id]
        errored = [r for r in results.values() if r.type == "errored"]
        assert len(errored) == 2
        assert {r.error.error.type for r in errored} == {"invalid_request_error", "not_found_error"}  # type: ignore[union-attr]
        succeeded = [r for r in results.values() if r.type == "succeeded"]
        assert all(r.message.role == "assistant" and r.message.content for r in succeeded)  # type: ignore[union-attr]
        with pytest.raises(anthropic.NotFoundError), messages_client(gateway, _create(gateway)["key"]) as other:
            other.messages.batches.retrieve(created.id)
        deleted = client.messages.batches.delete(created.id)
        assert deleted.type == "message_batch_deleted"
        with pytest.raises(anthropic.NotFoundError):
            client.messages.batches.retrieve(created.id)


def test_a_message_batch_cancelled_before_its_lines_ran(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    gateway = mixed_gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream)
    with messages_client(gateway, _create(gateway)["key"]) as client:
        requests = [
            {
                "custom_id": f"q{n}",
                "params": {"model": "claude", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]},
            }
            for n in range(300)
        ]
        created = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        cancelling = client.messages.batches.cancel(created.id)
        assert cancelling.processing_status in ("canceling", "ended")
        assert eventually(lambda: client.messages.batches.retrieve(created.id).processing_status == "ended", 30)
        batch = client.messages.batches.retrieve(created.id)
        counts = batch.request_counts
        assert counts.succeeded + counts.canceled == 300 and counts.processing == 0
        results = list(client.messages.batches.results(created.id))
        assert len(results) == 300
        assert {r.result.type for r in results} <= {"succeeded", "canceled"}


def test_a_malformed_message_batch_is_refused_in_anthropics_format(
    make_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    gateway = mixed_gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream)
    with messages_client(gateway, _create(gateway)["key"]) as client:
        for requests in (
            [],
            [{"custom_id": "bad id!", "params": {"model": "claude"}}],
            [{"custom_id": "a", "params": {}}],
        ):
            with pytest.raises(anthropic.BadRequestError) as refused:
                client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
            assert refused.value.body["type"] == "error"  # type: ignore[index]
            assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_message_batches_page_both_ways_with_the_anthropic_sdk(
    store: str,
    make_gateway: GatewayFactory,
    tmp_path: Path,
    upstream: FakeOpenAI,
    anthropic_upstream: ant.FakeAnthropic,
    gemini_upstream: gem.FakeGemini,
) -> None:
    """`after_id` pages to older batches and `before_id` to newer ones, as Anthropic's API and the SDK's `SyncPage` do:
    each page newest first, `first_id` and `last_id` its ends, `has_more` whether the list goes on that way."""
    url = f"sqlite:{tmp_path / 'state.db'}" if store == "sqlite" else store
    gateway = mixed_gateway(make_gateway, tmp_path, anthropic_upstream, gemini_upstream, store=url)
    key = _create(gateway)["key"]
    with messages_client(gateway, key) as client:
        for n in range(5):
            params = {"model": "gpt", "max_tokens": 8, "messages": [{"role": "user", "content": f"Hi {n}"}]}
            client.messages.batches.create(requests=[{"custom_id": "q", "params": params}])  # type: ignore[list-item]
        newest_first = [batch.id for batch in client.messages.batches.list(limit=100).data]
        assert len(newest_first) == 5
        assert [batch.id for batch in client.messages.batches.list(limit=2)] == newest_first  # after_id, page by page
        page = client.messages.batches.list(before_id=newest_first[4], limit=2)
        assert [batch.id for batch in page.data] == newest_first[2:4]
        assert (page.first_id, page.last_id, page.has_more) == (newest_first[2], newest_first[3], True)
        pages = [[batch.id for batch in each.data] for each in page.iter_pages()]
        assert pages == [newest_first[2:4], newest_first[0:2]]
        last = client.messages.batches.list(before_id=newest_first[2], limit=2)
        assert [batch.id for batch in last.data] == newest_first[0:2] and last.has_more is False
        assert client.messages.batches.list(before_id=newest_first[0]).data == []
        with pytest.raises(anthropic.BadRequestError) as refused:
            client.messages.batches.list(before_id=newest_first[1], after_id=newest_first[3])
        assert "before_id" in str(refused.value)
