"""The external checkers (`moderation`, `bedrock`, `azure_content_safety`, `presidio`) through the gateway, each
asking a fake of its service that checks the request's wire format (tests/fakes/guardrail_services.py, and the
fake Bedrock for ApplyGuardrail, its SigV4 signature recomputed with botocore): what each allows, blocks or only
records, what a timeout and a service error mean under `fail: open` and `fail: closed`, the ledger row and the
metric of each decision; whole and streamed answers through the openai and anthropic clients; Presidio's masks;
and `parallel` input checks, which run while the upstream answers and whose block discards its answer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import anthropic
import httpx
import ollama
import openai
import pytest

from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.conftest import GatewayFactory, base_env
from tests.fakes.bedrock_upstream import AwsKey, FakeBedrock
from tests.fakes.guardrail_checker import FakeChecker
from tests.fakes.guardrail_services import FakeContentSafety, FakeModeration, FakePresidio
from tests.fakes.openai_upstream import FakeOpenAI, completion, text_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread
from tests.integration.ollama_helpers import ollama_client
from tests.integration.test_guardrails import DOORS
from tests.waiting import eventually

MODERATION_KEY = "sk-moderation-upstream-0123456789"
SAFETY_KEY = "content-safety-key-0123456789abcdef"
ACCESS_KEY = "AKIAGUARDRAILFAKE001"
SECRET_KEY = "fake/Secret+Key/For+Guardrails/0123456789"
KINDS = ("moderation", "bedrock", "azure_content_safety", "presidio")


@dataclass
class Service:
    """One kind's fake service, its configuration and how to make it behave."""

    kind: str
    providers: str  # the `providers:` entries it needs
    fields: Callable[[str], str]  # the guardrail's own fields, for a behaviour
    behave: Callable[[str], None]
    asked: Callable[[], list[Any]]  # what the service received
    env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def _fakes(loop_thread: LoopThread) -> Iterator[tuple[FakeModeration, FakeContentSafety, FakePresidio]]:
    fakes = (FakeModeration(MODERATION_KEY), FakeContentSafety(SAFETY_KEY), FakePresidio())
    for fake in fakes:
        loop_thread.run(fake.start())
    yield fakes
    for fake in fakes:
        loop_thread.run(fake.stop())


@pytest.fixture
def moderation(_fakes: tuple[FakeModeration, FakeContentSafety, FakePresidio]) -> Iterator[FakeModeration]:
    yield from _fresh(_fakes[0])


@pytest.fixture
def safety(_fakes: tuple[FakeModeration, FakeContentSafety, FakePresidio]) -> Iterator[FakeContentSafety]:
    yield from _fresh(_fakes[1])


@pytest.fixture
def presidio(_fakes: tuple[FakeModeration, FakeContentSafety, FakePresidio]) -> Iterator[FakePresidio]:
    yield from _fresh(_fakes[2])


def _fresh(fake: Any) -> Iterator[Any]:
    fake.received.clear()
    fake.violations.clear()
    fake.behaviour = "allow"
    yield fake
    assert fake.violations == [], "the gateway sent what the service refuses"


@pytest.fixture
def bedrock(bedrock_upstream: FakeBedrock, no_aws_environment: None) -> FakeBedrock:
    bedrock_upstream.iam[ACCESS_KEY] = AwsKey(SECRET_KEY)
    return bedrock_upstream


