"""The conversation log through the gateway, with the official clients: each door, whole and streamed, leaves an
Exchange whose input and output are what the model saw (masked by the guardrails); a caller the log does not cover
leaves nothing; `/admin/logs` filters, searches, pages and scopes what it shows; the log outlives a restart."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from anthropic.types import MessageParam
from google import genai
from google.genai import types as gt

from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from babelgate.store.conversation_table import LogQuery, exchange_of
from tests.conftest import GatewayFactory, base_env
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream, tool_call, tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread
from tests.integration.ollama_helpers import ollama_client
from tests.integration.test_anthropic_clouds import KEY as CLOUD_KEY
from tests.integration.test_anthropic_clouds import _ask, bedrock_client, vertex_client
from tests.integration.test_guardrails import DOORS, EMAIL, OPENAI_KEY
from tests.integration.test_virtual_keys import MASTER, _create
from tests.many_instances import fresh_database
from tests.services import postgres_dsn  # noqa: F401  (fixture)
from tests.waiting import eventually

LOGGED = """
guardrails:
  - {name: emails, kind: pii, entities: [email], action: mask, mask_style: reversible, stage: input}
  - {name: secrets, kind: pii, entities: [secret], action: mask, mask_style: redact, stage: output}
server:
  guardrails: [emails, secrets]
logging:
  content: {enabled: true}
"""
ADMIN = {"authorization": f"Bearer {MASTER}"}


def _logged(gateway: Any, loop_thread: LoopThread, count: int = 1) -> list[dict[str, Any]]:
    """The store's logged exchanges once `count` are there, newest first."""
    store = gateway.app.runtime.response_store
    found: list[dict[str, Any]] = []

    def there() -> bool:
        found[:] = [exchange_of(row) for row in loop_thread.run(store.conversations(LogQuery(0, time.time() + 60)))]
        return len(found) >= count

    assert eventually(there), found
    return found


