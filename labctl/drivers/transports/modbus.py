"""Register-based transport: Modbus TCP with pymodbus (3.16) building and decoding PDUs.

This module and :mod:`labctl.drivers.transports.visa` are the only ones that import an I/O
library. pymodbus's client opens the connection and its request classes encode each request
(once per request shape: a register read is the same bytes every time but its transaction
id); the transport then sends the frame and reads the response itself on the client's socket.
pymodbus's synchronous request loop would add a lock, a ``select``, an ``ioctl`` and much
interpreter work to each request (figures in the README's benchmark table). Here one
``sendall`` and, usually, one
``recv`` bounded by ``SO_RCVTIMEO`` make a request: an empty ``recv`` is the device's close
(:class:`ConnectionLostError`, at once), an expired one a timeout (the connection is then
dropped, so a late response can never answer the next request), a response whose
transaction id belongs to an earlier request is skipped, an exception response is an
:class:`InstrumentError` with its code, anything else malformed a :class:`ResponseError`.
Register-read responses are unpacked with one ``struct`` call; write and identification
responses are decoded by pymodbus. Nothing is retried here: the drivers retry read-only
requests themselves under a :class:`~labctl.drivers.retry.RetryPolicy`, and a write is never
resent.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections.abc import Sequence
from typing import Any

from pymodbus.client import ModbusTcpClient
from pymodbus.pdu import ModbusPDU
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
)

from labctl.drivers.registers import Table
from labctl.drivers.transports.sockets import EXPIRED, SocketLink, check_timeout, set_socket_timeout
from labctl.errors import (
    ConnectionLostError,
    InstrumentCommunicationError,
    InstrumentError,
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

#: MBAP header: transaction id, protocol id (0), length of what follows, unit id.
_MBAP = struct.Struct(">HHHB")
_MAX_ADU = 260  # the longest Modbus TCP frame, bytes
_READ_REQUESTS: dict[Table, type[ModbusPDU]] = {
    Table.HOLDING: ReadHoldingRegistersRequest,
    Table.INPUT: ReadInputRegistersRequest,
}



class _Read:
    """A register read prepared once: its frame (after the transaction id), its function
    code, its description and the struct that unpacks its response's register words."""

    __slots__ = ("frame", "function", "size", "what", "words")

    def __init__(self, frame: bytes, function: int, what: str, count: int) -> None:
        self.frame, self.function, self.what = frame, function, what
        self.size = 2 * count  # bytes of register data in the response
        self.words = struct.Struct(f">{count}H")


