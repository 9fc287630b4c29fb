"""Azure OpenAI and Microsoft Foundry through the gateway (`type: azure`), driven by the official `openai`,
`anthropic` and `ollama` clients, against a fake resource that checks the `api-key` header or the Entra ID
bearer token it receives (issued by a fake Entra token endpoint over HTTPS, which checks the client
credentials' form fields) and every body against OpenAI's spec or the anthropic SDK's types
(tests/fakes/azure_upstream.py, tests/fakes/entra.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes.azure_upstream import FakeAzure, content_filter_error
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.entra import CLIENT_ID, TENANT, App, FakeEntra, FakeManagedIdentity
from tests.fakes.openai_upstream import FakeOpenAI, chunk, completion, text_stream, tool_call_stream
from tests.fakes.pki import make_pki, server_context
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread, RunningApp
from tests.integration.ollama_helpers import ollama_client

AZURE_KEY = "azure-test-UPSTREAM-secret-0123456789abcdef"
CLIENT_SECRET = "entra~test~UPSTREAM~secret~0123456789"
USER = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
MODELS = (
    "models:\n"
    "  mini: {provider: az, model: gpt-4o-mini-prod}\n"
    "  embed: {provider: az, model: text-embedding-3-small}\n"
    "  mistral: {provider: az, model: Mistral-Large-2411}\n"
    "  claude: {provider: az, model: claude-sonnet-4-5}\n"
    "  smart: {provider: az, model: gpt-4o, native_responses: true}\n"
)


@pytest.fixture(scope="module")
def cloud(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TokenRegistry, FakeAzure, FakeEntra, dict[str, str]]]:
    registry = TokenRegistry()
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    azure, entra = FakeAzure(registry), FakeEntra(registry)
    entra.ssl_context = server_context(pki)
    for fake in (azure, entra):
        loop_thread.run(fake.start())
    yield registry, azure, entra, pki
    for fake in (azure, entra):
        loop_thread.run(fake.stop())


@pytest.fixture
def azure(cloud: tuple[TokenRegistry, FakeAzure, FakeEntra, dict[str, str]]) -> Iterator[FakeAzure]:
    registry, fake, entra, _ = cloud
    registry.reset()
    fake.reset()
    entra.reset()
    fake.api_keys = frozenset({AZURE_KEY})
    yield fake
    assert fake.violations == [], "the gateway sent requests Azure refuses"


@pytest.fixture
def entra(
    cloud: tuple[TokenRegistry, FakeAzure, FakeEntra, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> FakeEntra:
    """Entra with the test's app, trusted through the test CA (azure-identity's HTTP goes through requests)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cloud[3]["ca"])
    cloud[2].state.apps[CLIENT_ID] = App(secret=CLIENT_SECRET)
    return cloud[2]


@pytest.fixture
def registry(cloud: tuple[TokenRegistry, FakeAzure, FakeEntra, dict[str, str]]) -> TokenRegistry:
    return cloud[0]


def _config(azure: FakeAzure, auth: str = "api_key: env:AZURE_KEY", *, extra: str = "", models: str = MODELS) -> str:
    return f"providers:\n  az:\n    type: azure\n    base_url: {azure.base_url}\n    {auth}\n{extra}{models}"


def _entra(entra: FakeEntra) -> str:
    return (
        f"tenant_id: {TENANT}\n    client_id: {CLIENT_ID}\n    client_secret: env:AZURE_CLIENT_SECRET\n"
        f"    options: {{authority_host: '{entra.authority}'}}"
    )


@pytest.fixture
def gateway(make_gateway: GatewayFactory, azure: FakeAzure) -> RunningApp:
    return make_gateway(_config(azure), env={"AZURE_KEY": AZURE_KEY})


@pytest.fixture
def client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as sdk:
        yield sdk