def _texts(messages: list[dict[str, Any]]) -> str:
    return json.dumps([part for message in messages for part in message["parts"]])


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("door", sorted(DOORS))
def test_each_door_logs_what_the_model_saw(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, door: str, stream: bool
) -> None:
    gateway = make_gateway(LOGGED)
    half = len(OPENAI_KEY) // 2

    def answer(body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            pieces = ["Key ", OPENAI_KEY[:half], OPENAI_KEY[half:], " for <EMAIL_1>."]
            return Reply(stream=text_stream(pieces, include_usage=True))  # type: ignore[arg-type]
        return Reply(json=completion(f"Key {OPENAI_KEY} for <EMAIL_1>."))

    upstream.chat_responder = answer
    streamed = stream or door == "responses-websocket"
    got = DOORS[door](gateway, f"Send the key to {EMAIL}.", streamed)
    assert got == f"Key [REDACTED] for {EMAIL}.", got
    (logged,) = _logged(gateway, loop_thread)
    user = [message for message in logged["input"] if message["role"] == "user"]
    assert user[-1]["parts"] == [{"type": "text", "content": "Send the key to <EMAIL_1>."}], logged["input"]
    (output,) = logged["output"]
    assert output["role"] == "assistant"
    texts = "".join(part["content"] for part in output["parts"] if part["type"] == "text")
    assert texts == "Key [REDACTED] for <EMAIL_1>.", output
    stored = json.dumps(logged)
    assert EMAIL not in stored and OPENAI_KEY not in stored
    assert logged["model"] == "gpt-4o-mini" and logged["status"] == 200 and logged["stream"] is streamed
    assert logged["guardrails"].get("emails") == "mask" and logged["truncated"] is False
    assert logged["provider"] and logged["upstream_model"], logged


def test_a_caller_the_log_does_not_cover_leaves_nothing(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    config = LOGGED.replace("{enabled: true}", "{enabled: true, teams: [search]}")
    gateway = make_gateway(config, env={"BABELGATE_MASTER_KEY": MASTER})
    covered = _create(gateway, team="search")["key"]
    other = _create(gateway, team="ads")["key"]
    upstream.chat_responder = lambda body: Reply(json=completion("Fine."))
    for key, prompt in ((other, "not logged"), (covered, "logged")):
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=30) as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    (logged,) = _logged(gateway, loop_thread)
    assert logged["team"] == "search" and logged["input"][0]["parts"][0]["content"] == "logged"
    with httpx.Client(base_url=gateway.url, headers=ADMIN, timeout=30) as admin:
        page = admin.get("/admin/logs").json()
    assert [summary["request_id"] for summary in page["data"]] == [logged["request_id"]]


def test_the_admin_api_filters_searches_pages_and_scopes(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    gateway = make_gateway(LOGGED, env={"BABELGATE_MASTER_KEY": MASTER})
    search = _create(gateway, team="search")
    ads = _create(gateway, team="ads")
    upstream.chat_responder = lambda body: Reply(json=completion("Answer to " + body["messages"][-1]["content"]))
    for key, prompt in ((search, "alpha question"), (ads, "beta question"), (search, "gamma question")):
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key=key["key"], max_retries=0, timeout=30) as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    with httpx.Client(base_url=gateway.url, headers=ADMIN, timeout=30) as admin:
        every = admin.get("/admin/logs").json()
        assert [summary["preview"] for summary in every["data"]] == [
            "gamma question",
            "beta question",
            "alpha question",
        ]
        assert every["next"] is None
        summary = every["data"][0]
        assert not {"system", "input", "output"} & set(summary) and summary["key_id"] == search["id"]
        assert [s["preview"] for s in admin.get("/admin/logs", params={"team": "ads"}).json()["data"]] == [
            "beta question"
        ]
        assert [s["preview"] for s in admin.get("/admin/logs", params={"key": search["id"]}).json()["data"]] == [
            "gamma question",
            "alpha question",
        ]
        found = admin.get("/admin/logs", params={"q": "ANSWER TO BETA"}).json()["data"]
        assert [s["preview"] for s in found] == ["beta question"]
        assert admin.get("/admin/logs", params={"model": "other"}).json()["data"] == []
        assert admin.get("/admin/logs", params={"since": time.time() + 3600}).json()["data"] == []
        first = admin.get("/admin/logs", params={"limit": 2}).json()
        assert len(first["data"]) == 2 and first["next"]
        rest = admin.get("/admin/logs", params={"limit": 2, "cursor": first["next"]}).json()
        assert [s["preview"] for s in rest["data"]] == ["alpha question"] and rest["next"] is None
        whole = admin.get(f"/admin/logs/{summary['request_id']}")
        assert whole.status_code == 200
        assert whole.json()["output"][0]["parts"] == [{"type": "text", "content": "Answer to gamma question"}]
        missing = admin.get("/admin/logs/no-such-request")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "log_not_found", missing.text
        assert admin.get("/admin/logs", params={"limit": 0}).status_code == 400
        assert admin.get("/admin/logs", params={"cursor": "@@"}).status_code == 400


def test_retention_and_max_bytes(make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread) -> None:
    config = LOGGED.replace("{enabled: true}", "{enabled: true, max_bytes: 1024, retention: 3600}")
    gateway = make_gateway(config)
    upstream.chat_responder = lambda body: Reply(json=completion("y" * 3000))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x" * 600}])
    (logged,) = _logged(gateway, loop_thread)
    assert logged["truncated"] is True
    assert logged["input"][0]["parts"][0]["content"] == "x" * 600
    assert logged["output"][0]["parts"][0]["content"] == "y" * 424
    store = gateway.app.runtime.response_store
    writer = gateway.app.runtime.conversations.sinks[0].writer
    assert loop_thread.run(store.delete_conversations_before(time.time() - 3600)) == 0  # younger than the retention
    writer._pruned_at = 0.0
    writer.retention = 1e-9  # everything is older now: the writer's next round prunes it
    assert eventually(lambda: loop_thread.run(store.conversations(LogQuery(0, time.time() + 60))) == [])


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_the_log_outlives_a_restart(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    loop_thread: LoopThread,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    backend: str,
) -> None:
    if backend == "sqlite":
        _restarted(make_gateway, upstream, loop_thread, f"sqlite:///{tmp_path / 'gateway.db'}")
        return
    dsn: str = request.getfixturevalue("postgres_dsn")  # skipped without a server, unless services are required
    with fresh_database(dsn, f"bglog_{uuid.uuid4().hex[:10]}") as database:
        _restarted(make_gateway, upstream, loop_thread, database)


def _restarted(make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, url: str) -> None:
    env = {"BABELGATE_STORE_URL": url, "BABELGATE_MASTER_KEY": MASTER}
    first = make_gateway(LOGGED, env=env)
    upstream.chat_responder = lambda body: Reply(json=completion("Kept."))
    key = _create(first)["key"]
    with openai.OpenAI(base_url=first.url + "/v1", api_key=key, max_retries=0, timeout=30) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "remember me"}])
    (logged,) = _logged(first, loop_thread)
    loop_thread.run(first.app.aclose())
    second = make_gateway(LOGGED, env=env)
    with httpx.Client(base_url=second.url, headers=ADMIN, timeout=30) as admin:
        page = admin.get("/admin/logs", params={"q": "remember"}).json()
        assert [s["request_id"] for s in page["data"]] == [logged["request_id"]]
        assert admin.get(f"/admin/logs/{logged['request_id']}").json()["input"] == logged["input"]


