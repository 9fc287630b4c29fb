"""A batch file's checks (frontends/batches/jsonl.py): what a good file counts, and each malformed line's 400
naming the line and why; and how a batch's lines are cut into chunks."""

from __future__ import annotations

import json

import pytest

from babelgate.errors import InvalidRequest
from babelgate.frontends.batches import jsonl


def line(custom_id: str = "a", **changes: object) -> str:
    fields: dict[str, object] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "gpt-4o-mini", "messages": []},
    }
    fields.update(changes)
    return json.dumps(fields)


def refusal(data: str, max_lines: int = 100) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        jsonl.check(data.encode(), max_lines)
    return refused.value


def test_a_good_file_counts_its_lines_and_skips_blank_ones() -> None:
    assert jsonl.check(f"{line('a')}\n\n{line('b')}\r\n  \n{line('c')}".encode(), 3) == 3


@pytest.mark.parametrize(
    ("data", "number", "reason"),
    [
        (f"{line('a')}\n{{broken", 2, "not a JSON object"),
        (f"{line('a')}\n[1, 2]", 2, "not a JSON object"),
        (f"{line('a')}\n{line('a')}", 2, "custom_id 'a' is used twice"),
        (line("", method="POST"), 1, "custom_id must be a non-empty string"),
        (line(custom_id=7), 1, "custom_id must be a non-empty string"),  # type: ignore[arg-type]
        (line(method="GET"), 1, "method must be POST"),
        (line(url="/v1/images/generations"), 1, "url must be one of"),
        (line(body="hi"), 1, "body must be a JSON object"),
        (line(body={"messages": []}), 1, "body.model must name a model"),
        (line(extra=1), 1, "unknown field 'extra'"),
        (f"\n\n{line('a')}\n{line('b', url='/v1/x')}", 4, "url must be one of"),  # numbered as an editor shows
    ],
)
def test_a_malformed_line_is_named_with_why(data: str, number: int, reason: str) -> None:
    error = refusal(data)
    assert error.status == 400 and error.code == "invalid_batch_file" and error.param == "file"
    assert error.params["line"] == number and reason in error.params["reason"]


def test_too_many_lines_empty_and_not_utf8() -> None:
    assert refusal("\n".join(line(str(n)) for n in range(4)), max_lines=3).params["line"] == 4
    assert "no lines" in refusal("\n \n").params["detail"]
    with pytest.raises(InvalidRequest) as refused:
        jsonl.check(line().encode() + b'\n{"custom_id": "\xff\xfe"}', 10)
    assert refused.value.params["line"] == 2 and refused.value.params["reason"] == "not a JSON object"


def test_chunks_cut_lines_with_their_bytes_and_check_the_endpoint() -> None:
    count = jsonl.CHUNK_LINES * 2 + 5
    data = ("\n".join(line(f"c{n}", body={"model": f"m{n % 3}"}) for n in range(count)) + "\n").encode()
    chunks, models = jsonl.chunks("batch_1", data, "/v1/chat/completions")
    assert [(c.number, c.first, c.end) for c in chunks] == [
        (0, 0, jsonl.CHUNK_LINES),
        (1, jsonl.CHUNK_LINES, 2 * jsonl.CHUNK_LINES),
        (2, 2 * jsonl.CHUNK_LINES, count),
    ]
    assert models == {"m0", "m1", "m2"}
    last = data[chunks[2].start : chunks[2].stop]
    assert [json.loads(raw)["custom_id"] for raw in last.splitlines()] == [
        f"c{n}" for n in range(2 * jsonl.CHUNK_LINES, count)
    ]
    with pytest.raises(InvalidRequest) as refused:
        jsonl.chunks("batch_1", data, "/v1/embeddings")
    assert refused.value.params["line"] == 1 and "endpoint" in refused.value.params["reason"]
