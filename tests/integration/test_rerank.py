"""`/v1/rerank` (Cohere's v2 shape) through the gateway with the official `cohere` client, against fakes of
Cohere, Jina, Voyage and a vLLM-style server: sorting, `top_n`, documents returned, ledger rows and costs, a
virtual key's allowlist, fallbacks, and bad input refused in Cohere's format."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cohere
import httpx
import pytest

from tests.conftest import CLOSED_PORT_URL, GatewayFactory
from tests.fakes.rerank_upstream import FakeRerank
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create

RERANK_KEY = "rerank-test-UPSTREAM-secret-4242"
DOCUMENTS = ["the cat sat on the mat", "stock prices fell today", "a cat and a dog", "weather is sunny"]
QUERY = "cat mat"


@pytest.fixture(scope="module")
def _fake(loop_thread: LoopThread) -> Iterator[FakeRerank]:
    fake = FakeRerank(RERANK_KEY)
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def fake(_fake: FakeRerank) -> Iterator[FakeRerank]:
    _fake.reset()
    yield _fake
    assert _fake.violations == [], "the gateway sent requests the upstream refuses"


def config(fake: FakeRerank) -> str:
    return f"""\
providers:
  cohere: {{type: cohere, base_url: "{fake.base_url}", api_key: "env:RERANK_KEY"}}
  down: {{type: cohere, base_url: "{CLOSED_PORT_URL}", api_key: "env:RERANK_KEY"}}
  jina: {{preset: jina, base_url: "{fake.base_url}/jina/v1", api_key: "env:RERANK_KEY"}}
  voyage: {{preset: voyage, base_url: "{fake.base_url}/voyage/v1", api_key: "env:RERANK_KEY"}}
  local: {{preset: vllm, base_url: "{fake.base_url}/vllm/v1", api_key: "env:RERANK_KEY"}}
models:
  rerank-v3.5: {{provider: cohere, model: rerank-v3.5}}
  jina-rerank: {{provider: jina, model: jina-reranker-v2-base-multilingual}}
  voyage-rerank: {{provider: voyage, model: rerank-2.5}}
  local-rerank: {{provider: local, model: BAAI/bge-reranker-v2-m3}}
  careful-rerank: {{provider: down, model: rerank-v3.5, fallbacks: [jina-rerank]}}
  chat-only: {{provider: openai, model: gpt-4o-mini}}
