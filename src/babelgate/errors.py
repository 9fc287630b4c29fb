"""The one error tree of the gateway. Errors are raised, never returned; frontends render them.

    GatewayError                      status, type, code, param, message_key, retryable, retry_after
    ├── InvalidRequest                400 invalid_request_error
    │   ├── RequestTooLarge           413 request_too_large
    │   ├── UnsupportedCapability     400 unsupported_capability (a provider cannot do this)
    │   └── GuardrailBlocked          400 guardrail_blocked (a guardrail refused the request or the answer)
    ├── AuthenticationFailed          401 invalid_api_key (gateway key missing or wrong)
    ├── PermissionDenied              403 (a virtual key's model list, the admin API switched off)
    ├── RateLimitExceeded             429 rate_limit_exceeded (a virtual key's own limits)
    ├── NotFound                      404 (unknown route)
    │   └── ModelNotFound             404 model_not_found
    ├── MethodNotAllowed              405
    ├── StoreUnavailable              503 store_unavailable (the store, its database, did not answer in time)
    └── UpstreamError                 502 upstream_error (base of every failure of an upstream)
        ├── UpstreamRejected          the upstream's own 4xx, relayed with its message
        ├── UpstreamAuthFailed        401/403 upstream_authentication_error (our key was rejected)
        ├── UpstreamRateLimited       429 rate_limit_exceeded, retryable, Retry-After kept
        ├── UpstreamUnavailable       503 upstream_unavailable, retryable
        ├── UpstreamTimeout           504 upstream_timeout, retryable
        ├── UpstreamConnectionFailed  502 upstream_connection_error, retryable
        │   └── UpstreamCredentialsFailed  502 upstream_credentials_error (no cloud token to send)
        └── UpstreamProtocolError     502 upstream_protocol_error (malformed body or stream)

A message is a key into `locales/*.json` plus parameters, so it is rendered in the client's
language; an upstream's own message (already scrubbed of secrets) travels as `raw_message`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = None
    default_key: ClassVar[str] = "internal_error"
    retryable: ClassVar[bool] = False
    # The key pool's verdict, written where an upstream's 429 or 401/403 was mapped (transport.send_checked,
    # which rested or took out the key it sent with): whether another key of that pool is free now, so
    # that the same deployment may be tried again at once. False on every other error.
    other_key_free: bool = False

    def __init__(
        self,
        message_key: str | None = None,
        *,
        param: str | None = None,
        code: str | None = None,
        raw_message: str | None = None,
        retry_after: float | None = None,
        status: int | None = None,
        error_type: str | None = None,
        **params: Any,
    ) -> None:
        self.message_key = message_key or self.default_key
        self.param = param
        self.code = code if code is not None else self.default_code
        self.raw_message = raw_message
        self.retry_after = retry_after
        self.params = params
        # Instances may refine the class defaults (an upstream's exact 4xx status and type).
        if status is not None:
            self.status = status  # type: ignore[misc]
        if error_type is not None:
            self.type = error_type  # type: ignore[misc]
        super().__init__(raw_message or self.message_key)

    @property
    def label(self) -> str:
        """The error's name in metrics, the ledger, traces and logs: from a closed vocabulary (the
        gateway's own codes and types), so it can name a series and never carries a secret."""
        return self.code or self.type

    def headers(self) -> list[tuple[bytes, bytes]]:
        if self.retry_after is None:
            return []
        return [(b"retry-after", str(max(0, round(self.retry_after))).encode())]


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    default_key = "invalid_request"


class RequestTooLarge(InvalidRequest):
    status = 413
    default_code = "request_too_large"
    default_key = "request_too_large"


class UnsupportedCapability(InvalidRequest):
    default_code = "unsupported_capability"
    default_key = "unsupported_capability"


class GuardrailBlocked(InvalidRequest):
    """A guardrail refused the request's texts, or the answer's (guardrails/): `param` names the guardrail."""

    default_code = "guardrail_blocked"
    default_key = "guardrail_blocked_input"

    def __init__(self, name: str, stage: str) -> None:
        super().__init__(f"guardrail_blocked_{stage}", param=name, name=name)


