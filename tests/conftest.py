"""Shared fixtures: a background loop with the fake OpenAI upstream, and gateways built per test."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openai
import pytest

from babelgate import Config, Hook, create_app
from babelgate.config import load_config
from babelgate.providers import PROVIDER_TYPES
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.bedrock_upstream import FakeBedrock
from tests.fakes.gemini_upstream import FakeGemini
from tests.fakes.mistral_upstream import FakeMistral
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp
from tests.secret_watch import FOUND, LogWatch, WatchedGateway, configured_secrets, scan

if TYPE_CHECKING:
    from tests.fakes.mcp_server import FakeMcp

UPSTREAM_KEY = "sk-test-UPSTREAM-secret-0123456789"
ANTHROPIC_KEY = "sk-ant-test-UPSTREAM-secret-987654321"
GEMINI_KEY = "AIzaTestUPSTREAMsecret0123456789abcdef"
MISTRAL_KEY = "mistral-test-UPSTREAM-secret-5555"
WATCHED_KEYS = (UPSTREAM_KEY, ANTHROPIC_KEY, GEMINI_KEY, MISTRAL_KEY)
CLOSED_PORT_URL = "http://127.0.0.1:9"  # discard port: nothing listens, connections are refused
PROXY_VARIABLES = frozenset({"https_proxy", "http_proxy", "all_proxy", "no_proxy"})


def pytest_configure(config: pytest.Config) -> None:
    """The suite talks to 127.0.0.1 only. A proxy the developer's shell exports would still reach the
    official clients (httpx exempts no loopback host, and a socks5 ALL_PROXY breaks the ollama
    package's import), so the suite runs without one; the proxy tests set their own."""
    for name in [name for name in os.environ if name.lower() in PROXY_VARIABLES]:
        del os.environ[name]
    # The operator CLI's tables keep their full width when captured unless COLUMNS says otherwise; a shell's
    # COLUMNS, or the 80 that pytest-xdist gives its workers, would squeeze what the tests read.
    os.environ.pop("COLUMNS", None)
    _own_state_directories(config)
    LogWatch.secrets = WATCHED_KEYS
    logging.getLogger().addHandler(LogWatch(logging.DEBUG))


# The slow loop, marked `slow`: tests that install or start something big (coding agents, a browser, a
# wheel in a fresh venv, gateway processes, nginx), fuzz, take a service down, or load a gateway for
# seconds. `make test` runs every test; `make check` the unit-level ones only; `pytest -m "not slow"`
# every test but these. A directory or module names all its tests, `module::function` every parameter
# of that function. Name a test here when it takes more than a second or two.
SLOW = (
    "tests/agents/",  # installs and drives real coding agents
    "tests/ui/",  # Chromium end to end, and npm ci + the dashboard's build
    "tests/identity/test_sign_in.py",  # a real OpenID provider (npm) and Chromium signing in through it
    "tests/identity/test_provider_tokens.py",  # the real OpenID provider's access tokens as JWT callers
    "tests/reliability/test_fuzz_routes.py",  # schemathesis on every route
    "tests/reliability/test_properties.py",  # hypothesis on validators and decoders
    "tests/reliability/test_graceful_shutdown.py",  # SIGTERM to gateway processes
    "tests/reliability/test_hostile_input.py",  # slowloris, huge bodies, memory bounds
    "tests/reliability/test_ledger_outage.py",  # PostgreSQL refusing, silent, SIGTERM
    "tests/reliability/test_pipelining.py",  # ten thousand pipelined requests
    "tests/reliability/test_redis_outage.py",  # Redis killed and hung
    "tests/reliability/test_store_hang.py",  # a store that hangs past its timeout
    "tests/integration/test_cli_serve.py",  # `babelgate serve` processes, SIGHUP
    "tests/integration/test_bedrock.py::test_container_credentials_are_refreshed_in_the_background",  # waits 5 s
    "tests/integration/test_many_instances.py",  # nginx in front of gateway processes
    "tests/integration/test_mcp_gateway.py::test_a_server_that_went_down_is_named_not_listed",
    "tests/integration/test_mcp_scope.py::test_no_request_makes_the_gateway_connect_where_the_destination_policy_refuses",
    "tests/integration/test_operator_cli.py",  # the CLI's processes
    "tests/integration/test_packaging.py",  # builds the wheel, installs it in a fresh venv
    "tests/integration/test_compiled_packaging.py",  # builds the compiled wheel (mypyc, gcc: minutes), as above
    "tests/integration/test_shared_routing_state.py",  # gateway processes sharing Redis
    "tests/integration/test_deploy_files.py::test_nginx_accepts_the_filled_template",
    "tests/integration/test_ledger.py::test_sigterm_under_load_loses_no_row",
    "tests/integration/test_observability.py::test_metrics_count_every_worker_and_logs_are_json_with_the_request_id",
    "tests/integration/test_rate_limits.py::test_a_budget_is_shared_across_processes",
    "tests/integration/test_rate_limits.py::test_requests_at_once_are_counted_across_processes",
    "tests/integration/test_rate_limits.py::test_two_processes_admit_exactly_the_limit_between_them",
    "tests/integration/test_responses_state.py::test_two_gateways_share_conversations_through_postgres",
    "tests/integration/test_routing.py::test_a_client_that_leaves_cancels_a_pending_retry",
    "tests/integration/test_routing.py::test_a_dead_deployment_costs_one_probe_per_cool_down",
    "tests/integration/test_upstream_faults.py::test_a_compression_bomb_is_refused_before_it_is_inflated",
    "tests/integration/test_upstream_faults.py::test_default_limits_bound_a_200_mb_answer",
    "tests/integration/test_upstream_faults.py::test_no_descriptor_connection_or_memory_leak_after_two_rounds",
)


# The release loop, marked `release` (and `slow`): what only a release needs to prove again, minutes each:
# the real coding agents, the long soaks, the builds of wheels. `make test` leaves it out; `.ci/run` runs it
# as a step of its own (`make test-release`), so CI still runs everything.
RELEASE = (
    "tests/agents/",  # installs and drives real coding agents
    "tests/identity/test_sign_in.py",  # a real OpenID provider (npm) and Chromium signing in through it
    "tests/identity/test_provider_tokens.py",  # the real OpenID provider's access tokens as JWT callers
    "tests/ui/test_bundle.py",  # npm ci and the dashboard's build from its source
    "tests/integration/test_packaging.py",  # builds the wheels, installs each in a fresh venv
    "tests/integration/test_compiled_packaging.py",  # the compiled wheel from a clean clone (mypyc, gcc: minutes)
    "tests/reliability/test_fuzz_routes.py",  # schemathesis on every route
    "tests/reliability/test_pipelining.py",  # ten thousand pipelined requests
    "tests/integration/test_ledger.py::test_sigterm_under_load_loses_no_row",
    "tests/integration/test_upstream_faults.py::test_default_limits_bound_a_200_mb_answer",
    "tests/integration/test_upstream_faults.py::test_no_descriptor_connection_or_memory_leak_after_two_rounds",
)
# The slow loop's per-test timeout: a build, an agent's run or a soak of several processes, on a busy machine.
SLOW_TIMEOUT = 900


def _own_state_directories(config: pytest.Config) -> None:
    """The run's gateways, CLI and agents keep their state (the default store, the CLI's settings) in
    directories of the run's own, never the user's: a key one test creates must not put another run's
    gateways (or the developer's own `make run`) behind keys. Caches of downloads stay where they are."""
    root = Path(tempfile.mkdtemp(prefix="babelgate-tests-"))
    for variable in ("XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        os.environ[variable] = str(root / variable.lower())
    config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))


