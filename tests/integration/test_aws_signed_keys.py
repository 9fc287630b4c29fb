"""Virtual keys issued with AWS-style credentials (governance/sigv4.py), used by botocore's own
`bedrock-runtime` client (what `boto3.client` makes) on Bedrock's InvokeModel door, and by boto3 on the Converse
door: signed with SigV4 over plain HTTP and over TLS, the key's model list and limits applying; a wrong secret, an
unknown or revoked access key id, a changed body, a skewed date and a replayed request refused in Bedrock's format
(`x-amzn-ErrorType`); the bearer token still working beside."""

from __future__ import annotations

import datetime
import logging
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.auth
import botocore.config
import botocore.exceptions
import botocore.session
import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.pki import make_pki
from tests.fakes.servers import LoopThread, RunningApp
from tests.fakes.tls_front import TlsFront

MASTER = "master-key-of-the-sigv4-tests-0123456789"
ADMIN = {"Authorization": f"Bearer {MASTER}"}
REGION = "us-east-1"
BODY = orjson.dumps(
    {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": [{"role": "user", "content": "Hi"}]}
)


@pytest.fixture
def gateway(make_gateway: GatewayFactory, tmp_path: Path) -> RunningApp:
    store = tmp_path / "store.db"
    return make_gateway(env={"BABELGATE_MASTER_KEY": MASTER, "BABELGATE_STORE_URL": f"sqlite:{store}"})


def issue(gateway: RunningApp, **fields: Any) -> dict[str, Any]:
    created = httpx.post(
        gateway.url + "/admin/keys", json={"aws_credentials": True, **fields}, headers=ADMIN, timeout=10
    )
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def bedrock(url: str, key: dict[str, Any], *, secret: str | None = None, verify: str | bool = True) -> Any:
    """The bedrock-runtime client at `url`, with the key's AWS-style credentials (or another `secret`)."""
    return botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=key["aws_access_key_id"],
        aws_secret_access_key=secret or key["aws_secret_access_key"],
        verify=verify,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )


def _code(error: pytest.ExceptionInfo[botocore.exceptions.ClientError]) -> tuple[int, str]:
    response = error.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def test_the_admin_api_issues_aws_credentials_shown_once(gateway: RunningApp, tmp_path: Path) -> None:
    key = issue(gateway, label="signer")
    assert re.fullmatch(r"BGAK[A-Z2-7]{16}", key["aws_access_key_id"])
    assert len(key["aws_secret_access_key"]) == 40 and key["key"].startswith("bg-")
    shown = httpx.get(gateway.url + f"/admin/keys/{key['id']}", headers=ADMIN, timeout=10)
    listed = httpx.get(gateway.url + "/admin/keys", headers=ADMIN, timeout=10)
    for answer in (shown, listed):
        assert key["aws_access_key_id"] in answer.text
        assert key["aws_secret_access_key"] not in answer.text and "aws_secret_sealed" not in answer.text
    kept = sqlite3.connect(tmp_path / "store.db").execute("select * from babelgate_documents").fetchall()
    stored = repr(kept)
    assert key["aws_access_key_id"] in stored, "the key is in the store"
    assert key["aws_secret_access_key"] not in stored, "its AWS secret is kept sealed"
    plain = httpx.post(gateway.url + "/admin/keys", json={}, headers=ADMIN, timeout=10).json()
    assert plain["aws_access_key_id"] is None and "aws_secret_access_key" not in plain
    refused = httpx.post(gateway.url + "/admin/keys", json={"aws_credentials": "yes"}, headers=ADMIN, timeout=10)
    assert refused.status_code == 400 and "aws_credentials" in refused.text


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(params=["http", "https"])
def endpoint(
    request: pytest.FixtureRequest, gateway: RunningApp, loop_thread: LoopThread, pki: dict[str, str]
) -> Iterator[tuple[str, str | bool]]:
    """The gateway's URL, and what the client trusts there: plain HTTP, or TLS in front of it."""
    if request.param == "http":
        yield gateway.url, True
        return
    front = TlsFront(gateway.port, pki["server"])
    loop_thread.run(front.start())
    yield front.url, pki["ca"]
    loop_thread.run(front.stop())


