"""The processes the bench starts (fake upstream, gateways, comparison servers), where they run, and how
they are stopped: only the processes it started, gently, then surely, whatever happens."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from loadgen import die_with_parent

BENCH_DIR: Final = Path(__file__).resolve().parent
RESULTS: Final = BENCH_DIR / "results"
GATEWAY_KEY: Final = "bench-key"
UPSTREAM_KEY: Final = "sk-bench"
LOOPBACK: Final = "127.0.0.1"
STARTUP_TIMEOUT: Final = 30.0
STOP_GRACE: Final = 5.0
# Environment variables that would add providers or change the gateway's config behind our back.
FOREIGN_ENV_PREFIXES: Final = ("OPENAI_", "ANTHROPIC_", "GEMINI_", "MISTRAL_", "OLLAMA_", "BABELGATE_")


class BenchError(Exception):
    """The benchmark cannot go on; the message says why (and quotes the gateway's log when it is at fault)."""


class Children:
    """The processes this script started; `stop_all` ends them (and only them), gently, then surely."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        stdout: int | IO[bytes],
        stderr: int | IO[bytes],
    ) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        """Stop one of them before the end (a comparison server, a cold-started gateway)."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass(frozen=True, slots=True)
class Pinning:
    """CPU placement: the gateway alone on one core, everything else on the other."""

    enabled: bool
    note: str
    gateway_cpu: int = 1
    load_cpu: int = 0

    @classmethod
    def detect(cls, wanted: bool) -> Pinning:
        if not wanted:
            return cls(False, "disabled by --no-pin")
        if shutil.which("taskset") is None:
            return cls(False, "taskset not found; processes not pinned")
        if not {0, 1} <= os.sched_getaffinity(0):
            return cls(False, "CPUs 0 and 1 are not both available; processes not pinned")
        return cls(True, "gateway on CPU 1; load generator and upstream on CPU 0")

    def prefix(self, cpu: int) -> list[str]:
        return ["taskset", "-c", str(cpu)] if self.enabled else []

    def spread(self, pids: Sequence[int]) -> None:
        """Worker processes of one gateway, each on a core of its own, in turn: the first on the gateway's
        core, the second on the other (with the load generator and the upstream)."""
        if self.enabled:
            cores = (self.gateway_cpu, self.load_cpu)
            for index, pid in enumerate(pids):
                os.sched_setaffinity(pid, {cores[index % len(cores)]})

    def pin_self(self) -> None:
        """This process is the Python load generator (and wrk's parent), so it goes with the upstream."""
        if self.enabled:
            os.sched_setaffinity(0, {self.load_cpu})


def free_port() -> int:
    # Bind-then-close has a small race, acceptable on loopback for a bench: the gateway fails loudly if lost.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:]) or "(empty log)"


def start_upstream(children: Children, pin: Pinning, chunks: int, chunk_delay_ms: float) -> int:
    """Start the fake upstream and return the port it printed."""
    log = RESULTS / "upstream.log"
    argv = [
        *pin.prefix(pin.load_cpu),
        sys.executable,
        str(BENCH_DIR / "fake_upstream.py"),
        "--host",
        LOOPBACK,
        "--port",
        "0",
        "--chunks",
        str(chunks),
        "--chunk-delay-ms",
        str(chunk_delay_ms),
    ]
    log.parent.mkdir(parents=True, exist_ok=True)  # a fresh checkout has no results folder yet
    with log.open("wb") as stderr:
        process = children.start(argv, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    readable, _, _ = select.select([process.stdout], [], [], STARTUP_TIMEOUT)
    line = process.stdout.readline().decode() if readable else ""
    if not line.startswith("READY "):
        raise BenchError(f"the fake upstream did not start:\n{log_tail(log)}")
    return int(line.split()[1])


def gateway_env(upstream_port: int, store_dir: str) -> dict[str, str]:
    # A build named on PYTHONPATH that is gone (bench/compiled.py keeps the newest two) would not fail: the gateway
    # would import the editable install's plain source instead, and be measured as if it were the build.
    gone = [part for part in os.environ.get("PYTHONPATH", "").split(os.pathsep) if part and not Path(part).is_dir()]
    if gone:
        raise BenchError(f"PYTHONPATH names what does not exist: {', '.join(gone)}")
    env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN_ENV_PREFIXES)}
    upstream = f"http://{LOOPBACK}:{upstream_port}"
    env.update(
        {
            "OPENAI_API_KEY": UPSTREAM_KEY,
            "OPENAI_BASE_URL": f"{upstream}/v1",
            # All four providers at the one fake upstream, each with its SDK's base URL convention.
            "ANTHROPIC_API_KEY": UPSTREAM_KEY,
            "ANTHROPIC_BASE_URL": upstream,
            "GEMINI_API_KEY": UPSTREAM_KEY,
            "GEMINI_BASE_URL": upstream,
            "MISTRAL_API_KEY": UPSTREAM_KEY,
            "MISTRAL_BASE_URL": f"{upstream}/mistral",  # a prefix: Mistral's chat route is OpenAI's
            # Port 9 (discard) is closed: the always-on Ollama provider fails fast instead of finding a real one.
            "OLLAMA_BASE_URL": f"http://{LOOPBACK}:9",
            "BABELGATE_API_KEYS": GATEWAY_KEY,
            "BABELGATE_MASTER_KEY": MASTER_KEY,
            # The Responses API stores every response (as by default, in SQLite), here in a throw-away file.
            "BABELGATE_STORE_URL": f"sqlite:{store_dir}/babelgate.db",
            # The cloud providers of the bench's config (BENCH_CONFIG), at the same fake upstream.
            "BABELGATE_BENCH_UPSTREAM": upstream,
            "BABELGATE_BENCH_CLOUD_KEY": UPSTREAM_KEY,
        }
    )
    return env


