"""One connection per device for all the jobs of a host: a thousand jobs on one device
cost the device one client, not a thousand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import anyio

from tomato.actors import Connection, connect

from ..codec import CODEC


class _Link:
    def __init__(self) -> None:
        self.lock = anyio.Lock()
        self.conn: Connection | None = None
        self.stack: AsyncExitStack | None = None
        self.users = 0


class DeviceLinks:
    """Shared connections to device sockets, opened on first use and closed with the last
    user; a broken one is replaced by the next user (the others see it broken)."""

    def __init__(self) -> None:
        self._links: dict[Path, _Link] = {}

    @asynccontextmanager
    async def use(self, sock: Path) -> AsyncIterator[Connection]:
        """The connection to `sock`; raises ActorDeadError when nothing serves there."""
        link = self._links.setdefault(sock, _Link())
        link.users += 1
        try:
            async with link.lock:
                if link.conn is None or link.conn.closed:
                    await _close(link)
                    stack = AsyncExitStack()
                    link.conn = await stack.enter_async_context(connect(sock, CODEC))
                    link.stack = stack
            yield link.conn
        finally:
            link.users -= 1
            if link.users == 0:
                del self._links[sock]
                with anyio.CancelScope(shield=True):
                    await _close(link)

    def __len__(self) -> int:
        return len(self._links)


async def _close(link: _Link) -> None:
    stack, link.stack, link.conn = link.stack, None, None
    if stack is not None:
        await stack.aclose()
