"""Alerts: zone transitions, the kill switch, pre-trade rejections, the session flatten.

Each alert goes to the ``flatbook.live`` logger, to the last-100 feed the API
and dashboard show, and, when ``[alerts] webhook`` is set, as a JSON POST to that
URL from a background task (aiohttp; a slow or failing webhook never delays the
engine: at most ``QUEUE_MAX`` alerts wait, older ones are dropped and counted).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass

log = logging.getLogger("flatbook.live")

LEVELS = ("info", "warning", "critical")
QUEUE_MAX = 1000
#: the webhook's retry backoff (s): the wait after each of the three failed attempts of one alert
RETRY_BACKOFF_S = (0.2, 0.4, 0.8)
_LOG_LEVEL = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


@dataclass(frozen=True)
class Alert:
    """One alert: event time ``ts`` (ns), wall-clock ``wall`` (Unix s), level, kind, message."""

    ts: int
    wall: float
    level: str
    kind: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)


class Alerts:
    """The alert fan-out: log, recent feed, optional webhook."""

    def __init__(self, webhook: str | None = None, keep: int = 100):
        self.recent: deque[Alert] = deque(maxlen=keep)
        self.webhook = webhook
        self.queue: asyncio.Queue[Alert] | None = None
        self.sent = self.failed = self.dropped = 0
        self.count = 0
        self._task: asyncio.Task[None] | None = None
        self.sleep = asyncio.sleep  # the backoff's wait; a test wraps it to see the delays

    def raise_(self, ts: int, level: str, kind: str, message: str) -> Alert:
        a = Alert(int(ts), time.time(), level, kind, message)
        self.recent.append(a)
        self.count += 1
        log.log(_LOG_LEVEL[level], "%s: %s", kind, message)
        if self.queue is not None:
            if self.queue.qsize() >= QUEUE_MAX:
                self.dropped += 1
            else:
                self.queue.put_nowait(a)
        return a

    async def start(self) -> None:
        """Start the webhook sender (call on the running loop)."""
        if self.webhook and self._task is None:
            self.queue = asyncio.Queue()
            self._task = asyncio.create_task(self._send_loop(self.queue, self.webhook))

    async def _send_loop(self, queue: asyncio.Queue[Alert], url: str) -> None:
        """POST each queued alert to ``url``, retried after each wait of RETRY_BACKOFF_S."""
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=5.0)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                a = await queue.get()
                for delay in RETRY_BACKOFF_S:
                    try:
                        async with http.post(url, json=a.as_dict()) as r:
                            if r.status < 300:
                                self.sent += 1
                                break
                            log.warning("alert webhook %s answered %s", self.webhook, r.status)
                    except (TimeoutError, aiohttp.ClientError, OSError) as e:
                        log.warning("alert webhook %s failed: %s", self.webhook, e)
                    await self.sleep(delay)
                else:
                    self.failed += 1
                queue.task_done()

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait (bounded) until queued alerts have been sent."""
        if self.queue is not None:
            try:
                await asyncio.wait_for(self.queue.join(), timeout)
            except TimeoutError:
                pass

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