def gateway_command() -> list[str]:
    script = Path(sys.executable).parent / "babelgate"
    return [str(script)] if script.exists() else [sys.executable, "-m", "babelgate.cli"]


# The `routed` path's model (paths.py): two deployments on the fake OpenAI upstream and a fallback,
# so that the router decides every request. The `governed` path's model: the fast path's upstream model
# under model limits, with its own price; its virtual key's team (`bench`) has limits and a budget too.
# Every limit is far above what the bench sends, so every request is checked and none refused. The other
# paths' models come from the environment (`gpt-4o-mini` and the rest route by their family), so a static
# key's request meets none of these limits. The clouds' paths: Gemini on Vertex (express mode's API key: no
# token to fetch from a fake token endpoint), a deployment on Azure's v1 API and Claude on Bedrock (static
# AWS keys: every request signed with SigV4), all at the fake upstream. The `guarded` path's model: every
# request's and answer's texts through the built-in PII detectors, masking what they find.
BENCH_CONFIG: Final = """\
providers:
  vertex: {type: vertex, api_key: 'env:BABELGATE_BENCH_CLOUD_KEY', base_url: 'env:BABELGATE_BENCH_UPSTREAM'}
  azure: {type: azure, api_key: 'env:BABELGATE_BENCH_CLOUD_KEY', base_url: 'env:BABELGATE_BENCH_UPSTREAM'}
  bedrock:
    {type: bedrock, region: us-east-1, base_url: 'env:BABELGATE_BENCH_UPSTREAM',
     aws_access_key_id: 'env:BABELGATE_BENCH_CLOUD_KEY', aws_secret_access_key: 'env:BABELGATE_BENCH_CLOUD_KEY'}
models:
  vertex-gemini: {provider: vertex, model: gemini-2.5-flash}
  azure-gpt: {provider: azure, model: gpt-4o-mini}
  bedrock-claude: {provider: bedrock, model: 'us.anthropic.claude-sonnet-4-5-20250929-v1:0'}
  routed:
    deployments:
      - {provider: openai, model: gpt-4o-mini, weight: 1}
      - {provider: openai, model: gpt-4o-mini, weight: 1}
    fallbacks: [gpt-4o]
  governed:
    provider: openai
    model: gpt-4o-mini
    limits: {rpm: 1000000000, tpm: 1000000000000, max_concurrent: 1000000}
  guarded: {provider: openai, model: gpt-4o-mini, guardrails: [pii]}
guardrails:
  - {name: pii, kind: pii, action: mask}
teams:
  bench: {rpm: 1000000000, tpm: 1000000000000, max_concurrent: 1000000, budget_usd: 1000000, budget_period: month}
prices:
  'gpt-4o-mini*': {input: 0.15, output: 0.6, cached_input: 0.075}
"""


