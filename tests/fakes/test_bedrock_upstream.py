"""Self-test of the Bedrock fake with AWS's own client: botocore's `bedrock-runtime` client signs its
requests (the fake must accept them, and refuse a wrong secret or an expired token as AWS does), and
parses every answer the fake gives: Converse JSON, ConverseStream and InvokeModelWithResponseStream
event streams (frames, CRCs, exception frames), InvokeModel bodies and error bodies."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from tests.fakes.anthropic_upstream import text_events
from tests.fakes.bedrock_service import event_frame, exception_frame, shape_violations
from tests.fakes.bedrock_upstream import (
    REGION,
    AwsKey,
    FakeBedrock,
    Reply,
    converse_response,
    converse_tool_events,
    error_reply,
)
from tests.fakes.servers import LoopThread

KEY_ID, SECRET = "AKIASELFTEST00000001", "self/test/secret/key/0123456789abcdefgh"
NOVA = "us.amazon.nova-pro-v1:0"
CLAUDE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBedrock]:
    thread = LoopThread()
    bedrock = FakeBedrock()
    thread.run(bedrock.start())
    yield bedrock
    thread.run(bedrock.stop())
    thread.stop()


OPENED: list[Any] = []


@pytest.fixture
def bedrock(fake: FakeBedrock) -> Iterator[FakeBedrock]:
    fake.reset()
    fake.iam[KEY_ID] = AwsKey(SECRET)
    yield fake
    while OPENED:  # botocore's connection pool, closed (an open socket is a warning, and warnings are errors)
        OPENED.pop().close()


def _client(fake: FakeBedrock, secret: str = SECRET, token: str | None = None, key_id: str = KEY_ID) -> Any:
    session = botocore.session.Session()
    client = session.create_client(
        "bedrock-runtime",
        region_name=REGION,
        endpoint_url=fake.base_url,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )
    OPENED.append(client)
    return client


def test_botocore_converse_is_accepted_and_parsed(bedrock: FakeBedrock) -> None:
    bedrock.script(Reply(json=converse_response("Hi!")))
    answer = _client(bedrock).converse(
        modelId=NOVA,
        messages=[{"role": "user", "content": [{"text": "Hello"}]}],
        inferenceConfig={"maxTokens": 10},
    )
    assert answer["output"]["message"]["content"] == [{"text": "Hi!"}]
    assert answer["usage"]["inputTokens"] == 11
    assert bedrock.signed_with == [KEY_ID] and bedrock.violations == []


def test_botocore_reads_the_fakes_event_streams(bedrock: FakeBedrock) -> None:
    bedrock.script(
        Reply(stream=converse_tool_events([("t1", "f", ['{"a":', "1}"])], reasoning=("Hm.", "c2ln"))),
        Reply(stream=text_events(["Hel", "lo"])),  # type: ignore[arg-type]
    )
    client = _client(bedrock)
    events = list(
        client.converse_stream(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "Hi"}]}])["stream"]
    )
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart" and names[-2:] == ["messageStop", "metadata"]
    assert events[1]["contentBlockDelta"]["delta"]["reasoningContent"] == {"text": "Hm."}
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    streamed = client.invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(body))["body"]
    kinds = [json.loads(part["chunk"]["bytes"])["type"] for part in streamed]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert bedrock.violations == []


def test_botocore_reads_an_exception_frame_and_an_error_body(bedrock: FakeBedrock) -> None:
    frames = [event_frame("messageStart", {"role": "assistant"}), exception_frame("throttlingException", "slow down")]
    bedrock.script(
        Reply(stream=frames), error_reply("ValidationException", 400, "Input is too long for requested model.")
    )
    client = _client(bedrock)
    stream = client.converse_stream(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "Hi"}]}])["stream"]
    with pytest.raises(EventStreamError) as thrown:
        list(stream)
    stream.close()  # the connection of a stream that ended in an exception is not released by botocore
    assert thrown.value.response["Error"]["Code"] == "throttlingException"
    with pytest.raises(ClientError) as refused:
        client.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "too long" in refused.value.response["Error"]["Message"]


def test_invoke_model_for_claude_and_embeddings(bedrock: FakeBedrock) -> None:
    client = _client(bedrock)
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    answer = json.loads(client.invoke_model(modelId=CLAUDE, body=json.dumps(body))["body"].read())
    assert answer["type"] == "message"
    titan = client.invoke_model(
        modelId="amazon.titan-embed-text-v2:0", body=json.dumps({"inputText": "x", "dimensions": 256})
    )
    assert len(json.loads(titan["body"].read())["embedding"]) == 256
    assert bedrock.violations == []


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("secret", "InvalidSignatureException"),
        ("key", "UnrecognizedClientException"),
        ("expired", "ExpiredTokenException"),
    ],
)
def test_the_fake_refuses_bad_credentials_like_aws(bedrock: FakeBedrock, kind: str, expected: str) -> None:
    bedrock.iam["ASIAEXPIREDSELFTEST1"] = AwsKey("expired-secret-0123456789", token="tok", expires=time.time() - 1)
    client = {
        "secret": lambda: _client(bedrock, secret="wrong-secret-0123456789"),
        "key": lambda: _client(bedrock, key_id="AKIAUNKNOWN000000001"),
        "expired": lambda: _client(
            bedrock, secret="expired-secret-0123456789", token="tok", key_id="ASIAEXPIREDSELFTEST1"
        ),
    }[kind]()
    with pytest.raises(ClientError) as refused:
        client.converse(modelId=NOVA, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert refused.value.response["Error"]["Code"] == expected
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_the_validator_walks_botocores_shapes() -> None:
    good = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}], "inferenceConfig": {"topP": 0.5}}
    assert shape_violations(good, "ConverseRequest") == []
    bad = {
        "messages": [
            {"role": "robot", "content": [{"text": "Hi", "image": {"format": "png", "source": {"bytes": "!!"}}}]}
        ],
        "inferenceConfig": {"topP": 2, "maxTokens": 0},
        "toolConfig": {"tools": [{"toolSpec": {"name": "bad name!", "inputSchema": {"json": {}}}}]},
        "modelId": "x",
        "bogus": 1,
    }
    problems = "\n".join(shape_violations(bad, "ConverseRequest"))
    for expected in (
        "<body>.bogus: unknown member",
        "<body>.modelId: unknown member",  # a URI member, not part of the body
        "'robot' is not one of",
        "a union must set exactly one member",
        "not valid base64",
        "topP: above 1",
        "maxTokens: below 1",
        "does not match",
    ):
        assert expected in problems, problems