class AuthenticationFailed(GatewayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"
    default_key = "invalid_api_key"


class SignatureRefused(AuthenticationFailed):
    """An AWS SigV4 signature by a gateway key's AWS-style credentials, checked and refused (governance/sigv4.py):
    a 403, as AWS answers one; `unrecognized_client` for an access key id of no live key."""

    status = 403
    default_code = "invalid_signature"
    default_key = "sigv4_wrong_signature"


class PermissionDenied(GatewayError):
    status = 403
    type = "permission_error"
    default_code = "permission_denied"
    default_key = "permission_denied"


class RateLimitExceeded(GatewayError):
    """The caller's own limit (a virtual key's), not an upstream's: retrying later helps."""

    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    default_key = "requests_per_minute_limited"
    retryable = True


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"
    default_code = "not_found"
    default_key = "route_not_found"


class ModelNotFound(NotFound):
    default_code = "model_not_found"
    default_key = "model_not_found"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    default_code = "method_not_allowed"
    default_key = "method_not_allowed"


class StoreUnavailable(GatewayError):
    """The gateway's own store (stored responses, virtual keys, the ledger's analytics) did not
    answer within `store.timeout`: a 503 the client may retry, never a request held for as long
    as the database is silent."""

    status = 503
    type = "server_error"
    default_code = "store_unavailable"
    default_key = "store_timeout"
    retryable = True


class UpstreamError(GatewayError):
    status = 502
    type = "server_error"
    default_code: ClassVar[str | None] = "upstream_error"
    default_key = "upstream_error"


class UpstreamRejected(UpstreamError):
    status = 400
    type = "invalid_request_error"
    default_code: ClassVar[str | None] = None
    default_key = "upstream_rejected"

    @property
    def label(self) -> str:
        # The code is the upstream's own word (relayed to the client, scrubbed): only the codes known
        # here name a series or a ledger row; any other counts under the error's type, so that an
        # upstream can neither leak through a label nor grow the series without bound.
        code = self.code
        return code if code is not None and code in UPSTREAM_CODES else self.type


# The upstream codes kept as they are in metrics, the ledger and traces: what fallbacks, dashboards
# and alerts go by (OpenAI's documented codes, which the other providers' errors are mapped onto).
UPSTREAM_CODES: frozenset[str] = frozenset(
    {
        "context_length_exceeded",
        "content_policy_violation",
        "content_filter",
        "invalid_prompt",
        "model_not_found",
        "invalid_api_key",
        "insufficient_quota",
        "rate_limit_exceeded",
        "invalid_value",
        "invalid_type",
        "unsupported_parameter",
        "unsupported_value",
        "missing_required_parameter",
        "string_above_max_length",
        "integer_below_min_value",
        "integer_above_max_value",
        "invalid_image_url",
        "image_content_policy_violation",
        "invalid_function_parameters",
        "tool_use_failed",
        "server_error",
    }
)


class UpstreamAuthFailed(UpstreamError):
    status = 401
    type = "authentication_error"
    default_code = "upstream_authentication_error"
    default_key = "upstream_auth_failed"


class UpstreamRateLimited(UpstreamError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    default_key = "upstream_rate_limited"
    retryable = True


class UpstreamUnavailable(UpstreamError):
    status = 503
    type = "server_error"
    default_code = "upstream_unavailable"
    default_key = "upstream_unavailable"
    retryable = True


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout"
    default_code = "upstream_timeout"
    default_key = "upstream_timeout"
    retryable = True


class UpstreamConnectionFailed(UpstreamError):
    default_code = "upstream_connection_error"
    default_key = "upstream_connection_failed"
    retryable = True


class UpstreamCredentialsFailed(UpstreamConnectionFailed):
    """The gateway has no credentials to send (a cloud's token could not be obtained: a missing or bad
    key file, a metadata server or token endpoint that refused or did not answer). Retryable like a
    refused connection: another deployment, on another cloud, may serve. `source` names where the
    credentials were to come from, `cause` what went wrong; neither ever holds a secret."""

    default_code = "upstream_credentials_error"
    default_key = "upstream_credentials_failed"


class UpstreamProtocolError(UpstreamError):
    default_code = "upstream_protocol_error"
    default_key = "upstream_protocol_error"


def size_text(limit: int) -> str:
    """A byte limit as an error message says it: "16 MiB" when it is whole mebibytes."""
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit >= mib and limit % mib == 0 else f"{limit} bytes"
