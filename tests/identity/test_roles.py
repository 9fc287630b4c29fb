"""Each role against each admin route: admin everything; team_admin their teams' keys and usage;
member their own keys and usage; viewer read-only usage and the model catalog. The callers are JWTs of
the identity provider with a role claim, on the admin API as bearer tokens (as the CLI or a script sends
them); the master key stays an admin (the break-glass login)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.servers import RunningApp
from tests.identity.conftest import MASTER
from tests.identity.issuer import Issuer

ROLES = ("admin", "team_admin", "member", "viewer")
OTHERS = "ads"  # a team none of the role holders belongs to


def _token(issuer: Issuer, role: str) -> str:
    return issuer.token(f"{role}@example.com", babelgate_role=role, groups=["search"])


def _call(gateway: RunningApp, bearer: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(
        method, gateway.url + path, json=body, headers={"Authorization": f"Bearer {bearer}"}, timeout=10
    )


@pytest.fixture
def other_key(gateway: RunningApp) -> str:
    """A key of another team, made by the master key."""
    made = _call(gateway, MASTER, "POST", "/admin/keys", {"team": OTHERS, "label": "theirs"})
    assert made.status_code == 201, made.text
    key_id: str = made.json()["id"]
    return key_id


# (method, path, body) → the status each role gets, in ROLES order. `{other}`: another team's key.
TABLE: list[tuple[str, str, Any, tuple[int, int, int, int]]] = [
    ("GET", "/admin/keys", None, (200, 200, 200, 403)),
    ("POST", "/admin/keys", {"label": "mine"}, (201, 201, 201, 403)),
    ("POST", "/admin/keys", {"label": "x", "team": OTHERS}, (201, 403, 403, 403)),
    ("GET", "/admin/keys/{other}", None, (200, 404, 404, 403)),
    ("PATCH", "/admin/keys/{other}", {"label": "changed"}, (200, 404, 404, 403)),
    ("DELETE", "/admin/keys/{other}", None, (200, 404, 404, 403)),
    ("GET", "/admin/usage", None, (200, 200, 200, 200)),
    ("GET", f"/admin/usage?team={OTHERS}", None, (200, 403, 200, 200)),
    ("GET", "/admin/usage?key={other}", None, (200, 200, 403, 200)),
    ("GET", "/admin/errors", None, (200, 403, 403, 403)),
    ("GET", "/admin/models", None, (200, 200, 200, 200)),
]


@pytest.mark.parametrize(("method", "path", "body", "statuses"), TABLE, ids=[f"{m} {p} {b}" for m, p, b, _ in TABLE])
def test_each_role_against_each_admin_route(
    gateway: RunningApp,
    issuer: Issuer,
    other_key: str,
    method: str,
    path: str,
    body: Any,
    statuses: tuple[int, ...],
) -> None:
    path = path.format(other=other_key)
    got = {role: _call(gateway, _token(issuer, role), method, path, body) for role in reversed(ROLES)}
    assert {role: response.status_code for role, response in got.items()} == dict(zip(ROLES, statuses, strict=True))
    for response in got.values():
        if response.status_code == 403:
            assert response.json()["error"]["code"] == "role_forbidden"
    # The master key is an admin whatever the route.
    assert _call(gateway, MASTER, method, path, body).status_code in (statuses[0], 404)


def test_each_role_sees_only_its_own_keys_and_makes_keys_of_its_team(
    gateway: RunningApp, issuer: Issuer, other_key: str
) -> None:
    member, team_admin = _token(issuer, "member"), _token(issuer, "team_admin")
    made = _call(gateway, member, "POST", "/admin/keys", {"label": "laptop"}).json()
    assert (made["user"], made["team"]) == ("member@example.com", "search")
    # A member cannot give their own key a bigger budget: their team admin can.
    assert _call(gateway, member, "PATCH", f"/admin/keys/{made['id']}", {"budget_usd": 1000}).status_code == 403
    assert _call(gateway, team_admin, "PATCH", f"/admin/keys/{made['id']}", {"budget_usd": 5}).status_code == 200
    # The dashboard's form sends every field; unchanged limits (empty) are no change to refuse.
    form = {
        "label": "laptop 2",
        "team": "search",
        "models": [],
        "rpm": None,
        "tpm": None,
        "max_concurrent": None,
        "budget_usd": 5,
        "budget_period": None,
        "expires_at": None,
    }
    changed = _call(gateway, member, "PATCH", f"/admin/keys/{made['id']}", form)
    assert (changed.status_code, changed.json()["label"]) == (200, "laptop 2"), changed.text
    # Nor move it out of their team.
    assert _call(gateway, member, "PATCH", f"/admin/keys/{made['id']}", {"team": OTHERS}).status_code == 403
    listed = {
        role: [key["id"] for key in _call(gateway, _token(issuer, role), "GET", "/admin/keys").json()["data"]]
        for role in ("admin", "team_admin", "member")
    }
    assert listed["admin"] == [other_key, made["id"]]
    assert listed["team_admin"] == listed["member"] == [made["id"]]
    assert _call(gateway, member, "DELETE", f"/admin/keys/{made['id']}").json()["revoked"] is True


def test_usage_is_narrowed_to_what_the_role_may_see(gateway: RunningApp, issuer: Issuer) -> None:
    for user, team in (("member@example.com", "search"), ("zoe@example.com", "search"), ("yann@example.com", OTHERS)):
        response = httpx.post(
            gateway.url + "/v1/chat/completions",
            json={"model": "chat", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {issuer.token(user, groups=[team])}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text

    def keys(role: str) -> dict[str, int]:
        answer = _call(gateway, _token(issuer, role), "GET", "/admin/usage?group_by=key").json()["data"]
        return {row["key"]: row["requests"] for row in answer}

    everyone = {"user:member@example.com": 1, "user:zoe@example.com": 1, "user:yann@example.com": 1}
    assert keys("admin") == keys("viewer") == everyone
    assert keys("team_admin") == {"user:member@example.com": 1, "user:zoe@example.com": 1}
    assert keys("member") == {"user:member@example.com": 1}


def test_a_caller_without_a_role_and_a_bad_token_are_refused(make_gateway: Any, upstream: Any, issuer: Issuer) -> None:
    from tests.identity.conftest import jwt_config

    config = jwt_config(upstream, issuer).replace(
        "    min_refresh: 0.2\n", "    min_refresh: 0.2\n    default_role: null\n"
    )
    gateway = make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER})
    nobody = _call(gateway, issuer.token("nobody", groups=["search"]), "GET", "/admin/usage")
    assert (nobody.status_code, nobody.json()["error"]["code"]) == (403, "no_role")
    expired = _call(gateway, issuer.token("x", babelgate_role="admin", lifetime=-300), "GET", "/admin/keys")
    assert (expired.status_code, expired.json()["error"]["code"]) == (401, "invalid_token")
    assert _call(gateway, "wrong-master-key", "GET", "/admin/keys").status_code == 401
