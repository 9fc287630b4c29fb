"""Each role against the admin routes of users, teams, the audit log and alerts: admins manage
users and teams; a team admin reads them and changes their own team's members, models, limits and budget
(not its admins, not another team); members and viewers see none of it. The callers are JWTs of the test's
identity provider with a role claim; the audit log names them."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest

from tests.fakes.servers import RunningApp
from tests.identity.conftest import MASTER
from tests.identity.issuer import Issuer
from tests.waiting import eventually

ROLES = ("admin", "team_admin", "member", "viewer")


def _token(issuer: Issuer, role: str) -> str:
    return issuer.token(f"{role}@example.com", babelgate_role=role, groups=["growth"])


def _call(gateway: RunningApp, bearer: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, gateway.url + path, json=body, headers={"Authorization": f"Bearer {bearer}"})


@pytest.fixture
def teams(gateway: RunningApp) -> None:
    for team in ("growth", "ads"):
        assert _call(gateway, MASTER, "POST", "/admin/teams", {"id": team}).status_code == 201


# Statuses in ROLES order; roles are tried viewer first, admin last (whose change may remove the thing).
TABLE: list[tuple[str, str, Any, tuple[int, int, int, int]]] = [
    ("GET", "/admin/users", None, (200, 200, 403, 403)),
    ("POST", "/admin/users", {"id": "new-person"}, (201, 403, 403, 403)),
    ("GET", "/admin/teams", None, (200, 200, 403, 403)),
    ("GET", "/admin/teams/ads", None, (200, 200, 403, 403)),
    ("POST", "/admin/teams", {"id": "new-team"}, (201, 403, 403, 403)),
    ("PATCH", "/admin/teams/growth", {"rpm": 5, "members": ["bob"]}, (200, 200, 403, 403)),
    ("PATCH", "/admin/teams/growth", {"admins": ["bob"]}, (200, 403, 403, 403)),
    ("PATCH", "/admin/teams/ads", {"rpm": 5}, (200, 403, 403, 403)),
    ("DELETE", "/admin/teams/growth", None, (200, 403, 403, 403)),
    ("GET", "/admin/audit", None, (200, 403, 403, 403)),
    ("GET", "/admin/alerts", None, (200, 403, 403, 403)),
]


@pytest.mark.parametrize(("method", "path", "body", "statuses"), TABLE, ids=[f"{m} {p} {b}" for m, p, b, _ in TABLE])
def test_each_role_against_the_tenancy_routes(
    gateway: RunningApp,
    issuer: Issuer,
    teams: None,
    method: str,
    path: str,
    body: Any,
    statuses: tuple[int, ...],
) -> None:
    got = {role: _call(gateway, _token(issuer, role), method, path, body) for role in reversed(ROLES)}
    assert {role: response.status_code for role, response in got.items()} == dict(zip(ROLES, statuses, strict=True))
    for response in got.values():
        if response.status_code == 403:
            assert response.json()["error"]["code"] == "role_forbidden"


def test_the_audit_names_the_person(gateway: RunningApp, issuer: Issuer, teams: None) -> None:
    assert _call(gateway, _token(issuer, "team_admin"), "PATCH", "/admin/teams/growth", {"rpm": 7}).status_code == 200
    rows = _call(gateway, MASTER, "GET", "/admin/audit?action=teams.update").json()["data"]
    assert [(row["actor"], row["target_id"], row["changes"]["rpm"]["to"]) for row in rows] == [
        ("team_admin@example.com", "growth", 7)
    ]


def test_a_jwt_caller_meets_the_limits_of_its_user_and_the_models_of_its_team(
    gateway: RunningApp, issuer: Issuer, teams: None
) -> None:
    assert _call(gateway, MASTER, "POST", "/admin/users", {"id": "dana", "rpm": 2}).status_code == 201
    assert _call(gateway, MASTER, "PATCH", "/admin/teams/growth", {"models": ["mini"]}).status_code == 200
    token = issuer.token("dana", groups=["growth"])
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client:
        with pytest.raises(openai.PermissionDeniedError):  # the team made through the API allows `mini` only
            client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "Hi"}])
        for _ in range(2):
            client.chat.completions.create(model="mini", messages=[{"role": "user", "content": "Hi"}])
        with pytest.raises(openai.RateLimitError) as refused:
            client.chat.completions.create(model="mini", messages=[{"role": "user", "content": "Hi"}])
    assert "user 'dana'" in str(refused.value)


def test_a_jwt_caller_becomes_a_user_whose_team_and_role_the_admin_api_decides(
    gateway: RunningApp, issuer: Issuer, teams: None
) -> None:
    """Sign-in's and JWT callers' users are the directory's: the caller is made a user on its first
    request (with the groups that name the gateway's teams), its team may be one made through the API
    (here `ads`, the first of its groups the gateway knows), and a role an admin sets for the user wins
    over the token's claims."""
    token = issuer.token("erin", groups=["engineering", "ads"])
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client:
        client.chat.completions.create(model="mini", messages=[{"role": "user", "content": "Hi"}])
    # The user is recorded beside the request (not in its way): it is there a moment later.
    assert eventually(lambda: _call(gateway, MASTER, "GET", "/admin/users/erin").status_code == 200)
    user = _call(gateway, MASTER, "GET", "/admin/users/erin").json()
    assert (user["source"], user["teams"]) == ("jwt", ["ads"])
    assert _call(gateway, token, "GET", "/admin/audit").status_code == 403  # a member, by default
    assert _call(gateway, MASTER, "PATCH", "/admin/users/erin", {"role": "admin"}).status_code == 200
    fresh = issuer.token("erin", groups=["engineering", "ads"], lifetime=1800)  # a role is read per token
    assert _call(gateway, fresh, "GET", "/admin/audit").status_code == 200
    usage = _call(gateway, MASTER, "GET", "/admin/usage?group_by=key,team").json()["data"]
    assert {(row["key"], row["team"]) for row in usage} >= {("user:erin", "ads")}
