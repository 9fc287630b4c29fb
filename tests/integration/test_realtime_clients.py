"""Real Realtime clients through the gateway, against the fake OpenAI Realtime upstream
(tests/fakes/openai_realtime.py): the OpenAI Agents SDK's `RealtimeAgent` with a function tool, the `openai` Node
SDK's `OpenAIRealtimeWS`, and a browser (Chromium through Playwright) that signs in with a client secret as the
WebSocket subprotocol. Each skips with its reason when its tool is missing (fails under
BABELGATE_REQUIRE_SERVICES=1)."""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import httpx
import pytest

from tests.conftest import GatewayFactory
from tests.fakes.openai_realtime import FakeRealtime
from tests.fakes.pki import make_pki, server_context
from tests.fakes.servers import LoopThread
from tests.integration.test_realtime import MODEL, UPSTREAM_MODEL, _gateway, _realtime, _ws, fake
from tests.integration.test_virtual_keys import _create
from tests.services import debian_binary, unavailable
from tests.waiting import eventually

__all__ = ["_realtime", "fake"]  # the fixtures, shared with the WebSocket door's tests

NODE_CLIENT: Final = Path(__file__).parent / "realtime_node"
SECONDS: Final = 30  # each client's whole conversation


def test_the_agents_sdk_runs_a_realtime_agent_whose_tool_output_goes_back_upstream(
    make_gateway: GatewayFactory, fake: FakeRealtime
) -> None:
    try:
        from agents.realtime import RealtimeAgent, RealtimeRunner

        from agents import function_tool
    except ImportError:
        unavailable("the OpenAI Agents SDK is not installed (pip install openai-agents: the dev extra has it)")
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway)["key"]
    fake.item_events = True
    cities: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        cities.append(city)
        return f"-3 °C in {city}"

    agent = RealtimeAgent(name="Forecaster", instructions="Answer with the weather tool.", tools=[get_weather])
    runner = RealtimeRunner(agent, config={"model_settings": {"model_name": MODEL, "output_modalities": ["text"]}})

    async def scenario() -> list[str]:
        kinds: list[str] = []
        session = await runner.run(model_config={"url": _ws(gateway), "api_key": key})
        async with session:
            await session.send_message("What is the weather in Oslo?")
            async for event in session:
                kinds.append(event.type)
                if event.type == "error":
                    raise AssertionError(f"the session reported an error: {event}")
                if event.type == "agent_end" and "tool_end" in kinds:  # the answer after the tool's output
                    return kinds
        return kinds

    async def bounded() -> list[str]:
        async with asyncio.timeout(SECONDS):
            return await scenario()

    kinds = asyncio.run(bounded())
    assert "tool_start" in kinds and "tool_end" in kinds
    assert cities == ["Oslo"]
    (seen,) = fake.connections
    assert seen.path == f"/v1/realtime?model={UPSTREAM_MODEL}"
    outputs = [e["item"] for e in seen.events if e["type"] == "conversation.item.create"]
    assert {"type": "function_call_output", "call_id": "call_1", "output": "-3 °C in Oslo"}.items() <= next(
        item for item in outputs if item["type"] == "function_call_output"
    ).items()
    assert [e["type"] for e in seen.events].count("response.create") >= 1  # the tool's output asked for an answer
    assert seen.events[0]["type"] == "session.update" and seen.events[0]["session"]["model"] == UPSTREAM_MODEL


def _node_client() -> Path:
    """The Node SDK, installed from the npm registry at the versions package-lock.json pins, once per lockfile, into
    a cache outside the work tree (~/.cache/babelgate/realtime-node/<lock hash>), as tests/identity installs its
    provider; the script is copied fresh each run."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        unavailable("Node.js and npm are not installed: the Node SDK's Realtime client needs them")
    files = ("package.json", "package-lock.json")
    digest = hashlib.sha256(b"".join((NODE_CLIENT / name).read_bytes() for name in files)).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    target = root / "babelgate" / "realtime-node" / digest
    target.mkdir(parents=True, exist_ok=True)
    with (target / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            for name in files:
                shutil.copyfile(NODE_CLIENT / name, target / name)
            done = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"npm ci of the Node SDK failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
            (target / ".complete").touch()
        shutil.copyfile(NODE_CLIENT / "realtime_client.mjs", target / "realtime_client.mjs")
    return target


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


@contextmanager
def _tls_front(loop_thread: LoopThread, port: int, pki: dict[str, str]) -> Iterator[int]:
    """A TLS listener in front of the gateway's port, as a deployment puts one: the Node SDK opens wss:// only."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        back_reader, back_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(_pipe(reader, back_writer), _pipe(back_reader, writer))

    async def start() -> asyncio.Server:
        return await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context(pki))

    server = loop_thread.run(start())
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def test_the_node_sdks_realtime_websocket_client_gets_its_text(
    make_gateway: GatewayFactory, fake: FakeRealtime, loop_thread: LoopThread, tmp_path: Path
) -> None:
    folder = _node_client()
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway)["key"]
    pki = make_pki(tmp_path)
    with _tls_front(loop_thread, int(gateway.url.rsplit(":", 1)[1]), pki) as port:
        done = subprocess.run(
            [shutil.which("node") or "node", "realtime_client.mjs", f"https://127.0.0.1:{port}/v1", key, MODEL],
            cwd=folder,
            env={**os.environ, "NODE_EXTRA_CA_CERTS": pki["ca"]},
            capture_output=True,
            text=True,
            timeout=SECONDS,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    assert printed["text"] == "Hello" and printed["status"] == "completed"
    assert printed["model"] == MODEL  # the public name, not the upstream's
    (seen,) = fake.connections
    assert [e["type"] for e in seen.events] == ["conversation.item.create", "response.create"]
    assert seen.events[0]["item"]["content"][0]["text"] == "Say hello."


PAGE: Final = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>Realtime</title></head>
<body><pre id="out">waiting</pre>
<script>
// Opens the session as a browser must (no headers on a WebSocket: the client secret is a subprotocol), asks for a
// response, and answers the text it got back. The page makes no key: the test hands it one.
window.talk = (gateway, model, secret) => new Promise((resolve, reject) => {
  const socket = new WebSocket(gateway + "/v1/realtime?model=" + encodeURIComponent(model),
                               ["realtime", "openai-insecure-api-key." + secret]);
  let text = "";
  socket.onopen = () => socket.send(JSON.stringify({type: "response.create"}));
  socket.onerror = () => reject(new Error("the WebSocket failed"));
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "error") reject(new Error(event.error.message));
    if (event.type === "response.done") {
      document.getElementById("out").textContent = text;
      resolve({text, protocol: socket.protocol});
      socket.close();
    }
  };
});

