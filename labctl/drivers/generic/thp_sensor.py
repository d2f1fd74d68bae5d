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
        temperature, humidity, pressure, status = self.read_values(_READING, check_range=False)
        taken = datetime.now(UTC)
        if int(status) & SENSOR_FAULT:  # status first: a faulty element's numbers mean nothing
            raise InstrumentError(self.resource, int(status), "sensor fault (status bit 0 set)",
                                  "read input 0+7")
        if not (TEMPERATURE.in_range(temperature) and HUMIDITY.in_range(humidity)
                and PRESSURE.in_range(pressure)):
            for reg, value in ((TEMPERATURE, temperature), (HUMIDITY, humidity),
                               (PRESSURE, pressure)):
                if not reg.in_range(value):
                    raise ResponseError(self.resource, f"read {reg.name}", value,
                                        f"{reg.name} within {reg.allowed} (the physical range)")
        # Positional: this runs for every sample of a run's environment log.
        return EnvironmentReading(taken, temperature, humidity, pressure)
