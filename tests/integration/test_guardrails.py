"""Guardrails through the gateway, with the official clients: what a guardrail blocks never reaches the upstream
and comes back as `guardrail_blocked` in the door's own error format; what it masks reaches the upstream masked;
a reversible mask comes back to the client whole; an answer's texts are checked before the client sees them,
a stream's as it flows (a secret split across two chunks still caught); and each decision is in the ledger and
the metrics."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterator
from typing import Any

import anthropic
import boto3
import botocore.config
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gt

from tests.conftest import GatewayFactory
from tests.fakes.guardrail_checker import FakeChecker
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread
from tests.integration.ollama_helpers import ollama_client
from tests.integration.test_anthropic_clouds import KEY as CLOUD_KEY
from tests.integration.test_anthropic_clouds import bedrock_client, vertex_client
from tests.integration.test_virtual_keys import MASTER, _create
from tests.waiting import eventually

CARD = "4111 1111 1111 1111"  # a Visa test number: Luhn-valid
EMAIL = "ada@example.com"
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2

CONFIG = """
guardrails:
  - {name: no-cards, kind: pii, entities: [credit_card], action: block}
  - {name: emails, kind: pii, entities: [email], action: mask, mask_style: reversible, stage: input}
  - {name: secrets, kind: pii, entities: [secret], action: mask, mask_style: redact, stage: output}
  - {name: codename, kind: words, words: [bluebird], action: block, stage: input}
server:
  guardrails: [no-cards, emails, secrets]
"""


def _client(gateway: Any, key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0, timeout=30)


def _sent(upstream: FakeOpenAI) -> list[dict[str, Any]]:
    return [received.json for received in upstream.received if received.path == "/v1/chat/completions"]


def _echo(body: dict[str, Any]) -> Reply:
    """The upstream answers with the last message it was sent: what the model saw comes back."""
    return Reply(json=completion("You said: " + body["messages"][-1]["content"]))


def test_a_blocked_request_reaches_no_upstream_and_is_a_400_in_each_door_s_format(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(CONFIG)
    with _client(gateway) as client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"My card is {CARD}, charge it."}]
        )
    error = refused.value.body
    assert isinstance(error, dict) and error["code"] == "guardrail_blocked" and error["param"] == "no-cards", error
    assert "no-cards" in error["message"] and CARD not in json.dumps(error)
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=30) as messages,
        pytest.raises(anthropic.BadRequestError) as also,
    ):
        messages.messages.create(
            model="gpt-4o-mini",
            max_tokens=16,
            system="Be brief.",
            messages=[{"role": "user", "content": [{"type": "text", "text": f"Card: {CARD}"}]}],
        )
    assert also.value.body["type"] == "error" and "no-cards" in also.value.body["error"]["message"]  # type: ignore[index]
    assert _sent(upstream) == []


def test_a_reversible_mask_hides_the_value_from_the_model_and_gives_it_back_to_the_client(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(CONFIG)
    upstream.chat_responder = _echo
    with _client(gateway) as client:
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": f"Write to {EMAIL} today."}]
        )
    (sent,) = _sent(upstream)
    assert EMAIL not in json.dumps(sent) and "<EMAIL_1>" in sent["messages"][-1]["content"]
    assert answer.choices[0].message.content == f"You said: Write to {EMAIL} today."


def test_an_answer_s_secret_is_masked_whole_and_streamed(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(CONFIG)
    upstream.replies.append(Reply(json=completion(f"Use {OPENAI_KEY} to call it.")))
    half = len(OPENAI_KEY) // 2
    pieces = ["Use ", OPENAI_KEY[:half], OPENAI_KEY[half:], " to call it."]
    upstream.replies.append(Reply(stream=text_stream(pieces, include_usage=True)))  # type: ignore[arg-type]
    with _client(gateway) as client:
        whole = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Key?"}])
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Key?"}], stream=True
        )
        streamed = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert whole.choices[0].message.content == "Use [REDACTED] to call it."
    assert streamed == "Use [REDACTED] to call it."


def test_a_stream_whose_answer_a_guardrail_blocks_ends_with_its_error_event(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(CONFIG)
    upstream.replies.append(Reply(stream=text_stream(["Your card: 4111 1111 ", "1111 1111. Done."])))  # type: ignore[arg-type]
    with _client(gateway) as client, pytest.raises(openai.APIError) as ended:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Card?"}], stream=True
        )
        text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
        pytest.fail(f"the stream ended cleanly with {text!r}")
    assert "no-cards" in str(ended.value)


@pytest.mark.parametrize("reply", ["secret", "card"])
def test_a_gemini_stream_without_sse_is_guarded_as_it_flows(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, reply: str
) -> None:
    """Without `alt=sse` the Gemini door streams one JSON array, an element at a time: each element's text goes
    through the same windows as an SSE stream's, and the array stays whole."""
    gateway = make_gateway(CONFIG)
    half = len(OPENAI_KEY) // 2
    pieces = (
        ["Key ", OPENAI_KEY[:half], OPENAI_KEY[half:], " ok."] if reply == "secret" else ["4111 1111 ", "1111 1111"]
    )
    upstream.replies.append(Reply(stream=text_stream(pieces, include_usage=True)))  # type: ignore[arg-type]
    url = gateway.url + "/v1beta/models/gpt-4o-mini:streamGenerateContent"
    body = {"contents": [{"role": "user", "parts": [{"text": "Tell me."}]}]}
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", url, json=body, headers={"x-goog-api-key": "k"}) as got,
    ):
        chunks = [chunk for chunk in got.iter_bytes() if chunk]
    whole = b"".join(chunks)
    assert len(chunks) > 1, "the array came in one piece: it was not streamed"
    elements = json.loads(whole)
    texts = "".join(
        part.get("text", "")
        for element in elements
        for candidate in element.get("candidates", [])
        for part in candidate["content"]["parts"]
    )
    if reply == "secret":
        assert texts == "Key [REDACTED] ok." and OPENAI_KEY[:half].encode() not in whole
    else:
        assert "4111" not in texts and elements[-1]["error"]["status"] == "INVALID_ARGUMENT", elements[-1]


