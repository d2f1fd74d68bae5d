"""Modbus TCP for the simulated devices, on pymodbus's own async TCP server.

pymodbus 3.16 serves registers from a static datastore; the simulators need every read to
compute a live value from the physics at the clock's time, and every write to be validated
by the device. So :class:`ModbusDeviceServer` keeps pymodbus's framing, transaction and
request-handling code (the same code paths a real client meets) and plugs in:

- a datastore adapter that forwards reads/writes to the device's :class:`RegisterTable`
  (unmapped address → exception 2, rejected value → exception 3, nothing half-written);
- a per-connection PDU hook that records each request, applies the faults (latency, no reply,
  dropped connection, forced exception code) and answers Read Device Identification (43/14)
  with this device's identity (pymodbus keeps identity in a process-wide singleton, which
  would make two simulated devices in one process report the same name);
- a per-connection packet hook that garbles replies on the wire when asked.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import types
from collections.abc import Callable
from typing import Any, Protocol

from pymodbus import ModbusDeviceIdentification
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.pdu import ExceptionResponse, ModbusPDU
from pymodbus.pdu.device import DeviceInformationFactory
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest, ReadDeviceInformationResponse
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from simulators.faults import Faults
from simulators.registers import ModbusDeviceError, RegisterTable

#: The unit id every simulated device answers to (docs/simulated-bench.md).
UNIT_ID = 1

_HOLDING_FUNCTIONS = frozenset({3, 6, 16, 22, 23})
_INPUT_FUNCTIONS = frozenset({4})
_NAMES = {
    1: "read_coils", 2: "read_discrete_inputs", 3: "read_holding_registers",
    4: "read_input_registers", 5: "write_coil", 6: "write_register", 15: "write_coils",
    16: "write_registers", 22: "mask_write_register", 23: "readwrite_registers",
    43: "read_device_information",
}


class ModbusDevice(Protocol):
    """What the server needs from a device model."""

    lock: threading.RLock
    faults: Faults
    holding: RegisterTable
    input: RegisterTable
    model_name: str
    vendor: str
    firmware: tuple[int, int]


class _LiveContext:
    """Datastore adapter: pymodbus asks, the device model computes (duck-typed context)."""

    def __init__(self, device: ModbusDevice) -> None:
        self._device = device

    def device_ids(self) -> list[int]:
        return [UNIT_ID]

    def _table(self, device_id: int, func_code: int) -> RegisterTable | None:
        if device_id != UNIT_ID:
            raise NoSuchIdException(f"unit id {device_id} is not {UNIT_ID}")
        if func_code in _HOLDING_FUNCTIONS:
            return self._device.holding
        if func_code in _INPUT_FUNCTIONS:
            return self._device.input
        return None  # coils and discrete inputs: the device has none

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | ExcCodes:
        table = self._table(device_id, func_code)
        if table is None:
            return ExcCodes.ILLEGAL_ADDRESS
        try:
            with self._device.lock:
                return table.read(address, count)
        except ModbusDeviceError as err:
            return ExcCodes(err.code)

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: list[int] | list[bool]
    ) -> ExcCodes | None:
        table = self._table(device_id, func_code)
        if table is None:
            return ExcCodes.ILLEGAL_ADDRESS
        try:
            with self._device.lock:
                table.write(address, [int(v) for v in values])
        except ModbusDeviceError as err:
            return ExcCodes(err.code)
        return None


def describe(pdu: ModbusPDU) -> str:
    """A readable one-line record of a request, e.g. ``read_holding_registers 0 2``."""
    fc = pdu.function_code
    name = _NAMES.get(fc, f"function_{fc}")
    if isinstance(pdu, ReadDeviceInformationRequest):
        return f"{name} {pdu.read_code} {pdu.object_id}"
    if fc in (6, 16):
        return f"{name} {pdu.address} {','.join(str(v) for v in pdu.registers)}"
    if fc in (1, 2, 3, 4):
        return f"{name} {pdu.address} {pdu.count}"
    if fc in (5, 15):
        return f"{name} {pdu.address} {','.join(str(int(v)) for v in pdu.bits)}"
    return name


class ModbusDeviceServer(ModbusTcpServer):
    """A pymodbus TCP server serving one simulated device (unit id 1).

    ``commands`` receives a record of every request (see :func:`describe`), in arrival
    order, also those a fault swallows. Construct and use it inside the bench's event loop.
    """

    def __init__(
        self,
        device: ModbusDevice,
        commands: list[str],
        host: str = "127.0.0.1",
        port: int = 0,
        global_latency: Callable[[], float] = lambda: 0.0,
    ) -> None:
        # pymodbus insists on a context object; the placeholder is replaced just below.
        placeholder = SimDevice(UNIT_ID, simdata=[SimData(0, datatype=DataType.REGISTERS)])
        super().__init__(placeholder, address=(host, port))
        self.context = _LiveContext(device)  # type: ignore[assignment]
        self.device = device
        self.commands = commands
        self._global_latency = global_latency
        self.identity = ModbusDeviceIdentification(info_name={  # type: ignore[no-untyped-call]
            "VendorName": device.vendor,
            "ProductCode": device.model_name,
            "MajorMinorRevision": f"{device.firmware[0]}.{device.firmware[1]}",
            "ProductName": device.model_name,
            "ModelName": device.model_name,
        })
        self.port = port

    async def start(self) -> None:
        """Bind and listen; ``port`` holds the bound port afterwards."""
        await self.serve_forever(background=True)
        listener: Any = self.transport
        self._listener = listener
        self.port = listener.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every client connection."""
        listener = getattr(self, "_listener", None)
        await self.shutdown()  # type: ignore[no-untyped-call]
        if listener is not None:
            await listener.wait_closed()
        # Let the transports' connection_lost callbacks run before the loop goes away.
        await asyncio.sleep(0)

    async def __aenter__(self) -> ModbusDeviceServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def callback_new_connection(self) -> ServerRequestHandler:
        handler = ServerRequestHandler(self, None, None, None)  # type: ignore[no-untyped-call]
        handler.trace_pdu = functools.partial(self._on_pdu, handler)  # type: ignore[assignment]
        handler.trace_packet = functools.partial(self._on_packet, handler)
        return handler

    # --- hooks --------------------------------------------------------------------------

    def _on_packet(self, handler: ServerRequestHandler, sending: bool, data: bytes) -> bytes:
        if sending and self.device.faults.garble and len(data) > 7:
            # Keep the MBAP header (so the client reads a whole frame), scramble the PDU.
            return data[:7] + bytes(b ^ 0x5A for b in data[7:])
        return data

    def _on_pdu(
        self, handler: ServerRequestHandler, sending: bool, pdu: ModbusPDU
    ) -> ModbusPDU | None:
        if sending:
            return pdu
        faults = self.device.faults
        self.commands.append(describe(pdu))
        if faults.drop_connection:
            handler.close()
            return None
        if faults.no_reply:
            return None  # pymodbus schedules nothing for a request it did not get
        delay = faults.latency + self._global_latency()
        code = faults.modbus_exception
        answer: Callable[[Any, int], Any]
        if code is not None:
            fc = pdu.function_code

            async def answer(context: Any, device_id: int) -> ModbusPDU:
                return ExceptionResponse(fc, ExcCodes(code))
        elif isinstance(pdu, ReadDeviceInformationRequest):
            answer = functools.partial(self._identify, pdu)
        else:
            answer = pdu.datastore_update
        if delay > 0:
            inner = answer

            async def answer(context: Any, device_id: int) -> ModbusPDU:
                await asyncio.sleep(delay)
                return await inner(context, device_id)

        pdu.datastore_update = answer  # type: ignore[method-assign]
        return pdu

    async def _identify(
        self, request: ReadDeviceInformationRequest, context: Any, device_id: int
    ) -> ModbusPDU:
        """Read Device Identification (43/14) answered from this device's identity."""
        if device_id != UNIT_ID:
            return ExceptionResponse(request.function_code, ExcCodes.GATEWAY_NO_RESPONSE)
        if not 0x00 <= request.object_id <= 0xFF or not 0x01 <= request.read_code <= 0x04:
            return ExceptionResponse(request.function_code, ExcCodes.ILLEGAL_VALUE)
        control = types.SimpleNamespace(Identity=self.identity)
        information = DeviceInformationFactory.get(  # type: ignore[no-untyped-call]
            control, request.read_code, request.object_id
        )
        if request.read_code == 0x04 and not information.get(request.object_id):
            return ExceptionResponse(request.function_code, ExcCodes.ILLEGAL_ADDRESS)
        return ReadDeviceInformationResponse(
            read_code=request.read_code,
            information=information,
            dev_id=device_id,
            transaction_id=request.transaction_id,
        )
