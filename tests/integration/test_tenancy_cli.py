"""`babelgate users …`, `babelgate teams …` and `babelgate audit` against a running gateway: the same
admin API the dashboard uses, as an operator types it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from babelgate.cli import main
from tests.admin_gateway import MASTER, start
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import RunningApp


@pytest.fixture
def gateway(make_gateway: GatewayFactory, upstream: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> RunningApp:
    monkeypatch.setenv("BABELGATE_MASTER_KEY", MASTER)
    return start(make_gateway, upstream, extra="teams:\n  search: {rpm: 100}\n")


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_users_from_the_command_line(gateway: RunningApp, capsys: pytest.CaptureFixture[str]) -> None:
    url = ("--url", gateway.url)
    assert main(["users", "create", "frank", *url, "--email", "frank@example.com", "--rpm", "5"]) == 0
    assert "frank@example.com" in capsys.readouterr().out
    assert _json(capsys, "users", "update", "frank", *url, "--teams", "search,ops", "--disabled")["disabled"] is True
    shown = _json(capsys, "users", "show", "frank", *url)
    assert shown["teams"] == ["search", "ops"] and shown["rpm"] == 5
    assert main(["users", "list", *url]) == 0
    listed = capsys.readouterr().out
    assert "frank" in listed and "5 rpm" in listed and "disabled" in listed
    assert _json(capsys, "keys", "create", *url, "--user", "frank")["user"] == "frank"
    assert main(["users", "delete", "frank", *url]) == 0
    assert "frank deleted" in capsys.readouterr().out
    assert _json(capsys, "users", "list", *url)["data"] == []
    assert main(["users", "show", "frank", *url]) != 0  # the gateway's 404, said as an error
    assert "no user 'frank'" in capsys.readouterr().err


def test_teams_and_the_audit_from_the_command_line(gateway: RunningApp, capsys: pytest.CaptureFixture[str]) -> None:
    url = ("--url", gateway.url)
    created = _json(capsys, "teams", "create", "ml", *url, "--members", "a,b", "--admins", "a", "--budget-usd", "50")
    assert created["members"] == ["a", "b"] and created["budget_usd"] == 50
    assert _json(capsys, "teams", "update", "ml", *url, "--models", "gpt-4o*")["models"] == ["gpt-4o*"]
    assert main(["teams", "update", "ml", *url, "--guardrails", "nope"]) != 0  # no guardrail of that name here
    assert "guardrail 'nope'" in capsys.readouterr().err
    assert main(["teams", "list", *url]) == 0
    listed = capsys.readouterr().out
    assert "ml" in listed and "search" in listed and "config" in listed and "$50.00" in listed
    assert main(["teams", "delete", "search", *url]) != 0  # the config file's team is not the API's to delete
    assert "config file" in capsys.readouterr().err
    assert main(["teams", "delete", "ml", *url]) == 0
    capsys.readouterr()
    actions = [row["action"] for row in _json(capsys, "audit", *url)["data"]]
    assert actions == ["teams.delete", "teams.update", "teams.create"]
    assert main(["audit", *url, "--action", "teams.create"]) == 0
    table = capsys.readouterr().out
    assert "teams.create" in table and "teams.delete" not in table and "127.0.0.1" in table