@pytest.mark.parametrize("cloud", ["bedrock", "vertex"])
def test_the_claude_cloud_doors_streams_are_guarded_as_they_flow(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, cloud: str
) -> None:
    """Bedrock's event stream is written after the output guardrails read the answer as Anthropic's SSE."""
    gateway = make_gateway(CONFIG, env={"BABELGATE_API_KEYS": CLOUD_KEY})
    half = len(OPENAI_KEY) // 2
    upstream.replies.append(Reply(stream=text_stream(["Key ", OPENAI_KEY[:half], OPENAI_KEY[half:], " ok."])))  # type: ignore[arg-type]
    client = bedrock_client(gateway) if cloud == "bedrock" else vertex_client(gateway)
    with (
        client,
        client.messages.stream(
            model="openai/gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "Key?"}]
        ) as events,
    ):
        deltas = [event.delta.text for event in events if event.type == "content_block_delta"]  # type: ignore[union-attr]
    assert len(deltas) > 1 and "".join(deltas) == "Key [REDACTED] ok.", deltas


def test_guardrails_a_key_adds_apply_to_its_requests_only(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(CONFIG, env={"BABELGATE_MASTER_KEY": MASTER})
    guarded = _create(gateway, guardrails=["codename"])["key"]
    plain = _create(gateway)["key"]
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Project bluebird ships."}]}
    with _client(gateway, plain) as client:
        client.chat.completions.create(**request)  # type: ignore[call-overload]
    with _client(gateway, guarded) as client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(**request)  # type: ignore[call-overload]
    assert refused.value.body["param"] == "codename"  # type: ignore[index]
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {MASTER}"}, timeout=30) as admin:
        unknown = admin.post("/admin/keys", json={"guardrails": ["nope"]})
    assert unknown.status_code == 400 and "nope" in unknown.text


def test_a_team_s_guardrails_set_through_the_admin_api_apply_to_its_keys_at_once(
    make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = make_gateway(CONFIG, env={"BABELGATE_MASTER_KEY": MASTER})
    request = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Project bluebird ships."}]}
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {MASTER}"}, timeout=30) as admin:
        unknown = admin.post("/admin/teams", json={"id": "research", "guardrails": ["nope"]})
        assert unknown.status_code == 400 and "nope" in unknown.text
        made = admin.post("/admin/teams", json={"id": "research", "guardrails": ["codename"]})
        assert made.status_code == 201 and made.json()["guardrails"] == ["codename"]
        key = _create(gateway, team="research")["key"]
        with _client(gateway, key) as client, pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(**request)  # type: ignore[call-overload]
        assert refused.value.body["code"] == "guardrail_blocked"  # type: ignore[index]
        assert refused.value.body["param"] == "codename"  # type: ignore[index]
        # Taken off the team, the guardrail no longer applies to its keys: the change is read at once.
        assert admin.patch("/admin/teams/research", json={"guardrails": None}).json()["guardrails"] == []
        with _client(gateway, key) as client:
            client.chat.completions.create(**request)  # type: ignore[call-overload]
        assert admin.patch("/admin/teams/research", json={"guardrails": ["nope"]}).status_code == 400


def test_each_decision_is_in_the_ledger_and_the_metrics(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, loop_thread: LoopThread
) -> None:
    gateway = make_gateway(CONFIG, env={"BABELGATE_MASTER_KEY": MASTER})
    key = _create(gateway)["key"]
    upstream.chat_responder = _echo
    with _client(gateway, key) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"Mail {EMAIL}"}])
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": CARD}])
    with httpx.Client(base_url=gateway.url, headers={"authorization": f"Bearer {key}"}, timeout=30) as reader:
        metrics = reader.get("/metrics").text
    assert 'babelgate_guardrail_decisions_total{action="mask",name="emails",stage="input"} 1.0' in metrics
    assert 'babelgate_guardrail_decisions_total{action="block",name="no-cards",stage="input"} 1.0' in metrics
    store = gateway.app.runtime.response_store

    def decided() -> list[Any]:
        rows = loop_thread.run(store.usage(0, time.time() + 60))
        return [json.loads(row["guardrails"]) for row in rows if row.get("guardrails")]

    assert eventually(lambda: len(decided()) == 2)
    assert sorted(decided(), key=len) == [
        {"no-cards": "block"},
        {"no-cards": "allow", "emails": "mask", "secrets": "allow"},
    ]


