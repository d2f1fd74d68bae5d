"""THP-1 room sensor (air temperature, relative humidity, barometric pressure), Modbus TCP.

The register map below is copied from the sensor's manual. A reading outside the sensor's
physical range is not passed on: a broken or disconnected element reports such values, and a
certificate must never state conditions from it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from labctl.drivers.modbus_device import ModbusInstrument
from labctl.drivers.registers import Block, Register, RegisterType, Table
from labctl.drivers.roles import EnvironmentReading
from labctl.errors import InstrumentError, ResponseError

TEMPERATURE = Register("temperature", Table.INPUT, 0, RegisterType.FLOAT32, "°C",
                       minimum=-40.0, maximum=80.0, doc="Air temperature.")
HUMIDITY = Register("humidity", Table.INPUT, 2, RegisterType.FLOAT32, "%",
                    minimum=0.0, maximum=100.0, doc="Relative humidity.")
PRESSURE = Register("pressure", Table.INPUT, 4, RegisterType.FLOAT32, "Pa", scale=100.0,
                    minimum=50_000.0, maximum=110_000.0,
                    doc="Barometric pressure (the register holds hPa).")
STATUS = Register("status", Table.INPUT, 6, RegisterType.UINT16,
                  doc="Bit 0: sensor fault.")
SERIAL = Register("serial", Table.HOLDING, 100, RegisterType.UINT32, doc="Serial number.")
FIRMWARE = Register("firmware", Table.HOLDING, 102, RegisterType.UINT16,
                    doc="Firmware version, major·256 + minor.")

#: The whole map, in address order (what a reviewer compares with the manual).
REGISTER_MAP: tuple[Register, ...] = (TEMPERATURE, HUMIDITY, PRESSURE, STATUS, SERIAL, FIRMWARE)
_READING = Block((TEMPERATURE, HUMIDITY, PRESSURE, STATUS))
SENSOR_FAULT = 0x0001


class Thp1Sensor(ModbusInstrument):
    """The sensor as an :class:`~labctl.drivers.roles.EnvironmentSensor` (°C, %, Pa)."""

    vendor = "THP"
    model = "THP-1"
    SERIAL = SERIAL
    FIRMWARE = FIRMWARE

    def read(self) -> EnvironmentReading:
        """One reading of all three quantities (one Modbus request).

        Raises ``InstrumentError`` when the sensor flags a fault, ``ResponseError`` when a
        quantity lies outside its physical range (−40 … 80 °C, 0 … 100 %, 500 … 1100 hPa).
        """
        values = self.read_block(_READING, check_range=False)  # status first, below
        taken = datetime.now(UTC)
        status = int(values[STATUS.name])
        if status & SENSOR_FAULT:
            raise InstrumentError(self.resource, status, "sensor fault (status bit 0 set)",
                                  "read input 0+7")
        for reg in (TEMPERATURE, HUMIDITY, PRESSURE):
            if not reg.in_range(values[reg.name]):
                raise ResponseError(self.resource, f"read {reg.name}", values[reg.name],
                                    f"{reg.name} within {reg.allowed} (the physical range)")
        return EnvironmentReading(time=taken, temperature=values[TEMPERATURE.name],
                                  humidity=values[HUMIDITY.name],
                                  pressure=values[PRESSURE.name])
