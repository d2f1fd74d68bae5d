"""DB-450 dry-block calibrator (−25 … 450 °C), Modbus TCP.

Safe state: control off (heater off; the block relaxes to room temperature). The setpoint is
validated against the block's range before anything is written and never clipped.
"""

from __future__ import annotations

from labctl.drivers.modbus_device import ModbusInstrument
from labctl.drivers.registers import Access, Register, RegisterType, Table, block

SETPOINT = Register("setpoint", Table.HOLDING, 0, RegisterType.FLOAT32, "°C",
                    access=Access.READ_WRITE, minimum=-25.0, maximum=450.0,
                    doc="Control setpoint.")
CONTROL = Register("control", Table.HOLDING, 2, RegisterType.UINT16,
                   access=Access.READ_WRITE, minimum=0, maximum=1,
                   doc="0 standby (heater off), 1 control.")
SERIAL = Register("serial", Table.HOLDING, 100, RegisterType.UINT32, doc="Serial number.")
FIRMWARE = Register("firmware", Table.HOLDING, 102, RegisterType.UINT16,
                    doc="Firmware version, major·256 + minor.")
PROCESS_VALUE = Register("process_value", Table.INPUT, 0, RegisterType.FLOAT32, "°C",
                         minimum=-60.0, maximum=500.0,  # block range plus overshoot margin
                         doc="The controller's own sensor (not the true block temperature).")
STABLE = Register("stable", Table.INPUT, 2, RegisterType.UINT16,
                  doc="1 when |PV − SP| ≤ 0.02 °C for the last 60 s.")
HEATER = Register("heater_output", Table.INPUT, 3, RegisterType.FLOAT32, "%",
                  minimum=-100.0, maximum=100.0,  # negative: cooling (Peltier)
                  doc="Heater drive.")

#: The whole map, in table and address order (what a reviewer compares with the manual).
REGISTER_MAP: tuple[Register, ...] = (SETPOINT, CONTROL, SERIAL, FIRMWARE, PROCESS_VALUE,
                                      STABLE, HEATER)


class DryBlockDB450(ModbusInstrument):
    """The dry block as a :class:`~labctl.drivers.roles.TemperatureSource` (°C)."""

    vendor = "DB"
    model = "DB-450"
    has_output = True
    SERIAL = SERIAL
    FIRMWARE = FIRMWARE

    @property
    def setpoint(self) -> float:
        """Control setpoint in °C (−25 … 450); setting it validates first, never clips."""
        return self.read_register(SETPOINT)

    @setpoint.setter
    def setpoint(self, value: float) -> None:
        self.write_register(SETPOINT, value)

    @property
    def control_enabled(self) -> bool:
        """Whether the controller is heating/cooling towards the setpoint."""
        return self.read_register(CONTROL) == 1

    def process_value(self) -> float:
        """The controller's temperature reading in °C."""
        return self.read_register(PROCESS_VALUE)

    def is_stable(self) -> bool:
        """Whether the controller reports the block settled (±0.02 °C for 60 s)."""
        return self.read_register(STABLE) == 1

    def heater_output(self) -> float:
        """Heater drive in %."""
        return self.read_register(HEATER)

    def enable(self) -> None:
        """Control on."""
        self.write_register(CONTROL, 1)

    def disable(self) -> None:
        """Control off: heater off, the safe state."""
        self.write_register(CONTROL, 0)

    def make_safe(self) -> None:
        self.disable()

    def output_off(self) -> bool:
        """The control register read once (no retry): whether the heater is off."""
        layout = block((CONTROL,))
        with self._lock:
            values = layout.decode_bytes(self._read_once(None, layout))
        return values[CONTROL.name] == 0

    def snapshot(self) -> dict[str, object]:
        values = self.read_block((SETPOINT, CONTROL))
        return {**super().snapshot(), "setpoint": values["setpoint"],
                "control_enabled": values["control"] == 1}
