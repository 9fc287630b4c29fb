"""Users and teams managed through the admin API: created, listed, changed and deleted; the
config file's teams shown read-only; keys that belong to a user and a team; limits at the user, team and
end-customer levels; the ledger grouped by user and end customer; and an audit row for every admin action,
with no secret in it. The callers are the official `openai` and `anthropic` clients."""

from __future__ import annotations

import json
import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp

MASTER = "master-key-of-the-tenancy-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
CONFIG = """
providers:
  openai:
    base_url: {base_url}
    api_key: env:OPENAI_API_KEY
models:
  gpt-4o-mini: {{provider: openai, model: gpt-4o-mini}}
  gpt-4o: {{provider: openai, model: gpt-4o}}
teams:
  research: {{rpm: 50, budget_usd: 10, budget_period: month}}
"""


@pytest.fixture
def gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> RunningApp:
    return make_gateway(CONFIG.format(base_url=upstream.base_url), env={"BABELGATE_MASTER_KEY": MASTER})


def _admin(gateway: RunningApp, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    answer = httpx.request(method, gateway.url + path, json=body, headers=ADMIN, timeout=10)
    assert answer.status_code == status, answer.text
    return answer.json()


def _chat(gateway: RunningApp, key: str, model: str = "gpt-4o-mini", **extra: Any) -> Any:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=10) as client:
        return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Hi"}], **extra)


def _audit(gateway: RunningApp, **filters: str) -> list[dict[str, Any]]:
    answer = httpx.get(gateway.url + "/admin/audit", params=filters, headers=ADMIN, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]  # type: ignore[no-any-return]


