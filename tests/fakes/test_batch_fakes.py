"""Self-test of the fakes' batch APIs: each official SDK drives a batch through its whole life against its fake, so
what the fakes answer is what the SDKs read, and what the SDKs send is what the fakes take (the fixtures fail on any
violation the fakes recorded)."""

from __future__ import annotations

import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gt
from google.oauth2.credentials import Credentials
from mistralai.client import Mistral

from tests.conftest import BATCH_BUCKET
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.bedrock_upstream import REGION, AwsKey, FakeBedrock
from tests.fakes.cloud_tokens import TokenRegistry
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.google_credentials import CLOUD_PLATFORM
from tests.fakes.mistral_upstream import FakeMistral
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread
from tests.fakes.vertex_batches import BUCKET
from tests.fakes.vertex_upstream import LOCATION, PROJECT, FakeVertex


def _chat(text: str) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": text}], "max_tokens": 20}


def test_openai_sdk_runs_a_batch_on_the_fake(upstream: FakeOpenAI) -> None:
    lines = b"".join(
        orjson.dumps(
            {
                "custom_id": name,
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {"model": "gpt-4o-mini", **_chat(name)},
            }
        )
        + b"\n"
        for name in ("a", "b")
    )
    upstream.batch_api.failures["b"] = (400, {"error": {"message": "no", "type": "invalid_request_error"}})
    with openai.OpenAI(base_url=upstream.base_url, api_key="k", max_retries=0, timeout=10) as sdk:
        uploaded = sdk.files.create(file=("in.jsonl", lines, "application/jsonl"), purpose="batch")
        batch = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert batch.status == "validating"
        assert sdk.batches.retrieve(batch.id).status == "in_progress"
        done = sdk.batches.retrieve(batch.id)
        assert done.status == "completed" and done.request_counts is not None and done.request_counts.failed == 1
        assert done.output_file_id and done.error_file_id
        output = [orjson.loads(line) for line in sdk.files.content(done.output_file_id).content.splitlines()]
        assert output[0]["custom_id"] == "a" and output[0]["response"]["status_code"] == 200
        held = sdk.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert sdk.batches.cancel(held.id).status == "cancelling"
        assert sdk.batches.retrieve(held.id).status == "cancelled"


def test_anthropic_sdk_runs_a_message_batch_on_the_fake(anthropic_upstream: FakeAnthropic) -> None:
    anthropic_upstream.message_batches.failures["b"] = ("invalid_request_error", "no")
    params = {"model": "claude-sonnet-4-5", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}
    with anthropic.Anthropic(base_url=anthropic_upstream.base_url, api_key="k", max_retries=0, timeout=10) as sdk:
        batch = sdk.messages.batches.create(
            requests=[{"custom_id": "a", "params": params}, {"custom_id": "b", "params": params}]  # type: ignore[list-item]
        )
        assert batch.processing_status == "in_progress"
        sdk.messages.batches.retrieve(batch.id)
        ended = sdk.messages.batches.retrieve(batch.id)
        assert ended.processing_status == "ended" and ended.request_counts.errored == 1
        results = {item.custom_id: item.result for item in sdk.messages.batches.results(batch.id)}
        assert results["a"].type == "succeeded" and results["b"].type == "errored"
        held = sdk.messages.batches.create(requests=[{"custom_id": "c", "params": params}])  # type: ignore[list-item]
        assert sdk.messages.batches.cancel(held.id).processing_status == "canceling"
        assert sdk.messages.batches.retrieve(held.id).request_counts.canceled == 1