# The `governed` path's virtual key is created through the admin API, behind this master key.
MASTER_KEY: Final = "bench-master-key-0123456789"
# Where rate limits are counted for the `governed` path: in the gateway, or Redis (`run.py --redis URL`).
REDIS_ENV: Final = "BABELGATE_BENCH_REDIS"


def gateway_config(extra: str = "") -> Path:
    """The bench's config; `extra`: sections to add (the `jwt` caller's `auth:`, bench/jwt_issuer.py)."""
    path = RESULTS / "bench-config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    redis = os.environ.get(REDIS_ENV)
    path.write_text(
        BENCH_CONFIG
        + (f"redis: {{url: '{redis}', prefix: 'babelgate-bench-{os.getpid()}:'}}\n" if redis else "")
        + extra
    )
    return path


def create_virtual_key(port: int) -> str:
    """A key of team `bench` with limits and a budget far above what the bench sends: every request is
    checked, none refused."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    body = json.dumps(
        {
            "label": "bench",
            "team": "bench",
            "rpm": 10**9,
            "tpm": 10**12,
            "max_concurrent": 10**6,
            "budget_usd": 10**6,
            "budget_period": "month",
        }
    ).encode()
    request = urllib.request.Request(
        f"http://{LOOPBACK}:{port}/admin/keys",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {MASTER_KEY}", "Content-Type": "application/json"},
    )
    with opener.open(request, timeout=10) as answer:
        return str(json.loads(answer.read())["key"])


def gateway_argv(
    pin: Pinning,
    port: int,
    workers: int = 1,
    *,
    command: Sequence[str] | None = None,
    config: bool = True,
    extra: str = "",
) -> list[str]:
    """`serve` of this tree's gateway, or of `command` (the base's, bench/fixed_base.py); without `config` it takes
    the environment alone, as any version of the gateway does (the base refuses today's routed models)."""
    argv = [
        *pin.prefix(pin.gateway_cpu),
        *(command or gateway_command()),
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--log-level",
        "warning",
        *(("--config", str(gateway_config(extra))) if config else ()),
    ]
    return [*argv, "--workers", str(workers)] if workers != 1 else argv


def start_gateway(
    children: Children,
    pin: Pinning,
    upstream_port: int,
    store_dir: str,
    *,
    workers: int = 1,
    log_name: str = "gateway.log",
    env: dict[str, str] | None = None,
    command: Sequence[str] | None = None,
    config: bool = True,
    extra: str = "",
) -> tuple[subprocess.Popen[bytes], int]:
    """The gateway under `serve`; `extra`: config sections added to the bench's (gateway_config)."""
    port = free_port()
    log = RESULTS / log_name
    with log.open("wb") as output:
        process = children.start(
            gateway_argv(pin, port, workers, command=command, config=config, extra=extra),
            env={**gateway_env(upstream_port, store_dir), **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_healthy(process, f"http://{LOOPBACK}:{port}/health", log)
    return process, port


def wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = STARTUP_TIMEOUT) -> None:
    """Poll `url` until the server answers at all, or fail with its log."""
    # An empty ProxyHandler: an http_proxy in the environment must not capture loopback requests.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"{log.stem} exited with code {process.returncode}:\n{log_tail(log)}")
        try:
            with opener.open(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"{log.stem} did not answer within {timeout:.0f} s:\n{log_tail(log)}")
