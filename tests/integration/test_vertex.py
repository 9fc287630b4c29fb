"""Google Vertex AI through the gateway (`type: vertex`), driven by the official `openai`, `anthropic` and
`ollama` clients, against a fake Vertex that checks the bearer tokens it receives (issued by a fake OAuth2
token endpoint for a service-account key whose JWT it verifies, or by a fake GCE metadata server) and
validates every body with the SDKs' own types (tests/fakes/vertex_upstream.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gt
from google.oauth2.credentials import Credentials

from babelgate import tool_ids
from tests.conftest import ANTHROPIC_KEY, GatewayFactory
from tests.fakes import anthropic_upstream as ant
from tests.fakes import gemini_upstream as gem
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.google_credentials import ACCOUNT, FakeGoogleOAuth, FakeMetadataServer, service_account_key
from tests.fakes.openai_upstream import tool_call_stream
from tests.fakes.scripted import Reply
from tests.fakes.servers import LoopThread, RunningApp
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex
from tests.integration.ollama_helpers import ollama_client

GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-sonnet-4-5@20250929"
LLAMA = "meta/llama-3.3-70b-instruct-maas"
USER = [{"role": "user", "content": "Hi"}]
EXPRESS_KEY = "AQ.Ab8RN6fake-express-mode-key-0123456789"


def _tool(name: str) -> dict[str, object]:
    return {
        "type": "function",
        "function": {"name": name, "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
    }


@pytest.fixture(scope="module")
def cloud(loop_thread: LoopThread) -> Iterator[tuple[TokenRegistry, FakeGoogleOAuth, FakeMetadataServer, FakeVertex]]:
    registry = TokenRegistry()
    fakes = (FakeGoogleOAuth(registry), FakeMetadataServer(registry), FakeVertex(registry))
    for fake in fakes:
        loop_thread.run(fake.start())
    yield (registry, *fakes)
    for fake in fakes:
        loop_thread.run(fake.stop())


@pytest.fixture
def registry(cloud: tuple[TokenRegistry, FakeGoogleOAuth, FakeMetadataServer, FakeVertex]) -> TokenRegistry:
    return cloud[0]


@pytest.fixture
def oauth(cloud: tuple[TokenRegistry, FakeGoogleOAuth, FakeMetadataServer, FakeVertex]) -> FakeGoogleOAuth:
    return cloud[1]


@pytest.fixture
def metadata(cloud: tuple[TokenRegistry, FakeGoogleOAuth, FakeMetadataServer, FakeVertex]) -> FakeMetadataServer:
    return cloud[2]


@pytest.fixture
def vertex(cloud: tuple[TokenRegistry, FakeGoogleOAuth, FakeMetadataServer, FakeVertex]) -> Iterator[FakeVertex]:
    registry, oauth, metadata, fake = cloud
    for each in (registry, oauth, metadata, fake):
        each.reset()
    yield fake
    assert fake.violations == [], "the gateway sent requests Vertex AI refuses"


@pytest.fixture
def key_file(tmp_path: Path, oauth: FakeGoogleOAuth) -> Path:
    path = tmp_path / "service-account.json"
    oauth.accounts[ACCOUNT] = service_account_key(path, oauth.token_uri)
    return path


def _config(vertex: FakeVertex, auth: str, models: str = "") -> str:
    return (
        "providers:\n"
        "  gcp:\n"
        "    type: vertex\n"
        f"    project: {PROJECT}\n"
        f"    location: {LOCATION}\n"
        f"    base_url: {vertex.base_url}\n"
        f"{auth}"
        "models:\n"
        f"  gemini: {{provider: gcp, model: {GEMINI}}}\n"
        f"  claude: {{provider: gcp, model: '{CLAUDE}'}}\n"
        f"  llama: {{provider: gcp, model: {LLAMA}}}\n"
        "  embed: {provider: gcp, model: text-embedding-005}\n"
        "  gembed: {provider: gcp, model: gemini-embedding-001}\n"
        "  imagen: {provider: gcp, model: imagen-4.0-generate-001}\n"
        f"{models}"
    )


@pytest.fixture
def gateway(make_gateway: GatewayFactory, vertex: FakeVertex, key_file: Path) -> RunningApp:
    return make_gateway(_config(vertex, f"    credentials_file: {key_file}\n"))


@pytest.fixture
def client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as sdk:
        yield sdk


@pytest.fixture
def claude_sdk(gateway: RunningApp) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=gateway.url, api_key="x", max_retries=0, timeout=10) as sdk:
        yield sdk


def _calls(vertex: FakeVertex) -> list[tuple[str, str]]:
    """(path, bearer token) of each call the fake received."""
    return [(r.path, r.headers.get("Authorization", "").removeprefix("Bearer ")) for r in vertex.received]


def test_gemini_chat_with_a_service_account_key(
    client: openai.OpenAI, vertex: FakeVertex, oauth: FakeGoogleOAuth, registry: TokenRegistry
) -> None:
    vertex.script(Reply(json=gem.response("Hallo!", usage=gem.usage(12, 3, cached=2), model_version=GEMINI)))
    answer = client.chat.completions.create(
        model="gemini", messages=[{"role": "system", "content": "German."}, *USER], max_tokens=50
    )  # type: ignore[list-item]
    assert answer.choices[0].message.content == "Hallo!"
    assert answer.usage is not None and answer.usage.prompt_tokens == 12
    [(path, token)] = _calls(vertex)
    assert path == f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{GEMINI}:generateContent"
    assert registry.issued[token].source == "oauth2"
    [grant] = oauth.grants  # the JWT assertion, its signature checked with the account's public key
    assert grant["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    assert vertex.received[0].json == {
        "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
        "systemInstruction": {"parts": [{"text": "German."}]},
        "generationConfig": {"maxOutputTokens": 50},
    }


def test_gemini_streamed_parallel_tool_calls(client: openai.OpenAI, vertex: FakeVertex) -> None:
    vertex.script(
        Reply(
            stream=gem.function_call_chunks(  # type: ignore[arg-type]
                [("get_weather", {"city": "Paris"}, "fc_1", "c2ln"), ("get_time", {"city": "Rome"}, None, None)]
            )
        )
    )
    calls: dict[int, list[str]] = {}
    finish = None
    for chunk in client.chat.completions.create(
        model="gemini",
        messages=USER,
        stream=True,
        tools=[_tool("get_weather"), _tool("get_time")],  # type: ignore[arg-type, list-item]
    ):
        for delta in chunk.choices[0].delta.tool_calls or ():
            assert delta.function is not None
            calls[delta.index] = [delta.id or "", delta.function.name or "", delta.function.arguments or ""]
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert calls[0] == [tool_ids.join("fc_1", "c2ln"), "get_weather", '{"city":"Paris"}']
    assert calls[1][1:] == ["get_time", '{"city":"Rome"}']
    assert vertex.received[-1].path.endswith(f"/models/{GEMINI}:streamGenerateContent?alt=sse")


def test_claude_on_vertex_through_the_anthropic_sdk_native_road(
    claude_sdk: anthropic.Anthropic, vertex: FakeVertex
) -> None:
    vertex.script(Reply(json=ant.message("Bonjour", model=CLAUDE, usage=ant.usage(11, 2))))
    answer = claude_sdk.messages.create(model="claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}])
    assert answer.content[0].type == "text" and answer.content[0].text == "Bonjour"
    request = vertex.received[-1]
    assert (
        request.path == f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/anthropic/models/{CLAUDE}:rawPredict"
    )
    assert request.json == {
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
        "anthropic_version": "vertex-2023-10-16",
    }
    vertex.script(Reply(stream=ant.tool_events([("toolu_1", "get_weather", ['{"city":', ' "Oslo"}'])], model=CLAUDE)))
    with claude_sdk.messages.stream(
        model="claude",
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert [(b.type, getattr(b, "input", None)) for b in final.content] == [("tool_use", {"city": "Oslo"})]
    assert vertex.received[-1].path.endswith(f"/models/{CLAUDE}:streamRawPredict")
    counted = claude_sdk.messages.count_tokens(model="claude", messages=[{"role": "user", "content": "Hi"}])
    assert counted.input_tokens > 0
    assert vertex.received[-1].path.endswith("/publishers/anthropic/models/count-tokens:rawPredict")


def test_claude_on_vertex_through_openai_chat_with_streamed_tools(client: openai.OpenAI, vertex: FakeVertex) -> None:
    vertex.script(Reply(stream=ant.tool_events([("toolu_1", "get_weather", ['{"ci', 'ty": "Oslo"}'])], model=CLAUDE)))
    arguments, names, finish = "", [], None
    for chunk in client.chat.completions.create(
        model="claude",
        messages=USER,
        stream=True,
        tools=[_tool("get_weather")],  # type: ignore[arg-type, list-item]
    ):
        for delta in chunk.choices[0].delta.tool_calls or ():
            assert delta.function is not None
            names += [delta.function.name] if delta.function.name else []
            arguments += delta.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert (names, json.loads(arguments), finish) == (["get_weather"], {"city": "Oslo"}, "tool_calls")


def test_an_open_model_through_the_openai_compatible_endpoint(client: openai.OpenAI, vertex: FakeVertex) -> None:
    answer = client.chat.completions.create(model="llama", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello!"
    request = vertex.received[-1]
    assert request.path == f"/v1/projects/{PROJECT}/locations/{LOCATION}/endpoints/openapi/chat/completions"
    assert request.json["model"] == LLAMA
    vertex.script(Reply(stream=tool_call_stream([("call_1", "get_weather", ['{"city"', ': "Lima"}'])])))  # type: ignore[arg-type]
    chunks = list(
        client.chat.completions.create(model="llama", messages=USER, stream=True, tools=[_tool("get_weather")])  # type: ignore[arg-type, list-item]
    )
    arguments = "".join(
        d.function.arguments or ""
        for c in chunks
        if c.choices
        for d in c.choices[0].delta.tool_calls or ()
        if d.function
    )
    assert json.loads(arguments) == {"city": "Lima"}


def test_the_ollama_client_reaches_gemini_on_vertex(gateway: RunningApp, vertex: FakeVertex) -> None:
    with ollama_client(gateway) as ollama:
        answer = ollama.chat(model="gemini", messages=USER)
    assert answer.message.content == "Hello!"
    assert ":generateContent" in vertex.received[-1].path


def test_embeddings_through_predict(client: openai.OpenAI, vertex: FakeVertex) -> None:
    answer = client.embeddings.create(model="embed", input=["one", "two", "three"], dimensions=8)
    assert [len(item.embedding) for item in answer.data] == [8, 8, 8]
    assert answer.data[1].embedding == pytest.approx(gem.fake_vector("text-embedding-005", "two", 8))
    assert vertex.received[-1].json == {
        "instances": [{"content": "one"}, {"content": "two"}, {"content": "three"}],
        "parameters": {"outputDimensionality": 8},
    }
    # gemini-embedding-001 takes one instance per request on Vertex: one call per input.
    answer = client.embeddings.create(model="gembed", input=["a", "b"])
    assert [item.embedding[:3] for item in answer.data] == [
        pytest.approx(gem.fake_vector("gemini-embedding-001", text, 3072)[:3]) for text in ("a", "b")
    ]
    assert answer.usage.prompt_tokens == 2


def test_metadata_server_credentials_are_renewed_in_the_background(
    make_gateway: GatewayFactory,
    vertex: FakeVertex,
    metadata: FakeMetadataServer,
    registry: TokenRegistry,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    from google.auth.compute_engine import _metadata

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud user credentials
    monkeypatch.setenv("GCE_METADATA_IP", metadata.host)
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", metadata.host)
    registry.lifetime = 2.0  # tokens renewed at about 1.2 s
    gateway = make_gateway(_config(vertex, ""))
    slowest = 0.0
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        client.chat.completions.create(model="gemini", messages=USER)  # type: ignore[arg-type]  # waits for the first
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            started = time.perf_counter()
            client.chat.completions.create(model="gemini", messages=USER)  # type: ignore[arg-type]
            slowest = max(slowest, time.perf_counter() - started)
            time.sleep(0.1)
    used = list(dict.fromkeys(token for _, token in _calls(vertex)))
    assert len(used) >= 2 and all(registry.issued[token].source == "metadata" for token in used)
    assert slowest < 0.5, "no request waited for a renewal"


def test_express_mode_sends_the_api_key_to_google_models_only(make_gateway: GatewayFactory, vertex: FakeVertex) -> None:
    vertex.api_keys = frozenset({EXPRESS_KEY})
    gateway = make_gateway(
        "providers:\n"
        f"  gx: {{type: vertex, api_key: env:VERTEX_KEY, base_url: '{vertex.base_url}'}}\n"
        "models:\n"
        f"  gemini: {{provider: gx, model: {GEMINI}}}\n"
        f"  claude: {{provider: gx, model: '{CLAUDE}'}}\n",
        env={"VERTEX_KEY": EXPRESS_KEY},
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        assert client.chat.completions.create(model="gemini", messages=USER).choices[0].message.content == "Hello!"  # type: ignore[arg-type]
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(model="claude", messages=USER)  # type: ignore[arg-type]
    request = vertex.received[-1]
    assert request.path == f"/v1/publishers/google/models/{GEMINI}:generateContent"
    assert request.headers["x-goog-api-key"] == EXPRESS_KEY and "Authorization" not in request.headers
    assert refused.value.status_code == 502 and "express mode" in refused.value.message


@pytest.mark.parametrize("fault", ["revoked", "expired"])
def test_a_refused_token_is_replaced_and_the_request_sent_again(
    client: openai.OpenAI, vertex: FakeVertex, registry: TokenRegistry, fault: str
) -> None:
    """Revoked, or expired early by Google's clock (the gateway's thought it had minutes left)."""
    client.chat.completions.create(model="gemini", messages=USER)  # type: ignore[arg-type]
    if fault == "revoked":
        registry.revoke_all()
    else:
        for issued in registry.issued.values():
            issued.expires_at = time.time() - 1
    answer = client.chat.completions.create(model="gemini", messages=USER)  # type: ignore[arg-type]
    assert answer.choices[0].message.content == "Hello!"
    first, refused, again = [token for _, token in _calls(vertex)]
    assert refused == first and again != first


def test_a_bad_credentials_file_is_a_clear_502(
    make_gateway: GatewayFactory, vertex: FakeVertex, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "service_account", "client_email": "x@y"}')
    for path, words in ((tmp_path / "missing.json", "cannot be read"), (broken, "is not a service-account JSON key")):
        gateway = make_gateway(_config(vertex, f"    credentials_file: {path}\n"))
        answer = httpx.post(
            gateway.url + "/v1/chat/completions", json={"model": "gemini", "messages": USER}, timeout=10
        )
        assert answer.status_code == 502
        error = answer.json()["error"]
        assert error["code"] == "upstream_credentials_error"
        assert "'gcp'" in error["message"] and f"service-account key file {path}" in error["message"]
        assert words in error["message"]
        # Found at load already: /health is degraded and names the provider and the problem.
        health = httpx.get(gateway.url + "/health", timeout=10).json()
        assert health["status"] == "degraded"
        gcp = next(provider for provider in health["providers"] if provider["name"] == "gcp")
        assert gcp["state"] == "credentials" and words in gcp["problem"] and str(path) in gcp["problem"]
    assert vertex.received == []


def test_a_good_credentials_file_keeps_health_ok(gateway: RunningApp) -> None:
    health = httpx.get(gateway.url + "/health", timeout=10).json()
    assert health["status"] == "ok"
    assert all("problem" not in provider for provider in health["providers"])


def test_throttling_and_a_model_not_enabled_in_the_region(client: openai.OpenAI, vertex: FakeVertex) -> None:
    vertex.script(
        Reply(
            status=429,
            json=gem.error_body(429, "RESOURCE_EXHAUSTED", "Quota exceeded for aiplatform.googleapis.com."),
            headers={"Retry-After": "7"},
        )
    )
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model="gemini", messages=USER)  # type: ignore[arg-type]
    assert limited.value.response.headers["retry-after"] == "7"
    vertex.google_models.discard(GEMINI)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gemini", messages=USER)  # type: ignore[arg-type]
    assert missing.value.code == "model_not_found"
    assert "was not found or your project does not have access to it" in missing.value.message


def test_claude_falls_back_from_vertex_to_anthropic(
    make_gateway: GatewayFactory, vertex: FakeVertex, anthropic_upstream: FakeAnthropic, tmp_path: Path
) -> None:
    """The usual way to survive a regional outage: the same Claude on two clouds, with fallbacks."""
    gateway = make_gateway(
        _config(
            vertex,
            f"    credentials_file: {tmp_path / 'missing.json'}\n",
            "  sonnet:\n"
            f"    deployments: [{{provider: gcp, model: '{CLAUDE}'}}]\n"
            "    fallbacks: [sonnet-direct]\n"
            "  sonnet-direct: {provider: anthropic, model: claude-sonnet-4-5}\n",
        ),
        env={"ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_upstream.base_url},
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        raw = client.chat.completions.with_raw_response.create(model="sonnet", messages=USER)  # type: ignore[arg-type]
    assert raw.parse().choices[0].message.content == "Hello!"
    assert raw.headers["x-babelgate-route"].endswith("anthropic/claude-sonnet-4-5=ok")


def test_a_deployment_names_its_own_location(make_gateway: GatewayFactory, vertex: FakeVertex, key_file: Path) -> None:
    """One provider, one model in two regions: each deployment may name its own location (or project)."""
    gateway = make_gateway(
        "providers:\n"
        f"  gcp: {{type: vertex, project: {PROJECT}, location: europe-west1, base_url: '{vertex.base_url}',"
        f" credentials_file: '{key_file}'}}\n"
        "models:\n"
        "  flash:\n"
        f"    deployments: [{{provider: gcp, model: {GEMINI}, location: {LOCATION}}}]\n"
    )
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0, timeout=10) as client:
        assert client.chat.completions.create(model="flash", messages=USER).choices[0].message.content == "Hello!"  # type: ignore[arg-type]
    assert vertex.received[-1].path.startswith(f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/")


def test_imagen_on_vertex_and_no_images_from_claude(client: openai.OpenAI, vertex: FakeVertex) -> None:
    answer = client.images.generate(model="imagen", prompt="a lighthouse", n=2, size="1024x1024")
    assert answer.data is not None and len(answer.data) == 2
    request = vertex.received[-1]
    assert request.path.endswith("/publishers/google/models/imagen-4.0-generate-001:predict")
    assert request.json["instances"] == [{"prompt": "a lighthouse"}]
    with pytest.raises(openai.BadRequestError) as refused:
        client.images.generate(model="claude", prompt="p")
    assert refused.value.code == "unsupported_capability"


@pytest.mark.parametrize("model", ["claude", "llama"])
@pytest.mark.parametrize("stream", [False, True])
def test_gemini_signatures_stay_on_the_gemini_road(
    client: openai.OpenAI, vertex: FakeVertex, model: str, stream: bool
) -> None:
    """A conversation Gemini began, with its thought signatures in the tool-call ids, continued on Claude or
    a partner model of the same provider: they get the plain ids, as every provider without signatures."""
    signed = tool_ids.join("fc_1", "c2ln")
    messages = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": signed, "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
            ],
        },
        {"role": "tool", "tool_call_id": signed, "content": "sunny"},
    ]
    answer = client.chat.completions.create(
        model=model,
        messages=messages,  # type: ignore[arg-type]
        tools=[_tool("get_weather")],  # type: ignore[list-item]
        stream=stream,
    )
    if stream:
        list(answer)  # type: ignore[arg-type]
    sent = json.dumps(vertex.received[-1].json)
    assert tool_ids.MARK not in sent and '"fc_1"' in sent


def test_gemini_api_clients_take_the_native_road_to_gemini_on_vertex(gateway: RunningApp, vertex: FakeVertex) -> None:
    """The Gemini API frontend (docs/gemini-api.md) relays a google-genai client's body to Vertex's
    generateContent for a Gemini model, with the provider's token."""
    client = genai.Client(
        api_key="x", http_options=gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=60_000)
    )
    config = gt.GenerateContentConfig(
        temperature=0.3,
        safety_settings=[gt.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_ONLY_HIGH")],
    )
    answer = client.models.generate_content(model="gemini", contents="Hi", config=config)
    assert answer.text == "Hello!"
    sent = vertex.received[-1]
    assert sent.path.endswith(f"/publishers/google/models/{GEMINI}:generateContent")
    assert sent.json["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    assert sent.headers["Authorization"].startswith("Bearer ")
    pieces = list(client.models.generate_content_stream(model="gemini", contents="Hi"))
    assert "".join(piece.text or "" for piece in pieces) == "Hello!"
    assert ":streamGenerateContent?alt=sse" in vertex.received[-1].path
    client.close()


def test_gemini_api_count_tokens_is_vertexs_own_count(gateway: RunningApp, vertex: FakeVertex) -> None:
    """`:countTokens` on a Gemini model on Vertex is relayed to Vertex's countTokens (not estimated), with
    the Gemini API's `generateContentRequest` wrapper unwrapped as Vertex's CountTokensRequest reads it."""
    client = genai.Client(
        api_key="x", http_options=gt.HttpOptions(base_url=gateway.url, api_version="v1beta", timeout=60_000)
    )
    counted = client.models.count_tokens(model="gemini", contents="one two three four")
    assert counted.total_tokens == 4
    sent = vertex.received[-1]
    assert sent.path.endswith(f"/publishers/google/models/{GEMINI}:countTokens")
    assert sent.headers["Authorization"].startswith("Bearer ")
    wrapped = {
        "generateContentRequest": {
            "model": f"models/{GEMINI}",
            "contents": [{"role": "user", "parts": [{"text": "five words in this text"}]}],
            "systemInstruction": {"parts": [{"text": "brief"}]},
        }
    }
    url = f"{gateway.url}/v1beta/models/gemini:countTokens"
    answer = httpx.post(url, json=wrapped, headers={"x-goog-api-key": "x"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["totalTokens"] == 6  # the system instruction's word is counted with the contents'
    assert set(vertex.received[-1].json) == {"contents", "systemInstruction"}
    assert not vertex.violations
    client.close()


def test_vertex_clients_reach_gemini_on_vertex_through_the_vertex_door(gateway: RunningApp, vertex: FakeVertex) -> None:
    """google-genai in Vertex mode at the gateway's Vertex door (frontends/gemini/vertex.py): a Gemini model on
    Vertex keeps its native road (the body relayed to Vertex with the provider's token, not the caller's), its
    countTokens body goes to Vertex's countTokens as Vertex reads it, and embeddings are Vertex's."""
    client = genai.Client(
        vertexai=True,
        project="the-callers-project",
        location="europe-west4",
        credentials=Credentials(token="the-callers-token"),  # type: ignore[no-untyped-call]
        http_options=gt.HttpOptions(base_url=gateway.url, timeout=60_000),
    )
    answer = client.models.generate_content(
        model="gemini", contents="Hi", config=gt.GenerateContentConfig(temperature=0.3, labels={"team": "search"})
    )
    assert answer.text == "Hello!"
    sent = vertex.received[-1]
    assert sent.path == f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/{GEMINI}:generateContent"
    assert sent.json["labels"] == {"team": "search"}  # a Vertex-only field, relayed to Vertex
    assert (
        sent.headers["Authorization"].startswith("Bearer ") and "the-callers-token" not in sent.headers["Authorization"]
    )
    counted = client.models.count_tokens(
        model="gemini", contents="one two three", config=gt.CountTokensConfig(system_instruction="brief")
    )
    assert counted.total_tokens == 4
    assert set(vertex.received[-1].json) == {"contents", "systemInstruction"}
    embedded = client.models.embed_content(model="embed", contents=["one", "two"])
    assert embedded.embeddings and len(embedded.embeddings) == 2
    assert vertex.received[-1].path.endswith("/publishers/google/models/text-embedding-005:predict")
    client.close()


def test_rerank_through_the_ranking_api(make_gateway: GatewayFactory, vertex: FakeVertex, key_file: Path) -> None:
    """`/v1/rerank` on a `semantic-ranker-*` model: the Ranking API with the project's token, records by index."""
    auth = f"    credentials_file: {key_file}\n    options: {{ranking_url: '{vertex.base_url}'}}\n"
    gateway = make_gateway(_config(vertex, auth, "  ranker: {provider: gcp, model: semantic-ranker-default@latest}\n"))
    documents = ["the cat sat", "stocks fell", "a cat and a dog"]
    body = {"model": "ranker", "query": "cat sat", "documents": documents, "top_n": 2, "return_documents": True}
    answer = httpx.post(gateway.url + "/v1/rerank", json=body, timeout=30).json()
    assert [(r["index"], r["document"]["text"]) for r in answer["results"]] == [(0, documents[0]), (2, documents[2])]
    assert answer["meta"]["billed_units"] == {"search_units": 1}
    sent = vertex.received[-1]
    assert sent.path == f"/v1/projects/{PROJECT}/locations/global/rankingConfigs/default_ranking_config:rank"
    assert sent.json["records"][1] == {"id": "1", "content": "stocks fell"} and sent.json["topN"] == 2
    assert sent.json["model"] == "semantic-ranker-default@latest"