def _listed(test: str, names: tuple[str, ...]) -> bool:
    return any(test == name or test.startswith(name if name.endswith("/") else name + "::") for name in names)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that used the background loop reports what the loop was doing: a request that timed out
    names the task it waited on (or the call that blocked the loop)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    loop_thread = getattr(item, "funcargs", {}).get("loop_thread") or _used_loop_thread(item)
    if report.failed and loop_thread is not None:
        report.sections.append(("background loop", loop_thread.state()))


def _used_loop_thread(item: pytest.Item) -> LoopThread | None:
    """The session's background loop when the test used it through another fixture (make_gateway, upstream)."""
    request = getattr(item, "_request", None)
    if request is None or "loop_thread" not in getattr(item, "fixturenames", ()):
        return None
    try:
        found = request.getfixturevalue("loop_thread")
    except Exception:  # torn down, or not available in this phase
        return None
    return found if isinstance(found, LoopThread) else None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks the slow loop's tests `slow` and the release loop's `release` (both registered in
    pyproject.toml), by where they are, and gives them the longer per-test timeout they need."""
    for item in items:
        test = item.nodeid.split("[", 1)[0]
        if _listed(test, RELEASE):
            item.add_marker(pytest.mark.release)
        if _listed(test, SLOW) or _listed(test, RELEASE):
            item.add_marker(pytest.mark.slow)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT))


@pytest.fixture(scope="session")
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def mcp_server(loop_thread: LoopThread) -> Iterator[FakeMcp]:
    """An MCP server written with the official SDK (tests/fakes/mcp_server.py), for a module's tests."""
    from tests.fakes.mcp_server import FakeMcp as Fake  # the SDK loads only for the tests that use it

    fake = Fake()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def tools_server(mcp_server: FakeMcp) -> FakeMcp:
    """`mcp_server` with what the last test recorded cleared."""
    mcp_server.calls.clear()
    mcp_server.authorizations.clear()
    return mcp_server