"""


@pytest.fixture
def gateway(make_gateway: GatewayFactory, fake: FakeRerank, tmp_path: Path) -> RunningApp:
    env = {
        "BABELGATE_MASTER_KEY": MASTER,
        "BABELGATE_STORE_URL": f"sqlite:{tmp_path / 'ledger.db'}",
        "RERANK_KEY": RERANK_KEY,
    }
    return make_gateway(config(fake), env=env)


@pytest.fixture
def client(gateway: RunningApp) -> Iterator[cohere.ClientV2]:
    with httpx.Client(timeout=30) as http:
        yield cohere.ClientV2(base_url=gateway.url, api_key="unused", httpx_client=http)


def _rows(gateway: RunningApp, tmp_path: Path) -> list[dict[str, Any]]:
    httpx.get(gateway.url + "/admin/usage", headers=ADMIN).raise_for_status()  # the ledger's queue written
    database = sqlite3.connect(tmp_path / "ledger.db")
    database.row_factory = sqlite3.Row
    rows = [dict(row) for row in database.execute("SELECT * FROM babelgate_ledger ORDER BY ts").fetchall()]
    database.close()
    return rows


def test_the_cohere_client_reranks_through_cohere(client: cohere.ClientV2, fake: FakeRerank) -> None:
    answer = client.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS, top_n=2)
    assert [result.index for result in answer.results] == [0, 2]
    assert answer.results[0].relevance_score == 1.0 and answer.results[1].relevance_score == 0.5
    assert answer.meta is not None and answer.meta.billed_units is not None
    assert answer.meta.billed_units.search_units == 1
    sent = fake.received[-1]
    assert sent.path == "/v2/rerank" and sent.headers["Authorization"] == f"Bearer {RERANK_KEY}"
    assert sent.json == {"model": "rerank-v3.5", "query": QUERY, "documents": DOCUMENTS, "top_n": 2}


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
def test_every_path_takes_documents_as_objects_and_returns_them(gateway: RunningApp, path: str) -> None:
    body = {
        "model": "local-rerank",
        "query": QUERY,
        "documents": [{"text": text} for text in DOCUMENTS],
        "return_documents": True,
        "top_n": 3,
    }
    answer = httpx.post(gateway.url + path, json=body, timeout=30).json()
    assert [r["index"] for r in answer["results"]] == [0, 2, 1]
    assert [r["document"]["text"] for r in answer["results"]] == [DOCUMENTS[0], DOCUMENTS[2], DOCUMENTS[1]]
    assert answer["meta"]["billed_units"] == {"input_tokens": 17} and answer["id"]


def test_jina_results_are_sorted_and_cut_by_the_gateway(client: cohere.ClientV2, fake: FakeRerank) -> None:
    """Jina's fake answers in the documents' order: the door still promises the best first."""
    answer = client.rerank(model="jina-rerank", query=QUERY, documents=DOCUMENTS, top_n=3)
    assert [result.index for result in answer.results] == [0, 2, 1]
    sent = fake.received[-1]
    assert sent.path == "/jina/v1/rerank" and sent.json["model"] == "jina-reranker-v2-base-multilingual"
    assert sent.json["top_n"] == 3


def test_voyage_takes_top_k_and_answers_under_data(client: cohere.ClientV2, fake: FakeRerank) -> None:
    answer = client.rerank(model="voyage-rerank", query=QUERY, documents=DOCUMENTS, top_n=1)
    assert [result.index for result in answer.results] == [0]
    sent = fake.received[-1]
    assert sent.path == "/voyage/v1/rerank" and sent.json["top_k"] == 1 and "top_n" not in sent.json


def test_each_rerank_leaves_a_ledger_row_with_its_units_and_cost(
    client: cohere.ClientV2, gateway: RunningApp, tmp_path: Path
) -> None:
    client.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS)
    client.rerank(model="voyage-rerank", query=QUERY, documents=DOCUMENTS)
    rows = _rows(gateway, tmp_path)
    assert [(row["route"], row["model"], row["status"]) for row in rows] == [
        ("rerank", "rerank-v3.5", 200),
        ("rerank", "voyage-rerank", 200),
    ]
    searched, tokens = rows
    assert searched["cost_usd"] == pytest.approx(2.0 / 1000)  # one search at $2 per 1,000
    assert searched["prompt_tokens"] == 0 and searched["search_units"] == 1
    assert tokens["search_units"] is None
    assert tokens["prompt_tokens"] == 30 and tokens["cost_usd"] == pytest.approx(30 * 0.05 / 1e6)
    usage = httpx.get(gateway.url + "/admin/usage?group_by=model", headers=ADMIN, timeout=10).json()["data"]
    assert {
        entry["model"]: entry["search_units"] for entry in usage if entry["model"] in ("rerank-v3.5", "voyage-rerank")
    } == {
        "rerank-v3.5": 1,
        "voyage-rerank": 0,
    }


def test_a_virtual_keys_model_allowlist_holds_for_rerank(gateway: RunningApp) -> None:
    created = _create(gateway, models=["jina-rerank"])
    with httpx.Client(timeout=30) as http:
        client = cohere.ClientV2(base_url=gateway.url, api_key=created["key"], httpx_client=http)
        assert client.rerank(model="jina-rerank", query=QUERY, documents=DOCUMENTS).results
        with pytest.raises(cohere.errors.ForbiddenError) as caught:
            client.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS)
    assert "rerank-v3.5" in caught.value.body["message"]


def test_a_failing_first_deployment_falls_back(client: cohere.ClientV2, gateway: RunningApp, fake: FakeRerank) -> None:
    answer = client.rerank(model="careful-rerank", query=QUERY, documents=DOCUMENTS, top_n=1)
    assert [result.index for result in answer.results] == [0]
    assert fake.received[-1].path == "/jina/v1/rerank"


def test_upstream_errors_keep_their_status_in_cohere_format(client: cohere.ClientV2, fake: FakeRerank) -> None:
    fake.script(Reply(status=400, json={"id": "x", "message": "too many documents"}))
    with pytest.raises(cohere.errors.BadRequestError) as caught:
        client.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS)
    assert "too many documents" in caught.value.body["message"]


def test_a_bad_upstream_index_is_a_protocol_error(client: cohere.ClientV2, fake: FakeRerank) -> None:
    bad = Reply(json={"id": "x", "results": [{"index": 9, "relevance_score": 0.5}], "meta": {}})
    fake.script(*[bad] * 5)  # the router retries a 502: each try hears the same
    with pytest.raises(cohere.core.api_error.ApiError) as caught:
        client.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS)
    assert caught.value.status_code == 502


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"documents": DOCUMENTS}, "query"),
        ({"query": "", "documents": DOCUMENTS}, "query"),
        ({"query": QUERY, "documents": []}, "documents"),
        ({"query": QUERY}, "documents"),
        ({"query": QUERY, "documents": ["a", 5]}, "documents[1]"),
        ({"query": QUERY, "documents": DOCUMENTS, "top_n": 0}, "top_n"),
        ({"query": QUERY, "documents": DOCUMENTS, "return_documents": "yes"}, "return_documents"),
        ({"query": QUERY, "documents": DOCUMENTS, "max_tokens_per_doc": 0}, "max_tokens_per_doc"),
    ],
)
def test_bad_input_is_a_400_in_cohere_format(
    gateway: RunningApp, fake: FakeRerank, body: dict[str, Any], param: str
) -> None:
    response = httpx.post(gateway.url + "/v1/rerank", json={"model": "rerank-v3.5", **body}, timeout=30)
    assert response.status_code == 400, response.text
    assert param in response.json()["message"] and "error" not in response.json()
    assert not fake.received


def test_the_cohere_client_hears_a_bad_top_n(client: cohere.ClientV2) -> None:
    with pytest.raises(cohere.errors.BadRequestError) as caught:
        client.rerank(model="rerank-v3.5", query=QUERY, documents=DOCUMENTS, top_n=0)
    assert "top_n" in caught.value.body["message"]


def test_a_model_without_rerank_is_refused_before_any_call(gateway: RunningApp, fake: FakeRerank) -> None:
    response = httpx.post(
        gateway.url + "/v1/rerank", json={"model": "chat-only", "query": QUERY, "documents": DOCUMENTS}, timeout=30
    )
    assert response.status_code == 400 and "rerank" in response.json()["message"]


def test_unknown_cohere_fields_are_dropped_and_reported(gateway: RunningApp, fake: FakeRerank) -> None:
    body = {"model": "rerank-v3.5", "query": QUERY, "documents": DOCUMENTS, "priority": 3}
    response = httpx.post(gateway.url + "/v2/rerank", json=body, timeout=30)
    assert response.status_code == 200
    assert "priority=dropped" in response.headers["x-babelgate-adjusted-params"]
    assert "priority" not in fake.received[-1].json


# --- Bedrock: InvokeModel with the rerank model's own body -------------------------------------------


@pytest.fixture
def bedrock_gateway(make_gateway: GatewayFactory, bedrock_upstream: Any, no_aws_environment: None) -> RunningApp:
    from tests.fakes.bedrock_upstream import AwsKey
    from tests.integration.test_bedrock import ACCESS_KEY, KEY_ENV, KEYS, SECRET_KEY, _config

    bedrock_upstream.iam[ACCESS_KEY] = AwsKey(SECRET_KEY)
    models = (
        "  bedrock-cohere: {provider: aws, model: cohere.rerank-v3-5:0}\n"
        "  bedrock-amazon: {provider: aws, model: amazon.rerank-v1:0}\n"
    )
    return make_gateway(_config(bedrock_upstream, KEYS, extra_models=models), env=KEY_ENV)


@pytest.mark.parametrize("model", ["bedrock-cohere", "bedrock-amazon"])
def test_bedrock_reranks_through_invoke_model(bedrock_gateway: RunningApp, bedrock_upstream: Any, model: str) -> None:
    with httpx.Client(timeout=30) as http:
        client = cohere.ClientV2(base_url=bedrock_gateway.url, api_key="unused", httpx_client=http)
        answer = client.rerank(model=model, query=QUERY, documents=DOCUMENTS, top_n=2)
    assert [result.index for result in answer.results] == [0, 2]
    assert answer.meta is not None and answer.meta.billed_units is not None
    assert answer.meta.billed_units.search_units == 1  # one query over fewer than 100 documents
    sent = bedrock_upstream.received[-1]
    assert sent.path.endswith("/invoke") and sent.json["top_n"] == 2
    assert ("api_version" in sent.json) is (model == "bedrock-cohere")
