"""Users, teams and their limits across two gateway processes sharing PostgreSQL (the store) and Redis (the running
counts): budgets and limits at each of the four levels (key, user, team, end customer) hold between them; users
and teams made on one instance are in force on the other; budget alerts reach a webhook receiver run by
the test exactly once per threshold crossed, signed (HMAC-SHA256), and retried when the receiver fails."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.conftest import CLOSED_PORT_URL
from tests.fakes.openai_upstream import FakeOpenAI
from tests.integration.test_cli_serve import _free_port, _wait_ready
from tests.many_instances import fresh_database
from tests.services import REDIS_TIMEOUT, postgres_dsn, redis_url  # noqa: F401 (fixtures)

MASTER = "master-key-of-the-tenancy-instances-0123"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
HOOK_SECRET = "whsec-the-tests-0123456789"


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: what it was sent, and how many of the next posts it refuses."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    attempts: int = 0
    refuse_next: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def alerts(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            bodies = [json.loads(body) for _, body in self.received]
        return [body for body in bodies if kind is None or body.get("type") == kind]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                state.attempts += 1
                refuse = state.refuse_next > 0
                if refuse:
                    state.refuse_next -= 1
                else:
                    state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(500 if refuse else 204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def two(
    tmp_path: Path,
    upstream: FakeOpenAI,
    receiver: Receiver,
    postgres_dsn: str,  # noqa: F811
    redis_url: str,  # noqa: F811
) -> Iterator[tuple[str, str]]:
    config = {
        "redis": {"url": redis_url, "prefix": f"bgten-{uuid.uuid4().hex[:8]}:", "timeout": REDIS_TIMEOUT},
        "server": {"master_key": "env:MASTER"},
        "providers": {"openai": {"type": "openai", "base_url": upstream.base_url, "api_key": "env:UPSTREAM"}},
        # $1 a prompt token; the fake upstream reports 9 prompt tokens: $9 a request.
        "models": {"pricey": {"provider": "openai", "model": "gpt-4o-mini", "price": {"input": 1000000, "output": 0}}},
        "alerts": {
            "webhooks": [{"url": receiver.url, "secret": "env:HOOK_SECRET", "format": "json"}],
            "budget_thresholds": [50, 100],
        },
    }
    with fresh_database(postgres_dsn, f"bgten_{uuid.uuid4().hex[:10]}") as dsn:
        config["store"] = {"url": dsn}
        path = tmp_path / "tenancy.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith(("_API_KEY", "_BASE_URL", "_API_KEYS")) and not k.startswith("BABELGATE_")
        }
        env.update(
            {
                "OLLAMA_BASE_URL": CLOSED_PORT_URL,
                "MASTER": MASTER,
                "UPSTREAM": "sk-upstream-0000",
                "HOOK_SECRET": HOOK_SECRET,
                "XDG_STATE_HOME": str(tmp_path / "state"),
            }
        )
        processes, urls = [], []
        try:
            for _ in range(2):
                port = _free_port()
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "babelgate.cli", "serve", "--config", str(path), "--port", str(port)],
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                    )
                )
                urls.append(f"http://127.0.0.1:{port}")
                _wait_ready(urls[-1], processes[-1])
            yield urls[0], urls[1]
        finally:
            for process in processes:
                process.terminate()
                process.communicate(timeout=15)


def _admin(url: str, method: str, path: str, body: Any = None, status: int = 200) -> Any:
    answer = httpx.request(method, url + path, json=body, headers=ADMIN, timeout=10)
    assert answer.status_code == status, answer.text
    return answer.json()


def _priced(url: str, key: str, end_user: str | None = None) -> int:
    body: dict[str, Any] = {"model": "pricey", "messages": [{"role": "user", "content": "Hi"}]}
    if end_user is not None:
        body["user"] = end_user
    headers = {"Authorization": f"Bearer {key}"}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=10).status_code


def _known_to(url: str, key: str) -> None:
    """Wait until the instance at `url` has read the key, then have it read the users and teams written before it
    (an admin listing reads them from the store again before it answers)."""

    def status(presented: str) -> int:
        return httpx.get(url + "/v1/models", headers={"Authorization": f"Bearer {presented}"}, timeout=10).status_code

    deadline = time.monotonic() + 10
    # An instance that has read no key yet is open: the key passing proves nothing until a wrong one is refused.
    while status(key) == 401 or status("sk-bg-not-a-key") != 401:
        assert time.monotonic() < deadline, "the key never reached the other instance"
        time.sleep(0.05)
    _admin(url, "GET", "/admin/users")


def _eventually(check: Any, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_a_users_budget_holds_across_instances_and_alerts_once_per_threshold(
    two: tuple[str, str], receiver: Receiver
) -> None:
    first, second = two
    _admin(first, "POST", "/admin/users", {"id": "erin", "budget_usd": 20, "budget_period": "month"}, 201)
    own = _admin(first, "POST", "/admin/keys", {"user": "erin"}, 201)["key"]
    other = _admin(first, "POST", "/admin/keys", {"user": "erin"}, 201)["key"]
    _known_to(second, other)
    assert _admin(second, "GET", "/admin/users/erin")["budget_usd"] == 20
    # $9 a request, from two keys of hers on two instances: three pass ($27), then both refuse.
    assert [_priced(first, own), _priced(second, other), _priced(first, other)] == [200, 200, 200]
    assert [_priced(second, own), _priced(first, other)] == [429, 429]

    alerts = _eventually(lambda: len(receiver.alerts("budget_threshold")) >= 2 and receiver.alerts("budget_threshold"))
    time.sleep(1.0)  # a duplicate from the other instance would have arrived by now
    alerts = receiver.alerts("budget_threshold")
    assert sorted(a["details"]["threshold_percent"] for a in alerts) == [50, 100]
    assert all(a["details"]["scope"] == "user" and a["details"]["name"] == "erin" for a in alerts)
    for headers, body in receiver.received:
        timestamp = headers["x-babelgate-timestamp"]
        expected = hmac.new(HOOK_SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        assert headers["x-babelgate-signature"] == f"sha256={expected}"
        assert headers["content-type"] == "application/json"
    recorded = _admin(second, "GET", "/admin/alerts")["data"]
    assert sorted(a["details"]["threshold_percent"] for a in recorded if a["type"] == "budget_threshold") == [50, 100]
    assert all(d["delivered"] for a in recorded for d in a["deliveries"])


def test_a_failing_receiver_is_retried_until_it_takes_the_alert(two: tuple[str, str], receiver: Receiver) -> None:
    first, second = two
    receiver.refuse_next = 2
    key = _admin(first, "POST", "/admin/keys", {"budget_usd": 10}, 201)["key"]
    _known_to(second, key)
    assert _priced(second, key) == 200  # $9 of $10: past 50 %
    alerts = _eventually(lambda: receiver.alerts("budget_threshold"))
    assert [a["details"]["threshold_percent"] for a in alerts] == [50]
    assert receiver.attempts == 3  # refused twice, taken the third time (after 0.5 s and 1 s)
    recorded = _eventually(
        lambda: [a for a in _admin(first, "GET", "/admin/alerts")["data"] if a["deliveries"][0]["delivered"]]
    )
    assert recorded[0]["deliveries"][0]["attempts"] == 3


def test_a_teams_limit_made_through_the_api_holds_across_instances(two: tuple[str, str]) -> None:
    first, second = two
    _admin(first, "POST", "/admin/teams", {"id": "growth", "rpm": 5}, 201)
    keys = [_admin(first, "POST", "/admin/keys", {"team": "growth"}, 201)["key"] for _ in range(2)]
    _known_to(second, keys[1])
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(lambda n: _priced((first, second)[n % 2], keys[n // 2 % 2]), range(12)))
    assert statuses.count(200) == 5 and statuses.count(429) == 7


def test_key_and_end_customer_limits_hold_across_instances(two: tuple[str, str]) -> None:
    first, second = two
    budgeted = _admin(first, "POST", "/admin/keys", {"end_user_limits": {"budget_usd": 10}}, 201)["key"]
    paced = _admin(first, "POST", "/admin/keys", {"end_user_limits": {"rpm": 3}}, 201)["key"]
    own = _admin(first, "POST", "/admin/keys", {"rpm": 4}, 201)["key"]
    _known_to(second, own)
    # End customer A: $9, then $18 (past its $10), whichever instance they reach: the third is refused.
    assert [_priced(first, budgeted, "A"), _priced(second, budgeted, "A"), _priced(first, budgeted, "A")] == [
        200,
        200,
        429,
    ]
    assert _priced(second, budgeted, "B") == 200  # B has a budget of their own
    # Three a minute for each end customer of the other key.
    assert [_priced((first, second)[n % 2], paced, "C") for n in range(4)] == [200, 200, 200, 429]
    assert _priced(first, paced, "D") == 200
    # The key's own four a minute.
    assert [_priced((first, second)[n % 2], own) for n in range(5)] == [200, 200, 200, 200, 429]
    usage = _eventually(
        lambda: (
            {
                row["end_user"]: row["requests"]
                for row in _admin(second, "GET", "/admin/usage?group_by=end_user")["data"]
                if row["end_user"] in ("A", "B", "C", "D")
            }
            == {"A": 3, "B": 1, "C": 4, "D": 1}
        )
    )
    assert usage