def test_v1_chat_with_the_api_key_header(client: openai.OpenAI, azure: FakeAzure) -> None:
    answer = client.chat.completions.create(model="mini", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello!"
    request = azure.received[-1]
    assert request.path == "/openai/v1/chat/completions"
    assert request.headers["api-key"] == AZURE_KEY and "Authorization" not in request.headers
    assert request.json["model"] == "gpt-4o-mini-prod"


def test_v1_streamed_tool_calls_through_the_fast_path(client: openai.OpenAI, azure: FakeAzure) -> None:
    azure.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city":', '"Oslo"}'])])))  # type: ignore[arg-type]
    chunks = list(client.chat.completions.create(model="mini", messages=USER, stream=True, tools=[WEATHER]))  # type: ignore[arg-type, list-item]
    arguments = "".join(
        d.function.arguments or ""
        for c in chunks
        if c.choices
        for d in c.choices[0].delta.tool_calls or ()
        if d.function
    )
    assert json.loads(arguments) == {"city": "Oslo"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_a_foundry_serverless_model_and_embeddings_through_v1(client: openai.OpenAI, azure: FakeAzure) -> None:
    assert client.chat.completions.create(model="mistral", messages=USER).choices[0].message.content == "Hello!"  # type: ignore[arg-type]
    assert azure.received[-1].json["model"] == "Mistral-Large-2411"
    vectors = client.embeddings.create(model="embed", input=["a", "bb"])
    assert [len(item.embedding) for item in vectors.data] == [3, 3]
    assert azure.received[-1].path == "/openai/v1/embeddings"


def test_the_responses_api_is_relayed_natively(client: openai.OpenAI, azure: FakeAzure) -> None:
    resource = {
        "id": "resp_azure",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "gpt-4o",
        "output": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "parallel_tool_calls": True,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "usage": {
            "input_tokens": 5,
            "output_tokens": 2,
            "total_tokens": 7,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }
    azure.script(Reply(json=resource))
    assert client.responses.create(model="smart", input="Hi").id == "resp_azure"
    assert azure.received[-1].path == "/openai/v1/responses" and azure.received[-1].json["model"] == "gpt-4o"


def test_the_deployment_style_api(make_gateway: GatewayFactory, azure: FakeAzure) -> None:
    gateway = make_gateway(_config(azure, extra="    api_version: '2024-10-21'\n"), env={"AZURE_KEY": AZURE_KEY})
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        assert client.chat.completions.create(model="mini", messages=USER).choices[0].message.content == "Hello!"  # type: ignore[arg-type]
        assert azure.urls[-1] == "/openai/deployments/gpt-4o-mini-prod/chat/completions?api-version=2024-10-21"
        chunks = list(client.chat.completions.create(model="mini", messages=USER, stream=True))  # type: ignore[arg-type]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
        client.embeddings.create(model="embed", input="a")
        assert azure.urls[-1] == "/openai/deployments/text-embedding-3-small/embeddings?api-version=2024-10-21"


def test_a_deployment_that_does_not_exist_and_throttling(client: openai.OpenAI, azure: FakeAzure) -> None:
    azure.deployments.discard("gpt-4o-mini-prod")
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="mini", messages=USER)  # type: ignore[arg-type]
    assert "deployment for this resource does not exist" in missing.value.message
    azure.deployments.add("gpt-4o-mini-prod")
    azure.script(
        Reply(
            status=429,
            json={
                "error": {"code": "429", "message": "Requests to the ChatCompletions_Create Operation have exceeded"}
            },
            headers={"Retry-After": "11"},
        )
    )
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="mini", messages=USER)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "11"


@pytest.mark.parametrize(
    ("refusal", "stream"), [("prompt", False), ("answer", False), ("prompt", True), ("answer", True)]
)
def test_a_content_filter_refusal_goes_to_the_content_policy_fallback(
    make_gateway: GatewayFactory, azure: FakeAzure, upstream: FakeOpenAI, refusal: str, stream: bool
) -> None:
    gateway = make_gateway(
        _config(
            azure,
            models=(
                "models:\n"
                "  strict: {provider: az, model: gpt-4o-mini-prod, content_policy_fallbacks: [lenient]}\n"
                "  lenient: {provider: openai, model: gpt-4o-mini}\n"
            ),
        ),
        env={"AZURE_KEY": AZURE_KEY},
    )
    if refusal == "prompt":
        azure.script(Reply(status=400, json=content_filter_error()))
    elif stream:  # the answer stopped by the filter before its first word
        azure.script(
            Reply(stream=[chunk({"role": "assistant", "content": ""}), chunk({}, finish_reason="content_filter")])
        )
    else:  # the answer stopped by the filter, nothing left of it
        azure.script(Reply(json=completion(None, finish_reason="content_filter")))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        if stream:
            upstream.script(Reply(stream=text_stream(["From the", " fallback."])))  # type: ignore[arg-type]
            raw = client.chat.completions.with_raw_response.create(model="strict", messages=USER, stream=True)  # type: ignore[arg-type]
            text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        else:
            upstream.script(Reply(json=completion("From the fallback.")))
            raw = client.chat.completions.with_raw_response.create(model="strict", messages=USER)  # type: ignore[arg-type]
            text = raw.parse().choices[0].message.content or ""
    assert text == "From the fallback."
    assert raw.headers["x-babelgate-route"] == "az/gpt-4o-mini-prod=400, openai/gpt-4o-mini=ok"


def test_entra_client_secret_tokens_renewed_in_the_background(
    make_gateway: GatewayFactory, azure: FakeAzure, entra: FakeEntra, registry: TokenRegistry
) -> None:
    registry.lifetime = 2.0
    gateway = make_gateway(_config(azure, _entra(entra)), env={"AZURE_CLIENT_SECRET": CLIENT_SECRET})
    slowest = 0.0
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        client.chat.completions.create(model="mini", messages=USER)  # type: ignore[arg-type]  # waits for the first
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.chat.completions.create(model="mini", messages=USER)  # type: ignore[arg-type]
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.1)
    tokens = list(dict.fromkeys(r.headers["Authorization"].removeprefix("Bearer ") for r in azure.received))
    assert len(tokens) >= 2 and all(registry.issued[token].source == "entra" for token in tokens)
    assert slowest < 0.5, "no request waited for a renewal"
    assert {(g.client_id, g.scope, g.kind) for g in entra.state.grants} == {
        (CLIENT_ID, "https://cognitiveservices.azure.com/.default", "secret")
    }
    assert all("api-key" not in r.headers for r in azure.received)


