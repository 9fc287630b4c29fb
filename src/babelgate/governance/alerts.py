"""Alerts: a budget's spend crossing a threshold (`alerts.budget_thresholds`, percents), a
virtual key expiring within `key_expiry_days`, a provider's circuit open for `circuit_open_seconds`.

Each is sent once per crossing, across every instance that shares the store: before sending, an
instance claims the crossing's name in the store (insert-if-absent, `ResponseStore.secret`); only the
instance whose claim went in sends. Delivery runs in the background, never in a request's path: a POST
to each configured webhook, retried with exponential backoff (0.5 s, 1 s, 2 s … up to 30 s) until it
answers 2xx or `retries` are spent. Every alert is recorded in the store (documents of kind `alert`,
with its deliveries) and listed by `GET /admin/alerts`.

The JSON body (format `json`):

    {"id", "type": "budget_threshold" | "key_expiring" | "circuit_open", "ts", "text", "details": {...}}

signed as `X-Babelgate-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>` and
`X-Babelgate-Timestamp: <unix seconds>` (the timestamp is signed too, so a receiver can refuse replays).
Format `slack` sends Slack's incoming-webhook body `{"text": ...}`, signed the same way when a secret is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Final

import orjson

if TYPE_CHECKING:
    from babelgate.config.models import AlertsConfig, Config, WebhookConfig
    from babelgate.governance.virtual_keys import VirtualKey
    from babelgate.redis_link import RedisLink
    from babelgate.store import ResponseStore

log = logging.getLogger("babelgate.alerts")
KIND: Final = "alert"
SIGNATURE_HEADER: Final = "X-Babelgate-Signature"
TIMESTAMP_HEADER: Final = "X-Babelgate-Timestamp"
RETRY_FIRST_SECONDS: Final = 0.5
RETRY_MAX_SECONDS: Final = 30.0
SEND_TIMEOUT_SECONDS: Final = 10.0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value: what a receiver recomputes to trust the body."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def crossed(thresholds: list[float], budget: float, before: float, after: float) -> list[float]:
    """The thresholds (percents of `budget`) that spend going from `before` to `after` passed."""
    if budget <= 0:
        return list(thresholds) if before <= 0 < after else []
    return [t for t in thresholds if before < budget * t / 100 <= after]


class Alerts:
    def __init__(self, store: ResponseStore, redis: RedisLink | None = None) -> None:
        self.store = store
        self.redis = redis
        self.settings: AlertsConfig | None = None
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._keys: Callable[[], Iterable[VirtualKey]] | None = None
        self._opened: dict[str, float] = {}  # deployment → when its circuit opened (this instance saw it)
        self._session: Any = None

    @property
    def enabled(self) -> bool:
        return self.settings is not None

    def configure(self, config: Config) -> None:
        """At start and on every reload: alerts turned on by a reload start watching then."""
        self.settings = config.alerts
        if self._keys is not None:
            with contextlib.suppress(RuntimeError):  # no running loop yet: `start` will
                self.start(self._keys)

    def start(self, keys: Callable[[], Iterable[VirtualKey]]) -> None:
        """The watcher of key expiry and open circuits, when alerts are configured (it ends when a
        reload turns them off)."""
        self._keys = keys
        self._tasks = [task for task in self._tasks if not task.done()]
        if self.settings is None or self._tasks:
            return
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._watch(keys)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in [*self._tasks, *self._sending]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 5.0) if task in self._sending else await task
        self._tasks.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- what raises alerts -----------------------------------------------------------------------

    def budget_spent(
        self, kind: str, name: str, budget: float, before: float, after: float, period: str | None, start: float
    ) -> None:
        """A budget's spend went from `before` to `after`: an alert for each threshold crossed."""
        settings = self.settings
        if settings is None:
            return
        for threshold in crossed(settings.budget_thresholds, budget, before, after):
            self.raise_alert(
                f"budget:{kind}:{name}:{int(start)}:{threshold:g}",
                "budget_threshold",
                f"The budget of {kind} '{name}' is {threshold:g} % spent: {after:.4f} of {budget:g} US dollars"
                f" ({period or 'all time'}).",
                {
                    "scope": kind,
                    "name": name,
                    "threshold_percent": threshold,
                    "budget_usd": budget,
                    "spent_usd": round(after, 8),
                    "period": period,
                    "period_start": start,
                },
            )

    def circuit_changed(self, deployment: str, state: str) -> None:
        if state == "open":
            self._opened.setdefault(deployment, time.time())
        else:
            self._opened.pop(deployment, None)

    async def _watch(self, keys: Callable[[], Iterable[VirtualKey]]) -> None:
        while True:
            settings = self.settings
            if settings is None:
                return
            with contextlib.suppress(Exception):
                self.check(keys())
            await asyncio.sleep(settings.check_seconds)

    def check(self, keys: Iterable[VirtualKey]) -> None:
        """Keys that expire soon; circuits open for long (each alerted once)."""
        settings = self.settings
        if settings is None:
            return
        now = time.time()
        ahead = settings.key_expiry_days * 86400
        for key in keys:
            if key.revoked_at is None and key.expires_at is not None and now < key.expires_at <= now + ahead:
                self.raise_alert(
                    f"key_expiring:{key.id}:{int(key.expires_at)}",
                    "key_expiring",
                    f"The API key '{key.label or key.id}' ({key.prefix}) expires in"
                    f" {(key.expires_at - now) / 86400:.1f} days.",
                    {
                        "key_id": key.id,
                        "label": key.label,
                        "team": key.team,
                        "user": key.user,
                        "expires_at": key.expires_at,
                    },
                )
        window = settings.circuit_open_seconds
        for deployment, opened in list(self._opened.items()):
            if now - opened >= window:
                self.raise_alert(
                    # Instances see the opening at slightly different times: one name per window of it.
                    f"circuit_open:{deployment}:{math.floor(opened / window)}",
                    "circuit_open",
                    f"The circuit of {deployment} has been open for {now - opened:.0f} seconds.",
                    {"deployment": deployment, "open_since": opened},
                )

    # --- delivery ---------------------------------------------------------------------------------

    def raise_alert(self, name: str, kind: str, text: str, details: dict[str, Any]) -> None:
        """Claim the crossing `name` and, when this instance's claim wins, record and send it (in the
        background: no I/O here)."""
        if self.settings is None:
            return
        with contextlib.suppress(RuntimeError):  # no running loop: nothing can be sent
            task = asyncio.get_running_loop().create_task(self._claim_and_send(name, kind, text, details))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _claim_and_send(self, name: str, kind: str, text: str, details: dict[str, Any]) -> None:
        mine = secrets.token_bytes(16)
        try:
            winner = await self.store.secret("alert-claim:" + name, lambda: mine)
        except Exception as exc:
            log.warning("could not claim alert %s in the store (%s); not sent", name, type(exc).__name__)
            return
        if winner != mine:
            return  # another instance (or an earlier crossing) has it
        now = time.time()
        alert: dict[str, Any] = {
            "id": f"{now:017.6f}-{secrets.token_hex(4)}",
            "type": kind,
            "ts": now,
            "name": name,
            "text": text,
            "details": details,
            "deliveries": [],
        }
        await self._record(alert)
        settings = self.settings
        hooks = settings.webhooks if settings is not None else []
        await asyncio.gather(*(self._deliver(alert, hook, settings.retries if settings else 0) for hook in hooks))
        await self._record(alert)

    async def _deliver(self, alert: dict[str, Any], hook: WebhookConfig, retries: int) -> None:
        message = {key: alert[key] for key in ("id", "type", "ts", "text", "details")}
        body = orjson.dumps({"text": alert["text"]} if hook.format == "slack" else message)
        delivery: dict[str, Any] = {"url": hook.url, "attempts": 0, "delivered": False, "status": None}
        alert["deliveries"].append(delivery)
        delay = RETRY_FIRST_SECONDS
        for attempt in range(retries + 1):
            delivery["attempts"] = attempt + 1
            timestamp = str(int(time.time()))
            headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp}
            if hook.secret:
                headers[SIGNATURE_HEADER] = sign(hook.secret, timestamp, body)
            try:
                status = await self._post(hook.url, body, headers)
                delivery["status"] = status
                if 200 <= status < 300:
                    delivery["delivered"] = True
                    return
                delivery["error"] = f"HTTP {status}"
            except Exception as exc:
                delivery["error"] = type(exc).__name__
            if attempt < retries:
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_SECONDS)
        log.warning("alert %s could not be delivered to a webhook after %d attempts", alert["id"], retries + 1)

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> int:
        import aiohttp  # off the request path: only when an alert goes out

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT_SECONDS))
        async with self._session.post(url, data=body, headers=headers) as answer:
            await answer.read()
            return int(answer.status)

    async def _record(self, alert: dict[str, Any]) -> None:
        try:
            await self.store.put_document(KIND, alert["id"], orjson.dumps(alert))
        except Exception as exc:
            log.warning("could not record alert %s (%s)", alert["id"], type(exc).__name__)

    async def flush(self) -> None:
        """Wait for the alerts being claimed and sent (tests; shutdown)."""
        while self._sending:
            await asyncio.wait(list(self._sending))

    async def recorded(self, limit: int = 100) -> list[dict[str, Any]]:
        documents = await self.store.documents(KIND)
        return [orjson.loads(documents[key]) for key in sorted(documents, reverse=True)[:limit]]
