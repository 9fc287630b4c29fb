"""The conversation log's admin routes by role (as `/admin/usage`): admins and viewers read every team's logged
requests, a team admin their teams' only (another team's is "not found" to them), a member their own."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI, completion
from tests.fakes.scripted import Reply
from tests.identity.conftest import MASTER, jwt_config
from tests.identity.issuer import Issuer
from tests.waiting import eventually

LOGGED = "logging:\n  content: {enabled: true}\n"


def _get(gateway: Any, bearer: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(gateway.url + path, params=params, headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def test_each_role_reads_the_logged_requests_it_may(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, issuer: Issuer
) -> None:
    gateway = make_gateway(jwt_config(upstream, issuer, LOGGED), env={"BABELGATE_MASTER_KEY": MASTER})
    upstream.chat_responder = lambda body: Reply(json=completion("ok"))
    callers = {
        "searcher": issuer.token("searcher@example.com", groups=["search"]),
        "advertiser": issuer.token("advertiser@example.com", groups=["ads"]),
    }
    for name, token in callers.items():
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key=token, max_retries=0, timeout=10) as client:
            client.chat.completions.create(model="mini", messages=[{"role": "user", "content": f"from {name}"}])

    def previews(bearer: str, **params: Any) -> list[str]:
        answer = _get(gateway, bearer, "/admin/logs", **params)
        assert answer.status_code == 200, answer.text
        return sorted(summary["preview"] for summary in answer.json()["data"])

    assert eventually(lambda: len(previews(MASTER)) == 2)
    both = ["from advertiser", "from searcher"]
    ads = next(s for s in _get(gateway, MASTER, "/admin/logs").json()["data"] if s["team"] == "ads")
    lead = issuer.token("lead@example.com", babelgate_role="team_admin", groups=["search"])
    viewer = issuer.token("viewer@example.com", babelgate_role="viewer", groups=["search"])
    assert previews(viewer) == both
    assert previews(lead) == ["from searcher"]
    assert _get(gateway, lead, "/admin/logs", team="ads").status_code == 403
    assert _get(gateway, lead, f"/admin/logs/{ads['request_id']}").status_code == 404
    assert _get(gateway, viewer, f"/admin/logs/{ads['request_id']}").json()["team"] == "ads"
    member = issuer.token("searcher@example.com", babelgate_role="member", groups=["search"])
    assert previews(member) == ["from searcher"]
    assert _get(gateway, member, f"/admin/logs/{ads['request_id']}").status_code == 404
