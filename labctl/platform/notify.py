"""Wake-ups between API workers: PostgreSQL ``LISTEN/NOTIFY``, or in-process on SQLite.

A writer that changes something a waiting request is interested in (a run's new events, a
bench's new run request) calls :func:`publish` inside its transaction; every request waiting
on that key, in any worker, wakes when the transaction commits (:meth:`Listener.wait`). The
table stays the truth: a wake-up only says "look again", a waiter that times out looks again
anyway, and a listener that lost its connection (PostgreSQL restarted) wakes every waiter when
it is back. So a lost notification costs at most one wait, never an event.

On PostgreSQL each worker holds one listening connection (a thread) whatever the number of
waiters; on SQLite (one process) the same calls go through an in-process bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import defaultdict

import psycopg
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: The one channel; the payload is the key (e.g. ``run:<id>``, ``bench:<id>``).
CHANNEL = "labctl_wake"


def publish(session: Session, key: str) -> None:
    """Wake the waiters on ``key`` when the session's transaction commits."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_notify(:channel, :key)"),
                        {"channel": CHANNEL, "key": key})
        return
    url = str(bind.engine.url)

    def after_commit(_session: Session) -> None:
        _bus(url).deliver(key)

    event.listen(session, "after_commit", after_commit, once=True)


class Listener:
    """One worker's waiters and, on PostgreSQL, its listening connection."""

    def __init__(self, engine: Engine) -> None:
        self.url = str(engine.url)
        self.postgresql = engine.dialect.name == "postgresql"
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = (
            defaultdict(set))
        self._lock = threading.Lock()
        self._stop = threading.Event()
        #: Set while the listening connection is up (always on SQLite: nothing to connect).
        self.listening = threading.Event()
        self._thread: threading.Thread | None = None
        if self.postgresql:
            self._dsn = engine.url.set(drivername="postgresql").render_as_string(
                hide_password=False)
            self._thread = threading.Thread(target=self._listen, daemon=True,
                                            name="labctl-listen")
            self._thread.start()
        else:
            _bus(self.url).listeners.add(self)
            self.listening.set()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        else:
            _bus(self.url).listeners.discard(self)

    async def wait(self, key: str, timeout: float) -> bool:
        """Until ``key`` is published or ``timeout`` s pass; whether it was published (or
        the listener reconnected: look again either way)."""
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()
        entry = (loop, woken)
        with self._lock:
            self._waiters[key].add(entry)
        try:
            await asyncio.wait_for(woken.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters[key].discard(entry)
                if not self._waiters[key]:
                    del self._waiters[key]

    def deliver(self, key: str | None) -> None:
        """Wake the waiters on ``key`` (``None``: every waiter)."""
        with self._lock:
            if key is None:
                entries = [e for group in self._waiters.values() for e in group]
            else:
                entries = list(self._waiters.get(key, ()))
        for loop, woken in entries:
            with contextlib.suppress(RuntimeError):  # that request's loop has closed
                loop.call_soon_threadsafe(woken.set)

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.deliver(None)  # (re)connected: anything may have been missed
                    self.listening.set()
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self.deliver(note.payload)
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("LISTEN connection lost (%s); reconnecting", exc)
                self.deliver(None)
                self._stop.wait(1.0)


class _Bus:
    """SQLite's in-process stand-in for NOTIFY: the listeners of one database."""

    def __init__(self) -> None:
        self.listeners: set[Listener] = set()

    def deliver(self, key: str) -> None:
        for listener in list(self.listeners):
            listener.deliver(key)


_buses: dict[str, _Bus] = {}
_buses_lock = threading.Lock()


def _bus(url: str) -> _Bus:
    with _buses_lock:
        return _buses.setdefault(url, _Bus())
