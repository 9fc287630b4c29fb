"""A hung store: PostgreSQL behind a TCP proxy the test switches to "hang" (connections accepted and
never answered, open ones stalled), as a database that stops answering without closing anything.
Every request that waits for the store must end within `store.timeout` (0.5 s here) plus a margin,
with a 503 in its own frontend's format, and the gateway must serve again once the database does.
Before the deadlines, each of these requests waited for as long as the database was silent."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import anthropic
import httpx
import ollama
import openai
import pytest

from tests.admin_gateway import ADMIN, MASTER
from tests.conftest import GatewayFactory
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import LoopThread, RunningApp
from tests.fakes.tcp_proxy import Mode, TcpProxy
from tests.many_instances import fresh_database
from tests.services import postgres_dsn  # noqa: F401  (fixture)
from tests.waiting import eventually

T = TypeVar("T")
MODEL = "gpt-4o-mini"
STORE_TIMEOUT = 0.5
MARGIN = 1.0  # a loaded 2-core machine; a hang is 10 s (the clients' own limit), not 1.5
CLIENT_TIMEOUT = 10.0  # a request that hangs fails the test here instead of hanging it
SETUP_TIMEOUT = 60.0  # the requests before the hang: a gateway's first Responses request on a busy machine
SAID = f"did not answer within {STORE_TIMEOUT:g} s"


@pytest.fixture
def database(postgres_dsn: str) -> Iterator[str]:  # noqa: F811
    """A database of its own: the virtual keys made here must not turn keys on for other tests."""
    with fresh_database(postgres_dsn, f"babelgate_hang_{uuid.uuid4().hex[:12]}") as dsn:
        yield dsn


@pytest.fixture
def proxy(loop_thread: LoopThread, postgres_dsn: str) -> Iterator[TcpProxy]:  # noqa: F811
    target = urlsplit(postgres_dsn)
    running = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    loop_thread.run(running.start())
    yield running
    loop_thread.run(running.stop())


def _through(dsn: str, proxy: TcpProxy) -> str:
    parts = urlsplit(dsn)
    user = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{user}@{proxy.dsn_host}" if user else proxy.dsn_host))


def _bounded(call: Callable[[], T]) -> tuple[T, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def _refused(call: Callable[[], Any], error: type[Exception]) -> tuple[Exception, float]:
    """The error `call` raised and how long it took; a success or another error fails the test."""
    started = time.monotonic()
    with pytest.raises(error) as caught:
        call()
    return caught.value, time.monotonic() - started


def _start(make_gateway: GatewayFactory, dsn: str) -> RunningApp:
    return make_gateway(f"store: {{url: '{dsn}', timeout: {STORE_TIMEOUT}}}\n", env={"BABELGATE_MASTER_KEY": MASTER})


def test_a_hung_store_answers_503_in_each_frontend_s_format_within_its_timeout(
    database: str, proxy: TcpProxy, loop_thread: LoopThread, make_gateway: GatewayFactory, upstream: FakeOpenAI
) -> None:
    gateway = _start(make_gateway, _through(database, proxy))
    with httpx.Client(base_url=gateway.url, headers=ADMIN, timeout=CLIENT_TIMEOUT) as admin:
        # Keys with a budget: a key's first model request reads the period's spend from the ledger.
        # The second is first used while the store hangs.
        used, fresh = (admin.post("/admin/keys", json={"label": label, "budget_usd": 100}) for label in ("a", "b"))
        assert used.status_code == fresh.status_code == 201, (used.text, fresh.text)
        with openai.OpenAI(
            base_url=gateway.url + "/v1", api_key=used.json()["key"], max_retries=0, timeout=CLIENT_TIMEOUT
        ) as client:
            _while_hung(gateway.url, proxy, loop_thread, admin, client, fresh.json()["key"])


def _while_hung(
    url: str, proxy: TcpProxy, loop_thread: LoopThread, admin: httpx.Client, client: openai.OpenAI, secret: str
) -> None:
    setup = client.with_options(timeout=SETUP_TIMEOUT)
    stored = setup.responses.create(model=MODEL, input="The code is 7.")
    # A delete given up by its client still happens once the store answers (store/cached.py).
    doomed = setup.responses.create(model=MODEL, input="Forget this.")
    assert eventually(lambda: _retrievable(client, stored.id) and _retrievable(client, doomed.id))

    loop_thread.run(proxy.switch(Mode.HANG))
    try:
        timings: dict[str, float] = {}
        # The Responses API (OpenAI's error shape): a read, a continuation, a delete.
        error, timings["retrieve"] = _refused(lambda: client.responses.retrieve(stored.id), openai.InternalServerError)
        _assert_openai_503(error)
        error, timings["continuation"] = _refused(
            lambda: client.responses.create(model=MODEL, input="The code?", previous_response_id=stored.id),
            openai.InternalServerError,
        )
        _assert_openai_503(error)
        error, timings["delete"] = _refused(lambda: client.responses.delete(doomed.id), openai.InternalServerError)
        _assert_openai_503(error)
        # The admin API (OpenAI's shape too): every read it has, and a write.
        for path in ("/admin/keys", "/admin/usage", "/admin/errors"):
            answer, timings[path] = _bounded(lambda path=path: admin.get(path))  # type: ignore[misc]
            assert answer.status_code == 503, (path, answer.text)
            assert (
                answer.json()["error"]["code"] == "store_unavailable" and SAID in answer.json()["error"]["message"]
            ), answer.text
        answer, timings["POST /admin/keys"] = _bounded(lambda: admin.post("/admin/keys", json={}))
        assert answer.status_code == 503, answer.text
        # The budget's first read, on Anthropic's and Ollama's doors (each in its own shape).
        with anthropic.Anthropic(base_url=url, api_key=secret, max_retries=0, timeout=CLIENT_TIMEOUT) as messages:
            failure, timings["messages"] = _refused(
                lambda: messages.messages.create(
                    model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "Hi"}]
                ),
                anthropic.InternalServerError,
            )
        assert isinstance(failure, anthropic.InternalServerError)
        assert failure.status_code == 503 and failure.body["type"] == "error", failure.body  # type: ignore[index]
        assert SAID in failure.body["error"]["message"], failure.body  # type: ignore[index]
        with ollama.Client(host=url, timeout=CLIENT_TIMEOUT, headers={"Authorization": f"Bearer {secret}"}) as local:
            refused, timings["ollama chat"] = _refused(
                lambda: local.chat(model=MODEL, messages=[{"role": "user", "content": "Hi"}]), ollama.ResponseError
            )
        assert isinstance(refused, ollama.ResponseError)
        assert refused.status_code == 503 and SAID in refused.error, refused.error
        slow = {name: round(seconds, 2) for name, seconds in timings.items() if seconds > STORE_TIMEOUT + MARGIN}
        assert slow == {}, f"past the store's timeout plus {MARGIN} s: {slow}"
    finally:
        loop_thread.run(proxy.switch(Mode.PASS))
    # The database answers again: so does the gateway, with the connections it had or new ones.
    assert eventually(lambda: _retrievable(client, stored.id), 10.0), "the gateway did not recover"
    assert admin.get("/admin/keys").status_code == 200


def _assert_openai_503(error: Exception) -> None:
    assert isinstance(error, openai.InternalServerError) and error.status_code == 503
    body = error.response.json()["error"]
    assert body["type"] == "server_error" and body["code"] == "store_unavailable", body
    assert SAID in body["message"], body


def _retrievable(client: openai.OpenAI, response_id: str) -> bool:
    try:
        return client.responses.retrieve(response_id).id == response_id
    except openai.APIError:
        return False
