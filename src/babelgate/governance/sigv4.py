"""Requests an AWS SDK signed with a virtual key's AWS-style credentials (SigV4), verified: boto3 and every
AWS SDK sign each request and, over plain HTTP, send no bearer token; a virtual key issued with an access key
id (`BGAK…`) and a secret lets them sign with credentials the gateway can check.

The check rebuilds the canonical request from what arrived, by SigV4's rules as the AWS SDKs apply them to
every service but S3: the method; the path as sent, its dot segments removed and URI-encoded once more; the
query's pairs, each URI-encoded, sorted; the signed headers, lower-case, their values trimmed; their names; and
the payload's hash (`x-amz-content-sha256` when sent, which must then be the body's, or the body's own). The
signature is the HMAC-SHA256 of the string to sign under the key derived from the secret, the day, the region
and the service, compared in constant time.

Refused, in the door's format (Bedrock's: `x-amzn-ErrorType`): an access key id of no live key
(`UnrecognizedClientException`), a malformed header, a wrong signature, an `x-amz-date` more than five minutes
off the gateway's clock, and a signature already seen within that window (`InvalidSignatureException`). The
signatures seen are kept per gateway instance (`SeenSignatures`): a replay sent to another instance behind the
same load balancer is refused only by the window of its date (docs/decisions.md, "AWS-style gateway keys").
"""

from __future__ import annotations

import hashlib
import hmac
from calendar import timegm
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final
from urllib.parse import quote, unquote

from babelgate.aws_signing import signing_key
from babelgate.errors import SignatureRefused

ALGORITHM: Final = b"AWS4-HMAC-SHA256 "
ACCESS_KEY_PREFIX: Final = "BGAK"
SKEW_SECONDS: Final = 300  # AWS's own window: a request dated further off is refused
UNSIGNED_PAYLOAD: Final = "UNSIGNED-PAYLOAD"
# Signatures a gateway instance remembers at most (one a request within the window; ~150 bytes each).
SEEN_AT_MOST: Final = 100_000
_HEX: Final = frozenset("0123456789abcdefABCDEF")


@dataclass(frozen=True, slots=True)
class Signed:
    """`Authorization: AWS4-HMAC-SHA256 Credential=<id>/<day>/<region>/<service>/aws4_request,
    SignedHeaders=<names>, Signature=<hex>`, read."""

    access_key_id: str
    day: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.day}/{self.region}/{self.service}/aws4_request"


def signed_by_gateway_key(authorization: bytes | None) -> bool:
    """Whether `Authorization` is a SigV4 signature by a gateway key's access key id: the only signatures the
    gateway can check (another's secret is AWS's)."""
    return (
        authorization is not None
        and authorization.startswith(ALGORITHM)
        and authorization.find(b"Credential=" + ACCESS_KEY_PREFIX.encode()) > 0
    )


def parse(authorization: bytes) -> Signed:
    fields: dict[str, str] = {}
    for item in authorization[len(ALGORITHM) :].decode("latin-1").split(","):
        name, equals, value = item.strip().partition("=")
        if equals:
            fields[name] = value.strip()
    credential = fields.get("Credential", "").split("/")
    names = fields.get("SignedHeaders", "")
    signature = fields.get("Signature", "")
    if (
        len(credential) != 5
        or credential[4] != "aws4_request"
        or not all(credential)
        or not names
        or len(signature) != 64
        or not _HEX.issuperset(signature)  # compared in constant time below, which takes ASCII only
    ):
        raise SignatureRefused("sigv4_malformed")
    return Signed(credential[0], credential[1], credential[2], credential[3], tuple(names.split(";")), signature)


def request_time(amz_date: bytes | None) -> float:
    """`x-amz-date` (`20260129T101500Z`) as unix seconds. Read by slicing: `time.strptime` took a third of the
    check's time."""
    text = amz_date.decode("latin-1") if amz_date is not None else ""
    digits = text[:8] + text[9:15]
    if len(text) != 16 or text[8] != "T" or text[15] != "Z" or not (digits.isdigit() and digits.isascii()):
        raise SignatureRefused("sigv4_malformed")
    year, month, day = int(text[:4]), int(text[4:6]), int(text[6:8])
    hour, minute, second = int(text[9:11]), int(text[11:13]), int(text[13:15])
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        raise SignatureRefused("sigv4_malformed")
    return float(timegm((year, month, day, hour, minute, second, 0, 0, 0)))


