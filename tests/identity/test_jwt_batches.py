"""A JWT caller's batch: its lines run as the caller (user, team, the models its token allows) although the store
holds no secret of it and no token, and its ledger rows name the user, the team and the batch."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.identity.conftest import MASTER, jwt_config
from tests.identity.issuer import Issuer
from tests.integration.test_batches import client_of, finished, jsonl
from tests.waiting import eventually

ADMIN = {"Authorization": f"Bearer {MASTER}"}


def test_a_jwt_callers_batch_runs_as_the_caller(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, issuer: Issuer, tmp_path: Path
) -> None:
    gateway = make_gateway(
        jwt_config(upstream, issuer, f"files: {{dir: '{tmp_path / 'files'}'}}\n"), env={"BABELGATE_MASTER_KEY": MASTER}
    )
    token = issuer.token("erin", groups=["search"], models=["mini"])
    body = {"messages": [{"role": "user", "content": "hi"}]}
    lines = [
        {"custom_id": model, "method": "POST", "url": "/v1/chat/completions", "body": {"model": model, **body}}
        for model in ("mini", "chat")
    ]
    data = "\n".join(json.dumps(line) for line in lines)
    with client_of(gateway, token) as client:
        uploaded = client.files.create(file=("in.jsonl", io.BytesIO(data.encode())), purpose="batch")
        created = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        batch = finished(client, created.id)
        errors = jsonl(client.files.content(batch.error_file_id).content)
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert [(e["custom_id"], e["response"]["status_code"]) for e in errors] == [("chat", 403)]  # not its models

    def rows() -> list[dict[str, object]]:
        query = "/admin/usage?group_by=batch,key,team"
        return [r for r in httpx.get(gateway.url + query, headers=ADMIN, timeout=10).json()["data"] if r.get("batch")]

    assert eventually(lambda: sum(int(str(r["requests"])) for r in rows()) == 2, 10)
    assert {(r["batch"], r["key"], r["team"]) for r in rows()} == {(created.id, "user:erin", "search")}
