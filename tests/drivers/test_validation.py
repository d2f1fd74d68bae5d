"""Bad input is refused before any I/O: the simulators' command logs prove nothing was sent."""

from __future__ import annotations

from typing import Any

import pytest

from labctl.errors import ValidationError
from tests.drivers.conftest import commands


def assert_nothing_sent(bench: Any, role: str, before: list[str]) -> None:
    assert commands(bench, role) == before, "a refused value must not reach the instrument"


class TestCalibrator:
    @pytest.mark.parametrize("volts", [1020.000001, -1021.0, float("nan"), float("inf"), "1",
                                       None, True])
    def test_dc_voltage(self, bench: Any, connect: Any, volts: object) -> None:
        cal = connect("calibrator")
        before = commands(bench, "calibrator")
        with pytest.raises(ValidationError) as err:
            cal.source_dc_voltage(volts)
        assert err.value.field == "Fluke5522A.dc_voltage" and err.value.value is volts
        assert "-1020 … 1020 V" in str(err.value)
        assert_nothing_sent(bench, "calibrator", before)

    def test_resistance(self, bench: Any, connect: Any) -> None:
        cal = connect("calibrator")
        before = commands(bench, "calibrator")
        for ohms in (-1.0, 1.2e9):
            with pytest.raises(ValidationError, match=r"0 … 1\.1e\+09 Ω"):
                cal.source_resistance(ohms)
        assert_nothing_sent(bench, "calibrator", before)


class TestDmm:
    def test_configure_validates_every_argument_first(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm")
        before = commands(bench, "dmm")
        with pytest.raises(ValidationError, match="range=5"):
            dmm.configure_dc_voltage(5.0)  # not a range: never rounded up to 10 V
        with pytest.raises(ValidationError, match="nplc=3"):
            dmm.configure_dc_voltage(10.0, nplc=3)  # a valid range does not send CONF alone
        with pytest.raises(ValidationError, match="range=50"):
            dmm.configure_resistance_4w(50.0)
        assert_nothing_sent(bench, "dmm", before)

    @pytest.mark.parametrize(("name", "value", "allowed"), [
        ("voltage_range", 2.0, "one of 0.1, 1, 10, 100, 1000 V"),
        ("voltage_nplc", 0.5, "one of 0.02, 0.06, 0.2, 1, 10, 100 PLC"),
        ("resistance_nplc", -1, "PLC"),
        ("sample_count", 0, "an integer 1 … 1000000"),
        ("sample_count", 1_000_001, "an integer 1 … 1000000"),
        ("trigger_count", 2.5, "an integer 1 … 1000000"),
    ])
    def test_settings(self, bench: Any, connect: Any, name: str, value: object,
                      allowed: str) -> None:
        dmm = connect("dmm")
        before = commands(bench, "dmm")
        with pytest.raises(ValidationError) as err:
            setattr(dmm, name, value)
        assert err.value.field == f"Keysight34465A.{name}" and err.value.value == value
        assert allowed in err.value.allowed
        assert_nothing_sent(bench, "dmm", before)

    def test_read_many_count(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm")
        before = commands(bench, "dmm")
        with pytest.raises(ValidationError):
            dmm.read_many(0)
        assert_nothing_sent(bench, "dmm", before)

    def test_read_only_setting(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm")
        before = commands(bench, "dmm")
        with pytest.raises(AttributeError, match="read-only"):
            dmm.terminals = "REAR"  # a manual switch on the real instrument
        assert_nothing_sent(bench, "dmm", before)


def test_thermometer_channel(bench: Any, connect: Any) -> None:
    thermometer = connect("thermometer")
    before = commands(bench, "thermometer")
    for channel in (0, 5, 1.0):
        with pytest.raises(ValidationError, match="an integer 1 … 4"):
            thermometer.measure(channel)
    assert_nothing_sent(bench, "thermometer", before)


def test_descriptors_document_themselves() -> None:
    from labctl.drivers.keysight.k34465a import Keysight34465A

    doc = Keysight34465A.voltage_nplc.__doc__ or ""
    assert "integration time" in doc and "PLC" in doc and "0.02" in doc
