"""Running babelgate as deploy/ runs it, on loopback: `babelgate serve` processes on the shared config
(deploy/babelgate.yaml, with a test's additions), nginx on deploy/nginx/default.conf.template filled as
the nginx image fills it, a PostgreSQL database and a Redis prefix of their own; and a recorder of
every request a test's clients send, to hold against nginx's access log and the usage ledger."""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml

from tests.services import debian_binary, run_aside

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
TEMPLATE = DEPLOY / "nginx" / "default.conf.template"
SHARED_CONFIG = DEPLOY / "babelgate.yaml"
_NAME = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


# -- the shared config ------------------------------------------------------------------------------


def env_references(value: Any) -> set[str]:
    """Every `env:NAME` a config refers to: what compose, Kubernetes and the tests must provide."""
    if isinstance(value, dict):
        return set().union(*(env_references(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(env_references(v) for v in value)) if value else set()
    return {value[4:]} if isinstance(value, str) and value.startswith("env:") else set()


def merged(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """`overlay` over `base`, mappings merged key by key."""
    result = copy.deepcopy(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def shared_config(overlay: dict[str, Any]) -> dict[str, Any]:
    """deploy/babelgate.yaml with a test's additions (fake upstreams, a Redis prefix of its own)."""
    return merged(yaml.safe_load(SHARED_CONFIG.read_text()), overlay)


# -- the Dockerfile -----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (DEPLOY / "Dockerfile").read_text())
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def healthcheck_command() -> list[str]:
    """The image's HEALTHCHECK command (test_many_instances.py runs it against a live instance)."""
    line = next(line for line in dockerfile_instructions() if line.startswith("HEALTHCHECK "))
    command: list[str] = json.loads(line[line.index("CMD [") + 4 :])
    return command


# -- nginx ------------------------------------------------------------------------------------------


def nginx_binary() -> str:
    """nginx from Debian's package, installed here when missing and this user may."""
    return debian_binary("nginx", "nginx", "/usr/sbin/nginx")


def template_variables() -> set[str]:
    """The upper-case names in the template: the environment variables the nginx image must set."""
    return {a or b for a, b in _NAME.findall(TEMPLATE.read_text()) if (a or b).isupper()}


def filled_template(values: dict[str, str]) -> str:
    """The template filled as the nginx image fills it: `envsubst` given the names of the variables
    that are set (the image passes every name in its environment), so any other `$name` stays."""
    text = TEMPLATE.read_text()
    envsubst = shutil.which("envsubst")
    if envsubst is not None:
        names = " ".join(f"${{{name}}}" for name in values)
        return subprocess.run(
            [envsubst, names],
            input=text,
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": os.environ.get("PATH", ""), **values},
        ).stdout
    return _NAME.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


ACCESS_FORMAT = "$http_x_request_id|$status|$upstream_addr|$upstream_status|$msec"


def nginx_main_config(site: Path, prefix: Path) -> str:
    """What the nginx image's own nginx.conf does around conf.d: an http block including the site,
    here with pid, logs and temp files under `prefix` and an access log naming the instances tried."""
    return (
        f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n"
        f"    log_format babelgate '{ACCESS_FORMAT}';\n"
        f"    access_log {prefix}/access.log babelgate;\n"
        f"    client_body_temp_path {prefix}/body;\n    proxy_temp_path {prefix}/proxy;\n"
        f"    fastcgi_temp_path {prefix}/fastcgi;\n    uwsgi_temp_path {prefix}/uwsgi;\n"
        f"    scgi_temp_path {prefix}/scgi;\n"
        f"    include {site};\n"
        "}\n"
    )


@dataclass(frozen=True)
class Access:
    """One line of nginx's access log: the instances tried, in order, and what each answered."""

    request_id: str
    status: int
    upstreams: list[str]
    upstream_statuses: list[str]
    at: float


def read_access_log(path: Path) -> dict[str, Access]:
    entries: dict[str, Access] = {}
    for line in path.read_text().splitlines():
        request_id, status, addresses, statuses, at = line.split("|")
        entries[request_id] = Access(
            request_id, int(status), re.split(r", | : ", addresses), re.split(r", | : ", statuses), float(at)
        )
    return entries


# -- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hold_port(port: int) -> socket.socket:
    """The port of an instance that is gone, bound and never listened on until the socket is closed: a
    connection to it is refused, as to a dead instance's, and no other process can take it meanwhile. Without
    it, a server another test (an xdist worker) started could get the port from `free_port` and answer nginx's
    retry in its place, or nginx's own connection could get it as its source port and reach itself (both a 502
    for a request that never reached a gateway)."""
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past connections of the dead one in TIME_WAIT
    holder.bind(("127.0.0.1", port))
    return holder


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode}: " + (log.read_text()[-3000:] if log else ""))
        try:
            httpx.get(url + "/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{url} did not start: " + (log.read_text()[-3000:] if log else ""))


@dataclass
class Instance:
    """One `babelgate serve` process, its output in `log`."""

    number: int
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 40) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)


def start_gateways(config: Path, env: dict[str, str], directory: Path, count: int = 3) -> list[Instance]:
    """`count` processes serving `config` on loopback, as the image's CMD does (--host, --port)."""
    instances = []
    for number in range(1, count + 1):
        port, log = free_port(), directory / f"gateway{number}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "babelgate.cli",
                    "serve",
                    "--config",
                    str(config),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        instances.append(Instance(number, port, process, log))
    for instance in instances:
        wait_ready(instance.url, instance.process, instance.log)
    return instances


@dataclass
class Nginx:
    process: subprocess.Popen[bytes]
    port: int
    prefix: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"

    def errors(self) -> list[str]:
        path = self.prefix / "error.log"
        return [line for line in path.read_text().splitlines() if "[error]" in line] if path.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # nginx's graceful stop
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_nginx(prefix: Path, instances: list[Instance]) -> Nginx:
    """nginx in the foreground on the filled template, everything it writes under `prefix`."""
    binary = nginx_binary()
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    site = prefix / "default.conf"
    site.write_text(
        filled_template({**{f"GATEWAY_{i.number}": i.address for i in instances}, "LISTEN_PORT": f"127.0.0.1:{port}"})
    )
    main = prefix / "nginx.conf"
    main.write_text(nginx_main_config(site, prefix))
    process = subprocess.Popen(
        [binary, "-c", str(main), "-p", str(prefix), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx = Nginx(process, port, prefix)
    wait_ready(nginx.url, process, prefix / "error.log")
    return nginx


# -- services ---------------------------------------------------------------------------------------


async def _database(dsn: str, name: str, *, create: bool) -> None:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        if create:
            await connection.execute(f"CREATE DATABASE {name}")
        else:
            await connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await connection.close()


@contextmanager
def fresh_database(dsn: str, name: str) -> Iterator[str]:
    """A database of its own on the server of `dsn` (its DSN), dropped afterwards."""
    run_aside(_database(dsn, name, create=True))
    try:
        yield dsn.rsplit("/", 1)[0] + "/" + name
    finally:
        run_aside(_database(dsn, name, create=False))


async def _fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn, timeout=10)
    try:
        return list(await connection.fetch(query))
    finally:
        await connection.close()


def ledger_rows(dsn: str) -> list[asyncpg.Record]:
    return run_aside(_fetch(dsn, "SELECT request_id, status, error_code, route, ts FROM babelgate_responses_ledger"))


async def _forget(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def forget_redis_prefix(url: str, prefix: str) -> None:
    run_aside(_forget(url, prefix))


# -- what the clients sent --------------------------------------------------------------------------


@dataclass
class Call:
    """One request as its client saw it (monotonic times; status None: no HTTP answer came)."""

    request_id: str
    method: str
    path: str
    port: int
    started: float
    ended: float | None = None
    status: int | None = None
    error: str | None = None

    @property
    def model_route(self) -> bool:
        """A request the ledger keeps a row of: one that names a model."""
        return self.method == "POST" and self.path in ("/v1/chat/completions", "/v1/responses")


@dataclass
class Recorder:
    """Gives every request of the clients it made an `x-request-id` (the gateway keeps a sane one as
    its own: the id in its answer and on its ledger row) and notes how each went."""

    prefix: str
    calls: dict[str, Call] = field(default_factory=dict)
    _count: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> str:
        with self._lock:
            return f"{self.prefix}{next(self._count):06d}"

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(event_hooks={"request": [self._sent], "response": [self._answered]}, **options)

    def _sent(self, request: httpx.Request) -> None:
        request_id = request.headers.get("x-request-id") or self.new_id()
        request.headers["x-request-id"] = request_id
        self.calls[request_id] = Call(
            request_id, request.method, request.url.path, request.url.port or 80, time.monotonic()
        )

    def _answered(self, response: httpx.Response) -> None:
        call = self.calls[response.request.headers["x-request-id"]]
        call.status, call.ended = response.status_code, time.monotonic()

    def failed(self, request_id: str, error: BaseException) -> None:
        call = self.calls.get(request_id)
        if call is not None and call.status is None:
            call.ended, call.error = time.monotonic(), type(error).__name__
