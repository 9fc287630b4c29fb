"""The usage ledger: a row per request (success, error, streamed, fallen back), the admin API's
totals over it, and nothing lost when the gateway is stopped with SIGTERM under load."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import CLOSED_PORT_URL, GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, text_stream
from tests.fakes.scripted import Reply
from tests.integration.test_cli_serve import _free_port, _wait_ready
from tests.integration.test_virtual_keys import ADMIN, MASTER, _create, _gateway


def _usage(gateway: Any, query: str = "") -> dict[str, Any]:
    response = httpx.get(gateway.url + "/admin/usage" + query, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_every_request_leaves_a_row_and_the_admin_api_sums_them(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    gateway = _gateway(make_gateway, tmp_path / "ledger.db")
    created = _create(gateway, team="search")
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=created["key"], max_retries=0, timeout=60) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
        upstream.script(Reply(stream=text_stream(["Hel", "lo"], include_usage=True)))
        list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "Hi"}],
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        upstream.script(Reply(status=500, json={"error": {"message": "boom", "type": "server_error"}}))
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    by_model = {row["model"]: row for row in _usage(gateway, "?group_by=model,team")["data"]}
    assert by_model["gpt-4o-mini"]["requests"] == 2 and by_model["gpt-4o-mini"]["team"] == "search"
    assert by_model["gpt-4o-mini"]["prompt_tokens"] == 18 and by_model["gpt-4o-mini"]["errors"] == 0
    assert by_model["gpt-4o"]["errors"] == 1
    assert set(by_model["gpt-4o"]["latency_ms"]) == {"p50", "p95", "p99"}
    database = sqlite3.connect(tmp_path / "ledger.db")
    database.row_factory = sqlite3.Row
    records = [dict(row) for row in database.execute("SELECT * FROM babelgate_ledger ORDER BY ts").fetchall()]
    database.close()
    assert [(r["stream"], r["status"]) for r in records] == [(False, 200), (True, 200), (False, 502)]
    assert all(r["key_id"] == created["id"] and r["request_id"] for r in records)
    assert records[1]["ttft_ms"] is not None and records[1]["completion_tokens"] == 3
    assert created["key"] not in str(records)  # no secret in the ledger
    metrics = httpx.get(gateway.url + "/metrics", headers={"Authorization": f"Bearer {created['key']}"}).text
    assert 'babelgate_ledger_dropped{reason="queue_full"} 0.0' in metrics


def test_refused_requests_leave_a_row_without_the_presented_secret(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, tmp_path: Path
) -> None:
    """A wrong key on a model route is refused before its body is read: the row names no model, and
    names the key only where the presented secret started with a known key's id (a revoked key)."""
    gateway = _gateway(make_gateway, tmp_path / "ledger.db")
    created = _create(gateway)
    httpx.delete(gateway.url + f"/admin/keys/{created['id']}", headers=ADMIN).raise_for_status()
    guessed = "bg-0123456789abWRONGsecretWRONGsecret"
    with (
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=created["key"], max_retries=0, timeout=60) as revoked,
        openai.OpenAI(base_url=gateway.url + "/v1", api_key=guessed, max_retries=0, timeout=60) as unknown,
    ):
        for client in (revoked, unknown):
            with pytest.raises(openai.AuthenticationError):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
        with pytest.raises(openai.AuthenticationError):
            unknown.embeddings.create(model="text-embedding-3-small", input="Hi")
        with pytest.raises(openai.AuthenticationError):
            unknown.models.list()  # not a model route: no row
    assert httpx.get(gateway.url + "/health").status_code == 200
    errors = httpx.get(gateway.url + "/admin/errors", headers=ADMIN).json()["data"]
    assert [(e["status"], e["code"], e["count"]) for e in errors] == [(401, "invalid_api_key", 3)]
    database = sqlite3.connect(tmp_path / "ledger.db")
    database.row_factory = sqlite3.Row
    rows = [dict(row) for row in database.execute("SELECT * FROM babelgate_ledger ORDER BY ts").fetchall()]
    database.close()
    assert [(r["route"], r["status"], r["key_id"], r["model_requested"]) for r in rows] == [
        ("chat.completions", 401, created["id"], None),
        ("chat.completions", 401, None, None),
        ("embeddings", 401, None, None),
    ]
    assert created["key"] not in str(rows) and guessed not in str(rows) and "WRONG" not in str(rows)


def test_a_fallen_back_request_names_what_was_asked_and_what_served(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(
        "models:\n  first: {provider: openai, model: gpt-4o, fallbacks: [second]}\n"
        "  second: {provider: openai, model: gpt-4o-mini}\n",
        env={"BABELGATE_MASTER_KEY": MASTER},
    )
    upstream.script(Reply(status=503, json={"error": {"message": "busy", "type": "server_error"}}))
    httpx.post(
        gateway.url + "/v1/chat/completions", json={"model": "first", "messages": [{"role": "user", "content": "Hi"}]}
    ).raise_for_status()
    (row,) = _usage(gateway, "?group_by=model")["data"]
    assert row["model"] == "second"
    detail = _usage(gateway, "?group_by=status")["data"]
    assert detail == [{**detail[0], "status": 200}]


def test_usage_queries_are_checked(make_gateway: GatewayFactory) -> None:
    gateway = _gateway(make_gateway)
    bad = httpx.get(gateway.url + "/admin/usage?group_by=colour", headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "group_by"
    assert httpx.get(gateway.url + "/admin/usage").status_code == 401
    assert _usage(gateway, "?since=2020-01-01T00:00:00Z&until=2020-01-02T00:00:00Z")["data"] == []


def test_sigterm_under_load_loses_no_row(tmp_path: Path, upstream: FakeOpenAI) -> None:
    store = tmp_path / "sigterm.db"
    config = tmp_path / "c.yaml"
    config.write_text(
        f"store: {{url: 'sqlite:{store}'}}\nproviders:\n  openai: {{type: openai, base_url: "
        f"'{upstream.base_url}', api_key: env:UPSTREAM}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS"))}
    env.update({"OLLAMA_BASE_URL": CLOSED_PORT_URL, "UPSTREAM": "sk-upstream-0000"})
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "babelgate.cli", "serve", "--config", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)

        def ask(_: int) -> int:
            try:
                return httpx.post(
                    url + "/v1/chat/completions",
                    timeout=10,
                    json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]},
                ).status_code
            except httpx.TransportError:
                return 0  # refused once the server stopped listening

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(ask, n) for n in range(400)]
            while sum(f.done() for f in futures) < 150:
                concurrent.futures.wait(futures, timeout=0.01, return_when=concurrent.futures.FIRST_COMPLETED)
            process.send_signal(signal.SIGTERM)  # mid-load
            served = sum(1 for f in futures if f.result() == 200)
    finally:
        process.communicate(timeout=20)
    database = sqlite3.connect(store)
    rows = database.execute("SELECT count(*) FROM babelgate_ledger").fetchone()[0]
    database.close()
    assert served >= 150
    assert rows == served, f"{served} requests answered 200, {rows} ledger rows"
