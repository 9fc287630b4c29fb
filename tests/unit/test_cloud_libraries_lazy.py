"""The clouds' credential libraries are loaded only by a gateway that has a provider of their type: a
gateway without one never imports google-auth or azure-identity (import time and memory it does not need)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SCRIPT = """
import json, sys
from babelgate import create_app
from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
environ = {"OPENAI_API_KEY": "sk-test", "BABELGATE_STORE_URL": "memory"}
create_app(load_config(None, environ, available_types=PROVIDER_TYPES))
print(json.dumps(sorted(m for m in sys.modules if m.startswith(("google.auth", "google.oauth2", "azure", "msal")))))
"""


def test_a_gateway_without_cloud_providers_imports_no_cloud_library() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