@pytest.fixture
def service(request: pytest.FixtureRequest) -> Service:
    kind = request.param
    if kind == "moderation":
        fake = request.getfixturevalue("moderation")
        return Service(
            kind,
            f"  mod: {{type: openai, base_url: '{fake.api_base}', api_key: env:MOD_KEY}}\n",
            lambda _: "model: omni",
            lambda behaviour: setattr(fake, "behaviour", behaviour),
            lambda: fake.received,
            {"MOD_KEY": MODERATION_KEY},
        )
    if kind == "bedrock":
        aws = request.getfixturevalue("bedrock")
        aws.guardrails[("gr-1", "3")] = ("forbidden",)
        ids = {"slow": "slow", "broken": "broken", "allow": "gr-open"}
        aws.guardrails[("gr-open", "3")] = ("nothing-is-this",)
        return Service(
            kind,
            f"  aws:\n    type: bedrock\n    region: us-east-1\n    base_url: {aws.base_url}\n"
            "    aws_access_key_id: env:BEDROCK_KEY_ID\n    aws_secret_access_key: env:BEDROCK_SECRET\n",
            lambda behaviour: f"guardrail_id: {ids.get(behaviour, 'gr-1')}, guardrail_version: '3', provider: aws",
            lambda behaviour: None,
            lambda: [r for r in aws.received if r.path.startswith("/guardrail/")],
            {"BEDROCK_KEY_ID": ACCESS_KEY, "BEDROCK_SECRET": SECRET_KEY},
        )
    if kind == "azure_content_safety":
        fake = request.getfixturevalue("safety")
        return Service(
            kind,
            "",
            lambda _: f"base_url: '{fake.base_url}', api_key: env:SAFETY_KEY",
            lambda behaviour: setattr(fake, "behaviour", behaviour),
            lambda: fake.received,
            {"SAFETY_KEY": SAFETY_KEY},
        )
    fake = request.getfixturevalue("presidio")
    return Service(
        kind,
        "",
        lambda _: f"analyzer_url: '{fake.base_url}'",
        lambda behaviour: setattr(fake, "behaviour", behaviour),
        lambda: fake.received,
    )


def _config(
    service: Service, behaviour: str, *, fail: str = "closed", action: str = "block", stage: str = "input"
) -> str:
    service.behave(behaviour)
    timeout = 0.5 if behaviour == "slow" else 10  # a service that never answers is given up on soon
    providers = f"providers:\n{service.providers}" if service.providers else ""
    models = "models:\n  omni: {provider: mod, model: omni-moderation-latest}" if service.kind == "moderation" else ""
    return f"""
{providers}
{models}
guardrails:
  - {{name: outside, kind: {service.kind}, {service.fields(behaviour)}, timeout: {timeout}, fail: {fail},
      action: {action}, stage: {stage}}}
server:
  guardrails: [outside]
"""


def _client(gateway: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30)


def _sent(upstream: FakeOpenAI) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in upstream.received if r.path == "/v1/chat/completions"]


def _decisions(gateway: Any, loop_thread: LoopThread) -> list[dict[str, str]]:
    store = gateway.app.runtime.response_store

    def decided() -> list[dict[str, str]]:
        rows = loop_thread.run(store.usage(0, time.time() + 60))
        return [json.loads(row["guardrails"]) for row in rows if row.get("guardrails")]

    assert eventually(lambda: len(decided()) >= 1)
    return decided()


def _metric(gateway: Any, action: str, stage: str = "input") -> bool:
    with httpx.Client(base_url=gateway.url, timeout=30) as reader:
        metrics = reader.get("/metrics").text
    return f'babelgate_guardrail_decisions_total{{action="{action}",name="outside",stage="{stage}"}} 1.0' in metrics


@pytest.mark.parametrize("service", KINDS, indirect=True)
@pytest.mark.parametrize(
    ("behaviour", "fail", "action", "prompt", "refused", "decision"),
    [
        ("allow", "closed", "block", "A forbidden question.", False, "allow"),
        ("flag", "closed", "block", "A forbidden question.", True, "block"),
        ("flag", "closed", "block", "An allowed question.", False, "allow"),
        ("flag", "closed", "log", "A forbidden question.", False, "log"),
        ("slow", "closed", "block", "Hello.", True, "block"),
        ("slow", "open", "block", "Hello.", False, "failed_open"),
        ("broken", "closed", "block", "Hello.", True, "block"),
        ("broken", "open", "block", "Hello.", False, "failed_open"),
    ],
)
def test_each_checker_allows_blocks_logs_and_its_failures_follow_fail(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    loop_thread: LoopThread,
    service: Service,
    behaviour: str,
    fail: str,
    action: str,
    prompt: str,
    refused: bool,
    decision: str,
) -> None:
    gateway = make_gateway(_config(service, behaviour, fail=fail, action=action), env=service.env)
    with _client(gateway) as client:
        if refused:
            with pytest.raises(openai.BadRequestError) as blocked:
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
            assert blocked.value.body["code"] == "guardrail_blocked"  # type: ignore[index]
            assert blocked.value.body["param"] == "outside"  # type: ignore[index]
        else:
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}])
    assert _sent(upstream) == ([] if refused else [prompt])
    assert service.asked(), "the service was not asked"
    assert _decisions(gateway, loop_thread) == [{"outside": decision}]
    assert _metric(gateway, decision)


