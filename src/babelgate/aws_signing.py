"""SigV4's signing key, for both directions the gateway signs in: its requests to Bedrock (providers/bedrock/
signing.py) and the requests AWS clients sign with a gateway-issued key (governance/sigv4.py).

The key of a day is the HMAC-SHA256 chain from the secret over the day, the region, the service and
`aws4_request` (AWS's "Create a signature" steps, as botocore's `SigV4Auth.signature` derives it); one
function, so the two checks of a signature can never derive it differently."""

from __future__ import annotations

import hmac


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    """The day's signing key (`day`: `YYYYMMDD`)."""
    key = ("AWS4" + secret).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key