def test_genai_sdk_runs_an_inlined_batch_on_the_fake(gemini_upstream: FakeGemini) -> None:
    gemini_upstream.batch_mode.failures["b"] = (400, "no")
    options = gt.HttpOptions(base_url=gemini_upstream.base_url, api_version="v1beta", timeout=10_000)
    requests = [
        gt.InlinedRequest(contents="hi", metadata={"key": key}, config=gt.GenerateContentConfig(max_output_tokens=20))
        for key in ("a", "b")
    ]
    with genai.Client(api_key="k", http_options=options) as sdk:
        job = sdk.batches.create(model="gemini-2.5-flash", src=requests, config={"display_name": "test"})
        assert job.name and job.state == gt.JobState.JOB_STATE_PENDING
        assert sdk.batches.get(name=job.name).state == gt.JobState.JOB_STATE_RUNNING
        done = sdk.batches.get(name=job.name)
        assert done.state == gt.JobState.JOB_STATE_SUCCEEDED and done.dest and done.dest.inlined_responses
        answers = {item.metadata["key"]: item for item in done.dest.inlined_responses if item.metadata}
        assert answers["a"].response is not None and answers["a"].response.text == "Answer to a"
        assert answers["b"].error is not None and answers["b"].error.code == 400
        held = sdk.batches.create(model="gemini-2.5-flash", src=requests[:1])
        assert held.name
        sdk.batches.cancel(name=held.name)
        assert sdk.batches.get(name=held.name).state == gt.JobState.JOB_STATE_CANCELLED


def test_mistral_sdk_runs_a_batch_job_on_the_fake(mistral_upstream: FakeMistral) -> None:
    mistral_upstream.batch_jobs.failures["b"] = {"object": "error", "message": "no", "type": "invalid_request_error"}
    lines = b"".join(orjson.dumps({"custom_id": name, "body": _chat(name)}) + b"\n" for name in ("a", "b"))
    with Mistral(api_key="k", server_url=mistral_upstream.base_url, timeout_ms=10_000) as sdk:
        uploaded = sdk.files.upload(file={"file_name": "in.jsonl", "content": lines}, purpose="batch")
        job = sdk.batch.jobs.create(
            input_files=[uploaded.id], model="mistral-small-latest", endpoint="/v1/chat/completions"
        )
        assert job.status == "QUEUED"
        assert sdk.batch.jobs.get(job_id=job.id).status == "RUNNING"
        done = sdk.batch.jobs.get(job_id=job.id)
        assert done.status == "SUCCESS" and done.failed_requests == 1 and done.output_file and done.error_file
        output = sdk.files.download(file_id=done.output_file).read()
        assert orjson.loads(output.splitlines()[0])["custom_id"] == "a"
        held = sdk.batch.jobs.create(
            input_files=[uploaded.id], model="mistral-small-latest", endpoint="/v1/chat/completions"
        )
        assert sdk.batch.jobs.cancel(job_id=held.id).status == "CANCELLATION_REQUESTED"
        assert sdk.batch.jobs.get(job_id=held.id).status == "CANCELLED"


def test_genai_sdk_runs_a_vertex_batch_prediction_job_on_the_fake(loop_thread: LoopThread) -> None:
    """google-genai in Vertex mode makes, polls and cancels batch prediction jobs on the fake Vertex, whose
    predictions it finds in the fake Cloud Storage; a token the fake credential sources never issued is refused."""
    registry = TokenRegistry()
    vertex = FakeVertex(registry)
    loop_thread.run(vertex.start())
    try:
        token = registry.issue("oauth2", CLOUD_PLATFORM, "ya29.test-").token
        request = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
        vertex.storage.objects["in/input.jsonl"] = orjson.dumps({"key": "a", "request": request}) + b"\n"
        client = genai.Client(
            vertexai=True,
            project=PROJECT,
            location=LOCATION,
            credentials=Credentials(token=token),  # type: ignore[no-untyped-call]
            http_options=gt.HttpOptions(base_url=vertex.base_url, timeout=10_000),
        )
        job = client.batches.create(
            model="gemini-2.5-flash",
            src=f"gs://{BUCKET}/in/input.jsonl",
            config=gt.CreateBatchJobConfig(dest=f"gs://{BUCKET}/out", display_name="self-test"),
        )
        assert job.name and job.state == gt.JobState.JOB_STATE_PENDING
        assert client.batches.get(name=job.name).state == gt.JobState.JOB_STATE_RUNNING
        done = client.batches.get(name=job.name)
        assert done.state == gt.JobState.JOB_STATE_SUCCEEDED and done.completion_stats is not None
        assert done.completion_stats.successful_count == 1 and done.output_info is not None
        directory = str(done.output_info.gcs_output_directory).removeprefix(f"gs://{BUCKET}/")
        [line] = vertex.storage.objects[f"{directory}/predictions.jsonl"].splitlines()
        assert orjson.loads(line)["response"]["candidates"][0]["content"]["parts"][0]["text"] == "Answer to a"
        vertex.batch_jobs.hold = True
        held = client.batches.create(
            model="gemini-2.5-flash",
            src=f"gs://{BUCKET}/in/input.jsonl",
            config=gt.CreateBatchJobConfig(dest=f"gs://{BUCKET}/out2", display_name="held"),
        )
        assert held.name
        client.batches.cancel(name=held.name)
        assert client.batches.get(name=held.name).state == gt.JobState.JOB_STATE_CANCELLED
        assert vertex.violations == []
        stranger = genai.Client(
            vertexai=True,
            project=PROJECT,
            location=LOCATION,
            credentials=Credentials(token="ya29.never-issued"),  # type: ignore[no-untyped-call]
            http_options=gt.HttpOptions(base_url=vertex.base_url, timeout=10_000),
        )
        with pytest.raises(genai_errors.ClientError) as refused:
            stranger.batches.get(name=job.name)
        assert refused.value.code == 401
    finally:
        loop_thread.run(vertex.stop())


