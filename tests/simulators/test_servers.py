"""The protocol servers on their own (an asyncio program can serve one instrument)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
from pymodbus.client import AsyncModbusTcpClient

from simulators.clock import ManualClock
from simulators.devices.calibrator_5522a import Calibrator5522A
from simulators.devices.thp_sensor import ThpSensor
from simulators.modbus_server import ModbusDeviceServer
from simulators.room import RoomProfile
from simulators.scpi_server import ScpiServer


def test_scpi_server_as_async_context_manager():
    async def main() -> list[str]:
        model = Calibrator5522A(np.random.default_rng(3))
        log: list[str] = []
        async with ScpiServer(model, model.faults, log) as server:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"OUT 2 V;OUT?\n")
            await writer.drain()
            reply = (await reader.readline()).decode()
            writer.close()
            await writer.wait_closed()
        return [reply, *log]

    assert asyncio.run(main()) == ["2.000000E+00,V\n", "OUT 2 V", "OUT?"]


def test_modbus_server_as_async_context_manager():
    async def main() -> tuple[float, list[str]]:
        clock = ManualClock()
        sensor = ThpSensor(np.random.default_rng(4), clock, RoomProfile(clock, temperature=20.0),
                           lock=threading.RLock())
        log: list[str] = []
        async with ModbusDeviceServer(sensor, log) as server:
            client = AsyncModbusTcpClient("127.0.0.1", port=server.port, timeout=2, retries=0)
            await client.connect()
            reply = await client.read_input_registers(0, count=2, device_id=1)
            client.close()
        value = client.convert_from_registers(reply.registers, client.DATATYPE.FLOAT32)
        return float(value), log  # type: ignore[arg-type]

    value, log = asyncio.run(main())
    assert abs(value - 20.0) < 0.5
    assert log == ["read_input_registers 0 2"]
