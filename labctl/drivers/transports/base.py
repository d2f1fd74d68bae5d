"""The two transport interfaces drivers are written against (no I/O library imported here).

Like PyVISA's split between message-based and register-based sessions: SCPI instruments speak
lines of text over a :class:`MessageTransport`; Modbus devices expose registers through a
:class:`RegisterTransport`. A driver receives one of these, never a resource string.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType
from typing import Protocol, Self

from labctl.drivers.registers import Table
from labctl.errors import InstrumentCommunicationError


class LinkLifetime:
    """The lifetime both transports share: :meth:`reconnect` drops the link and opens a
    fresh one, :meth:`close` is final (and safe to call twice), and a transport is its own
    context manager. A transport provides ``open()``, ``_connect()`` (open the link now),
    ``_drop()`` (forget it, and anything buffered) and may release more in ``_release()``."""

    _resource: str
    _closed: bool

    @property
    def resource(self) -> str:
        """The instrument's address, as the transport was made for it."""
        return self._resource

    def open(self) -> None:
        raise NotImplementedError

    def _connect(self) -> None:
        raise NotImplementedError

    def _drop(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        """What :meth:`close` frees beyond the link itself (nothing by default)."""

    def reconnect(self) -> None:
        """Drop the link (and any buffered or late reply) and open a fresh one."""
        if self._closed:
            raise InstrumentCommunicationError(self._resource, "transport is closed")
        logging.getLogger(type(self).__module__).info("%s: reconnecting", self._resource)
        self._drop()
        self._connect()

    def close(self) -> None:
        """Release the link. Safe to call twice; the transport stays closed."""
        self._closed = True
        self._drop()
        self._release()

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Read Device Identification object ids (Modbus function 43/14).
VENDOR_NAME, PRODUCT_CODE, MAJOR_MINOR_REVISION = 0, 1, 2


class MessageTransport(Protocol):
    """A line-oriented link to a message-based instrument.

    Every failure is one of labctl's errors: ``InstrumentTimeoutError`` (no reply within
    ``timeout``), ``ConnectionLostError`` / ``InstrumentCommunicationError`` (the link is
    gone), ``ResponseError`` (bytes that are not text).
    """

    @property
    def resource(self) -> str: ...

    @property
    def timeout(self) -> float:
        """Seconds to wait for a reply (> 0)."""
        ...

    @property
    def is_open(self) -> bool: ...

    def write(self, command: str) -> None:
        """Send one command line (the termination is added)."""
        ...

    def read(self, timeout: float | None = None) -> str:
        """Read one reply line, without its termination."""
        ...

    def query(self, command: str, timeout: float | None = None) -> str:
        """Write ``command`` and read its one-line reply (``timeout`` overrides, in s)."""
        ...

    def query_bytes(self, command: str, timeout: float | None = None) -> bytes:
        """Like :meth:`query` without decoding: for long numeric replies parsed in bulk."""
        ...

    def reconnect(self) -> None:
        """Drop the connection (and anything buffered) and open a fresh one."""
        ...

    def close(self) -> None:
        """Release the connection. Safe to call twice."""
        ...


class RegisterTransport(Protocol):
    """A link to a register-based device (Modbus) addressed by table and register number."""

    @property
    def resource(self) -> str: ...

    @property
    def timeout(self) -> float: ...

    @property
    def is_open(self) -> bool: ...

    def read_registers(
        self, table: Table, address: int, count: int, *, timeout: float | None = None
    ) -> list[int]:
        """Read ``count`` consecutive 16-bit registers of ``table`` from ``address``
        (``timeout`` in s overrides the link's for this request)."""
        ...

    def read_registers_bytes(
        self, table: Table, address: int, count: int, *, timeout: float | None = None
    ) -> bytes:
        """The same read as the registers' ``2 × count`` big-endian bytes, as they came."""
        ...

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        """Write consecutive holding registers from ``address``."""
        ...

    def read_device_identification(self, *, timeout: float | None = None) -> dict[int, str]:
        """Function 43/14 objects by id (0 VendorName, 1 ProductCode, 2 MajorMinorRevision)."""
        ...

    def reconnect(self) -> None: ...

    def close(self) -> None: ...