def test_a_reload_turns_the_log_on_and_off(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, tmp_path: Path
) -> None:
    gateway = make_gateway()
    assert gateway.app.runtime.conversations is None  # off: nothing is held for it
    upstream.chat_responder = lambda body: Reply(json=completion("ok"))
    path = tmp_path / "logged.yaml"
    path.write_text(LOGGED)
    logged_config = load_config(path, base_env(upstream), available_types=PROVIDER_TYPES)

    async def swap(config: Any) -> None:
        gateway.app.app.swap(config)

    def ask(prompt: str) -> None:
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30) as client:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])

    ask("before")
    loop_thread.run(swap(logged_config))
    ask("during")
    (logged,) = _logged(gateway, loop_thread)
    assert logged["input"][0]["parts"][0]["content"] == "during"
    loop_thread.run(swap(load_config(None, base_env(upstream), available_types=PROVIDER_TYPES)))
    assert gateway.app.runtime.conversations is None
    ask("after")
    store = gateway.app.runtime.response_store
    assert len(loop_thread.run(store.conversations(LogQuery(0, time.time() + 60)))) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_completions_and_embeddings_are_logged(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, stream: bool
) -> None:
    gateway = make_gateway(LOGGED)
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30) as client:
        if stream:
            pieces = client.completions.create(model="gpt-4o-mini", prompt=f"Mail {EMAIL}", stream=True)
            assert "".join(choice.text for piece in pieces for choice in piece.choices) == "Hello!"
        else:
            assert client.completions.create(model="gpt-4o-mini", prompt=f"Mail {EMAIL}").choices[0].text == "Hello!"
        client.embeddings.create(model="text-embedding-3-small", input=["embed me", f"and {EMAIL}"])
    embedded, completed = _logged(gateway, loop_thread, 2)
    assert completed["route"] != embedded["route"] and completed["stream"] is stream
    assert completed["input"] == [{"role": "user", "parts": [{"type": "text", "content": "Mail <EMAIL_1>"}]}]
    assert completed["output"] == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}], "finish_reason": "stop"}
    ]
    assert [message["parts"][0]["content"] for message in embedded["input"]] == ["embed me", "and <EMAIL_1>"]
    assert embedded["output"] == []