def test_users_are_created_listed_changed_and_deleted_with_an_audit_row_each(gateway: RunningApp) -> None:
    created = _admin(gateway, "POST", "/admin/users", {"id": "alice", "email": "alice@example.com"}, 201)
    assert created["id"] == "alice" and created["email"] == "alice@example.com" and created["source"] == "admin"
    conflict = httpx.post(gateway.url + "/admin/users", json={"id": "alice"}, headers=ADMIN)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "user_exists"
    bad = httpx.post(gateway.url + "/admin/users", json={"id": "alice", "rpm": -1}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "rpm"
    assert [u["id"] for u in _admin(gateway, "GET", "/admin/users")["data"]] == ["alice"]
    changed = _admin(gateway, "PATCH", "/admin/users/alice", {"name": "Alice", "budget_usd": 5})
    assert changed["name"] == "Alice" and changed["budget_usd"] == 5
    assert _admin(gateway, "GET", "/admin/users/alice")["name"] == "Alice"
    _admin(gateway, "DELETE", "/admin/users/alice")
    assert httpx.get(gateway.url + "/admin/users/alice", headers=ADMIN).json()["error"]["code"] == "user_not_found"
    assert _admin(gateway, "GET", "/admin/users")["data"] == []

    rows = _audit(gateway, target_type="user")
    assert [row["action"] for row in rows] == ["users.delete", "users.update", "users.create"]
    assert all(row["actor"] == "master-key" and row["address"] == "127.0.0.1" for row in rows)
    assert rows[1]["changes"]["name"] == {"from": None, "to": "Alice"}
    assert rows[1]["changes"]["budget_usd"] == {"from": None, "to": 5}
    assert httpx.get(gateway.url + "/admin/audit").status_code == 401


def test_teams_through_the_api_and_the_config_files_teams_read_only(gateway: RunningApp) -> None:
    listed = _admin(gateway, "GET", "/admin/teams")["data"]
    assert [(t["id"], t["source"], t["rpm"]) for t in listed] == [("research", "config", 50)]
    refused = httpx.patch(gateway.url + "/admin/teams/research", json={"rpm": 1}, headers=ADMIN)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "team_in_config"
    assert httpx.delete(gateway.url + "/admin/teams/research", headers=ADMIN).status_code == 409
    _admin(gateway, "POST", "/admin/users", {"id": "bob"}, 201)
    team = _admin(
        gateway,
        "POST",
        "/admin/teams",
        {"id": "platform", "members": ["bob"], "admins": ["bob"], "models": ["*-mini"]},
        201,
    )
    assert team["members"] == ["bob"] and team["admins"] == ["bob"] and team["source"] == "store"
    assert _admin(gateway, "GET", "/admin/users/bob")["teams"] == ["platform"]

    # A key of the team may use only the team's models.
    key = _admin(gateway, "POST", "/admin/keys", {"team": "platform", "user": "bob"}, 201)
    assert key["user"] == "bob"
    assert _chat(gateway, key["key"]).choices[0].message.content
    with pytest.raises(openai.PermissionDeniedError) as refused_model:
        _chat(gateway, key["key"], model="gpt-4o")
    assert "platform" in str(refused_model.value)

    _admin(gateway, "PATCH", "/admin/teams/platform", {"models": None})
    assert _chat(gateway, key["key"], model="gpt-4o").choices[0].message.content
    _admin(gateway, "DELETE", "/admin/teams/platform")
    assert [t["id"] for t in _admin(gateway, "GET", "/admin/teams")["data"]] == ["research"]
    actions = [row["action"] for row in _audit(gateway)]
    assert actions[:5] == ["teams.delete", "teams.update", "keys.create", "teams.create", "users.create"]


def test_a_users_limit_is_shared_by_all_their_keys_and_a_disabled_user_is_refused(gateway: RunningApp) -> None:
    _admin(gateway, "POST", "/admin/users", {"id": "carol", "rpm": 2}, 201)
    first = _admin(gateway, "POST", "/admin/keys", {"user": "carol"}, 201)["key"]
    second = _admin(gateway, "POST", "/admin/keys", {"user": "carol"}, 201)["key"]
    _chat(gateway, first)
    _chat(gateway, second)
    with pytest.raises(openai.RateLimitError) as refused:
        _chat(gateway, first)
    assert "user 'carol'" in str(refused.value)
    other = _admin(gateway, "POST", "/admin/keys", {}, 201)["key"]
    assert _chat(gateway, other).choices  # nobody else is limited

    _admin(gateway, "PATCH", "/admin/users/carol", {"disabled": True, "rpm": None})
    with pytest.raises(openai.PermissionDeniedError) as disabled:
        _chat(gateway, second)
    assert disabled.value.body["code"] == "user_disabled"  # type: ignore[index]


def test_end_customers_are_limited_one_by_one_and_counted_in_the_ledger(gateway: RunningApp) -> None:
    key = _admin(gateway, "POST", "/admin/keys", {"user": "dave", "end_user_limits": {"rpm": 2}}, 201)["key"]
    _chat(gateway, key, user="customer-1")
    _chat(gateway, key, user="customer-1")
    with pytest.raises(openai.RateLimitError) as refused:
        _chat(gateway, key, user="customer-1")
    assert "end user 'customer-1'" in str(refused.value)
    assert _chat(gateway, key, user="customer-2").choices  # another customer has their own count
    assert _chat(gateway, key).choices  # a request naming no customer is not limited by them

    # The header names the customer too (and wins over the body), on any frontend: here Anthropic's.
    with anthropic.Anthropic(base_url=gateway.url, api_key=key, max_retries=0, timeout=10) as client:
        client.messages.create(
            model="gpt-4o-mini",
            max_tokens=16,
            messages=[{"role": "user", "content": "Hi"}],
            metadata={"user_id": "customer-3"},
        )
        with pytest.raises(anthropic.RateLimitError):
            client.messages.create(
                model="gpt-4o-mini",
                max_tokens=16,
                messages=[{"role": "user", "content": "Hi"}],
                metadata={"user_id": "customer-3"},
                extra_headers={"x-babelgate-end-user": "customer-1"},
            )
    bad = httpx.post(gateway.url + "/admin/keys", json={"end_user_limits": {"rpm": "x"}}, headers=ADMIN)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "end_user_limits.rpm"

    deadline = time.monotonic() + 5
    while True:
        data = _admin(gateway, "GET", "/admin/usage?group_by=user,end_user")["data"]
        counts = {(row["user"], row["end_user"]): row["requests"] for row in data}
        if sum(counts.values()) >= 7 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert counts == {
        ("dave", "customer-1"): 4,  # two answered, two refused (the ledger keeps refusals too)
        ("dave", "customer-2"): 1,
        ("dave", None): 1,
        ("dave", "customer-3"): 1,
    }
    filtered = _admin(gateway, "GET", "/admin/usage?group_by=end_user&end_user=customer-1")["data"]
    assert [(row["end_user"], row["requests"], row["errors"]) for row in filtered] == [("customer-1", 4, 2)]


def test_no_secret_reaches_the_audit_log(gateway: RunningApp) -> None:
    created = _admin(
        gateway, "POST", "/admin/keys", {"label": "ci", "metadata": {"api_key": "sk-provider-123456789"}}, 201
    )
    _admin(gateway, "PATCH", f"/admin/keys/{created['id']}", {"metadata": {"note": "uses bg-abcdefabcdef123456789"}})
    _admin(gateway, "DELETE", f"/admin/keys/{created['id']}")
    rows = _audit(gateway, action="keys")
    assert [row["action"] for row in rows] == ["keys.revoke", "keys.update", "keys.create"]
    text = json.dumps(rows)
    assert created["key"] not in text and "sk-provider-123456789" not in text and "abcdef123456789" not in text
    assert rows[2]["target_id"] == created["id"]
    assert _audit(gateway, action="keys.revoke", target_id=created["id"])[0]["changes"]["revoked_at"]["to"]
    assert httpx.get(gateway.url + "/admin/audit?limit=0", headers=ADMIN).status_code == 400
