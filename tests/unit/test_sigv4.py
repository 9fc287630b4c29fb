"""The SigV4 check of requests signed with a gateway key's AWS-style credentials (governance/sigv4.py), held to
botocore's own signer: what SigV4Auth signs verifies, across quoted paths, dot segments, query strings, repeated
and spaced headers and the payload hash header; anything changed after signing does not; and the signatures seen
are remembered within their window, bounded."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from babelgate.errors import SignatureRefused
from babelgate.governance import sigv4

KEY_ID = "BGAKABCDEFGHIJKLMNOP"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = datetime.datetime(2026, 1, 29, 23, 59, 58)  # near midnight: the scope's day is the date's
BODY = b'{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": []}'


def _signed(url: str, headers: dict[str, str] | None = None, body: bytes = BODY, **options: Any) -> AWSRequest:
    request = AWSRequest("POST", url, data=body, headers=headers or {"Content-Type": "application/json"})
    for name, value in options.items():
        request.context[name] = value
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: NOW  # type: ignore[assignment]
    try:
        SigV4Auth(Credentials(KEY_ID, SECRET), "bedrock", "eu-west-1").add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    return request


def _verify(request: AWSRequest, *, body: bytes | None = None, secret: str = SECRET, now: float | None = None) -> None:
    """What the gateway's server hands the check: the path as sent, the query, the headers (lower-case names)."""
    url = urlsplit(request.url)
    headers = [(name.lower().encode(), _bytes(value)) for name, value in request.headers.items()]
    headers.append((b"host", url.netloc.encode()))  # the HTTP client writes it; botocore signed it
    authorization = next(value for name, value in headers if name == b"authorization")
    sigv4.verify(
        secret,
        sigv4.parse(authorization),
        method=request.method,
        raw_path=url.path.encode(),
        query=url.query.encode(),
        headers=headers,
        body=request.body if body is None else body,
        now=NOW.replace(tzinfo=datetime.UTC).timestamp() if now is None else now,
    )


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/model/gpt-4o-mini/invoke",
        "http://127.0.0.1:8080/model/openai%2Fgpt-4o-mini/invoke-with-response-stream",
        "https://gateway.test/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke",
        "http://127.0.0.1:8080/base/./model/../model/m/invoke",
        "http://127.0.0.1:8080/model/m/invoke?b=2&a=x%20y&a=1",
        "http://127.0.0.1:8080/model/caf%C3%A9/invoke",
    ],
)
def test_what_botocore_signs_verifies(url: str) -> None:
    _verify(_signed(url))


def test_signed_headers_and_the_payload_hash_header() -> None:
    headers = {"Content-Type": "application/json", "X-Amz-Meta-Note": "  two   spaces  ", "Accept": "a"}
    request = _signed("http://127.0.0.1:8080/model/m/invoke", headers)
    assert "x-amz-meta-note" in request.headers["Authorization"]
    _verify(request)
    unsigned = _signed("https://gateway.test/model/m/invoke", payload_signing_enabled=False)
    assert unsigned.headers["X-Amz-Content-SHA256"] == sigv4.UNSIGNED_PAYLOAD
    _verify(unsigned)
    _verify(unsigned, body=b"{}")  # its body is not signed, as AWS allows over TLS


def test_anything_changed_after_signing_is_refused() -> None:
    request = _signed("http://127.0.0.1:8080/model/m/invoke?a=1")
    with pytest.raises(SignatureRefused) as wrong:
        _verify(request, secret=SECRET[:-1] + "x")
    assert wrong.value.message_key == "sigv4_wrong_signature" and wrong.value.status == 403
    with pytest.raises(SignatureRefused):
        _verify(request, body=BODY + b" ")
    moved = _signed("http://127.0.0.1:8080/model/m/invoke?a=1")
    moved.url = moved.url.replace("a=1", "a=2")
    with pytest.raises(SignatureRefused):
        _verify(moved)
    hashed = _signed("http://127.0.0.1:8080/model/m/invoke")
    hashed.headers["X-Amz-Content-SHA256"] = "0" * 64  # a hash that is not the body's
    with pytest.raises(SignatureRefused):
        _verify(hashed)
    hashed.headers["X-Amz-Content-SHA256"] = "é".encode("latin-1")  # nor a hash at all
    with pytest.raises(SignatureRefused):
        _verify(hashed)


def test_the_date_window() -> None:
    request = _signed("http://127.0.0.1:8080/model/m/invoke")
    at = NOW.replace(tzinfo=datetime.UTC).timestamp()
    _verify(request, now=at + sigv4.SKEW_SECONDS)
    _verify(request, now=at - sigv4.SKEW_SECONDS)
    for off in (sigv4.SKEW_SECONDS + 1, -sigv4.SKEW_SECONDS - 1):
        with pytest.raises(SignatureRefused) as late:
            _verify(request, now=at + off)
        assert late.value.message_key == "sigv4_expired" and late.value.code == "invalid_signature"


@pytest.mark.parametrize(
    "header",
    [
        b"AWS4-HMAC-SHA256 Credential=BGAKX/20260129/us-east-1/bedrock, SignedHeaders=host, Signature=" + b"0" * 64,
        b"AWS4-HMAC-SHA256 Credential=BGAKX/20260129/us-east-1/bedrock/aws4_request, Signature=" + b"0" * 64,
        b"AWS4-HMAC-SHA256 Credential=BGAKX/20260129/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0",
        b"AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 Credential=BGAKX/20260129/us-east-1/bedrock/aws4_request, SignedHeaders=host, "
        "Signature=é{}".format("0" * 63).encode("latin-1"),
    ],
)
def test_a_malformed_header_is_refused(header: bytes) -> None:
    with pytest.raises(SignatureRefused) as refused:
        sigv4.parse(header)
    assert refused.value.message_key == "sigv4_malformed"


def test_only_gateway_keys_signatures_are_checked() -> None:
    signed = b"AWS4-HMAC-SHA256 Credential=BGAKABC/20260129/us-east-1/bedrock/aws4_request, SignedHeaders=host"
    assert sigv4.signed_by_gateway_key(signed)
    assert not sigv4.signed_by_gateway_key(signed.replace(b"BGAK", b"AKIA"))
    assert not sigv4.signed_by_gateway_key(b"Bearer BGAK")
    assert not sigv4.signed_by_gateway_key(None)


def test_signatures_seen_are_kept_within_their_window_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = sigv4.SeenSignatures()
    assert seen.first_time("a", 1000.0, 1000.0) and not seen.first_time("a", 1000.0, 1001.0)
    assert seen.first_time("a", 1000.0, 1000.0 + sigv4.SKEW_SECONDS + 1), "out of its window: let go"
    seen.forget("a")
    assert seen.first_time("a", 1000.0, 1000.0)
    monkeypatch.setattr(sigv4, "SEEN_AT_MOST", 3)
    for name in "bcd":
        assert seen.first_time(name, 1000.0, 1000.0)
    assert len(seen._until) == 3 and "a" not in seen._until  # the oldest let go first
