"""SCPI over a raw TCP socket (VISA ``TCPIP0::host::port::SOCKET``): an asyncio line server.

One :class:`ScpiServer` serves one instrument model. It reads ``\\n``-terminated lines
(``\\r\\n`` accepted), records every command it receives, applies the instrument's faults and
writes one reply line per query. Several clients may connect; they share the instrument.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from simulators.faults import Faults
from simulators.scpi import ScpiModel, split_commands

#: Longest accepted input line, bytes (a 34465A accepts far shorter ones).
MAX_LINE = 1 << 20


def garble(reply: str) -> str:
    """Printable noise of the same length as ``reply`` (never a valid number, never a newline)."""
    noise = "".join(chr(33 + (ord(c) * 7 + 3 * i) % 90) for i, c in enumerate(reply))
    return "#?" + noise.replace("\n", "~")


class ScpiServer:
    """Asyncio TCP server in front of one SCPI instrument model.

    ``commands`` receives every command (``;``-split, stripped) in arrival order, also those
    a fault swallows. ``global_latency()`` is added to ``faults.latency`` before each reply.
    Start and stop it on the bench's event loop.
    """

    def __init__(
        self,
        model: ScpiModel,
        faults: Faults,
        commands: list[str],
        host: str = "127.0.0.1",
        port: int = 0,
        global_latency: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self.model = model
        self.faults = faults
        self.commands = commands
        self.host = host
        self.port = port
        self._global_latency = global_latency
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Bind and listen; ``port`` holds the bound port afterwards."""
        self._server = await asyncio.start_server(
            self._serve_client, self.host, self.port, limit=MAX_LINE
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, close every client connection and wait for their handlers."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> ScpiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        try:
            while True:
                try:
                    raw = await reader.readline()
                except ValueError:  # line longer than MAX_LINE: a broken client, hang up
                    break
                if not raw:
                    break
                line = raw.decode("ascii", errors="replace").rstrip("\r\n")
                commands = split_commands(line)
                if not commands:
                    continue
                self.commands.extend(commands)
                if self.faults.drop_connection:
                    break
                if self.faults.no_reply:
                    continue
                replies = self.model.execute_line(line)
                for reply in replies:
                    delay = self.faults.latency + self._global_latency()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    text = garble(reply) if self.faults.garble else reply
                    writer.write(text.encode("ascii", errors="replace") + b"\n")
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()
            self._tasks.discard(task)