def canonical_path(raw_path: bytes) -> str:
    """The path as sent (percent-encoded), its dot segments removed, URI-encoded once more (every service but
    S3 signs it so: `openai%2Fgpt-4o` is `openai%252Fgpt-4o` in the canonical request)."""
    path = raw_path.decode("latin-1") or "/"
    out: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if len(out) > 1:
                out.pop()
        elif segment != ".":
            out.append(segment)
    normalized = "/".join(out)
    if path.endswith(("/.", "/..")):
        normalized += "/"
    return quote(normalized or "/", safe="/~")


def canonical_query(query: bytes) -> str:
    """Each pair URI-encoded (RFC 3986's unreserved characters kept), sorted by name, then value."""
    pairs = []
    for pair in query.decode("latin-1").split("&") if query else ():
        name, _, value = pair.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(headers: Iterable[tuple[bytes, bytes]], names: tuple[str, ...]) -> str:
    """`name:value` lines of the signed headers, in the order signed (sorted), values trimmed and their inner
    runs of spaces made one; a header sent more than once is its values joined by commas."""
    wanted: dict[bytes, list[str]] = {name.encode(): [] for name in names}
    for name, value in headers:
        found = wanted.get(name.lower())
        if found is not None:
            found.append(" ".join(value.decode("latin-1").split()))
    lines = []
    for signed in names:
        values = wanted[signed.encode()]
        if not values:
            raise SignatureRefused("sigv4_malformed")  # a header signed but not sent
        lines.append(f"{signed}:{','.join(values)}\n")
    return "".join(lines)


def signature(secret: str, signed: Signed, amz_date: str, canonical_request: str) -> str:
    to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", amz_date, signed.scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    key = signing_key(secret, signed.day, signed.region, signed.service)
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def payload_hash(declared: bytes | None, body: bytes) -> str:
    """What the canonical request ends with: `x-amz-content-sha256` when sent (the body's hash, which it must be,
    or `UNSIGNED-PAYLOAD`, as AWS accepts over TLS), else the body's hash."""
    actual = hashlib.sha256(body).hexdigest()
    if declared is None:
        return actual
    text = declared.decode("latin-1").strip()
    if text != UNSIGNED_PAYLOAD and not hmac.compare_digest(text.lower().encode("latin-1"), actual.encode()):
        raise SignatureRefused("sigv4_wrong_signature")
    return text


def verify(
    secret: str,
    signed: Signed,
    *,
    method: str,
    raw_path: bytes,
    query: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    body: bytes,
    now: float,
) -> float:
    """When the request was signed (its `x-amz-date`), or SignatureRefused unless `signed` is the signature of
    this request by `secret`, dated within the window of `now`."""
    headers = list(headers)
    amz_date = next((value for name, value in headers if name.lower() == b"x-amz-date"), None)
    when = request_time(amz_date)
    assert amz_date is not None  # request_time refused a missing date
    if abs(now - when) > SKEW_SECONDS or amz_date[:8].decode("ascii") != signed.day:
        raise SignatureRefused("sigv4_expired")
    if "host" not in signed.signed_headers:
        raise SignatureRefused("sigv4_malformed")
    declared = next((value for name, value in headers if name.lower() == b"x-amz-content-sha256"), None)
    canonical = "\n".join(
        (
            method,
            canonical_path(raw_path),
            canonical_query(query),
            canonical_headers(headers, signed.signed_headers),
            ";".join(signed.signed_headers),
            payload_hash(declared, body),
        )
    )
    expected = signature(secret, signed, amz_date.decode("ascii"), canonical)
    if not hmac.compare_digest(expected, signed.signature.lower()):
        raise SignatureRefused("sigv4_wrong_signature")
    return when


class SeenSignatures:
    """The signatures one gateway instance verified within the date window, so that the same signed request sent
    again is refused: each kept until its date leaves the window, the oldest let go first past SEEN_AT_MOST (a
    signature let go early is still dated: its replay is refused once the window has passed)."""

    __slots__ = ("_until",)

    def __init__(self) -> None:
        self._until: dict[str, float] = {}  # signature → when its date leaves the window (insertion order)

    def first_time(self, signature: str, dated: float, now: float) -> bool:
        """Whether `signature` (of a request dated `dated`, already verified) is new; remembers it."""
        until = self._until
        while until:  # in the order seen, which is nearly the order they leave the window
            oldest = next(iter(until))
            if until[oldest] > now:
                break
            del until[oldest]
        if signature in until:
            return False
        if len(until) >= SEEN_AT_MOST:
            del until[next(iter(until))]
        until[signature] = dated + SKEW_SECONDS
        return True

    def forget(self, signature: str) -> None:
        self._until.pop(signature, None)
