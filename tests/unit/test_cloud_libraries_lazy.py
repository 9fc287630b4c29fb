"""The clouds' credential libraries are loaded only by a gateway that has a provider of their type: a
gateway without one never imports google-auth, azure-identity or botocore (import time and memory it does not
need). So with the MCP SDK (only with `mcp_servers:` or a request that names an MCP server: ~25 MiB of
modules), PyJWT with `cryptography` (only with `auth.jwt` or `auth.oidc`) and aiohttp (~14 MiB: only once a
request names a media URL to fetch or sends a form, or an identity provider is read), and RE2 (~2.6 MiB: only once
a `pii` guardrail checks its first text). The voice doors' machinery
(the Realtime and Gemini Live sessions, their translators, the cascade) loads at their first connection, the
handlers of the doors a chat deployment seldom calls (Ollama, Bedrock Converse, audio, Batches) at their first
request, and a Bedrock provider with its keys in the config signs without botocore."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import json, sys
LAZY = ("google.auth", "google.oauth2", "azure", "msal", "botocore", "mcp", "jwt", "cryptography", "aiohttp",
        "babelgate.frontends.realtime.door", "babelgate.frontends.gemini_live.door", "babelgate.realtime.relay",
        "babelgate.frontends.ollama.door", "babelgate.frontends.ollama.models", "babelgate.frontends.ollama.translate",
        "babelgate.frontends.bedrock_converse.door", "babelgate.frontends.bedrock_converse.translate",
        "babelgate.frontends.audio.door", "babelgate.frontends.audio.translate",
        "babelgate.frontends.batches.openai", "babelgate.frontends.batches.anthropic", "re2",
        "babelgate.guardrails.pii.candidates")
from babelgate import create_app
from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
environ = {"OPENAI_API_KEY": "sk-test", "BABELGATE_STORE_URL": "memory"}
create_app(load_config(None, environ, available_types=PROVIDER_TYPES))
print(json.dumps(sorted(m for m in sys.modules if m.startswith(LAZY))))
"""


def test_a_gateway_without_clouds_mcp_or_jwt_imports_none_of_their_libraries() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


FIRST_REQUESTS_SCRIPT = """
import asyncio, json, sys
from babelgate import create_app
from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES

MASTER = "master-key-of-the-lazy-doors-test-0123456789"
environ = {"OPENAI_API_KEY": "sk-test", "BABELGATE_STORE_URL": "memory", "BABELGATE_MASTER_KEY": MASTER}
app = create_app(load_config(None, environ, available_types=PROVIDER_TYPES))


async def request(method, path, body=b""):
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    headers = [(b"authorization", f"Bearer {MASTER}".encode())]
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": headers, "client": None, "scheme": "http", "http_version": "1.1"}
    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


async def main():
    answers = {path: await request("GET", path) for path in ("/api/tags", "/v1/batches", "/v1/messages/batches")}
    answers["/api/chat"] = await request("POST", "/api/chat", b'{"messages": []}')
    await app.aclose()
    loaded = [name for name in ("babelgate.frontends.ollama.models", "babelgate.frontends.ollama.door",
                                "babelgate.frontends.batches.openai", "babelgate.frontends.batches.anthropic", "re2",
        "babelgate.guardrails.pii.candidates")
              if name in sys.modules]
    print(json.dumps({"answers": answers, "loaded": loaded}))

asyncio.run(main())
"""


def test_a_deferred_door_answers_its_first_request() -> None:
    """The Ollama and Batches doors, absent from a fresh gateway, load at their first request and answer it, a bad
    request with the door's own error."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_REQUESTS_SCRIPT], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["answers"] == {
        "/api/tags": [200, {"models": []}],
        "/v1/batches": [200, {"object": "list", "data": [], "first_id": None, "last_id": None, "has_more": False}],
        "/v1/messages/batches": [200, {"data": [], "has_more": False, "first_id": None, "last_id": None}],
        "/api/chat": [
            400,
            {"error": "Missing required parameter: 'model'."},
        ],  # refused by the door itself, in Ollama's format
    }
    assert found["loaded"] == [
        "babelgate.frontends.ollama.models",
        "babelgate.frontends.ollama.door",
        "babelgate.frontends.batches.openai",
        "babelgate.frontends.batches.anthropic",
    ]


BEDROCK_SCRIPT = """
import json, sys
from babelgate import create_app
from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
with open(sys.argv[1], "w") as file:
    file.write(
        "providers:\\n  aws:\\n    type: bedrock\\n    region: us-east-1\\n"
        "    aws_access_key_id: env:KEY_ID\\n    aws_secret_access_key: env:SECRET\\n"
    )
environ = {"KEY_ID": "AKIAEXAMPLEKEY000001", "SECRET": "s" * 40, "BABELGATE_STORE_URL": "memory"}
create_app(load_config(sys.argv[1], environ, available_types=PROVIDER_TYPES))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("botocore"))))
"""


def test_a_bedrock_provider_with_keys_in_its_config_imports_no_botocore(tmp_path: Path) -> None:
    """Its SigV4 signature is the gateway's own (aws_signing.py); botocore is AWS's credential chain, not needed."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-c", BEDROCK_SCRIPT, str(tmp_path / "babelgate.yaml")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


PII_SCRIPT = """
import json, sys
from babelgate import create_app
from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
with open(sys.argv[1], "w") as file:
    file.write("guardrails:\\n  - {name: pii, kind: pii, action: mask}\\nserver: {guardrails: [pii]}\\n")
environ = {"OPENAI_API_KEY": "sk-test", "BABELGATE_STORE_URL": "memory"}
app = create_app(load_config(sys.argv[1], environ, available_types=PROVIDER_TYPES))
before = "re2" in sys.modules
finder = app.runtime.guardrails.by_name["pii"].finder
clean = finder.clean_json(b'{"messages": [{"role": "user", "content": "Hello"}]}')
found = [(f.entity, f.start, f.end) for f in finder.find("write to ada@example.com")]
print(json.dumps({"before": before, "after": "re2" in sys.modules, "clean": clean, "found": found}))
"""


def test_a_pii_guardrail_loads_re2_at_its_first_check(tmp_path: Path) -> None:
    """A configured `pii` guardrail is made at startup (its entities checked there) and its detectors, with RE2, at
    the first text it reads, which they answer."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    argv = [sys.executable, "-c", PII_SCRIPT, str(tmp_path / "babelgate.yaml")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "before": False,
        "after": True,
        "clean": True,
        "found": [["email", 9, 24]],
    }