def started_openai(loop_thread: LoopThread) -> Iterator[FakeOpenAI]:
    """A fake OpenAI upstream served on the background loop until the fixture that yields from this ends."""
    fake = FakeOpenAI()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


def checked_openai(fake: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """`fake` cleared for one test, which fails if the gateway sent it what the OpenAI spec refuses."""
    fake.reset()
    yield fake
    assert fake.spec_violations == [], "the gateway sent requests the OpenAI spec refuses"


@pytest.fixture(scope="session")
def _upstream(loop_thread: LoopThread) -> Iterator[FakeOpenAI]:
    yield from started_openai(loop_thread)


@pytest.fixture
def upstream(_upstream: FakeOpenAI) -> Iterator[FakeOpenAI]:
    yield from checked_openai(_upstream)


@pytest.fixture(scope="session")
def _anthropic(loop_thread: LoopThread) -> Iterator[FakeAnthropic]:
    fake = FakeAnthropic()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def anthropic_upstream(_anthropic: FakeAnthropic) -> Iterator[FakeAnthropic]:
    _anthropic.reset()
    yield _anthropic
    assert _anthropic.violations == [], "the gateway sent requests the Anthropic API refuses"


@pytest.fixture(scope="session")
def _gemini(loop_thread: LoopThread) -> Iterator[FakeGemini]:
    fake = FakeGemini()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def gemini_upstream(_gemini: FakeGemini) -> Iterator[FakeGemini]:
    _gemini.reset()
    yield _gemini
    assert _gemini.violations == [], "the gateway sent requests the Gemini API refuses"


@pytest.fixture(scope="session")
def _bedrock(loop_thread: LoopThread) -> Iterator[FakeBedrock]:
    fake = FakeBedrock()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def bedrock_upstream(_bedrock: FakeBedrock) -> Iterator[FakeBedrock]:
    _bedrock.reset()
    yield _bedrock
    assert _bedrock.violations == [], "the gateway sent requests Bedrock refuses"


BATCH_BUCKET = "babelgate-batches"


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto's S3 on 127.0.0.1 with the bucket Bedrock's batch jobs use (`BATCH_BUCKET`): its endpoint URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    client = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="moto", aws_secret_access_key="moto"
    )
    client.create_bucket(Bucket=BATCH_BUCKET)
    yield url
    server.stop()