def test_a_wrong_client_secret_is_a_clear_502(make_gateway: GatewayFactory, azure: FakeAzure, entra: FakeEntra) -> None:
    entra.state.apps[CLIENT_ID] = App(secret="another-secret")
    gateway = make_gateway(_config(azure, _entra(entra)), env={"AZURE_CLIENT_SECRET": CLIENT_SECRET})
    answer = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "mini", "messages": USER}, timeout=10)
    assert answer.status_code == 502
    error = answer.json()["error"]
    assert error["code"] == "upstream_credentials_error"
    assert f"Entra ID client secret of app {CLIENT_ID} in tenant {TENANT}" in error["message"]
    assert "AADSTS7000215" in error["message"] and CLIENT_SECRET not in answer.text
    assert azure.received == []


def test_workload_identity_federation(
    make_gateway: GatewayFactory, azure: FakeAzure, entra: FakeEntra, tmp_path: Path
) -> None:
    federated = "eyJhbGciOiJSUzI1NiJ9.federated-service-account-token.sig"
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(federated)
    entra.state.apps[CLIENT_ID] = App(federated=federated)
    auth = (
        f"tenant_id: {TENANT}\n    client_id: {CLIENT_ID}\n"
        f"    options: {{authority_host: '{entra.authority}', federated_token_file: '{token_file}'}}"
    )
    gateway = make_gateway(_config(azure, auth))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        assert client.chat.completions.create(model="mini", messages=USER).choices[0].message.content == "Hello!"  # type: ignore[arg-type]
    assert [g.kind for g in entra.state.grants] == ["assertion"]


