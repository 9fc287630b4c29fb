"""Self-test of the cloud fakes with the clouds' own clients: what Google's and Microsoft's SDKs send is what
the fakes accept, what they answer is what the SDKs parse, and the credential fakes issue tokens through the
credential libraries themselves (google-auth's service-account flow and metadata server, azure-identity's
client-secret flow). So the gateway's tests against them test against the real wire formats."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gt

from tests.fakes.azure_upstream import FakeAzure
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.entra import CLIENT_ID, TENANT, App, FakeEntra
from tests.fakes.google_credentials import (
    ACCOUNT,
    CLOUD_PLATFORM,
    FakeGoogleOAuth,
    FakeMetadataServer,
    service_account_key,
)
from tests.fakes.pki import make_pki, server_context
from tests.fakes.servers import LoopThread
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex

KEY = "azure-selftest-key-0123456789"


@pytest.fixture(scope="module")
def fakes(
    loop_thread: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TokenRegistry, FakeGoogleOAuth, FakeMetadataServer, FakeVertex, FakeAzure, FakeEntra, str]]:
    registry = TokenRegistry()
    pki = make_pki(tmp_path_factory.mktemp("pki"))
    entra = FakeEntra(registry)
    entra.ssl_context = server_context(pki)
    all_fakes = (
        FakeGoogleOAuth(registry),
        FakeMetadataServer(registry),
        FakeVertex(registry),
        FakeAzure(registry),
        entra,
    )
    for fake in all_fakes:
        loop_thread.run(fake.start())
    yield (registry, *all_fakes, pki["ca"])  # type: ignore[misc]
    for fake in all_fakes:
        loop_thread.run(fake.stop())


def _google_token(oauth: FakeGoogleOAuth, tmp_path: Path) -> str:
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    path = tmp_path / "key.json"
    oauth.accounts[ACCOUNT] = service_account_key(path, oauth.token_uri)
    credentials = service_account.Credentials.from_service_account_file(str(path), scopes=[CLOUD_PLATFORM])  # type: ignore[no-untyped-call]
    credentials.refresh(Request())
    return str(credentials.token)


def test_google_auth_gets_a_token_for_a_service_account_and_a_forged_key_is_refused(
    fakes: tuple, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    registry, oauth = fakes[0], fakes[1]
    token = _google_token(oauth, tmp_path)
    assert registry.check(token, CLOUD_PLATFORM) is None
    forged = tmp_path / "forged.json"
    service_account_key(forged, oauth.token_uri)  # a key the account does not have
    from google.auth import exceptions
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    credentials = service_account.Credentials.from_service_account_file(str(forged), scopes=[CLOUD_PLATFORM])  # type: ignore[no-untyped-call]
    with pytest.raises(exceptions.RefreshError, match="Invalid JWT Signature"):
        credentials.refresh(Request())


def test_the_google_genai_sdk_in_vertex_mode_talks_to_the_fake(fakes: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    from google.oauth2.credentials import Credentials

    oauth, vertex = fakes[1], fakes[3]
    vertex.reset()
    token = _google_token(oauth, tmp_path)
    client = genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=Credentials(token=token),  # type: ignore[no-untyped-call]
        http_options=gt.HttpOptions(base_url=vertex.base_url + "/", timeout=60_000),
    )
    answer = client.models.generate_content(
        model="gemini-2.5-flash",
        contents="Hi",
        config=gt.GenerateContentConfig(
            system_instruction="Be brief.",
            tools=[
                gt.Tool(
                    function_declarations=[
                        gt.FunctionDeclaration(name="get_weather", parameters_json_schema={"type": "object"})
                    ]
                )
            ],
        ),
    )
    assert answer.text == "Hello!"
    assert (
        "".join(c.text or "" for c in client.models.generate_content_stream(model="gemini-2.5-flash", contents="Hi"))
        == "Hello!"
    )
    embedded = client.models.embed_content(
        model="text-embedding-005", contents=["a", "b"], config=gt.EmbedContentConfig(output_dimensionality=4)
    )
    assert [len(e.values or []) for e in embedded.embeddings or []] == [4, 4]
    assert vertex.violations == []


def test_anthropic_vertex_talks_to_the_fake(fakes: tuple, tmp_path: Path) -> None:  # type: ignore[type-arg]
    oauth, vertex = fakes[1], fakes[3]
    vertex.reset()
    token = _google_token(oauth, tmp_path)
    client = anthropic.AnthropicVertex(
        region=LOCATION,
        project_id=PROJECT,
        access_token=token,
        base_url=vertex.base_url + "/v1",
        max_retries=0,
        timeout=60,
    )
    message = client.messages.create(
        model="claude-sonnet-4-5@20250929", max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hello!"
    with client.messages.stream(
        model="claude-sonnet-4-5@20250929", max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        assert stream.get_final_text() == "Hello!"
    counted = client.messages.count_tokens(
        model="claude-sonnet-4-5@20250929", messages=[{"role": "user", "content": "Hi"}]
    )
    assert counted.input_tokens > 0
    assert vertex.violations == []
    bad = anthropic.AnthropicVertex(
        region=LOCATION,
        project_id=PROJECT,
        access_token="ya29.not-issued",
        base_url=vertex.base_url + "/v1",
        max_retries=0,
        timeout=60,
    )
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(
            model="claude-sonnet-4-5@20250929", max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
        )


def test_the_metadata_server_serves_google_auth(fakes: tuple, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    from google.auth import compute_engine
    from google.auth.compute_engine import _metadata
    from google.auth.transport.requests import Request

    registry, metadata = fakes[0], fakes[2]
    monkeypatch.setattr(_metadata, "_GCE_METADATA_HOST", metadata.host)
    monkeypatch.setenv("GCE_METADATA_IP", metadata.host)
    assert _metadata.ping(Request())
    credentials = compute_engine.Credentials()  # type: ignore[no-untyped-call]
    credentials.refresh(Request())
    assert registry.issued[credentials.token].source == "metadata"


def test_the_openai_sdk_talks_to_the_azure_fake(fakes: tuple) -> None:  # type: ignore[type-arg]
    azure = fakes[4]
    azure.reset()
    azure.api_keys = frozenset({KEY})
    with openai.AzureOpenAI(azure_endpoint=azure.base_url, api_key=KEY, api_version="2024-10-21", max_retries=0) as sdk:
        answer = sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content == "Hello!"
        assert azure.urls[-1] == "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"
        with pytest.raises(openai.NotFoundError):
            sdk.chat.completions.create(model="absent", messages=[{"role": "user", "content": "Hi"}])
    with (
        openai.AzureOpenAI(
            azure_endpoint=azure.base_url, api_key="wrong", api_version="2024-10-21", max_retries=0
        ) as sdk,
        pytest.raises(openai.AuthenticationError),
    ):
        sdk.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
    assert azure.violations == []


def test_azure_identity_gets_a_token_from_the_entra_fake(fakes: tuple, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import ClientSecretCredential

    registry, entra, ca = fakes[0], fakes[5], fakes[6]
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca)
    entra.reset()
    entra.state.apps[CLIENT_ID] = App(secret="the-secret")
    credential = ClientSecretCredential(
        TENANT, CLIENT_ID, "the-secret", authority=entra.authority, disable_instance_discovery=True
    )
    token = credential.get_token("https://cognitiveservices.azure.com/.default")
    assert registry.check(token.token, "https://cognitiveservices.azure.com") is None
    wrong = ClientSecretCredential(
        TENANT, CLIENT_ID, "wrong", authority=entra.authority, disable_instance_discovery=True
    )
    with pytest.raises(ClientAuthenticationError, match="AADSTS7000215"):
        wrong.get_token("https://cognitiveservices.azure.com/.default")
