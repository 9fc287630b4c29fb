"""Other proxies measured on the fast path in the same run, for scale: nginx as a plain reverse proxy to the
fake upstream, and the LiteLLM proxy (from its own virtual environment, never the project's).

Each runs on the gateway's core (pinned the same way), with one worker process, configured in a
temporary folder; its CPU is the sum over its process tree (nginx's master and worker). Neither is
installed by the project: when one is asked for and missing, the run goes on without it and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from loadgen import Target
from processes import (
    FOREIGN_ENV_PREFIXES,
    LOOPBACK,
    RESULTS,
    Children,
    Pinning,
    free_port,
    wait_healthy,
)
from procfs import CpuClock, descendants, memory_kib, tree_cpu_clock

NGINX_CANDIDATES: Final = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")
LITELLM_ENV: Final = "BABELGATE_BENCH_LITELLM"
LITELLM_KEY: Final = "sk-bench-litellm"  # its master key: the key check is on, as on the gateway
LITELLM_STARTUP_TIMEOUT: Final = 180.0  # it imports a lot


@dataclass(frozen=True, slots=True)
class Contender:
    """A running comparison proxy and the fast-path target through it."""

    name: str
    title: str
    process: subprocess.Popen[bytes]
    target: Target

    @property
    def cpu(self) -> CpuClock:
        return tree_cpu_clock(self.process.pid)

    def memory(self) -> dict[str, int]:
        """Peak and current RSS summed over the process tree, in KiB."""
        total = {"VmHWM": 0, "VmRSS": 0}
        for pid in descendants(self.process.pid):
            for name, value in memory_kib(pid).items():
                total[name] += value
        return total


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    return found or next((path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None)


def nginx_config(folder: Path, port: int, upstream_port: int) -> str:
    # Everything nginx writes (pid, temp files) stays in the folder; access logging off, as on the gateway.
    return f"""\
worker_processes 1;
daemon off;
master_process on;
pid {folder}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    upstream fake {{
        server {LOOPBACK}:{upstream_port};
        keepalive 128;  # idle keep-alive connections to the upstream, as the gateway's pool keeps
    }}
    server {{
        listen {LOOPBACK}:{port};
        keepalive_requests 1000000;
        location / {{
            proxy_pass http://fake;
            proxy_http_version 1.1;
            proxy_set_header Connection "";  # so the upstream connection is kept alive
        }}
    }}
}}
"""


def start_nginx(children: Children, pin: Pinning, upstream_port: int, folder: Path, fast: Target) -> Contender:
    binary = find_nginx()
    assert binary is not None
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "nginx.conf"
    config.write_text(nginx_config(folder, port, upstream_port))
    log = RESULTS / "nginx.log"
    with log.open("wb") as output:
        process = children.start(
            [*pin.prefix(pin.gateway_cpu), binary, "-p", str(folder), "-c", str(config), "-e", "stderr"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_healthy(process, f"http://{LOOPBACK}:{port}/v1/models", log)
    # Through nginx the direct call's route and key: it only forwards.
    target = Target(
        "nginx", f"http://{LOOPBACK}:{port}/v1/chat/completions", fast.api_key, "fast", fast.body, fast.expect
    )
    return Contender("nginx", "nginx reverse proxy (1 worker process, keep-alive to the upstream)", process, target)


def litellm_binary(venv: Path) -> Path | None:
    binary = venv / "bin" / "litellm"
    return binary if os.access(binary, os.X_OK) else None


def litellm_config(upstream_port: int, upstream_key: str) -> str:
    return f"""\
model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: http://{LOOPBACK}:{upstream_port}/v1
      api_key: {upstream_key}
general_settings:
  master_key: {LITELLM_KEY}
litellm_settings:
  telemetry: false
"""


def litellm_env() -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items() if not name.startswith((*FOREIGN_ENV_PREFIXES, "LITELLM_"))
    }
    # No fetch of the model price list from the internet at start-up; quiet logs.
    env.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"})
    return env


def start_litellm(
    children: Children, pin: Pinning, upstream_port: int, folder: Path, fast: Target, venv: Path
) -> Contender:
    binary = litellm_binary(venv)
    assert binary is not None
    port = free_port()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "litellm.yaml"
    config.write_text(litellm_config(upstream_port, fast.api_key))
    log = RESULTS / "litellm.log"
    with log.open("wb") as output:
        process = children.start(
            [
                *pin.prefix(pin.gateway_cpu),
                str(binary),
                "--config",
                str(config),
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--num_workers",
                "1",
            ],
            env=litellm_env(),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_healthy(process, f"http://{LOOPBACK}:{port}/health/liveliness", log, timeout=LITELLM_STARTUP_TIMEOUT)
    target = Target(
        "litellm", f"http://{LOOPBACK}:{port}/v1/chat/completions", LITELLM_KEY, "fast", fast.body, fast.expect
    )
    return Contender("litellm", "LiteLLM proxy (1 worker, master key on)", process, target)