class ModbusTcpTransport(SocketLink):
    """A link to one Modbus TCP device (``unit`` 0 … 247) at ``host``:``port``.

    ``timeout`` is the seconds to wait for each response (0 < t ≤ 3600), also bounding each
    send. After a timeout the connection is dropped so a late response cannot be taken for
    the next one; the next request reconnects. :meth:`close` is final. One request at a
    time: the drivers serialise their transport's use under their own lock.
    """

    _recv_size = _MAX_ADU
    _peer = "device"

    def __init__(
        self, host: str, port: int = 502, *, unit: int = 1, timeout: float = 2.0
    ) -> None:
        if not isinstance(host, str) or not host:
            raise ValidationError("host", host, "a host name or address")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ValidationError("port", port, "an integer 1 … 65535")
        if isinstance(unit, bool) or not isinstance(unit, int) or not 0 <= unit <= 247:
            raise ValidationError("unit", unit, "an integer 0 … 247")
        self._host, self._port, self._unit = host, port, unit
        self._timeout = check_timeout(timeout)
        self._resource = f"modbus-tcp://{host}:{port}?unit={unit}"
        self._client: Any = ModbusTcpClient(host, port=port, timeout=self._timeout, retries=0)
        self._sock: socket.socket | None = None  # the client's socket while connected
        self._rcvtimeo = 0.0
        self._tid = 0
        # Prepared reads by (address, count), one dict per table (no enum hash per request).
        self._holding_reads: dict[tuple[int, int], _Read] = {}
        self._input_reads: dict[tuple[int, int], _Read] = {}
        self._closed = False
        self.opened_count = 0  # connections made so far (1 + reconnects), for diagnostics

    # --- lifetime -------------------------------------------------------------------------

    @property
    def unit(self) -> int:
        return self._unit

    @property
    def timeout(self) -> float:
        return self._timeout

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def open(self) -> None:
        """Connect (again, after :meth:`close`); a no-op when already connected."""
        self._closed = False
        self._ensure()

    def _ensure(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if self._closed:
            raise InstrumentCommunicationError(self._resource, "transport is closed")
        if not self._client.connect():
            raise InstrumentCommunicationError(self._resource, "cannot connect")
        sock: socket.socket = self._client.socket
        try:
            # Blocking, each wait bounded in the kernel (see transports.sockets), and no
            # Nagle delay for the next small request.
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            self._client.close()
            raise InstrumentCommunicationError(self._resource, f"cannot connect: {exc}") from exc
        set_socket_timeout(sock, socket.SO_SNDTIMEO, self._timeout)
        self._rcvtimeo = 0.0
        self._sock = sock
        self.opened_count += 1
        _log.debug("%s: connected", self._resource)
        return sock

    def _drop(self) -> None:
        """Close the connection (after a fault, or on close); the next request reconnects."""
        self._sock = None
        self._client.close()

    def _connect(self) -> None:
        self._ensure()

    def __repr__(self) -> str:
        return f"ModbusTcpTransport({self._resource!r}, timeout={self._timeout:g})"

    # --- requests -------------------------------------------------------------------------

    def _frame(self, request: ModbusPDU) -> bytes:
        """pymodbus's encoding of ``request`` for this unit, without the transaction id."""
        request.dev_id = self._unit
        try:
            frame: bytes = self._client.framer.buildFrame(request)
        except (ValueError, struct.error) as exc:
            raise ValidationError("request", str(exc), "a request Modbus can encode") from exc
        return frame[2:]

    def _exchange(self, what: str, function: int, frame: bytes, timeout: float | None) -> bytes:
        """Send one request (``frame``: its bytes after the transaction id) and return the
        response PDU (function code first), or raise a labctl error."""
        sock = self._sock or self._ensure()
        limit = self._timeout if timeout is None else check_timeout(timeout)
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s << %s", self._resource, what)
        tid = self._tid = self._tid % 0xFFFF + 1
        try:
            sock.sendall(tid.to_bytes(2, "big") + frame)
        except EXPIRED:  # SO_SNDTIMEO: the device stopped reading
            raise self._timed_out(what, self._timeout) from None
        except OSError as exc:
            self._drop()
            raise ConnectionLostError(self._resource, f"{what}: {exc}") from exc
        data = self._receive(sock, what, limit)
        deadline = 0.0
        while True:
            if len(data) >= 7:
                rtid, protocol, length, unit = _MBAP.unpack_from(data)
                if protocol != 0 or not 2 <= length <= _MAX_ADU - 6:
                    self._drop()  # not Modbus TCP: the stream cannot be trusted any more
                    raise ResponseError(self._resource, what, bytes(data[:16]),
                                        "a Modbus TCP frame")
                end = 6 + length
                if len(data) >= end:
                    if rtid == tid:
                        break
                    data = data[end:]  # an earlier request's late response: not ours
                    continue
            if not deadline:
                deadline = time.monotonic() + limit
            data += self._receive(sock, what, limit, deadline)
        if len(data) > end:  # more than one response to one request: start afresh next time
            self._drop()
        if self._unit and unit != self._unit:
            raise ResponseError(self._resource, what, f"unit {unit}",
                                f"a response from unit {self._unit}")
        pdu = data[7:end]
        code = pdu[0]
        if code == function:
            return pdu
        if code == function | 0x80 and len(pdu) == 2:
            exception = pdu[1]
            if _log.isEnabledFor(logging.DEBUG):
                _log.debug("%s >> exception %d", self._resource, exception)
            raise InstrumentError(self._resource, exception,
                                  EXCEPTION_CODES.get(exception, "unknown exception"), what)
        raise ResponseError(self._resource, what, pdu, f"a response to function {function}")

    def _decoded(self, what: str, pdu: bytes) -> Any:
        """pymodbus's response object for ``pdu`` (writes, identification)."""
        response = self._client.framer.decoder.decode(pdu)
        if response is None:
            raise ResponseError(self._resource, what, pdu, "a valid Modbus response")
        return response

    def read_registers(
        self, table: Table, address: int, count: int, *, timeout: float | None = None
    ) -> list[int]:
        """Read ``count`` (1 … 125) consecutive 16-bit registers of ``table`` from ``address``;
        ``timeout`` in s overrides the link's for this request."""
        data = self.read_registers_bytes(table, address, count, timeout=timeout)
        return list(struct.unpack(f">{count}H", data))

    def read_registers_bytes(
        self, table: Table, address: int, count: int, *, timeout: float | None = None
    ) -> bytes:
        """Like :meth:`read_registers`, as the registers' ``2 × count`` big-endian bytes:
        what a block of 32-bit values is decoded from with one ``struct`` call."""
        reads = self._holding_reads if table is Table.HOLDING else self._input_reads
        read = reads.get((address, count)) or self._prepare(table, address, count)
        pdu = self._exchange(read.what, read.function, read.frame, timeout)
        if len(pdu) != read.size + 2 or pdu[1] != read.size:
            raise ResponseError(self._resource, read.what, pdu, f"{count} registers")
        data = pdu[2:]
        if _log.isEnabledFor(logging.DEBUG):
            _log.debug("%s >> %s", self._resource, list(read.words.unpack(data)))
        return data

    def _prepare(self, table: Table, address: int, count: int) -> _Read:
        """Check and encode a register read once; later reads of it reuse the frame."""
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 125:
            raise ValidationError("count", count, "1 … 125 registers per request")
        if isinstance(address, bool) or not isinstance(address, int) or not (
            0 <= address <= 0x10000 - count
        ):
            raise ValidationError("address", address, f"0 … {0x10000 - count}")
        request_type = _READ_REQUESTS[table]
        frame = self._frame(request_type(address=address, count=count))
        read = _Read(frame, request_type.function_code, f"read {table.value} {address}+{count}",
                     count)
        reads = self._holding_reads if table is Table.HOLDING else self._input_reads
        if len(reads) >= 256:  # a driver reads a handful of blocks: this never fills
            reads.clear()
        reads[(address, count)] = read
        return read

    def write_registers(self, address: int, values: Sequence[int]) -> None:
        """Write holding registers from ``address`` (function 16); never retried here."""
        words = list(values)
        if not 1 <= len(words) <= 123 or any(
            isinstance(w, bool) or not isinstance(w, int) or not 0 <= w <= 0xFFFF for w in words
        ):
            raise ValidationError("values", words, "1 … 123 words of 0 … 65535")
        if isinstance(address, bool) or not isinstance(address, int) or not (
            0 <= address <= 0x10000 - len(words)
        ):
            raise ValidationError("address", address, f"0 … {0x10000 - len(words)}")
        what = f"write holding {address} = {words}"
        request = WriteMultipleRegistersRequest(address=address, registers=words)
        pdu = self._exchange(what, request.function_code, self._frame(request), None)
        response = self._decoded(what, pdu)
        if (response.address, response.count) != (address, len(words)):
            raise ResponseError(self._resource, what, pdu,
                                f"the echo of {len(words)} registers from {address}")

    def read_device_identification(self, *, timeout: float | None = None) -> dict[int, str]:
        """Basic device identification (function 43/14): object id → text."""
        what = "read device identification"
        request = ReadDeviceInformationRequest(read_code=1, object_id=0)
        pdu = self._exchange(what, request.function_code, self._frame(request), timeout)
        response = self._decoded(what, pdu)
        info: dict[int, Any] = dict(getattr(response, "information", {}) or {})
        out: dict[int, str] = {}
        for key, value in info.items():
            raw = b"".join(value) if isinstance(value, list) else value
            try:
                out[int(key)] = raw.decode("ascii").strip() if isinstance(raw, bytes) else str(raw)
            except UnicodeDecodeError as exc:
                raise ResponseError(self._resource, what, raw, "ASCII text") from exc
        return out