FORBIDDEN_ANSWER = ["This is ", "a forbidden ", "answer."]


@pytest.mark.parametrize("service", KINDS, indirect=True)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_each_checker_reads_the_answer_whole_and_streamed(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, service: Service, stream: bool
) -> None:
    gateway = make_gateway(_config(service, "flag", stage="output"), env=service.env)
    upstream.replies.append(
        Reply(stream=text_stream(FORBIDDEN_ANSWER, include_usage=True))  # type: ignore[arg-type]
        if stream
        else Reply(json=completion("".join(FORBIDDEN_ANSWER)))
    )
    upstream.replies.append(
        Reply(stream=text_stream(["An ", "allowed ", "answer."], include_usage=True))  # type: ignore[arg-type]
        if stream
        else Reply(json=completion("An allowed answer."))
    )
    got = ""
    with _client(gateway) as client:
        request: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
        if not stream:
            with pytest.raises(openai.BadRequestError) as blocked:
                client.chat.completions.create(**request)
            assert blocked.value.body["param"] == "outside"  # type: ignore[index]
            allowed = client.chat.completions.create(**request).choices[0].message.content
        else:
            with pytest.raises(openai.APIError) as ended:
                for chunk in client.chat.completions.create(**request, stream=True):
                    got += "".join(choice.delta.content or "" for choice in chunk.choices)
            assert "outside" in str(ended.value)
            assert got == "".join(FORBIDDEN_ANSWER)  # what went out before the end stays out
            chunks = list(client.chat.completions.create(**request, stream=True))
            allowed = "".join(c.delta.content or "" for chunk in chunks for c in chunk.choices)
            assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    assert allowed == "An allowed answer."
    asked = json.dumps([getattr(r, "json", None) or r.get("body") for r in service.asked()])
    assert "a forbidden answer." in asked and "An allowed answer." in asked  # each answer read whole, once
    assert _metric(gateway, "block", "output") and _metric(gateway, "allow", "output")


@pytest.mark.parametrize("service", ["moderation", "presidio"], indirect=True)
def test_a_streamed_answer_the_checker_blocks_ends_the_messages_door_with_its_error(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, service: Service
) -> None:
    gateway = make_gateway(_config(service, "flag", stage="output"), env=service.env)
    upstream.replies.append(Reply(stream=text_stream(FORBIDDEN_ANSWER, include_usage=True)))  # type: ignore[arg-type]
    upstream.replies.append(Reply(json=completion("".join(FORBIDDEN_ANSWER))))
    request: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    with anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=30) as client:
        with pytest.raises(anthropic.APIError) as ended, client.messages.stream(**request) as events:
            "".join(events.text_stream)
        assert "outside" in str(ended.value)
        with pytest.raises(anthropic.BadRequestError) as blocked:
            client.messages.create(**request)
    assert "outside" in blocked.value.body["error"]["message"]  # type: ignore[index]


def _presidio_config(presidio: FakePresidio, style: str, anonymizer: bool) -> str:
    extra = f", anonymizer_url: '{presidio.base_url}'" if anonymizer else ""
    return f"""
guardrails:
  - {{name: pii, kind: presidio, analyzer_url: '{presidio.base_url}'{extra}, action: mask, mask_style: {style},
      stage: input}}
server:
  guardrails: [pii]
"""


