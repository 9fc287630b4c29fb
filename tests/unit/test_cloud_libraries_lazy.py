"""The clouds' credential libraries are loaded only by a gateway that has a provider of their type: a
gateway without one never imports google-auth, azure-identity or botocore (import time and memory it does not
need). So with the MCP SDK (only with `mcp_servers:` or a request that names an MCP server: ~25 MiB of
modules), PyJWT with `cryptography` (only with `auth.jwt` or `auth.oidc`) and aiohttp (~14 MiB: only once a
request names a media URL to fetch or sends a form, or an identity provider is read)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import json, sys
LAZY = ("google.auth", "google.oauth2", "azure", "msal", "botocore", "mcp", "jwt", "cryptography", "aiohttp")
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
