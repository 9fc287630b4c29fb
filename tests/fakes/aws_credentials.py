"""Fake AWS credential sources on 127.0.0.1, each handing out short-lived keys the fake Bedrock's IAM
(`FakeBedrock.iam`) then accepts until they expire:

- the container credentials endpoint (ECS, EKS Pod Identity): `GET /container` ->
  `{AccessKeyId, SecretAccessKey, Token, Expiration}` (AWS_CONTAINER_CREDENTIALS_FULL_URI);
- the instance metadata service, IMDSv2 only: `PUT /latest/api/token` with a TTL header, then
  `GET /latest/meta-data/iam/security-credentials/` (the role) and `…/<role>` with that token
  (AWS_EC2_METADATA_SERVICE_ENDPOINT);
- STS AssumeRoleWithWebIdentity (the query protocol: a form POST, an XML answer), checking the
  web identity token and role ARN (AWS_ENDPOINT_URL_STS).

`delay` slows every answer (a slow metadata endpoint must never slow a request); `issued` lists the
access keys handed out, oldest first, and `issued_by` which source handed each out (a refresh a
previous test's gateway started may still land in the lists).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.bedrock_upstream import AwsKey
from tests.fakes.scripted import ScriptedStreams

ROLE = "babelgate-test-role"
ROLE_ARN = "arn:aws:iam::123456789012:role/babelgate-test-role"
WEB_IDENTITY_TOKEN = "eyJhbGciOiJSUzI1NiJ9.fake-web-identity.signature"
CONTAINER_TOKEN = "container-auth-token-0123"


class FakeCredentialSources(ScriptedStreams):
    def __init__(self, iam: dict[str, AwsKey]) -> None:
        self.iam = iam
        self.lifetime = 3600.0
        self.delay = 0.0
        self.issued: list[str] = []
        self.issued_by: dict[str, str] = {}
        self.imds_tokens: set[str] = set()
        self.requests: list[str] = []
        self.port = 0

    def reset(self) -> None:
        self.lifetime, self.delay = 3600.0, 0.0
        self.issued.clear()
        self.issued_by.clear()
        self.imds_tokens.clear()
        self.requests.clear()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/container", self._container)
        app.router.add_put("/latest/api/token", self._imds_token)
        app.router.add_get("/latest/meta-data/iam/security-credentials/", self._imds_role)
        app.router.add_get("/latest/meta-data/iam/security-credentials/{role}", self._imds_credentials)
        app.router.add_post("/", self._sts)
        await self.serve(app)

    def by(self, source: str) -> list[str]:
        """The keys `source` (container, imds, sts) handed out, oldest first."""
        return [key for key in self.issued if self.issued_by[key] == source]

    def _mint(self, source: str) -> tuple[str, AwsKey]:
        access_key = "ASIA" + secrets.token_hex(8).upper()
        key = AwsKey(
            secret=secrets.token_urlsafe(30),
            token="FwoG" + secrets.token_urlsafe(40),
            expires=time.time() + self.lifetime,
        )
        self.iam[access_key] = key
        self.issued.append(access_key)
        self.issued_by[access_key] = source
        return access_key, key

    @staticmethod
    def _expiration(key: AwsKey) -> str:
        assert key.expires is not None
        return datetime.fromtimestamp(key.expires, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def _slow(self, what: str) -> None:
        self.requests.append(what)
        if self.delay:
            await asyncio.sleep(self.delay)

    async def _container(self, request: web.Request) -> web.Response:
        await self._slow("container")
        if request.headers.get("Authorization", CONTAINER_TOKEN) != CONTAINER_TOKEN:
            return web.json_response({"message": "unauthorized"}, status=401)
        access_key, key = self._mint("container")
        return web.json_response(
            {
                "AccessKeyId": access_key,
                "SecretAccessKey": key.secret,
                "Token": key.token,
                "Expiration": self._expiration(key),
                "RoleArn": ROLE_ARN,
            }
        )

    async def _imds_token(self, request: web.Request) -> web.Response:
        await self._slow("imds-token")
        if "X-aws-ec2-metadata-token-ttl-seconds" not in request.headers:
            return web.Response(status=400)
        token = secrets.token_urlsafe(24)
        self.imds_tokens.add(token)
        return web.Response(text=token)

    def _imds_refusal(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-aws-ec2-metadata-token") not in self.imds_tokens:
            return web.Response(status=401)  # IMDSv2 only: no token, no answer
        return None

    async def _imds_role(self, request: web.Request) -> web.Response:
        await self._slow("imds-role")
        return self._imds_refusal(request) or web.Response(text=ROLE)

    async def _imds_credentials(self, request: web.Request) -> web.Response:
        await self._slow("imds-credentials")
        refusal = self._imds_refusal(request)
        if refusal is not None:
            return refusal
        if request.match_info["role"] != ROLE:
            return web.Response(status=404)
        access_key, key = self._mint("imds")
        body: dict[str, Any] = {
            "Code": "Success",
            "LastUpdated": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Type": "AWS-HMAC",
            "AccessKeyId": access_key,
            "SecretAccessKey": key.secret,
            "Token": key.token,
            "Expiration": self._expiration(key),
        }
        return web.json_response(body)

    async def _sts(self, request: web.Request) -> web.Response:
        await self._slow("sts")
        form = await request.post()
        if form.get("Action") != "AssumeRoleWithWebIdentity":
            return web.Response(status=400, text="unknown action")
        if form.get("WebIdentityToken") != WEB_IDENTITY_TOKEN or form.get("RoleArn") != ROLE_ARN:
            return web.Response(
                status=400,
                content_type="text/xml",
                text="<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>"
                "<Message>Couldn't retrieve verification key from your identity provider</Message>"
                "</Error></ErrorResponse>",
            )
        access_key, key = self._mint("sts")
        xml = f"""<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:default:babelgate</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/{ROLE}/{form.get("RoleSessionName", "s")}</Arn>
      <AssumedRoleId>AROAFAKE:{form.get("RoleSessionName", "s")}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <AccessKeyId>{access_key}</AccessKeyId>
      <SecretAccessKey>{key.secret}</SecretAccessKey>
      <SessionToken>{key.token}</SessionToken>
      <Expiration>{self._expiration(key)}</Expiration>
    </Credentials>
    <Audience>sts.amazonaws.com</Audience>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>{secrets.token_hex(8)}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"""
        return web.Response(text=xml, content_type="text/xml")