@pytest.mark.parametrize(
    ("style", "anonymizer", "seen", "answered"),
    [
        ("reversible", False, "Mail <EMAIL_ADDRESS_1> today.", "You said: Mail ada@example.com today."),
        ("placeholder", False, "Mail <EMAIL_ADDRESS> today.", "You said: Mail <EMAIL_ADDRESS> today."),
        ("redact", False, "Mail [REDACTED] today.", "You said: Mail [REDACTED] today."),
        ("placeholder", True, "Mail <EMAIL_ADDRESS> today.", "You said: Mail <EMAIL_ADDRESS> today."),
    ],
)
def test_presidio_masks_what_its_analyzer_finds(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    presidio: FakePresidio,
    style: str,
    anonymizer: bool,
    seen: str,
    answered: str,
) -> None:
    gateway = make_gateway(_presidio_config(presidio, style, anonymizer))

    def echo(body: dict[str, Any]) -> Reply:
        said = "You said: " + body["messages"][-1]["content"]
        if body.get("stream"):
            return Reply(stream=text_stream([said[:14], said[14:]], include_usage=True))  # type: ignore[arg-type]
        return Reply(json=completion(said))

    upstream.chat_responder = echo
    with _client(gateway) as client:
        answer = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "Mail ada@example.com today."}]
        )
        streamed = "".join(
            c.delta.content or ""
            for chunk in client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "Mail ada@example.com today."}], stream=True
            )
            for c in chunk.choices
        )
    assert _sent(upstream) == [seen, seen]
    assert answer.choices[0].message.content == answered
    assert streamed == answered  # a reversible mask's placeholder is put back in a stream too
    assert [r["path"] for r in presidio.received].count("/anonymize") == (2 if anonymizer else 0)


def test_content_safety_splits_long_texts_and_blocks_from_its_threshold(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, safety: FakeContentSafety
) -> None:
    safety.behaviour = "flag"
    config = f"""
guardrails:
  - {{name: medium, kind: azure_content_safety, base_url: '{safety.base_url}', api_key: env:SAFETY_KEY, stage: input}}
  - {{name: high, kind: azure_content_safety, base_url: '{safety.base_url}', api_key: env:SAFETY_KEY, stage: input,
      threshold: 4}}
models:
  strict: {{provider: openai, model: gpt-4o-mini, guardrails: [medium]}}
  lenient: {{provider: openai, model: gpt-4o-mini, guardrails: [high]}}
"""
    gateway = make_gateway(config, env={"SAFETY_KEY": SAFETY_KEY})
    long_text = "a" * 24_000 + " forbidden"
    with _client(gateway) as client:
        with pytest.raises(openai.BadRequestError) as blocked:
            client.chat.completions.create(model="lenient", messages=[{"role": "user", "content": long_text}])
        assert blocked.value.body["param"] == "high"  # type: ignore[index]
        parts = [r["body"]["text"] for r in safety.received]
        assert [len(part) for part in parts] == [10_000, 10_000, 4_010] and "".join(parts) == long_text
        client.chat.completions.create(model="lenient", messages=[{"role": "user", "content": "A mild remark."}])
        with pytest.raises(openai.BadRequestError) as also:
            client.chat.completions.create(model="strict", messages=[{"role": "user", "content": "A mild remark."}])
        assert also.value.body["param"] == "medium"  # type: ignore[index]


# --- parallel input checks ---------------------------------------------------------------------------------


@pytest.fixture
def checker(loop_thread: LoopThread) -> Iterator[FakeChecker]:
    fake = FakeChecker()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())
    assert fake.violations == []


def _parallel(checker: FakeChecker, fail: str) -> str:
    return f"""
guardrails:
  - {{name: outside, kind: http, url: "{checker.url}/after", timeout: 10, fail: {fail}, stage: input,
      parallel: true}}
server:
  guardrails: [outside]
"""


def test_a_parallel_check_runs_while_the_upstream_answers(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, checker: FakeChecker
) -> None:
    # The checker answers only once the upstream was called: waited for first (fail closed), it would never
    # answer in time and the request would be refused.
    checker.after = lambda: bool(_sent(upstream))
    gateway = make_gateway(_parallel(checker, "closed"))
    with _client(gateway) as client:
        answer = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    assert answer.choices[0].message.content and _sent(upstream) == ["Hi"]
    assert checker.received[0]["text"] == "Hi"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_a_parallel_check_that_blocks_after_the_upstream_answered_discards_the_answer(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, checker: FakeChecker, loop_thread: LoopThread, stream: bool
) -> None:
    # fail open: had the check not run beside the upstream call, its timeout would have let the text through.
    checker.after = lambda: bool(_sent(upstream))
    gateway = make_gateway(_parallel(checker, "open"))
    if stream:
        upstream.replies.append(Reply(stream=text_stream(["Secret ", "plans."])))  # type: ignore[arg-type]
    with _client(gateway) as client, pytest.raises(openai.BadRequestError) as blocked:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "A forbidden question."}], stream=stream
        )
    assert blocked.value.body["param"] == "outside"  # type: ignore[index]
    assert _sent(upstream) == ["A forbidden question."]  # the upstream was asked, its answer discarded
    assert _decisions(gateway, loop_thread) == [{"outside": "block"}]