def test_the_ollama_door_masks_its_streamed_lines(make_gateway: GatewayFactory, upstream: FakeOpenAI) -> None:
    gateway = make_gateway(CONFIG)
    half = len(OPENAI_KEY) // 2
    upstream.replies.append(
        Reply(stream=text_stream(["Key: ", OPENAI_KEY[:half], OPENAI_KEY[half:]], include_usage=True))  # type: ignore[arg-type]
    )
    with ollama_client(gateway) as ollama:
        parts = ollama.chat(model="gpt-4o-mini", messages=[{"role": "user", "content": "Key?"}], stream=True)
        assert "".join(part.message.content or "" for part in parts) == "Key: [REDACTED]"


# Each door, through the official client, streamed and not: what the model saw (masked), and what the client
# got back (the upstream's secret masked, a split one too).
def _chat_door(gateway: Any, prompt: str, stream: bool) -> str:
    with _client(gateway) as client:
        if not stream:
            answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
            return answer.choices[0].message.content or ""
        chunks = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


def _responses_door(gateway: Any, prompt: str, stream: bool) -> str:
    with _client(gateway) as client:
        if not stream:
            return client.responses.create(model="gpt-4o-mini", input=prompt).output_text
        events = list(client.responses.create(model="gpt-4o-mini", input=prompt, stream=True))
        deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
        done = [event.text for event in events if event.type == "response.output_text.done"]
        completed = [event.response.output_text for event in events if event.type == "response.completed"]
        assert done == completed == [deltas], (done, completed, deltas)  # the repeated whole texts agree
        return deltas


def _responses_socket_door(gateway: Any, prompt: str, stream: bool) -> str:
    with warnings.catch_warnings():
        # The SDK's sync client opens its socket without the context manager websockets prefers.
        warnings.filterwarnings("ignore", "connect\\(\\) must be used as a context manager", DeprecationWarning)
        return _over_socket(gateway, prompt)


def _over_socket(gateway: Any, prompt: str) -> str:
    with _client(gateway) as client, client.responses.connect() as connection:
        connection.response.create(model="gpt-4o-mini", input=prompt, store=False)
        deltas = ""
        for event in connection:
            if event.type == "response.output_text.delta":
                deltas += event.delta
            if event.type == "response.completed":
                assert event.response.output_text == deltas
                return deltas
            assert event.type not in ("error", "response.failed"), event
    raise AssertionError("the socket closed before the response completed")


def _messages_door(gateway: Any, prompt: str, stream: bool) -> str:
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=30) as client:
        request: dict[str, Any] = {
            "model": "gpt-4o-mini",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": prompt}],
        }
        if not stream:
            answer = client.messages.create(**request)
            return "".join(block.text for block in answer.content if block.type == "text")
        with client.messages.stream(**request) as events:
            return "".join(events.text_stream)


def _gemini_door(gateway: Any, prompt: str, stream: bool) -> str:
    options = gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=30_000)
    with genai.Client(api_key="unused", http_options=options) as client:
        if not stream:
            return client.models.generate_content(model="gpt-4o-mini", contents=prompt).text or ""
        parts = client.models.generate_content_stream(model="gpt-4o-mini", contents=prompt)
        return "".join(part.text or "" for part in parts)


