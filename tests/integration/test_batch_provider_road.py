"""The batch engine's provider road, with a test provider part that implements `ProviderBatches` in memory: a
chunk's chat lines for a provider with a batch API are submitted once as one provider batch, polled, and read
back as the chat frontend's answers, each with a ledger row naming the batch at the discounted price; lines the
provider failed land in the error file; nothing reaches the upstream's interactive API."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from babelgate.batch_engine import provider_road
from babelgate.errors import InvalidRequest
from babelgate.providers.base import Provider
from babelgate.providers.batch import BatchLine, BatchOutcome, ProviderBatches, ProviderBatchStatus
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice, Usage
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.test_batches import batch_file, client_of, finished, jsonl
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create
from tests.waiting import eventually


class MemoryBatches:
    """A provider's batch API in memory: a batch runs for two polls, then every line is answered but `line-3`."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, list[BatchLine]]] = []
        self.polls = 0

    async def submit_batch(self, model: str, lines: Sequence[BatchLine]) -> str:
        self.submitted.append((model, list(lines)))
        return f"pb_{len(self.submitted)}"

    async def batch_status(self, batch_id: str) -> ProviderBatchStatus:
        self.polls += 1
        lines = self.submitted[int(batch_id.removeprefix("pb_")) - 1][1]
        state = "running" if self.polls < 3 else "ended"
        return ProviderBatchStatus(state, len(lines), len(lines) - 1, 1)

    async def batch_results(self, batch_id: str) -> AsyncIterator[BatchOutcome]:
        for line in self.submitted[int(batch_id.removeprefix("pb_")) - 1][1]:
            asked = line.request.messages[-1].content
            if asked == "Say 3":
                yield BatchOutcome(line.custom_id, None, InvalidRequest("invalid_value", param="messages", detail="no"))
                continue
            message = AssistantMessage(content=f"batched: {asked}")
            usage = Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)
            yield BatchOutcome(line.custom_id, ChatResponse("cmpl-1", 1, "m", [Choice(0, message, "stop")], usage))

    async def cancel_batch(self, batch_id: str) -> None:
        raise AssertionError("not cancelled in this test")

    def batches_model(self, model: str) -> bool:
        return True

    def minimum_lines(self, model: str) -> int:
        return 1


def test_lines_for_a_provider_with_a_batch_api_go_there_once(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = MemoryBatches()

    def batches_of(provider: Provider) -> ProviderBatches | None:
        return part if provider.name == "openai" else None

    monkeypatch.setattr(provider_road, "batches_of", batches_of)
    gateway = make_gateway(
        "models:\n  cheap: {provider: openai, model: gpt-4o-mini, price: {input: 1.0, output: 2.0}}\n"
        f"files: {{dir: '{tmp_path / 'files'}'}}\nbatches: {{poll_interval: 0.05}}\n",
        env={"BABELGATE_MASTER_KEY": MASTER},
    )
    key = _create(gateway)["key"]
    with client_of(gateway, key) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(batch_file(5, model="cheap"))), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        assert batch.status == "completed" and (batch.request_counts.completed, batch.request_counts.failed) == (4, 1)
        output = jsonl(client.files.content(batch.output_file_id).content)
        errors = jsonl(client.files.content(batch.error_file_id).content)
    assert [(model, len(lines)) for model, lines in part.submitted] == [("gpt-4o-mini", 5)]  # once, whole
    assert sorted(o["response"]["body"]["choices"][0]["message"]["content"] for o in output) == [
        f"batched: Say {n}" for n in (0, 1, 2, 4)
    ]
    assert output[0]["response"]["body"]["object"] == "chat.completion"
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("line-3", 400)]
    assert not [r for r in upstream.received if r.path.endswith("/chat/completions")]

    def rows() -> list[dict[str, Any]]:
        answer = httpx.get(gateway.url + "/admin/usage?group_by=batch", headers=ADMIN, timeout=10)
        return [row for row in answer.json()["data"] if row.get("batch") == created.id]

    assert eventually(lambda: bool(rows()) and rows()[0]["requests"] == 5, 10)
    (row,) = rows()
    # Four answers of 10 + 5 tokens at $1 and $2 a million, at half the price through the batch API.
    assert row["cost_usd"] == pytest.approx(4 * (10 * 1.0 + 5 * 2.0) / 1e6 * 0.5)


def test_a_message_batch_on_a_provider_with_a_batch_api(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    part = MemoryBatches()
    monkeypatch.setattr(provider_road, "batches_of", lambda provider: part if provider.name == "openai" else None)
    gateway = make_gateway(
        f"files: {{dir: '{tmp_path / 'files'}'}}\nbatches: {{poll_interval: 0.05}}\n",
        env={"BABELGATE_MASTER_KEY": MASTER},
    )
    with anthropic.Anthropic(
        base_url=gateway.url, api_key=_create(gateway)["key"], max_retries=0, timeout=30
    ) as client:
        requests = [
            {
                "custom_id": f"m{n}",
                "params": {
                    "model": "gpt-4o-mini",
                    "max_tokens": 20,
                    "messages": [{"role": "user", "content": f"Say {n}"}],
                },
            }
            for n in range(5)
        ]
        created = client.messages.batches.create(requests=requests)  # type: ignore[arg-type]
        assert eventually(lambda: client.messages.batches.retrieve(created.id).processing_status == "ended", 30)
        results = {r.custom_id: r.result for r in client.messages.batches.results(created.id)}
    assert [(model, len(lines)) for model, lines in part.submitted] == [("gpt-4o-mini", 5)]
    assert results["m3"].type == "errored" and results["m3"].error.error.type == "invalid_request_error"  # type: ignore[union-attr]
    for custom_id in ("m0", "m1", "m2", "m4"):
        message = results[custom_id].message  # type: ignore[union-attr]
        assert message.type == "message" and message.content[0].text == f"batched: Say {custom_id[1]}"  # type: ignore[union-attr]
    assert not [r for r in upstream.received if r.path.endswith("/chat/completions")]
