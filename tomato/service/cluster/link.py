"""The link to the lab's NATS: one connection per service, reconnecting for as long as the
service runs; the JetStream buckets tomato keeps there (DESIGN §9)."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import msgpack

from tomato.actors import RETRY_DELAY, retrying

from ..config.settings import ClusterSettings

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 2


def key_of(*parts: str) -> str:
    """A KV key of `parts` (dot-separated tokens); a character NATS keys cannot hold is
    written as =XX (its UTF-8 bytes in hex), so every name has its own key."""
    def token(text: str) -> str:
        return re.sub(r"[^A-Za-z0-9_-]",
                      lambda m: "".join(f"={b:02X}" for b in m.group().encode()), text)

    return ".".join(token(p) for p in parts)


def pack(value: dict[str, Any]) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def unpack(data: bytes) -> dict[str, Any]:
    value = msgpack.unpackb(data, raw=False, strict_map_key=True)
    if not isinstance(value, dict):
        raise ValueError(f"a map expected, not {type(value).__name__}")
    return value


class Link:
    """The NATS connection and JetStream context; `connected` tells whether it is up now,
    `changed()` waits for it to go up or down."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        self.host = settings.host
        self.nc: Any = None
        self.js: Any = None
        self.connected = False
        self._changed = anyio.Event()
        self._failing = False
        self._closing = False

    async def connect(self) -> None:
        """Connect, retrying for ever (the service runs meanwhile); returns once up."""
        import nats

        s = self.settings
        options: dict[str, Any] = {
            "servers": list(s.urls), "name": f"tomato {s.host}", "allow_reconnect": True,
            "max_reconnect_attempts": -1, "reconnect_time_wait": RETRY_DELAY,
            "connect_timeout": CONNECT_TIMEOUT, "error_cb": self._error,
            "disconnected_cb": self._down, "reconnected_cb": self._up,
        }
        if s.credentials is not None:
            options["user_credentials"] = str(s.credentials)
        if s.tls_ca is not None or s.tls_cert is not None:
            context = ssl.create_default_context(
                cafile=str(s.tls_ca) if s.tls_ca is not None else None)
            if s.tls_cert is not None:
                context.load_cert_chain(str(s.tls_cert),
                                        str(s.tls_key) if s.tls_key is not None else None)
            options["tls"] = context
        self.nc = await nats.connect(**options)
        self.js = self.nc.jetstream()
        await self._up()

    async def close(self) -> None:
        self._closing = True
        if self.nc is not None and not self.nc.is_closed:
            with anyio.move_on_after(2, shield=True):
                await self.nc.close()

    async def bucket(self, name: str, **config: Any) -> Any:
        """The key-value bucket `name`, made on first use (by whichever tomato comes first)."""
        from nats.js.errors import BucketNotFoundError

        try:
            return await self.js.key_value(name)
        except BucketNotFoundError:
            return await self.js.create_key_value(bucket=name, replicas=self.settings.replicas,
                                                  **config)

    async def objects(self, name: str) -> Any:
        """The object store `name`, made on first use."""
        from nats.js.errors import BucketNotFoundError

        try:
            return await self.js.object_store(name)
        except BucketNotFoundError:
            return await self.js.create_object_store(name, replicas=self.settings.replicas)

    async def changed(self) -> None:
        await self._changed.wait()

    async def while_up(self, what: str, work: Callable[[], Awaitable[None]]) -> None:
        """Run `work` whenever the link is up, again after each outage (or failure, logged),
        until cancelled."""
        while True:
            while not self.connected:
                await self.changed()
            async with anyio.create_task_group() as tg:
                async def until_down() -> None:
                    while self.connected:
                        await self.changed()
                    tg.cancel_scope.cancel()

                tg.start_soon(until_down)
                await retrying(work, on=Exception, failed=lambda exc: logger.warning(
                    "cluster: %s: %s: %s", what, type(exc).__name__, exc))
                tg.cancel_scope.cancel()

    def _set(self, connected: bool) -> None:
        self.connected = connected
        self._changed.set()
        self._changed = anyio.Event()

    async def _up(self) -> None:
        url = self.nc.connected_url
        logger.info("cluster: connected to %s as %s", url.netloc if url else "?", self.host)
        self._failing = False
        self._set(True)

    async def _down(self) -> None:
        if self.connected and not self._closing:
            logger.warning("cluster: link to NATS lost; running and claimed jobs go on, "
                           "submissions wait here until it is back")
        self._set(False)

    async def _error(self, exc: Exception) -> None:
        if not self._failing:  # once per outage, not at every retry
            logger.warning("cluster: %s", exc or type(exc).__name__)
            self._failing = True
        else:
            logger.debug("cluster: %s", exc or type(exc).__name__)
