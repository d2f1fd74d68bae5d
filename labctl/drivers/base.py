"""What every driver shares: lifetime, safe state on close and on error, retry policy.

A driver is a context manager: leaving the ``with`` block, normally or by an exception, puts
the instrument into its safe state (:meth:`InstrumentBase.make_safe`) and closes the link. An
error while making safe during an exception never hides the original error: it is logged and
attached to it as a note.
"""

from __future__ import annotations

import logging
import threading
from types import TracebackType
from typing import Any, ClassVar, Protocol, Self

from labctl.drivers.retry import RetryPolicy
from labctl.drivers.roles import Identity

_log = logging.getLogger(__name__)


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
