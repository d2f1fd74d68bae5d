"""Register-based transport: Modbus TCP through pymodbus's synchronous client (3.16).

This module and :mod:`labctl.drivers.transports.visa` are the only ones that import an I/O
library. pymodbus reports failure two ways, by raising (``ModbusIOException`` for no reply,
``ConnectionException`` for a lost link) and by returning an exception PDU whose
``isError()`` is true; both are turned into labctl's errors here, once. The client's own
retry loop is switched off (``retries=0``): it would resend writes blindly, and the drivers
retry read-only requests themselves under a :class:`~labctl.drivers.retry.RetryPolicy`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self

from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from labctl.drivers.registers import Table
from labctl.errors import (
    ConnectionLostError,
    InstrumentCommunicationError,
    InstrumentError,
    InstrumentTimeoutError,
    ResponseError,
    ValidationError,
)

_log = logging.getLogger(__name__)

#: Modbus exception codes (Modbus Application Protocol V1.1b3, §7) and their names.
EXCEPTION_CODES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}



class ModbusTcpTransport:
    """A link to one Modbus TCP device (``unit`` 1 … 247) at ``host``:``port``.

    ``timeout`` is the seconds to wait for each response (0 < t ≤ 3600). After a timeout the
    connection is dropped so a late response cannot be taken for the next one; the next
    request reconnects. :meth:`close` is final.
    """

    def __init__(
        self, host: str, port: int = 502, *, unit: int = 1, timeout: float = 2.0
    ) -> None:
        if not isinstance(host, str) or not host:
            raise ValidationError("host", host, "a host name or address")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError("port", port, "an integer 1 … 65535")
        if isinstance(unit, bool) or not isinstance(unit, int) or not 0 <= unit <= 247:
            raise ValidationError("unit", unit, "an integer 0 … 247")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            0 < timeout <= 3600
        ):
            raise ValidationError("timeout", timeout, "seconds, 0 < timeout ≤ 3600")
        self._host, self._port, self._unit = host, port, unit
        self._timeout = float(timeout)
        self._resource = f"modbus-tcp://{host}:{port}?unit={unit}"
        self._client: Any = ModbusTcpClient(host, port=port, timeout=self._timeout, retries=0)
        self._closed = False
        self.opened_count = 0  # connections made so far (1 + reconnects), for diagnostics

    # --- lifetime -------------------------------------------------------------------------

    @property
    def resource(self) -> str:
        return self._resource

    @property
    def unit(self) -> int:
        return self._unit

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def is_open(self) -> bool:
        return bool(self._client.connected)

    def open(self) -> None:
        """Connect (again, after :meth:`close`); a no-op when already connected."""
        self._closed = False
        self._ensure()

    def _ensure(self) -> None:
        if self._client.connected:
            return
        if self._closed:
            raise InstrumentCommunicationError(self._resource, "transport is closed")
        if not self._client.connect():
            raise InstrumentCommunicationError(self._resource, "cannot connect")
        self.opened_count += 1
        _log.debug("%s: connected", self._resource)

    def reconnect(self) -> None:
        """Drop the connection and open a fresh one."""
        if self._closed:
            raise InstrumentCommunicationError(self._resource, "transport is closed")
        _log.info("%s: reconnecting", self._resource)
        self._client.close()
        self._ensure()

    def close(self) -> None:
        """Release the connection. Safe to call twice."""
        self._closed = True
        self._client.close()

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

    def __repr__(self) -> str:
        return f"ModbusTcpTransport({self._resource!r}, timeout={self._timeout:g})"

    # --- requests -------------------------------------------------------------------------

    def _execute(self, what: str, timeout: float | None, call: Any, *args: Any, **kwargs: Any
                 ) -> Any:
        """Run one pymodbus request; return the response PDU or raise a labctl error."""
        self._ensure()
        if timeout is None or timeout == self._timeout:
            return self._request(what, self._timeout, call, *args, **kwargs)
        if not 0 < timeout <= 3600:
            raise ValidationError("timeout", timeout, "seconds, 0 < timeout ≤ 3600")
        # pymodbus keeps its timeout in two copies of its parameters (the socket's receive
        # loop and the transaction's deadline); change both, for this request only.
        copies = [self._client.comm_params]
        transaction = getattr(self._client, "transaction", None)
        if transaction is not None and transaction.comm_params is not copies[0]:
            copies.append(transaction.comm_params)
        for params in copies:
            params.timeout_connect = float(timeout)
        try:
            return self._request(what, float(timeout), call, *args, **kwargs)
        finally:
            for params in copies:
                params.timeout_connect = self._timeout

    def _request(self, what: str, timeout: float, call: Any, *args: Any, **kwargs: Any) -> Any:
        debug = _log.isEnabledFor(logging.DEBUG)
        if debug:
            _log.debug("%s << %s", self._resource, what)
        started = time.monotonic()
        try:
            response = call(*args, device_id=self._unit, **kwargs)
        except ModbusIOException as exc:
            # No valid response: a late one must not answer the next request, so reconnect.
            self._client.close()
            if time.monotonic() - started < 0.9 * timeout:
                # pymodbus gave up early: what came back could not be decoded (garbled).
                raise ResponseError(self._resource, what, str(exc),
                                    "a valid Modbus response") from exc
            raise InstrumentTimeoutError(self._resource, what, timeout) from exc
        except ConnectionException as exc:
            self._client.close()
            raise ConnectionLostError(self._resource, f"{what}: {exc}") from exc
        except ModbusException as exc:
            self._client.close()
            raise InstrumentCommunicationError(self._resource, f"{what}: {exc}") from exc
        except OSError as exc:
            self._client.close()
            raise ConnectionLostError(self._resource, f"{what}: {exc}") from exc
        if response is None:
            raise ResponseError(self._resource, what, None, "a Modbus response")
        if response.isError():
            code = int(getattr(response, "exception_code", 0) or 0)
            if debug:
                _log.debug("%s >> exception %d", self._resource, code)
            raise InstrumentError(
                self._resource, code, EXCEPTION_CODES.get(code, "unknown exception"), what
            )
        return response

    def read_registers(
        self, table: Table, address: int, count: int, *, timeout: float | None = None
    ) -> list[int]:
        """Read ``count`` (1 … 125) consecutive 16-bit registers of ``table`` from ``address``;
        ``timeout`` in s overrides the link's for this request."""
        if not 1 <= count <= 125:
            raise ValidationError("count", count, "1 … 125 registers per request")
        if table is Table.HOLDING:
            what = f"read holding {address}+{count}"
            response = self._execute(what, timeout, self._client.read_holding_registers,
                                     address, count=count)
        else:
            what = f"read input {address}+{count}"
            response = self._execute(what, timeout, self._client.read_input_registers,
                                     address, count=count)
        registers: list[int] = list(response.registers)
        if len(registers) < count:
            raise ResponseError(self._resource, what, registers, f"{count} registers")
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s >> %s", self._resource, registers[:count])
        return registers[:count]

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        """Write holding registers from ``address`` (function 16); never retried here."""
        words = list(values)
        if not 1 <= len(words) <= 123 or any(not 0 <= w <= 0xFFFF for w in words):
            raise ValidationError("values", words, "1 … 123 words of 0 … 65535")
        self._execute(f"write holding {address} = {words}", None, self._client.write_registers,
                      address, words)

    def read_device_identification(self, *, timeout: float | None = None) -> dict[int, str]:
        """Basic device identification (function 43/14): object id → text."""
        response = self._execute("read device identification", timeout,
                                 self._client.read_device_information, read_code=1, object_id=0)
        info: dict[int, Any] = dict(getattr(response, "information", {}) or {})
        out: dict[int, str] = {}
        for key, value in info.items():
            raw = b"".join(value) if isinstance(value, list) else value
            try:
                out[int(key)] = raw.decode("ascii").strip() if isinstance(raw, bytes) else str(raw)
            except UnicodeDecodeError as exc:
                raise ResponseError(self._resource, "read device identification", raw,
                                    "ASCII text") from exc
        return out
