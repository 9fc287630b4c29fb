"""The provider batch parts' pure wire pieces (providers/*/batches.py, providers/vertex/batch_jobs.py and storage.py,
providers/batch.py): how each provider's batch states and result lines read, on the shapes the fakes do not produce
(partial counts, lines that never ran, results that are not what they should be)."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest

from babelgate.errors import UpstreamError, UpstreamProtocolError, UpstreamRateLimited, UpstreamRejected
from babelgate.http import UpstreamResponse
from babelgate.providers.anthropic import batches as anthropic
from babelgate.providers.anthropic.translate import from_wire as anthropic_from_wire
from babelgate.providers.batch import jsonl_objects
from babelgate.providers.gemini import batches as gemini
from babelgate.providers.gemini.translate import from_wire as gemini_from_wire
from babelgate.providers.mistral import batches as mistral
from babelgate.providers.openai import batches as openai
from babelgate.providers.openai.errors import map_error
from babelgate.providers.openai.translate import from_wire as openai_from_wire
from babelgate.providers.vertex import batch_jobs as vertex
from babelgate.providers.vertex.storage import BucketPath
from tests.fakes.openai_upstream import completion
from tests.unit.test_openai_provider import StubResponse

P = "p"


def _scrub(text: str) -> str:
    return text


def _openai_outcome(line: dict[str, Any]) -> Any:
    return openai.outcome_of(line, from_wire=openai_from_wire, map_error=map_error, provider=P, scrub=_scrub)


def test_openai_result_lines_read_as_answers_errors_or_nothing() -> None:
    answered = _openai_outcome({"custom_id": "a", "response": {"status_code": 200, "body": completion("Hi")}})
    assert answered.response.choices[0].message.content == "Hi" and answered.response.usage.total_tokens == 12
    limited = _openai_outcome(
        {"custom_id": "b", "response": {"status_code": 429, "body": {"error": {"message": "slow down"}}}}
    )
    assert isinstance(limited.error, UpstreamRateLimited) and limited.response is None
    for code in ("batch_expired", "batch_cancelled"):  # never ran: left out
        assert _openai_outcome({"custom_id": "c", "response": None, "error": {"code": code, "message": "x"}}) is None
    other = _openai_outcome({"custom_id": "d", "response": None, "error": {"code": "oops", "message": "broken"}})
    assert isinstance(other.error, UpstreamRejected) and other.error.raw_message == "broken"
    wrong = _openai_outcome({"custom_id": "e", "response": {"status_code": 200, "body": {"choices": "no"}}})
    assert isinstance(wrong.error, UpstreamProtocolError)
    for line in ({"response": {"status_code": 200, "body": {}}}, {"custom_id": "f"}):
        with pytest.raises(UpstreamProtocolError):
            _openai_outcome(line)


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("validating", "running"),
        ("in_progress", "running"),
        ("finalizing", "running"),
        ("cancelling", "running"),
        ("completed", "ended"),
        ("failed", "failed"),
        ("expired", "expired"),
        ("cancelled", "cancelled"),
    ],
)
def test_openai_batch_states(status: str, state: str) -> None:
    batch = {"status": status, "request_counts": {"total": 5, "completed": 4, "failed": 1}}
    read = openai.status_of(batch, P)
    assert (read.state, read.total, read.succeeded, read.failed) == (state, 5, 3, 1)


def test_an_openai_batch_that_failed_validation_says_which_line() -> None:
    errors = {"data": [{"code": "invalid_json_line", "message": "not JSON", "line": 3}]}
    assert openai.status_of({"status": "failed", "errors": errors}, P).message == "line 3: not JSON"
    with pytest.raises(UpstreamProtocolError):
        openai.status_of({"status": "paused"}, P)


@pytest.mark.parametrize(
    "custom_id", ["plain", "with space", "b64-already", "é" * 10, "a/b?c", "-", "x" * 64, "0123456789" * 4]
)
def test_anthropic_ids_go_out_in_its_alphabet_and_come_back_as_they_were(custom_id: str) -> None:
    sent = anthropic.wire_id(custom_id)
    assert len(sent) <= 64 and all(char.isascii() and (char.isalnum() or char in "_-") for char in sent)
    assert anthropic.caller_id(sent) == custom_id


def test_anthropic_batch_states() -> None:
    counts = {"processing": 0, "succeeded": 2, "errored": 1, "canceled": 0, "expired": 0}
    ended = anthropic.status_of({"processing_status": "ended", "request_counts": counts}, P)
    assert (ended.state, ended.total, ended.succeeded, ended.failed) == ("ended", 3, 2, 1)
    cancelled = {"processing_status": "ended", "cancel_initiated_at": "2025-01-01T00:00:00Z", "request_counts": counts}
    assert anthropic.status_of(cancelled, P).state == "cancelled"
    expired = {"processing_status": "ended", "request_counts": {**counts, "succeeded": 0, "errored": 0, "expired": 3}}
    assert anthropic.status_of(expired, P).state == "expired"
    assert anthropic.status_of({"processing_status": "canceling"}, P).state == "running"


def test_anthropic_result_lines() -> None:
    def read(line: dict[str, Any]) -> Any:
        return anthropic.outcome_of(
            line, from_wire=lambda m: anthropic_from_wire(m, created=0, json_tool=None), provider=P, scrub=_scrub
        )

    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    errored = read({"custom_id": anthropic.wire_id("a b"), "result": {"type": "errored", "error": overloaded}})
    assert errored.custom_id == "a b" and isinstance(errored.error, UpstreamError) and errored.error.retryable
    for kind in ("canceled", "expired"):
        assert read({"custom_id": "c", "result": {"type": kind}}) is None
    with pytest.raises(UpstreamProtocolError):
        read({"custom_id": "d", "result": {"type": "pending"}})


def test_gemini_batch_states_in_either_spelling_and_responses_where_either_is() -> None:
    for state in ("BATCH_STATE_RUNNING", "JOB_STATE_RUNNING"):
        assert gemini.status_of({"metadata": {"state": state}}, P).state == "running"
    stats = {"requestCount": "3", "successfulRequestCount": "2", "failedRequestCount": "1"}
    done = gemini.status_of({"metadata": {"state": "BATCH_STATE_SUCCEEDED", "batchStats": stats}}, P)
    assert (done.state, done.total, done.succeeded, done.failed) == ("ended", 3, 2, 1)
    failed = gemini.status_of({"metadata": {"state": "BATCH_STATE_FAILED"}, "error": {"message": "quota"}}, P)
    assert failed.message == "quota"
    item = {"response": {"candidates": []}, "metadata": {"key": "k"}}
    only_response = {"response": {"inlinedResponses": {"inlinedResponses": [item]}}}
    assert list(gemini.inlined_responses(only_response)) == [item]
    assert list(gemini.inlined_responses({"metadata": {}})) == []


def test_mistral_job_states() -> None:
    job = {"status": "FAILED", "errors": [{"message": "bad file", "count": 1}], "total_requests": 2}
    assert (mistral.status_of(job, P).state, mistral.status_of(job, P).message) == ("failed", "bad file")
    assert mistral.status_of({"status": "TIMEOUT_EXCEEDED"}, P).state == "expired"
    assert mistral.status_of({"status": "CANCELLATION_REQUESTED"}, P).state == "running"


async def test_a_results_file_is_read_whole_lines_whatever_its_pieces() -> None:
    lines = [{"custom_id": str(number), "text": "é" * number} for number in range(20)]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines) + b"\n"
    pieces = [data[index : index + 7] for index in range(0, len(data), 7)]
    response = cast(UpstreamResponse, StubResponse(200, pieces=pieces))
    assert [line async for line in jsonl_objects(response, P)] == lines
    last_without_newline = cast(UpstreamResponse, StubResponse(200, pieces=[b'{"a": 1}\n{"b"', b": 2}"]))
    assert [line async for line in jsonl_objects(last_without_newline, P)] == [{"a": 1}, {"b": 2}]
    broken = cast(UpstreamResponse, StubResponse(200, pieces=[b'{"a": 1}\nnot json\n']))
    with pytest.raises(UpstreamProtocolError):
        _ = [line async for line in jsonl_objects(broken, P)]


def _vertex_outcome(line: dict[str, Any], publisher: str = "google") -> Any:
    def answer(body: dict[str, Any]) -> Any:
        if publisher == "anthropic":
            return anthropic_from_wire(body, created=1)
        if "candidates" not in body:
            raise ValueError("not an answer")
        return gemini_from_wire(body, created=1, model="gemini-2.5-flash")

    return vertex.outcome_of(line, publisher=publisher, answer=answer, provider=P, scrub=_scrub)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("JOB_STATE_QUEUED", "running"),
        ("JOB_STATE_PAUSED", "running"),
        ("JOB_STATE_CANCELLING", "running"),
        ("JOB_STATE_SUCCEEDED", "ended"),
        ("JOB_STATE_PARTIALLY_SUCCEEDED", "ended"),
        ("JOB_STATE_FAILED", "failed"),
        ("JOB_STATE_CANCELLED", "cancelled"),
        ("JOB_STATE_EXPIRED", "expired"),
    ],
)
def test_vertex_job_states(state: str, expected: str) -> None:
    job = {"state": state, "completionStats": {"successfulCount": "3", "failedCount": "1", "incompleteCount": "2"}}
    status = vertex.status_of(job, P)
    assert (status.state, status.total, status.succeeded, status.failed) == (expected, 6, 3, 1)
    with pytest.raises(UpstreamProtocolError):
        vertex.status_of({"state": "JOB_STATE_SOMETHING_NEW"}, P)


def test_vertex_prediction_lines_read_as_answers_or_errors_by_what_their_status_quotes() -> None:
    answer = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}]}
    answered = _vertex_outcome({"key": "a", "request": {}, "status": "", "response": answer})
    assert answered.response.choices[0].message.content == "Hi" and answered.error is None
    quoted = orjson.dumps({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}})
    limited = _vertex_outcome({"key": "b", "status": f"Too Many Requests: {quoted.decode()}"})
    assert isinstance(limited.error, UpstreamRateLimited)
    plain = _vertex_outcome({"key": "c", "status": "the request could not be parsed"})
    assert isinstance(plain.error, UpstreamRejected) and plain.error.status == 400
    as_object = _vertex_outcome({"key": "d", "status": {"code": 500, "message": "internal"}})
    assert isinstance(as_object.error, UpstreamError) and as_object.response is None
    claude = orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    overloaded = _vertex_outcome({"custom_id": "e", "status": f"Error: {claude.decode()}"}, "anthropic")
    assert overloaded.error is not None and overloaded.error.status in (503, 529)
    assert _vertex_outcome({"key": "f", "response": {"nothing": 1}}).error is not None
    assert _vertex_outcome({"key": "g"}).error is not None
    with pytest.raises(UpstreamProtocolError):
        _vertex_outcome({"custom_id": "h", "response": answer})  # a Gemini line's id is its key


@pytest.mark.parametrize(
    ("uri", "bucket", "prefix"),
    [("gs://b", "b", ""), ("gs://b/", "b", ""), ("gs://b/x/y/", "b", "x/y")],
)
def test_vertex_batch_bucket_uris(uri: str, bucket: str, prefix: str) -> None:
    path = BucketPath.parse(uri)
    assert (path.bucket, path.prefix) == (bucket, prefix)
    assert path.object_of(path.uri("o/p")) == "o/p" and path.object_of("gs://other/o") is None


@pytest.mark.parametrize("uri", ["s3://b/x", "gs://", "gs:///x", "b/x"])
def test_vertex_batch_bucket_must_be_a_gs_uri(uri: str) -> None:
    with pytest.raises(ValueError, match="batch_bucket"):
        BucketPath.parse(uri)
