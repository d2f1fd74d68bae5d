"""``labctl run --param`` checks every run parameter before anything is opened: field, value
and what is allowed (issue 9: ``nplc`` = −5 / NaN was accepted and failed later; a missing
point-table path was an unhandled OSError)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from labctl.errors import ValidationError
from labctl.procedures.dmm_dc_voltage import DmmDcVoltage
from labctl.procedures.prt_comparison import PrtComparison
from tests.safety._bench import LABCTL


@pytest.mark.parametrize(("param", "field", "allowed"), [
    ("nplc=-5", "nplc", "0.02, 0.06, 0.2, 1, 10, 100"),
    ("nplc=nan", "nplc", "a finite number"),
    ("settle_time=inf", "settle_time", "a finite number"),
    ("coverage=nan", "coverage", "a finite number"),
    ("table=/nonexistent/points.csv", "table", "a readable UTF-8 CSV point table"),
])
def test_labctl_run_refuses_a_bad_parameter_before_opening_a_bench(tmp_path: Path, param,
                                                                    field, allowed):
    done = subprocess.run([*LABCTL, "run", "dmm-dcv-direct", "--sim", "--register",
                           str(tmp_path / "none.json"), "--journal", str(tmp_path / "j.sqlite"),
                           "--operator", "alice", "--checker", "bob", "--param", param],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert field in done.stderr and allowed in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("cls", "data", "field"), [
    (DmmDcVoltage, {"nplc": float("nan")}, "nplc"),
    (DmmDcVoltage, {"nplc": -5}, "nplc"),
    (DmmDcVoltage, {"ranges": "10"}, "ranges"),
    (DmmDcVoltage, {"ranges": [10.0, float("inf")]}, "ranges"),
    (DmmDcVoltage, {"adjust": "yes"}, "adjust"),
    (DmmDcVoltage, {"settle_time": True}, "settle_time"),
    (PrtComparison, {"nplc": 7}, "nplc"),
    (PrtComparison, {"reading_interval": -1.0}, "reading_interval"),
    (PrtComparison, {"reference_channel": 9}, "reference_channel"),
    (PrtComparison, {"coverage": 1.5}, "coverage"),
])
def test_parameters_from_plain_data_are_checked_by_field(cls, data, field):
    with pytest.raises(ValidationError) as info:
        cls.from_parameters(data)
    assert info.value.field == field