@pytest.mark.parametrize("contents", [["embed me", f"and {EMAIL}"], f"and {EMAIL}"], ids=["batch", "one"])
def test_the_gemini_embedding_doors_are_masked_and_logged(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, contents: Any
) -> None:
    gateway = make_gateway(LOGGED)
    options = gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=30_000)
    with genai.Client(api_key="unused", http_options=options) as client:
        answer = client.models.embed_content(model="text-embedding-3-small", contents=contents)
    assert answer.embeddings and len(answer.embeddings) == (len(contents) if isinstance(contents, list) else 1)
    sent = [received.json for received in upstream.received if received.path == "/v1/embeddings"]
    assert EMAIL not in json.dumps(sent) and "<EMAIL_1>" in json.dumps(sent)  # masked before it left
    (embedded,) = _logged(gateway, loop_thread)
    texts = [message["parts"][0]["content"] for message in embedded["input"]]
    assert texts == (["embed me", "and <EMAIL_1>"] if isinstance(contents, list) else ["and <EMAIL_1>"])
    assert embedded["output"] == []


def test_ollama_generate_and_a_gemini_json_array_stream_are_logged(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    gateway = make_gateway(LOGGED)
    with ollama_client(gateway) as client:
        said = "".join(
            part.response or ""
            for part in client.generate(model="gpt-4o-mini", prompt="Why?", system="Be brief.", stream=True)
        )
    assert said == "Hello!"
    with httpx.Client(timeout=30) as web:
        answer = web.post(
            gateway.url + "/v1beta/models/gpt-4o-mini:streamGenerateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "Array?"}]}]},
            headers={"x-goog-api-key": "unused"},
        )
    assert answer.status_code == 200 and answer.text.lstrip().startswith("["), answer.text
    gemini, generated = _logged(gateway, loop_thread, 2)
    assert generated["system"] == [{"type": "text", "content": "Be brief."}]
    assert generated["input"] == [{"role": "user", "parts": [{"type": "text", "content": "Why?"}]}]
    assert generated["output"][0]["parts"] == [{"type": "text", "content": "Hello!"}]
    assert gemini["input"] == [{"role": "user", "parts": [{"type": "text", "content": "Array?"}]}]
    assert gemini["output"][0]["parts"] == [{"type": "text", "content": "Hello!"}] and gemini["stream"] is True


def test_a_blocked_request_is_not_logged_and_a_failed_one_is_without_output(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    card = "4111 1111 1111 1111"
    config = LOGGED.replace(
        "guardrails:\n", "guardrails:\n  - {name: no-cards, kind: pii, entities: [credit_card], action: block}\n"
    ).replace("[emails, secrets]", "[no-cards, emails, secrets]")
    gateway = make_gateway(config)
    upstream.chat_responder = lambda body: Reply(
        status=400, json={"error": {"message": "bad", "type": "invalid_request_error"}}
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30) as client:
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"Card {card}"}])
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "upstream says no"}]
            )
    (logged,) = _logged(gateway, loop_thread)
    assert logged["input"][0]["parts"][0]["content"] == "upstream says no"
    assert logged["output"] == [] and logged["status"] == 400 and logged["error_code"], logged
    assert card not in json.dumps(_logged(gateway, loop_thread))


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("cloud", ["bedrock", "vertex"])
def test_the_anthropic_cloud_doors_are_logged(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread, cloud: str, stream: bool
) -> None:
    gateway = make_gateway(LOGGED, env={"BABELGATE_API_KEYS": CLOUD_KEY})
    if stream:
        upstream.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":', '"Paris"}'])])))  # type: ignore[arg-type]
    else:
        upstream.script(
            Reply(json=completion(None, tool_calls=[tool_call("call_1", "get_weather", '{"city":"Paris"}')]))
        )
    client = bedrock_client(gateway) if cloud == "bedrock" else vertex_client(gateway)
    with client:
        asked: list[MessageParam] = [{"role": "user", "content": "Weather in Paris?"}]
        answer = _ask(client, "openai/gpt-4o-mini", asked, stream=stream)
    assert answer.content[-1].type == "tool_use"
    (logged,) = _logged(gateway, loop_thread)
    assert logged["input"] == [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
    (said,) = logged["output"]
    calls = [part for part in said["parts"] if part["type"] == "tool_call"]
    assert [(call["name"], call["arguments"]) for call in calls] == [("get_weather", {"city": "Paris"})], said
    assert said["finish_reason"] == "tool_use" and logged["stream"] is stream
