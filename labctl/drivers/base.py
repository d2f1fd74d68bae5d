"""What every driver shares: lifetime, safe state on close and on error, retry policy.

A driver is a context manager: leaving the ``with`` block, normally or by an exception, puts
the instrument into its safe state (:meth:`InstrumentBase.make_safe`) and closes the link. An
error while making safe during an exception never hides the original error: it is logged and
attached to it as a note.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Concatenate, ParamSpec, Protocol, Self, TypeVar

from labctl.drivers.retry import RETRYABLE, RetryPolicy, retry_after
from labctl.drivers.roles import Identity

_log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")


class _Closable(Protocol):
    @property
    def resource(self) -> str: ...

    def close(self) -> None: ...


class InstrumentBase:
    """Base of every driver: holds the transport, the retry policy and the lifetime.

    Subclasses set ``vendor``/``model`` (what ``identify()`` must report) and override
    :meth:`identify`, :meth:`snapshot` and, when the instrument has outputs, :meth:`make_safe`.
    """

    #: What the instrument reports as its maker and model (checked by the factory).
    vendor: ClassVar[str] = ""
    model: ClassVar[str] = ""

    def __init__(self, transport: Any, *, retry: RetryPolicy | None = None) -> None:
        self._transport: Any = transport
        self._retry = retry or RetryPolicy()
        self._closed = False
        # One exchange at a time: a run's environment monitor may share a driver with the
        # procedure, and a query must never read the reply meant for another thread.
        self._lock = threading.RLock()

    @property
    def resource(self) -> str:
        """The address the instrument is reached at."""
        return str(self._transport.resource)

    @property
    def transport(self) -> Any:
        """The link this driver talks through (for diagnostics and tests)."""
        return self._transport

    @property
    def retry(self) -> RetryPolicy:
        """How read-only queries are retried after a link fault."""
        return self._retry

    def _exchange(self, what: str, retry: bool,
                  attempt: Callable[Concatenate[float | None, P], T],
                  *args: P.args, **kwargs: P.kwargs) -> T:
        """``attempt(None, *args)`` under the lock; when it changes nothing (``retry``) and
        fails with a link fault or a garbled reply, ``attempt(limit, *args)`` again within
        the retry policy (``limit``: s left of its deadline), after :meth:`_recover`.

        The first attempt makes no closure and no extra frame: this is every query's and
        every register read's path. A write is never retried (``retry=False``).
        """
        lock = self._lock
        lock.acquire()  # not ``with``: on the hot path, and ``with`` costs more
        try:
            started = time.monotonic()
            try:
                return attempt(None, *args, **kwargs)
            except RETRYABLE as error:
                if not retry or self._retry.attempts == 1:
                    raise
                first = error
            return retry_after(first, lambda limit: attempt(limit, *args, **kwargs),
                               self._retry,
                               started=started, recover=self._recover, what=what)
        finally:
            lock.release()

    def _recover(self, error: Exception) -> None:
        """Before a new attempt: a fresh connection, so nothing stale can be read."""
        del error
        self._transport.reconnect()

    def identify(self) -> Identity:
        raise NotImplementedError

    def snapshot(self) -> dict[str, object]:
        """The instrument's configuration to store with each result (identity at least)."""
        ident = self.identify()
        return {"driver": f"{type(self).__module__}.{type(self).__qualname__}",
                "resource": self.resource, "vendor": ident.vendor, "model": ident.model,
                "serial": ident.serial, "firmware": ident.firmware}

    def make_safe(self) -> None:
        """Put the instrument into its safe state. Instruments without outputs do nothing."""

    def close(self) -> None:
        """Make safe, then release the link. Safe to call twice; the link is released even
        when making safe fails (that error is raised afterwards)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self.make_safe()
            finally:
                self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except Exception as close_error:  # the original error matters more: keep it on top
            _log.error("%s: could not make safe after %r: %s", self.resource, exc, close_error)
            exc.add_note(f"and then making {self.resource} safe failed: {close_error!r}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.resource!r})"