def _ollama_door(gateway: Any, prompt: str, stream: bool) -> str:
    with ollama_client(gateway) as client:
        if not stream:
            return (
                client.chat(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]).message.content or ""
            )
        parts = client.chat(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}], stream=True)
        return "".join(part.message.content or "" for part in parts)


def _converse_door(gateway: Any, prompt: str, stream: bool) -> str:
    """boto3's bedrock-runtime client on the Converse door (a key beside its SigV4 signature: tests/integration/
    test_converse.py)."""
    client = boto3.session.Session(aws_access_key_id="AKIAEXAMPLEKEY000004", aws_secret_access_key="unused").client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=gateway.url,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
    )
    client.meta.events.register(
        "before-sign.bedrock-runtime.*", lambda request, **_: request.headers.__setitem__("x-api-key", "unused")
    )
    messages = [{"role": "user", "content": [{"text": prompt}]}]
    try:
        if not stream:
            return str(
                client.converse(modelId="gpt-4o-mini", messages=messages)["output"]["message"]["content"][0]["text"]
            )
        events = client.converse_stream(modelId="gpt-4o-mini", messages=messages)["stream"]
        return "".join(
            event["contentBlockDelta"]["delta"].get("text", "") for event in events if "contentBlockDelta" in event
        )
    finally:
        client.close()


DOORS = {
    "chat": _chat_door,
    "converse": _converse_door,
    "responses": _responses_door,
    "responses-websocket": _responses_socket_door,
    "messages": _messages_door,
    "gemini": _gemini_door,
    "ollama": _ollama_door,
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("door", sorted(DOORS))
def test_every_door_masks_what_goes_in_and_what_comes_out(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, door: str, stream: bool
) -> None:
    gateway = make_gateway(CONFIG)
    half = len(OPENAI_KEY) // 2

    def answer(body: dict[str, Any]) -> Reply:
        said = json.dumps(body["messages"])
        assert EMAIL not in said and "<EMAIL_1>" in said, said
        if body.get("stream"):
            pieces = ["Key ", OPENAI_KEY[:half], OPENAI_KEY[half:], " for <EMAIL_1>."]
            return Reply(stream=text_stream(pieces, include_usage=True))  # type: ignore[arg-type]
        return Reply(json=completion(f"Key {OPENAI_KEY} for <EMAIL_1>."))

    upstream.chat_responder = answer
    got = DOORS[door](gateway, f"Send the key to {EMAIL}.", stream or door == "responses-websocket")
    assert got == f"Key [REDACTED] for {EMAIL}.", got
    assert _sent(upstream), "the upstream was not called"


@pytest.fixture
def checker(loop_thread: LoopThread) -> Iterator[FakeChecker]:
    fake = FakeChecker()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())
    assert fake.violations == []


def _checked(checker: FakeChecker, behaviour: str, fail: str = "closed") -> str:
    # A checker that never answers is given up on soon; the others have a busy machine's time.
    timeout = 0.5 if behaviour == "slow" else 10
    return f"""
guardrails:
  - {{name: outside, kind: http, url: "{checker.url}/{behaviour}", timeout: {timeout}, fail: {fail},
      stage: input, action: mask, headers: {{x-checker-token: t0k3n}}}}
server:
  guardrails: [outside]
"""


@pytest.mark.parametrize(
    ("behaviour", "fail", "prompt", "sent", "refused"),
    [
        ("allow", "closed", "All fine.", "All fine.", False),
        ("block", "closed", "A forbidden question.", None, True),
        ("block", "closed", "An allowed question.", "An allowed question.", False),
        ("mask", "closed", "Room 1234, please.", "Room ####, please.", False),
        ("slow", "closed", "Hello.", None, True),
        ("slow", "open", "Hello.", "Hello.", False),
        ("broken", "closed", "Hello.", None, True),
        ("broken", "open", "Hello.", "Hello.", False),
        ("garbled", "closed", "Hello.", None, True),
    ],
)
def test_an_external_checker_allows_blocks_masks_and_its_failures_follow_fail(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    checker: FakeChecker,
    behaviour: str,
    fail: str,
    prompt: str,
    sent: str | None,
    refused: bool,
) -> None:
    gateway = make_gateway(_checked(checker, behaviour, fail))
    with _client(gateway) as client:
        if refused:
            with pytest.raises(openai.BadRequestError) as blocked:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
            assert blocked.value.body["param"] == "outside"  # type: ignore[index]
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    assert [body["messages"][-1]["content"] for body in _sent(upstream)] == ([sent] if sent is not None else [])
    assert checker.received and checker.received[0] == {
        "stage": "input",
        "text": prompt,
        "model": "gpt-4o-mini",
        "key_id": None,
    }