def test_claude_in_foundry_through_the_anthropic_sdk_and_openai_chat(gateway: RunningApp, azure: FakeAzure) -> None:
    azure.claude.script(Reply(json=ant.message("Bonjour", model="claude-sonnet-4-5")))
    with anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=10) as sdk:
        answer = sdk.messages.create(model="claude", max_tokens=32, messages=[{"role": "user", "content": "Hi"}])
    assert answer.content[0].type == "text" and answer.content[0].text == "Bonjour"
    request = azure.claude.received[-1]
    assert request.path == "/anthropic/v1/messages" and request.headers["x-api-key"] == AZURE_KEY
    assert request.json["model"] == "claude-sonnet-4-5"
    azure.claude.script(Reply(stream=ant.tool_events([("toolu_1", "get_weather", ['{"city": "Oslo"}'])])))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        chunks = list(client.chat.completions.create(model="claude", messages=USER, stream=True, tools=[WEATHER]))  # type: ignore[arg-type, list-item]
    arguments = "".join(
        d.function.arguments or ""
        for c in chunks
        if c.choices
        for d in c.choices[0].delta.tool_calls or ()
        if d.function
    )
    assert json.loads(arguments) == {"city": "Oslo"}


def test_the_ollama_client_reaches_an_azure_deployment(gateway: RunningApp, azure: FakeAzure) -> None:
    with ollama_client(gateway) as ollama:
        assert ollama.chat(model="mini", messages=USER).message.content == "Hello!"
    assert azure.received[-1].headers["api-key"] == AZURE_KEY


def test_the_upstream_key_never_leaks(client: openai.OpenAI, azure: FakeAzure) -> None:
    """The conftest's watch fails any test whose gateway let a configured key out; this one asks for an
    error that quotes the request's headers back."""
    azure.script(
        Reply(status=400, json={"error": {"code": "BadRequest", "message": f"bad header api-key={AZURE_KEY}"}})
    )
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="mini", messages=USER)  # type: ignore[arg-type]
    assert AZURE_KEY not in str(refused.value.body) and UPSTREAM_KEY not in str(refused.value.body)


