"""Base class of Modbus drivers: registers declared as data, read with retry, written once.

A driver lists its :class:`~labctl.drivers.registers.Register` rows (copied from the manual);
this base reads them (several at once when they are adjacent in one table), converts them to
SI values, retries reads after link faults (reading changes nothing) and writes exactly once
(a write is never resent: after a lost response its outcome is unknown).
"""

from __future__ import annotations

from collections.abc import Sequence

from labctl.drivers.base import InstrumentBase
from labctl.drivers.registers import Block, Register, block
from labctl.drivers.retry import (
    LINK_FAULTS,
    RetryPolicy,
    call_with_retry,
)
from labctl.drivers.roles import Identity
from labctl.drivers.transports.base import (
    PRODUCT_CODE,
    VENDOR_NAME,
    RegisterTransport,
)
from labctl.errors import ResponseError


class ModbusInstrument(InstrumentBase):
    """Base of Modbus TCP drivers. Subclasses declare ``SERIAL`` and ``FIRMWARE`` registers."""

    SERIAL: Register
    FIRMWARE: Register

    def __init__(self, transport: RegisterTransport, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(transport, retry=retry)
        self._transport: RegisterTransport = transport

    def _within(self, limit: float | None) -> float | None:
        """A retry's timeout: the link's, cut to what is left of the retry deadline."""
        return None if limit is None else min(self._transport.timeout, limit)

    def read_block(
        self, registers: Sequence[Register] | Block, *, check_range: bool = True
    ) -> dict[str, float]:
        """Read adjacent registers of one table in one request → {name: SI value}.

        With ``check_range`` a value outside its register's ``minimum`` … ``maximum`` (what
        the device can physically report) raises ``ResponseError``: a broken sensor's number
        must not reach a procedure.
        """
        layout = registers if isinstance(registers, Block) else block(tuple(registers))
        values = layout.decode_bytes(self._read_bytes(layout))
        if check_range:
            for reg in layout.registers:
                self._check_range(reg, values[reg.name])
        return values

    def read_values(self, layout: Block, *, check_range: bool = True) -> tuple[float, ...]:
        """Like :meth:`read_block`, the SI values in the order of ``layout.registers``."""
        values = layout.values(self._read_bytes(layout))
        if check_range:
            for reg, value in zip(layout.registers, values, strict=True):
                self._check_range(reg, value)
        return values

    def _read_bytes(self, layout: Block) -> bytes:
        """One read of ``layout``'s registers (retried after link faults: reading changes
        nothing)."""
        return self._exchange(layout.what, True, self._read_once, layout)

    def _read_once(self, limit: float | None, layout: Block) -> bytes:
        data: bytes = self._transport.read_registers_bytes(
            layout.table, layout.first, layout.count, timeout=self._within(limit))
        return data

    def _check_range(self, reg: Register, value: float) -> None:
        if not reg.in_range(value):
            raise ResponseError(self.resource, f"read {reg.name}", value,
                                f"{reg.name} within {reg.allowed} (its physical range)")

    def read_register(self, register: Register) -> float:
        """One register's SI value."""
        return self.read_block((register,))[register.name]

    def write_register(self, register: Register, value: float) -> None:
        """Validate (before any I/O), encode and write ``value`` once; never resent."""
        words = register.encode(value)
        try:
            with self._lock:
                self._transport.write_registers(register.address, words)
        except LINK_FAULTS as exc:
            exc.add_note(f"{self.resource}: outcome of writing {register.name}={value!r} "
                         "unknown (it was not resent)")
            raise

    def identify(self) -> Identity:
        """Device identification (43/14) plus the serial number and firmware registers."""
        with self._lock:
            info = call_with_retry(
                lambda limit: self._transport.read_device_identification(
                    timeout=self._within(limit)),
                self._retry, recover=self._recover, what="read device identification")
        for key in (VENDOR_NAME, PRODUCT_CODE):
            if not info.get(key):
                raise ResponseError(self.resource, "read device identification", info,
                                    f"object {key} (VendorName, ProductCode) present")
        values = self.read_block((self.SERIAL, self.FIRMWARE))
        firmware = int(values[self.FIRMWARE.name])  # major·256 + minor
        return Identity(
            vendor=info[VENDOR_NAME],
            model=info[PRODUCT_CODE],
            serial=str(int(values[self.SERIAL.name])),
            firmware=f"{firmware >> 8}.{firmware & 0xFF}",
        )