// A WebRTC call as a browser makes one: its own offer (an audio track's transceiver and the events' data
// channel) posted with the client secret, the answer set as the remote description.
window.call = async (gateway, secret) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver("audio", {direction: "sendrecv"});
  pc.createDataChannel("oai-events");
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  const response = await fetch(gateway + "/v1/realtime/calls", {
    method: "POST", body: offer.sdp,
    headers: {"Authorization": "Bearer " + secret, "Content-Type": "application/sdp"},
  });
  const answer = await response.text();
  let accepted = "no";
  if (response.status === 201) {
    try {
      await pc.setRemoteDescription({type: "answer", sdp: answer});
      accepted = pc.signalingState;
    } catch (error) {
      accepted = String(error);
    }
  }
  pc.close();
  return {status: response.status, location: response.headers.get("Location"), offer: offer.sdp, accepted};
};
</script></body></html>
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _browser_page(url: str) -> Iterator[Any]:
    """Chromium (Debian's) on `url`; Playwright's sync API runs its own event loop in this thread while it is
    open, so it is opened and closed within the test."""
    chromium = debian_binary("chromium", "chromium", "/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright's Python client is not installed (the dev extra has it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(SECONDS * 1000)
            page.goto(url)
            yield page
        finally:
            browser.close()


def _client_secret(gateway: Any, key: str) -> str:
    secret = httpx.post(
        gateway.url + "/v1/realtime/client_secrets",
        json={"session": {"type": "realtime", "model": MODEL, "instructions": "Be brief."}},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    ).json()["value"]
    assert secret.startswith("ek_")
    return str(secret)


@pytest.fixture
def page_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_browser_opens_a_session_with_a_client_secret_as_its_subprotocol(
    make_gateway: GatewayFactory, fake: FakeRealtime, page_url: str
) -> None:
    gateway = _gateway(make_gateway, fake)
    key = _create(gateway)["key"]
    secret = _client_secret(gateway, key)
    with _browser_page(page_url) as page:
        answer = page.evaluate(
            "([gateway, model, secret]) => talk(gateway, model, secret)",
            [gateway.url.replace("http://", "ws://"), MODEL, secret],
        )
        shown = page.locator("#out").text_content()
    assert answer == {"text": "Hello", "protocol": "realtime"}
    assert shown == "Hello"
    (seen,) = fake.connections
    assert seen.events[0]["session"]["instructions"] == "Be brief."  # the secret's settings, applied first
    assert secret not in json.dumps(seen.headers) and key not in json.dumps(seen.headers)
    assert eventually(lambda: fake.open_now == 0)  # the page's close ended the upstream's session too


def test_a_browsers_webrtc_offer_makes_a_call_whose_answer_it_accepts(
    make_gateway: GatewayFactory, fake: FakeRealtime, page_url: str
) -> None:
    origin = page_url.rstrip("/")
    # The page is on another origin than the gateway, as a web app is: CORS lets its `fetch` through.
    cors = f'server: {{cors: {{allow_origins: ["{origin}"], expose_headers: [Location]}}}}\n'
    gateway = _gateway(make_gateway, fake, cors)
    key = _create(gateway)["key"]
    secret = _client_secret(gateway, key)
    with _browser_page(page_url) as page:
        result = page.evaluate("([gateway, secret]) => call(gateway, secret)", [gateway.url, secret])
    assert result["status"] == 201, result
    (call,) = fake.calls
    assert result["location"] == f"/v1/realtime/calls/{call.call_id}"
    assert call.sdp == result["offer"]  # Chromium's own offer, intact
    assert call.session == {"type": "realtime", "model": UPSTREAM_MODEL, "instructions": "Be brief."}
    assert result["accepted"] == "stable"  # the answer came back whole: the browser took it