def test_a_managed_identity(
    make_gateway: GatewayFactory,
    azure: FakeAzure,
    registry: TokenRegistry,
    loop_thread: LoopThread,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    identity = FakeManagedIdentity(registry)
    loop_thread.run(identity.start())
    try:
        monkeypatch.setenv("IDENTITY_ENDPOINT", identity.endpoint)
        monkeypatch.setenv("IDENTITY_HEADER", FakeManagedIdentity.header)
        gateway = make_gateway(_config(azure, "options: {credential: managed_identity}"))
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
            assert client.chat.completions.create(model="mini", messages=USER).choices[0].message.content == "Hello!"  # type: ignore[arg-type]
    finally:
        loop_thread.run(identity.stop())
    token = azure.received[-1].headers["Authorization"].removeprefix("Bearer ")
    assert registry.issued[token].source == "managed"
    assert identity.requests[0]["resource"] == "https://cognitiveservices.azure.com"


def test_a_revoked_entra_token_is_replaced(
    make_gateway: GatewayFactory, azure: FakeAzure, entra: FakeEntra, registry: TokenRegistry
) -> None:
    gateway = make_gateway(_config(azure, _entra(entra)), env={"AZURE_CLIENT_SECRET": CLIENT_SECRET})
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        client.chat.completions.create(model="mini", messages=USER)  # type: ignore[arg-type]
        registry.revoke_all()
        assert client.chat.completions.create(model="mini", messages=USER).choices[0].message.content == "Hello!"  # type: ignore[arg-type]
    first, refused, again = azure.bearers
    assert first == refused != again
    assert len(entra.state.grants) == 2


def test_images_and_speech_on_both_apis(make_gateway: GatewayFactory, azure: FakeAzure) -> None:
    for extra, prefix in (
        ("", "/openai/v1/"),
        ("    api_version: '2025-04-01-preview'\n", "/openai/deployments/dalle/"),
    ):
        azure.deployments.update({"dalle", "tts"})
        gateway = make_gateway(
            _config(
                azure,
                extra=extra,
                models="models:\n  dalle: {provider: az, model: dalle}\n  tts: {provider: az, model: tts}\n",
            ),
            env={"AZURE_KEY": AZURE_KEY},
        )
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
            image = client.images.generate(model="dalle", prompt="a lighthouse", response_format="b64_json")
            assert image.data and image.data[0].b64_json
            assert azure.urls[-1].startswith(prefix + "images/generations")
            audio = client.audio.speech.create(model="tts", voice="alloy", input="Hello")
            assert audio.read()
            assert "/audio/speech" in azure.urls[-1]


def test_a_stream_the_filter_stops_midway_keeps_its_words(client: openai.OpenAI, azure: FakeAzure) -> None:
    azure.script(
        Reply(
            stream=[
                chunk({"role": "assistant", "content": ""}),
                chunk({"content": "Once upon"}),
                chunk({}, finish_reason="content_filter"),
            ]
        )
    )
    chunks = list(client.chat.completions.create(model="mini", messages=USER, stream=True))  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Once upon"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "content_filter"


def test_a_filtered_stream_on_the_translated_road_goes_to_the_fallback(
    make_gateway: GatewayFactory, azure: FakeAzure, upstream: FakeOpenAI
) -> None:
    """The Messages API's client on an Azure deployment: translated, and the filter's refusal the same."""
    gateway = make_gateway(
        _config(
            azure,
            models=(
                "models:\n"
                "  strict: {provider: az, model: gpt-4o-mini-prod, content_policy_fallbacks: [lenient]}\n"
                "  lenient: {provider: openai, model: gpt-4o-mini}\n"
            ),
        ),
        env={"AZURE_KEY": AZURE_KEY},
    )
    azure.script(Reply(stream=[chunk({"role": "assistant", "content": ""}), chunk({}, finish_reason="content_filter")]))
    upstream.script(Reply(stream=text_stream(["From the", " fallback."], include_usage=True)))  # type: ignore[arg-type]
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=10) as sdk,
        sdk.messages.stream(model="strict", max_tokens=32, messages=[{"role": "user", "content": "Hi"}]) as stream,
    ):
        assert stream.get_final_text() == "From the fallback."


def test_azures_filter_results_pass_both_roads(gateway: RunningApp, azure: FakeAzure) -> None:
    """Azure's streams begin with a chunk of the prompt's filter results (no choices, no id), and every
    choice carries its own: the fast path relays them, the translated road reads past them."""
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        raw = client.chat.completions.with_raw_response.create(model="mini", messages=USER)  # type: ignore[arg-type]
        assert "prompt_filter_results" in raw.text and raw.parse().choices[0].message.content == "Hello!"
        chunks = list(client.chat.completions.create(model="mini", messages=USER, stream=True))  # type: ignore[arg-type]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Hello!"
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=10) as sdk,
        sdk.messages.stream(model="mini", max_tokens=32, messages=[{"role": "user", "content": "Hi"}]) as stream,
    ):
        assert stream.get_final_text() == "Hello!"


def test_media_are_refused_for_claude_in_foundry(client: openai.OpenAI, azure: FakeAzure) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        client.embeddings.create(model="claude", input="a")
    assert refused.value.code == "unsupported_capability"
    assert azure.urls == []