@pytest.mark.parametrize("service", ["moderation"], indirect=True)
def test_a_responses_stream_the_checker_blocks_ends_without_its_completed_event(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, service: Service
) -> None:
    gateway = make_gateway(_config(service, "flag", stage="output"), env=service.env)
    upstream.replies.append(Reply(stream=text_stream(FORBIDDEN_ANSWER, include_usage=True)))  # type: ignore[arg-type]
    types: list[str] = []
    with _client(gateway) as client:
        try:
            for event in client.responses.create(model="gpt-4o-mini", input="Hi", stream=True):
                types.append(event.type)
        except openai.APIError as error:
            types.append(f"raised: {error}")
    assert "response.output_text.delta" in types and "response.completed" not in types, types
    assert types[-1] == "raised: The answer was blocked by the guardrail 'outside'.", types


def test_a_moderation_checker_asks_the_provider_the_reloaded_configuration_names(
    make_gateway: GatewayFactory,
    upstream: FakeOpenAI,
    moderation: FakeModeration,
    loop_thread: LoopThread,
    tmp_path: Any,
) -> None:
    def config(provider: str) -> str:
        return f"""
providers:
  mod: {{type: openai, base_url: '{moderation.api_base}', api_key: env:MOD_KEY}}
models:
  omni: {{provider: {provider}, model: omni-moderation-latest}}
guardrails:
  - {{name: outside, kind: moderation, model: omni, stage: input}}
server:
  guardrails: [outside]
"""

    env = {"MOD_KEY": MODERATION_KEY}
    gateway = make_gateway(config("openai"), env=env)  # the main upstream serves no moderations: fail closed
    request: dict[str, Any] = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello."}]}
    with _client(gateway) as client, pytest.raises(openai.BadRequestError):
        client.chat.completions.create(**request)
    path = tmp_path / "reloaded.yaml"
    path.write_text(config("mod"))
    reloaded = load_config(path, {**base_env(upstream), **env}, available_types=PROVIDER_TYPES)

    async def reload() -> None:  # as SIGHUP does, on the gateway's loop
        gateway.app.app.swap(reloaded)

    loop_thread.run(reload())
    with _client(gateway) as client:
        client.chat.completions.create(**request)
    assert [r["body"]["input"] for r in moderation.received] == [["Hello."]]


@pytest.mark.parametrize("service", ["presidio"], indirect=True)
def test_an_ollama_stream_the_checker_blocks_ends_with_its_error_line(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, service: Service
) -> None:
    gateway = make_gateway(_config(service, "flag", stage="output"), env=service.env)
    upstream.replies.append(Reply(stream=text_stream(FORBIDDEN_ANSWER, include_usage=True)))  # type: ignore[arg-type]
    got = ""
    with ollama_client(gateway) as client, pytest.raises(ollama.ResponseError) as ended:
        for part in client.chat(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}], stream=True):
            assert not part.done, "the last line came before the checker's verdict"
            got += part.message.content or ""
    assert "outside" in str(ended.value) and got == "".join(FORBIDDEN_ANSWER)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("door", sorted(DOORS))
def test_every_door_s_answer_passes_an_external_checker_whole(
    make_gateway: GatewayFactory, upstream: FakeOpenAI, checker: FakeChecker, door: str, stream: bool
) -> None:
    # The events held for the checker's verdict all go out once it allows: each door's client reads a whole answer.
    gateway = make_gateway(f"""
guardrails:
  - {{name: outside, kind: http, url: "{checker.url}/block", stage: output}}
server:
  guardrails: [outside]
""")

    def answer(body: dict[str, Any]) -> Reply:
        if body.get("stream"):
            return Reply(stream=text_stream(["An ", "allowed ", "answer."], include_usage=True))  # type: ignore[arg-type]
        return Reply(json=completion("An allowed answer."))

    upstream.chat_responder = answer
    assert DOORS[door](gateway, "Hi", stream or door == "responses-websocket") == "An allowed answer."
    assert [body["text"] for body in checker.received] == ["An allowed answer."]
