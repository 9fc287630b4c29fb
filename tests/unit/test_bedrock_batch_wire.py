"""Bedrock's batch inference wire (providers/bedrock/batches.py): the bucket and role a provider names, record ids
Bedrock takes and gives back, a job's status and counts, and a results line read as an answer or a mapped error."""

from __future__ import annotations

from typing import Any

import pytest

from babelgate.errors import GatewayError, InvalidRequest, UpstreamProtocolError, UpstreamRejected
from babelgate.providers.bedrock import batches
from babelgate.providers.bedrock.errors import map_error
from babelgate.schema.chat import AssistantMessage, ChatResponse, Choice

ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdef012345"


def test_a_batch_bucket_is_an_s3_uri_with_an_optional_prefix() -> None:
    assert batches.bucket_of("s3://my-bucket") == ("my-bucket", "")
    assert batches.bucket_of("s3://my-bucket/a/b/") == ("my-bucket", "a/b")
    for wrong in ("my-bucket", "s3://My_Bucket/x", "https://my-bucket.s3.amazonaws.com/x", "s3://b/a b"):
        with pytest.raises(ValueError, match="batch_bucket"):
            batches.bucket_of(wrong)
    assert batches.checked_role("arn:aws:iam::123456789012:role/Batch") == "arn:aws:iam::123456789012:role/Batch"
    with pytest.raises(ValueError, match="batch_role_arn"):
        batches.checked_role("Batch")


@pytest.mark.parametrize("custom_id", ["17", "plain", "line-3", "request 1/é", "bgx41", ""])
def test_record_ids_are_alphanumeric_and_come_back_as_the_callers(custom_id: str) -> None:
    sent = batches.record_id(custom_id)
    assert sent == custom_id or (sent.isalnum() and sent.isascii())
    assert batches.caller_id(sent) == custom_id


def test_a_jobs_status_and_its_counts() -> None:
    running = batches.status_of({"status": "Scheduled"}, "aws")
    assert running.state == "running"
    job = {"status": "PartiallyCompleted", "totalRecordCount": 3, "successRecordCount": 2, "errorRecordCount": 1}
    ended = batches.status_of(job, "aws")
    assert (ended.state, ended.total, ended.succeeded, ended.failed) == ("ended", 3, 2, 1)
    manifest = {"totalRecordCount": 5, "successRecordCount": 5, "errorRecordCount": 0}
    assert batches.status_of({"status": "Completed"}, "aws", manifest).succeeded == 5
    failed = batches.status_of({"status": "Failed", "message": "no access to the bucket"}, "aws")
    assert (failed.state, failed.message) == ("failed", "no access to the bucket")
    assert batches.status_of({"status": "Stopped"}, "aws").state == "cancelled"
    assert batches.status_of({"status": "Expired"}, "aws").state == "expired"
    with pytest.raises(UpstreamProtocolError):
        batches.status_of({"status": "Paused"}, "aws")


def test_the_results_of_a_job_are_beside_its_output_folder() -> None:
    job = {
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://bkt/gw/babelgate-1/input.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://bkt/gw/babelgate-1/output/"}},
    }
    assert batches.results_keys(job, ARN, "aws") == (
        "bkt",
        "gw/babelgate-1/output/abcdef012345/input.jsonl.out",
        "gw/babelgate-1/output/abcdef012345/manifest.json.out",
    )
    with pytest.raises(UpstreamProtocolError):
        batches.results_keys({}, ARN, "aws")
    for wrong in ("abc", "../x", ARN + "/stop"):
        with pytest.raises(InvalidRequest):
            batches.job_path(wrong)
    assert batches.job_path(ARN, "/stop").endswith("%3Amodel-invocation-job%2Fabcdef012345/stop")


def _read(output: dict[str, Any]) -> ChatResponse:
    return ChatResponse("id", 1, "m", [Choice(0, AssistantMessage(content=output["text"]), "stop")], None)


def _outcome(record: dict[str, Any]) -> Any:
    return batches.outcome_of(record, from_wire=_read, map_error=map_error, provider="aws", scrub=str)


def test_a_results_line_is_an_answer_or_the_error_of_its_status() -> None:
    answered = _outcome({"recordId": "7", "modelInput": {}, "modelOutput": {"text": "hi"}})
    assert answered.custom_id == "7" and answered.response.choices[0].message.content == "hi"
    refused = _outcome({"recordId": "7", "error": {"errorCode": 400, "errorMessage": "bad request"}})
    assert isinstance(refused.error, UpstreamRejected) and refused.error.raw_message == "bad request"
    throttled = _outcome({"recordId": "7", "error": {"errorCode": 429, "errorMessage": "slow down"}})
    assert isinstance(throttled.error, GatewayError) and throttled.error.status == 429
    odd = _outcome({"recordId": "7", "error": {"errorCode": "oops"}})
    assert odd.error is not None and odd.error.status >= 500
    wrong = _outcome({"recordId": "7", "modelOutput": {"no": "text"}})
    assert isinstance(wrong.error, UpstreamProtocolError)
    for broken in ({"modelOutput": {}}, {"recordId": "7"}):
        with pytest.raises(UpstreamProtocolError):
            _outcome(broken)