def test_the_aws_sdk_signs_with_the_gateway_key(
    gateway: RunningApp, endpoint: tuple[str, str | bool], upstream: FakeOpenAI
) -> None:
    key = issue(gateway, models=["gpt-4o-mini", "openai/*"])
    url, verify = endpoint
    client = bedrock(url, key, verify=verify)
    answer = client.invoke_model(modelId="gpt-4o-mini", body=BODY)
    assert orjson.loads(answer["body"].read())["content"][0]["text"] == "Hello!"
    # A model id with a slash goes out quoted (`openai%2Fgpt-4o-mini`), and is signed quoted once more.
    slashed = client.invoke_model(modelId="openai/gpt-4o-mini", body=BODY)
    assert orjson.loads(slashed["body"].read())["content"][0]["text"] == "Hello!"
    streamed = client.invoke_model_with_response_stream(modelId="gpt-4o-mini", body=BODY)
    events = [orjson.loads(event["chunk"]["bytes"]) for event in streamed["body"]]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert upstream.received[-1].json["model"] == "gpt-4o-mini"
    # Its model list applies: another model is the key's to be refused, as Bedrock refuses one.
    with pytest.raises(botocore.exceptions.ClientError) as other:
        client.invoke_model(modelId="gpt-4o", body=BODY)
    assert _code(other) == (403, "AccessDeniedException")


