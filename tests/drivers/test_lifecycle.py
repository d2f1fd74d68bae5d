"""Safe state on close and on an exception inside ``with``; the factory and bench config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from labctl.drivers.factory import BenchConfig, InstrumentConfig, open_bench, open_instrument
from labctl.drivers.fluke.f5522a import Fluke5522A
from labctl.drivers.transports.visa import VisaTransport
from labctl.errors import InstrumentCommunicationError, ValidationError
from tests.drivers.conftest import MODELS, commands

pytestmark = pytest.mark.timeout(20)


def bench_toml(bench: Any, tmp_path: Path) -> Path:
    lines = []
    for role, resource in bench.resources.items():
        lines += [f"[instruments.{role}]", f'model = "{MODELS[role]}"',
                  f'resource = "{resource}"', "timeout = 1.0", ""]
    lines += ["[retry]", "attempts = 2", "backoff = 0.01"]
    path = tmp_path / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class TestSafeState:
    def test_calibrator_standby_on_close(self, bench: Any, connect: Any) -> None:
        cal = connect("calibrator")
        cal.source_dc_voltage(10.0)
        cal.operate()
        assert bench.instruments["calibrator"].truth()["operate"] is True
        cal.close()
        assert bench.instruments["calibrator"].truth()["operate"] is False
        assert commands(bench, "calibrator")[-2:] == ["STBY", "ERR?"]
        cal.close()  # twice is harmless and sends nothing more
        assert commands(bench, "calibrator")[-2:] == ["STBY", "ERR?"]

    def test_calibrator_standby_on_exception_inside_with(self, bench: Any) -> None:
        config = InstrumentConfig(model="5522A", resource=bench.resources["calibrator"],
                                  timeout=1.0)
        with pytest.raises(RuntimeError, match="procedure failed"), open_instrument(config) as cal:
            cal.source_dc_voltage(100.0)
            cal.operate()
            raise RuntimeError("procedure failed")
        assert bench.instruments["calibrator"].truth()["operate"] is False

    def test_dry_block_control_off_on_exception_inside_with(self, bench: Any) -> None:
        config = InstrumentConfig(model="DB-450", resource=bench.resources["temperature_source"],
                                  timeout=1.0)
        with pytest.raises(KeyError), open_instrument(config) as block:
            block.setpoint = 120.0
            block.enable()
            raise KeyError("boom")
        assert bench.instruments["temperature_source"].truth()["control"] == 0
        assert commands(bench, "temperature_source")[-1] == "write_registers 2 0"

    def test_make_safe_failing_keeps_the_original_error(self, bench: Any) -> None:
        config = InstrumentConfig(model="5522A", resource=bench.resources["calibrator"],
                                  timeout=0.2)
        with pytest.raises(ZeroDivisionError) as err, open_instrument(config) as cal:
            bench.instruments["calibrator"].faults.no_reply = True
            raise ZeroDivisionError
        assert any("making" in note and "safe failed" in note for note in err.value.__notes__)
        assert not cal.transport.is_open  # the link is released even so
        bench.instruments["calibrator"].faults.clear()


class TestFactory:
    def test_open_bench_from_toml(self, bench: Any, tmp_path: Path) -> None:
        path = bench_toml(bench, tmp_path)
        with open_bench(path) as lab:
            assert set(lab) == set(MODELS) and "dmm" in lab and "oven" not in lab
            assert lab.get("oven") is None
            with pytest.raises(ValidationError, match="one of calibrator"):
                lab["oven"]
            assert isinstance(lab["calibrator"], Fluke5522A)
            lab.calibrator.source_dc_voltage(1.0)
            lab.calibrator.operate()
            lab.dmm.configure_dc_voltage(10.0)
            assert lab.dmm.read() == pytest.approx(1.0, abs=1e-4)
            assert lab.temperature_source.setpoint == 25.0
            snapshot = lab.snapshot()
            assert snapshot["dmm"]["range"] == 10.0 and snapshot["environment"]["model"] == "THP-1"
        # leaving the bench made everything safe and released every link
        assert bench.instruments["calibrator"].truth()["operate"] is False
        assert all(not driver.transport.is_open for driver in lab.values())

    def test_wrong_model_at_an_address_is_caught_before_any_command(self, bench: Any) -> None:
        config = InstrumentConfig(model="34465A", resource=bench.resources["calibrator"])
        with pytest.raises(ValidationError, match="model 34465A as configured"):
            open_instrument(config)
        assert commands(bench, "calibrator") == ["*CLS", "*IDN?"]  # no safe-state command sent

    def test_a_failing_instrument_closes_those_already_open(self, bench: Any,
                                                            tmp_path: Path) -> None:
        config = BenchConfig.load(bench_toml(bench, tmp_path))
        broken = dict(config.instruments)
        broken["thermometer"] = InstrumentConfig(model="1594A",
                                                 resource="TCPIP0::127.0.0.1::9::SOCKET")
        with pytest.raises(InstrumentCommunicationError), open_bench(BenchConfig(broken)):
            pass
        assert commands(bench, "calibrator")[-2:] == ["STBY", "ERR?"]  # opened, then safe

    def test_role_must_fit_the_model(self, bench: Any) -> None:
        config = {"instruments": {"dmm": {"model": "1594A",
                                          "resource": bench.resources["thermometer"]}}}
        with pytest.raises(ValidationError, match="Dmm"), open_bench(config):
            pass

    def test_refused_connection(self) -> None:
        transport = VisaTransport("TCPIP0::127.0.0.1::9::SOCKET", timeout=0.5)
        with pytest.raises(InstrumentCommunicationError, match="cannot open"):
            transport.open()
        transport.close()

    def test_closed_transport_refuses_io(self, bench: Any) -> None:
        transport = VisaTransport(bench.resources["dmm"], timeout=0.5)
        with transport:
            assert transport.query("*IDN?").startswith("Keysight")
        with pytest.raises(InstrumentCommunicationError, match="closed"):
            transport.query("*IDN?")
