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
from labctl.drivers.roles import Identity, SafeState, SafeStatus
from labctl.errors import InstrumentError

_log = logging.getLogger(__name__)
#: What may go wrong while making an instrument safe; each is reported, none escapes.
SAFE_FAULTS: tuple[type[Exception], ...] = (*RETRYABLE, InstrumentError)
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
    #: Whether the instrument has an output (voltage, heater) its safe state switches off;
    #: such a model overrides :meth:`make_safe` and :meth:`output_off`.
    has_output: ClassVar[bool] = False
    #: Attempts at making safe (the safe command, then a read-back), 1 … 5; a reconnect and
    #: ``SAFE_PAUSE`` s between attempts. Each exchange is bounded by the link's timeout, so
    #: a hung instrument holds :meth:`ensure_safe` for about attempts × 2 × timeout at most.
    SAFE_ATTEMPTS: ClassVar[int] = 2
    SAFE_PAUSE: ClassVar[float] = 0.2

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

    def output_off(self) -> bool:
        """Read back, in one exchange without retry, whether the output is off (models with
        an output override this)."""
        return True

    def ensure_safe(self) -> SafeState:
        """Make safe and confirm it by reading the output state back.

        Up to ``SAFE_ATTEMPTS`` attempts, reconnecting between them (a dropped link may come
        back). A failed safe command is still followed by the read-back: the command may have
        been executed with only its error check lost. Never raises for an instrument fault:
        an unconfirmed outcome says why, for a person to act on."""
        if not self.has_output:
            return SafeState(self.resource, SafeStatus.NO_OUTPUT, "no output")
        last = ""
        with self._lock:
            for attempt in range(1, self.SAFE_ATTEMPTS + 1):
                if attempt > 1:
                    time.sleep(self.SAFE_PAUSE)
                    try:
                        self._transport.reconnect()
                    except SAFE_FAULTS as exc:
                        last = f"reconnecting failed: {exc}"
                        continue
                problems: list[str] = []
                try:
                    self.make_safe()
                except SAFE_FAULTS as exc:
                    problems.append(f"the safe-state command failed: {exc}")
                try:
                    if self.output_off():
                        note = "" if attempt == 1 else f" (attempt {attempt})"
                        return SafeState(self.resource, SafeStatus.CONFIRMED,
                                         f"output off, confirmed by read-back{note}")
                    problems.append("read back: the output is still on")
                except SAFE_FAULTS as exc:
                    problems.append(f"reading the output state back failed: {exc}")
                last = "; ".join(problems)
        _log.error("%s: safe state not confirmed after %d attempts: %s", self.resource,
                   self.SAFE_ATTEMPTS, last)
        return SafeState(self.resource, SafeStatus.UNCONFIRMED, last)

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
