"""How a Bedrock request is authorised: SigV4 with the provider's AWS credentials, or a Bedrock API
key as a bearer token.

The signature is botocore's (`botocore.auth.SigV4Auth` over an `AWSRequest` of the same method, URL,
headers and body); the request itself goes out on the gateway's own HTTP client. Signing is pure CPU
(a SHA-256 of the body and five HMACs): the credentials it uses are the frozen ones the
CredentialSource keeps fresh in the background.
"""

from __future__ import annotations

from typing import Any, Protocol

from babelgate.providers.bedrock.credentials import CredentialSource, Frozen
from babelgate.providers.bedrock.wire import JSON_TYPE, SIGNING_NAME


class Authorizer(Protocol):
    """The headers that authorise one request (the content type included)."""

    async def headers(self, method: str, url: str, body: bytes) -> dict[str, str]: ...


class BearerAuthorizer:
    """A Bedrock API key: the key pool holds `Authorization: Bearer …`; nothing is signed."""

    _HEADERS = {"content-type": JSON_TYPE}

    async def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        return self._HEADERS


class SigV4Authorizer:
    def __init__(self, credentials: CredentialSource, region: str) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import ReadOnlyCredentials

        self._credentials = credentials
        self._region = region
        self._auth_class = SigV4Auth
        self._request_class = AWSRequest
        self._read_only = ReadOnlyCredentials
        self._auth: tuple[Frozen, Any] | None = None

    async def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        frozen = self._credentials.current() or await self._credentials.get()
        return self.sign(frozen, method, url, body)

    def sign(self, frozen: Frozen, method: str, url: str, body: bytes) -> dict[str, str]:
        auth = self._auth
        if auth is None or auth[0] is not frozen:
            signer = self._auth_class(
                self._read_only(frozen.access_key, frozen.secret_key, frozen.token), SIGNING_NAME, self._region
            )
            auth = self._auth = (frozen, signer)
        request = self._request_class(method=method, url=url, data=body, headers={"content-type": JSON_TYPE})
        auth[1].add_auth(request)
        return {name.lower(): value for name, value in request.headers.items()}