@pytest.fixture(scope="session")
def _mistral(loop_thread: LoopThread) -> Iterator[FakeMistral]:
    fake = FakeMistral()
    loop_thread.run(fake.start())
    yield fake
    loop_thread.run(fake.stop())


@pytest.fixture
def mistral_upstream(_mistral: FakeMistral) -> Iterator[FakeMistral]:
    _mistral.reset()
    yield _mistral
    assert _mistral.violations == [], "the gateway sent requests the Mistral API refuses"


def base_env(upstream: FakeOpenAI) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": UPSTREAM_KEY,
        "OPENAI_BASE_URL": upstream.base_url,
        "OLLAMA_BASE_URL": CLOSED_PORT_URL,
        "BABELGATE_STORE_URL": "memory",
    }


GatewayFactory = Callable[..., RunningApp]


def start_gateway(
    loop_thread: LoopThread, config: Config, started: list[RunningApp], *, hooks: tuple[Hook, ...] = ()
) -> RunningApp:
    """A gateway for `config`, serving on 127.0.0.1; `started` keeps it for the fixture to stop.
    Everything it sends is watched for keys (secret_watch.py)."""
    secrets = (*WATCHED_KEYS, *configured_secrets(config))
    running = RunningApp(WatchedGateway(create_app(config, hooks=hooks), secrets))
    loop_thread.run(running.start())
    started.append(running)
    return running


def stop_gateway(loop_thread: LoopThread, running: RunningApp) -> None:
    """Stop it, after a last look at what /metrics and /health would show."""
    app = running.app
    if isinstance(app, WatchedGateway):
        scan("/metrics", app.runtime.metrics.render(), app.secrets)
        # urllib, not httpx: an httpx client builds an SSL context (~0.2 s) even for http://.
        with contextlib.suppress(OSError), urllib.request.urlopen(running.url + "/health", timeout=5) as health:
            scan("/health", health.read(), app.secrets)
    loop_thread.run(running.stop())


@pytest.fixture(autouse=True)
def no_secret_leaks() -> Iterator[None]:
    """Fails the test during which any gateway let a key out (secret_watch.py)."""
    FOUND.clear()
    yield
    leaked, FOUND[:] = list(FOUND), []
    assert not leaked, "a key leaked:\n" + "\n".join(leaked[:5])


@pytest.fixture
def make_gateway(loop_thread: LoopThread, upstream: FakeOpenAI, tmp_path: Any) -> Iterator[GatewayFactory]:
    started: list[RunningApp] = []

    def factory(
        yaml_text: str | None = None, *, env: dict[str, str] | None = None, hooks: tuple[Hook, ...] = ()
    ) -> RunningApp:
        path = None
        if yaml_text is not None:
            path = tmp_path / f"config{len(started)}.yaml"
            path.write_text(yaml_text)
        environ = {**base_env(upstream), **(env or {})}
        return start_gateway(
            loop_thread, load_config(path, environ, available_types=PROVIDER_TYPES), started, hooks=hooks
        )

    yield factory
    for running in started:
        stop_gateway(loop_thread, running)


@pytest.fixture
def no_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Whatever the machine has for AWS (keys, ~/.aws, a metadata service) stays out of the test."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def gateway(make_gateway: GatewayFactory) -> RunningApp:
    return make_gateway()


@pytest.fixture
def client(gateway: RunningApp) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=10) as c:
        yield c


def services_required() -> bool:
    return os.environ.get("BABELGATE_REQUIRE_SERVICES") == "1"
