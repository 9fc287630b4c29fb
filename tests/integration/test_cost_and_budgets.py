"""Cost and budgets: each answer's cost from the price table (a header and the ledger), budgets of
keys and teams refused once spent (and still spent after a restart), limits of teams and models,
tokens per minute corrected from real usage, and the ledger's time series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import GatewayFactory, RunningApp
from tests.fakes.openai_upstream import FakeOpenAI, completion
from tests.fakes.scripted import Reply
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create

CHAT: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
# A price that makes each request of the fake upstream (9 prompt and 3 completion tokens) cost $9.
EXPENSIVE = """\
models:
  pricey: {provider: openai, model: gpt-4o-mini, price: {input: 1000000, output: 0}}
"""


def _gateway(make_gateway: GatewayFactory, yaml_text: str | None = None, store: Path | None = None) -> RunningApp:
    env = {"BABELGATE_MASTER_KEY": MASTER}
    if store is not None:
        env["BABELGATE_STORE_URL"] = f"sqlite:{store}"
    return make_gateway(yaml_text, env=env)


def _post(gateway: RunningApp, key: str, model: str = "gpt-4o-mini", content: str = "Hi") -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": model, "messages": [{"role": "user", "content": content}]},
        timeout=10,
    )


def _usage(gateway: RunningApp, query: str) -> dict[str, Any]:
    response = httpx.get(gateway.url + "/admin/usage" + query, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_answer_carries_its_cost_and_the_ledger_keeps_it(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway)
    key = _create(gateway)["key"]
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=60) as client:
        raw = client.chat.completions.with_raw_response.create(**CHAT)
    # gpt-4o-mini: $0.15 per million prompt tokens, $0.60 per million completion tokens
    assert float(raw.headers["x-babelgate-cost-usd"]) == pytest.approx((9 * 0.15 + 3 * 0.60) / 1e6)
    assert raw.parse().choices[0].message.content
    (row,) = _usage(gateway, "?group_by=model")["data"]
    assert row["cost_usd"] == pytest.approx((9 * 0.15 + 3 * 0.60) / 1e6)


def test_cached_and_reasoning_tokens_are_charged_at_their_own_rates(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = _gateway(
        make_gateway, "prices:\n  'gpt-4o-mini*': {input: 10, output: 100, cached_input: 1, reasoning: 1000}\n"
    )
    upstream.script(
        Reply(
            json=completion(
                "Hi",
                usage={
                    "prompt_tokens": 1000,
                    "completion_tokens": 100,
                    "total_tokens": 1100,
                    "prompt_tokens_details": {"cached_tokens": 400},
                    "completion_tokens_details": {"reasoning_tokens": 60},
                },
            )
        )
    )
    answer = _post(gateway, _create(gateway)["key"])
    expected = (600 * 10 + 400 * 1 + 40 * 100 + 60 * 1000) / 1e6
    assert float(answer.headers["x-babelgate-cost-usd"]) == pytest.approx(expected)


def test_a_model_nobody_priced_has_no_cost(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway, "models:\n  house: {provider: openai, model: our-finetune}\n")
    answer = _post(gateway, _create(gateway)["key"], model="house")
    assert answer.status_code == 200 and "x-babelgate-cost-usd" not in answer.headers
    (row,) = _usage(gateway, "?group_by=model")["data"]
    assert row["cost_usd"] == 0


def test_a_key_over_its_budget_is_refused_until_the_period_ends(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    store = tmp_path / "budget.db"
    gateway = _gateway(make_gateway, EXPENSIVE, store)
    created = _create(gateway, budget_usd=20, budget_period="day")
    statuses = [_post(gateway, created["key"], "pricey").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # $0, $9, $18 spent before each: all under $20
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=created["key"], max_retries=0, timeout=60) as client,
        pytest.raises(openai.RateLimitError) as refused,
    ):
        client.chat.completions.create(**{**CHAT, "model": "pricey"})
    error = refused.value.response.json()["error"]
    assert error["code"] == "budget_exceeded" and "27.0000 of 20 US dollars (day)" in error["message"]
    assert 0 < int(refused.value.response.headers["retry-after"]) <= 86400
    assert len([r for r in upstream.received if r.path.endswith("/chat/completions")]) == 3
    # Another key is not affected, and raising the budget lets the key through at once.
    assert _post(gateway, _create(gateway)["key"], "pricey").status_code == 200
    httpx.patch(gateway.url + f"/admin/keys/{created['id']}", json={"budget_usd": 100}, headers=ADMIN)
    assert _post(gateway, created["key"], "pricey").status_code == 200

    # A restarted gateway (the same store) knows what was spent: from the ledger.
    httpx.patch(gateway.url + f"/admin/keys/{created['id']}", json={"budget_usd": 30}, headers=ADMIN)
    _usage(gateway, "")  # the ledger is written
    again = _gateway(make_gateway, EXPENSIVE, store)
    assert _post(again, created["key"], "pricey").status_code == 429


def test_a_team_shares_its_budget_and_its_limits(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway, EXPENSIVE + "teams:\n  search: {budget_usd: 10}\n  ads: {rpm: 3}\n")
    first, second = (_create(gateway, team="search")["key"] for _ in range(2))
    assert _post(gateway, first, "pricey").status_code == 200  # $9 of the team's $10
    assert _post(gateway, second, "pricey").status_code == 200  # under budget before it: $18 after
    refused = _post(gateway, first, "pricey")
    assert refused.status_code == 429 and "team 'search'" in refused.json()["error"]["message"]
    # Requests per minute: three for the whole team, whichever key sends them.
    one, other = (_create(gateway, team="ads")["key"] for _ in range(2))
    assert [_post(gateway, key).status_code for key in (one, other, one, other)] == [200, 200, 200, 429]
    message = _post(gateway, one).json()["error"]["message"]
    assert "Rate limit of team 'ads' reached: 3 requests per minute" in message
    # A key of no team is not affected.
    assert _post(gateway, _create(gateway)["key"]).status_code == 200


def test_a_model_s_limit_counts_every_caller(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(
        make_gateway,
        "models:\n  scarce: {provider: openai, model: gpt-4o-mini, limits: {rpm: 2}}\naliases:\n  rare: scarce\n",
    )
    first, second = _create(gateway)["key"], _create(gateway)["key"]
    assert [_post(gateway, first, "scarce").status_code, _post(gateway, second, "rare").status_code] == [200, 200]
    refused = _post(gateway, first, "scarce")
    assert refused.status_code == 429 and "model 'scarce'" in refused.json()["error"]["message"]
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert _post(gateway, first, "gpt-4o-mini").status_code == 200  # other models are not limited


def test_tokens_per_minute_count_what_the_upstream_reports(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway)
    key = _create(gateway, tpm=100)["key"]
    big = {"prompt_tokens": 80, "completion_tokens": 10, "total_tokens": 90}
    upstream.chat_responder = lambda body: Reply(json=completion("Hi", usage=big))
    first = _post(gateway, key)
    assert first.status_code == 200 and first.headers["x-ratelimit-limit-tokens"] == "100"
    # The first request was admitted on an estimate (its size: ~16 tokens) and then counted at 90:
    # the second one's estimate does not fit in what is left.
    refused = _post(gateway, key)
    assert refused.status_code == 429, refused.text
    assert "100 tokens per minute" in refused.json()["error"]["message"]
    assert refused.headers["x-ratelimit-remaining-tokens"] == "10"
    assert len([r for r in upstream.received if r.path.endswith("/chat/completions")]) == 1


def test_a_refused_request_counts_against_nothing(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway, "teams:\n  t: {rpm: 1}\n")
    key = _create(gateway, team="t", rpm=5)["key"]
    assert _post(gateway, key).status_code == 200
    for _ in range(3):
        assert _post(gateway, key).status_code == 429  # the team refuses: the key's own count stays at 1
    assert _post(gateway, key).headers["x-ratelimit-remaining-requests"] == "3"


def test_usage_as_a_time_series_with_filters(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = _gateway(make_gateway)
    search, ads = _create(gateway, team="search")["key"], _create(gateway, team="ads")["key"]
    for key in (search, search, ads):
        _post(gateway, key)
    upstream.script(Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
    _post(gateway, search, "gpt-4o")
    series = _usage(gateway, "?interval=1h&group_by=team&team=search")
    assert series["interval"] == 3600
    (bucket,) = series["data"]
    assert bucket["team"] == "search" and bucket["requests"] == 3 and bucket["errors"] == 1
    assert bucket["error_rate"] == pytest.approx(1 / 3) and bucket["time"] % 3600 == 0
    assert set(bucket["ttft_ms"]) == {"p50", "p95", "p99"}
    refused = httpx.get(gateway.url + "/admin/usage?interval=soon", headers=ADMIN)
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "interval"