def test_boto3_runs_a_batch_inference_job_on_the_fake(bedrock_upstream: FakeBedrock, moto_s3: str) -> None:
    """boto3's own `bedrock` client (its serializer, SigV4 signer and parser) creates, polls and stops jobs on the
    fake control plane, their records and results in moto's bucket."""
    import boto3
    from botocore.config import Config

    bedrock_upstream.iam["AKIAFAKEBATCHSDK0001"] = AwsKey("fake-batch-sdk-secret")
    bedrock_upstream.batch_jobs.s3_url = moto_s3
    keys = {"aws_access_key_id": "AKIAFAKEBATCHSDK0001", "aws_secret_access_key": "fake-batch-sdk-secret"}
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name=REGION, **keys)
    records = [
        {
            "recordId": f"r{n}",
            "modelInput": {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 20, **_chat("hi")},
        }
        for n in range(2)
    ]
    s3.put_object(Bucket=BATCH_BUCKET, Key="sdk/in.jsonl", Body=b"\n".join(orjson.dumps(r) for r in records))
    bedrock_upstream.batch_jobs.failures["r1"] = (400, "bad request")
    timeouts = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 1})
    sdk = boto3.client("bedrock", endpoint_url=bedrock_upstream.base_url, region_name=REGION, config=timeouts, **keys)
    job = sdk.create_model_invocation_job(
        jobName="sdk-job-1",
        roleArn="arn:aws:iam::123456789012:role/BedrockBatch",
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BATCH_BUCKET}/sdk/in.jsonl"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BATCH_BUCKET}/sdk/out/"}},
    )
    statuses = [sdk.get_model_invocation_job(jobIdentifier=job["jobArn"])["status"] for _ in range(4)]
    assert statuses == ["Validating", "InProgress", "PartiallyCompleted", "PartiallyCompleted"]
    done = sdk.get_model_invocation_job(jobIdentifier=job["jobArn"])
    assert (done["successRecordCount"], done["errorRecordCount"]) == (1, 1)
    job_id = job["jobArn"].rsplit("/", 1)[-1]
    out = s3.get_object(Bucket=BATCH_BUCKET, Key=f"sdk/out/{job_id}/in.jsonl.out")["Body"].read()
    lines = {line["recordId"]: line for line in map(orjson.loads, out.splitlines())}
    assert lines["r0"]["modelOutput"]["content"][0]["text"] == "Answer to r0"
    assert lines["r1"]["error"] == {"errorCode": 400, "errorMessage": "bad request"}
    bedrock_upstream.batch_jobs.hold = True
    held = sdk.create_model_invocation_job(
        jobName="sdk-job-2",
        roleArn="arn:aws:iam::123456789012:role/BedrockBatch",
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BATCH_BUCKET}/sdk/in.jsonl"}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BATCH_BUCKET}/sdk/out/"}},
    )
    sdk.stop_model_invocation_job(jobIdentifier=held["jobArn"])
    assert sdk.get_model_invocation_job(jobIdentifier=held["jobArn"])["status"] == "Stopped"