def test_boto3_converse_signs_with_the_gateway_key(
    gateway: RunningApp, endpoint: tuple[str, str | bool], upstream: FakeOpenAI
) -> None:
    """The Converse door takes the same signed keys: boto3's own client, whole and streamed, over HTTP and TLS."""
    key = issue(gateway, models=["gpt-4o-mini"])
    url, verify = endpoint
    client = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=key["aws_access_key_id"],
        aws_secret_access_key=key["aws_secret_access_key"],
        verify=verify,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )
    messages = [{"role": "user", "content": [{"text": "Hi"}]}]
    answer = client.converse(modelId="gpt-4o-mini", messages=messages)
    assert answer["output"]["message"]["content"][0]["text"] == "Hello!"
    streamed = client.converse_stream(modelId="gpt-4o-mini", messages=messages)
    events = list(streamed["stream"])
    assert "messageStart" in events[0] and any("messageStop" in event for event in events)
    with pytest.raises(botocore.exceptions.ClientError) as other:
        client.converse(modelId="gpt-4o", messages=messages)
    assert _code(other) == (403, "AccessDeniedException")
    wrong = boto3.client(
        "bedrock-runtime",
        region_name=REGION,
        endpoint_url=url,
        aws_access_key_id=key["aws_access_key_id"],
        aws_secret_access_key="y" * 40,
        verify=verify,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        wrong.converse(modelId="gpt-4o-mini", messages=messages)
    assert _code(refused) == (403, "InvalidSignatureException")


def test_a_wrong_secret_an_unknown_id_and_a_revoked_key_are_refused(
    gateway: RunningApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = issue(gateway)
    with pytest.raises(botocore.exceptions.ClientError) as wrong:
        bedrock(gateway.url, key, secret="x" * 40).invoke_model(modelId="gpt-4o-mini", body=BODY)
    assert _code(wrong) == (403, "InvalidSignatureException")
    unknown = {**key, "aws_access_key_id": "BGAK" + "A" * 16}
    with pytest.raises(botocore.exceptions.ClientError) as stranger:
        bedrock(gateway.url, unknown).invoke_model(modelId="gpt-4o-mini", body=BODY)
    assert _code(stranger) == (403, "UnrecognizedClientException")
    revoked = httpx.delete(gateway.url + f"/admin/keys/{key['id']}", headers=ADMIN, timeout=10)
    assert revoked.status_code == 200
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        bedrock(gateway.url, key).invoke_model(modelId="gpt-4o-mini", body=BODY)
    assert _code(gone) == (403, "UnrecognizedClientException")
    assert "refused" in caplog.text and key["id"] in caplog.text  # the log of refusals names the key's id
    assert key["aws_secret_access_key"] not in caplog.text and key["key"] not in caplog.text


def signed(gateway: RunningApp, key: dict[str, Any], body: bytes = BODY, model: str = "gpt-4o-mini") -> AWSRequest:
    """An InvokeModel request signed by botocore's SigV4Auth, as the client signs it."""
    request = AWSRequest(
        "POST",
        gateway.url + f"/model/{model}/invoke",
        data=body,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    credentials = Credentials(key["aws_access_key_id"], key["aws_secret_access_key"])
    SigV4Auth(credentials, "bedrock", REGION).add_auth(request)
    return request


def send(request: AWSRequest, body: bytes | None = None) -> httpx.Response:
    return httpx.post(
        request.url, content=request.body if body is None else body, headers=dict(request.headers), timeout=10
    )


def test_a_replayed_request_is_refused(gateway: RunningApp) -> None:
    request = signed(gateway, issue(gateway))
    first = send(request)
    assert first.status_code == 200 and first.json()["content"][0]["text"] == "Hello!"
    again = send(request)  # the same signed bytes
    assert again.status_code == 403 and again.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert "already received" in again.json()["message"]


def test_a_request_refused_before_its_answer_may_come_again(gateway: RunningApp) -> None:
    """Served at most once: a signed request that failed before its answer began is not remembered, so an AWS SDK's
    retry within the same second (the same signature) is answered, not refused as a replay."""
    request = signed(gateway, issue(gateway, models=["gpt-4o-mini"]), model="gpt-4o")
    for _ in range(2):
        refused = send(request)
        assert refused.status_code == 403 and refused.headers["x-amzn-errortype"] == "AccessDeniedException"


def test_a_changed_body_is_refused(gateway: RunningApp) -> None:
    request = signed(gateway, issue(gateway))
    changed = send(request, BODY.replace(b"Hi", b"Ho"))
    assert changed.status_code == 403 and changed.headers["x-amzn-errortype"] == "InvalidSignatureException"


def test_a_skewed_date_is_refused(gateway: RunningApp, monkeypatch: pytest.MonkeyPatch) -> None:
    key = issue(gateway)
    late = datetime.datetime.now(datetime.UTC).replace(tzinfo=None) - datetime.timedelta(minutes=6)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: late)
    refused = send(signed(gateway, key))
    assert refused.status_code == 403 and refused.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert "expired" in refused.json()["message"]
    soon = late + datetime.timedelta(minutes=4)  # two minutes ahead of the gateway: within the window
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: soon)
    assert send(signed(gateway, key)).status_code == 200


def test_the_key_s_limits_apply_to_signed_requests(gateway: RunningApp) -> None:
    key = issue(gateway, rpm=1)
    client = bedrock(gateway.url, key)
    client.invoke_model(modelId="gpt-4o-mini", body=BODY)
    # Another request (the same bytes signed in the same second would be the same signature: a replay).
    with pytest.raises(botocore.exceptions.ClientError) as limited:
        client.invoke_model(modelId="gpt-4o-mini", body=BODY.replace(b"Hi", b"Hi again"))
    assert _code(limited) == (429, "ThrottlingException")


def test_the_bearer_token_and_a_malformed_signature(gateway: RunningApp) -> None:
    key = issue(gateway)
    url = gateway.url + "/model/gpt-4o-mini/invoke"
    bearer = httpx.post(url, content=BODY, headers={"Authorization": f"Bearer {key['key']}"}, timeout=10)
    assert bearer.status_code == 200
    by_header = httpx.post(url, content=BODY, headers={"x-api-key": key["key"]}, timeout=10)
    assert by_header.status_code == 200
    garbled = f"AWS4-HMAC-SHA256 Credential={key['aws_access_key_id']}/20260101/us-east-1/bedrock, Signature=00"
    malformed = httpx.post(url, content=BODY, headers={"Authorization": garbled}, timeout=10)
    assert malformed.status_code == 403 and malformed.headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert key["aws_secret_access_key"] not in malformed.text
