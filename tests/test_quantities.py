"""The shared types of values that cross layers (labctl.quantities), and that both sides of
each crossing use them: procedures and registry, runner and platform, old and new spellings."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from labctl.errors import ValidationError
from labctl.platform.stations.benches import TERMINAL
from labctl.platform.stations.register import PlatformRegister
from labctl.procedures.catalog import PROCEDURES
from labctl.procedures.dmm_calibrator_check import DmmCalibratorCheck
from labctl.procedures.dmm_dc_voltage.procedure import (
    CALIBRATOR_RANGES,
    DMM_RANGE_LABELS,
    DmmDcVoltage,
    calibrator_range,
)
from labctl.procedures.interfaces import Correction, RegisteredStandard
from labctl.procedures.journal import SqliteJournal
from labctl.procedures.prt_comparison.procedure import PrtComparison, cvd_resistance
from labctl.procedures.prt_dry_block_check import PrtDryBlockCheck
from labctl.procedures.register import RegisterSnapshot
from labctl.procedures.tables import load_table
from labctl.quantities import (
    TERMINAL_RUN_STATUSES,
    CorrectionParameter,
    Quantity,
    RangeLabel,
    RunStatus,
    SpecKey,
    SpecName,
    same_range,
)
from labctl.units import DEGREE_CELSIUS, OHM, VOLT
from tests.fixtures.db import World

# -- range labels ------------------------------------------------------------------------------

#: Every spelling of a range found in labctl before these types, and the canonical one.
SPELLINGS = {
    "330 mV": ["330mV", "330 mV", " 330 mV ", "330.0 mV", "330 mV"],
    "3.3 V": ["3.3V", "3.3 V", "3.30 V"],
    "1020 V": ["1020V", "1020 V"],
    "100 mV": ["100 mV", "100mV"],
    "1000 V": ["1000 V", "1000V"],
    "100 Ω": ["100ohm", "100 ohm", "100Ohm", "100 Ω", "100Ω"],
    "1 kΩ": ["1kohm", "1 kohm", "1 kΩ", "1kΩ"],
    "10 kΩ": ["10kohm", "10 kΩ"],
    "0 °C": ["0 °C", "0°C", "0 degC", "-0 °C"],
    "-25 °C": ["-25 °C", "-25degC"],
    "10 µV": ["10 µV", "10 μV", "10uV", "10 uV"],  # micro sign, Greek mu, ASCII u
}


@pytest.mark.parametrize(("canonical", "spellings"), SPELLINGS.items())
def test_every_spelling_in_use_parses_to_the_same_range(canonical, spellings):
    labels = {RangeLabel.parse(s) for s in spellings}
    assert len(labels) == 1
    (label,) = labels
    assert str(label) == canonical
    assert all(label.matches(s) and same_range(s, canonical) for s in spellings)


@pytest.mark.parametrize("canonical", SPELLINGS)
def test_label_and_token_round_trip(canonical):
    label = RangeLabel.parse(canonical)
    assert str(RangeLabel.parse(str(label))) == canonical
    assert " " not in label.token and label.token.isascii()
    assert RangeLabel.parse(label.token) == label


def test_token_is_the_old_compact_spelling():
    assert [RangeLabel.parse(s).token for s in ("330 mV", "3.3 V", "100 Ω", "1 kΩ", "10 µV")] \
        == ["330mV", "3.3V", "100ohm", "1kohm", "10uV"]


def test_label_value_is_in_the_unit_without_prefix():
    assert RangeLabel.parse("330 mV").value == 0.33
    assert RangeLabel.parse("1 kΩ").value == 1000.0
    assert RangeLabel.parse("10 µV").value == 1e-5
    label = RangeLabel.parse("1 kΩ")
    assert label.unit is OHM and label.prefix == "k" and label.symbol == "kΩ"
    # the prefix is part of the name the maker gives the range: 1000 V is not 1 kV
    assert RangeLabel.parse("1000 V") != RangeLabel.parse("1 kV")


def test_of_builds_the_canonical_label_from_a_number():
    assert str(RangeLabel.of(3.3, VOLT)) == "3.3 V"
    assert str(RangeLabel.of(330, "V", "m")) == "330 mV"
    assert str(RangeLabel.of(1, "ohm", "k")) == "1 kΩ"
    assert str(RangeLabel.of(-0.0, DEGREE_CELSIUS)) == "0 °C"
    assert str(RangeLabel.of(231.928, DEGREE_CELSIUS)) == "231.928 °C"
    assert RangeLabel.of(Decimal("3.30"), VOLT) == RangeLabel.parse("3.3V")


@pytest.mark.parametrize("text", ["", "all", "V", "10 V range", "-25 … 450 °C", "3.3 X",
                                  "1e400 V", "nan V", "10 kk V"])
def test_text_that_names_no_range_is_refused_with_field_and_value(text):
    assert RangeLabel.read(text) is None
    with pytest.raises(ValidationError) as caught:
        RangeLabel.parse(text, "points[3].range_label")
    assert caught.value.field == "points[3].range_label" and caught.value.value == text
    assert "330 mV" in str(caught.value)  # what is allowed, by example


def test_labels_that_name_no_range_match_only_as_written():
    assert same_range("all", "all") and not same_range("all", "10 V")
    assert not same_range("all", "")


# -- specification keys ------------------------------------------------------------------------


def test_spec_key_round_trips_the_stored_key():
    key = SpecKey.parse("dcv_stability_rel.3.3V")
    assert key == SpecKey(SpecName.DCV_STABILITY_REL, RangeLabel.parse("3.3 V"))
    assert str(key) == "dcv_stability_rel.3.3V"
    assert SpecKey.parse("dcv_stability_rel.3.3 V") == key  # the range in any spelling
    assert str(SpecKey.parse("dcv_stability_rel.330mV")) == "dcv_stability_rel.330mV"
    plain = SpecKey.parse("accuracy_relative")
    assert plain.range is None and str(plain) == "accuracy_relative"
    assert SpecKey("interval_days").name is SpecName.INTERVAL_DAYS  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["dcv_stablity_rel.3.3V", "", "dcv_stability_rel.3.3X",
                                  "dcv_stability_rel."])
def test_a_wrong_spec_key_is_refused(text):
    with pytest.raises(ValidationError) as caught:
        SpecKey.parse(text)
    assert caught.value.field.startswith("specification key")


def test_spec_key_finds_its_value_whatever_spelling_the_key_was_stored_with():
    key = SpecKey(SpecName.DCV_STABILITY_REL, RangeLabel.parse("3.3 V"))
    assert key.lookup({"dcv_stability_rel.3.3V": 1e-6}) == 1e-6
    assert key.lookup({"dcv_stability_rel.3.3 V": 2e-6, "vendor_note": "x"}) == 2e-6
    assert key.lookup({"dcv_stability_rel.33V": 3e-6}, 0.0) == 0.0
    assert key.lookup({"dcv_stability_rel.junk": 3e-6}, -1.0) == -1.0


def test_the_procedure_reads_a_stability_stored_under_either_spelling():
    """The DCV procedure's budget takes the calibrator's stated stability on its range,
    whichever way the key's range was written."""
    proc = DmmDcVoltage()
    point = next(p for p in proc.test_points() if p.key == "1V/+1V")  # calibrator 3.3 V range
    readings = np.full(10, 1.0) + np.linspace(-1e-6, 1e-6, 10)
    for key in ("dcv_stability_rel.3.3V", "dcv_stability_rel.3.3 V"):
        std = _calibrator(specification={key: 4e-6})
        rows = {b.name: b for b in proc.evaluate(point, readings, 1e-7, std).budget}
        assert rows["dg_stab"].u == pytest.approx(4e-6 / math.sqrt(3), rel=1e-12)
    rows = {b.name for b in proc.evaluate(point, readings, 1e-7, _calibrator(
        specification={"dcv_stability_rel.33V": 4e-6})).budget}
    assert "dg_stab" not in rows  # another range's stability is not this one's


# -- corrections -------------------------------------------------------------------------------


def _calibrator(label: str = "3.3V", **kw) -> RegisteredStandard:
    return RegisteredStandard(
        "C", "cal", "Fluke", "5522A", "1", "in_service", date(2030, 1, 1), "X", corrections=(
            Correction("DC voltage", label, "gain", 2e-6, 1e-6, "1"),
            Correction("DC voltage", label, "offset", -1e-6, 1e-6, "V")), **kw)


@pytest.mark.parametrize("stored", ["3.3V", "3.3 V", "3.30 V"])
def test_a_correction_is_found_whatever_spelling_its_certificate_used(stored):
    std = _calibrator(stored)
    gain = std.correction(Quantity.DC_VOLTAGE, calibrator_range(1.0), CorrectionParameter.GAIN)
    assert gain is not None and gain.value == 2e-6 and gain.parameter is CorrectionParameter.GAIN
    assert gain.range == RangeLabel.parse("3.3 V")
    assert std.correction(Quantity.DC_VOLTAGE, "33 V", CorrectionParameter.GAIN) is None
    assert std.correction(Quantity.RESISTANCE, "3.3 V", CorrectionParameter.GAIN) is None
    # and the point's result is the same as with the spelling of old
    proc = DmmDcVoltage()
    point = next(p for p in proc.test_points() if p.key == "1V/+1V")
    readings = np.full(10, 1.000001)
    assert proc.evaluate(point, readings, 1e-7, std).error == pytest.approx(
        1.000001 - (1 * (1 + 2e-6) - 1e-6), abs=1e-15)


def test_a_correction_parameter_is_one_of_gain_and_offset():
    assert [p.value for p in CorrectionParameter] == ["gain", "offset"]
    with pytest.raises(ValidationError) as caught:
        Correction("DC voltage", "3.3 V", "scale", 0.0, 0.0, "1")  # type: ignore[arg-type]
    assert caught.value.field == "correction parameter" and caught.value.value == "scale"


def test_register_snapshot_round_trip_keeps_the_typed_parameter():
    """A remote station's register arrives as JSON: its corrections come back typed."""
    snap = RegisterSnapshot((_calibrator("3.3V"),), (), datetime(2026, 1, 1, tzinfo=UTC))
    back = RegisterSnapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    (cal,) = back.standards
    assert all(isinstance(c.parameter, CorrectionParameter) for c in cal.corrections)
    assert cal.correction(Quantity.DC_VOLTAGE, "3.3 V", CorrectionParameter.OFFSET) is not None


def test_the_procedures_look_up_every_range_they_name_in_one_spelling():
    labels = [label for _, label in CALIBRATOR_RANGES] + list(DMM_RANGE_LABELS.values())
    assert all(isinstance(label, RangeLabel) for label in labels)
    assert [str(label) for _, label in CALIBRATOR_RANGES] == [
        "330 mV", "3.3 V", "33 V", "330 V", "1020 V"]
    assert str(calibrator_range(0.33)) == "3.3 V"  # as the 5522A: 0.33 V is on 3.3 V


# -- run statuses ------------------------------------------------------------------------------


def test_run_status_values_are_the_strings_on_record():
    assert {s.value for s in RunStatus} == {"created", "running", "held", "stopping",
                                            "completed", "paused", "aborted", "refused",
                                            "failed"}
    assert RunStatus("paused") is RunStatus.PAUSED and RunStatus.PAUSED == "paused"


def test_ended_run_statuses():
    assert {s for s in RunStatus if s.terminal} == TERMINAL_RUN_STATUSES == {
        RunStatus.COMPLETED, RunStatus.PAUSED, RunStatus.ABORTED, RunStatus.REFUSED,
        RunStatus.FAILED}
    assert not any(s.terminal for s in (RunStatus.CREATED, RunStatus.RUNNING, RunStatus.HELD,
                                        RunStatus.STOPPING))
    assert TERMINAL is TERMINAL_RUN_STATUSES  # the run manager stops watching on these


def test_the_journal_gives_statuses_back_typed(tmp_path: Path):
    """A journal written before these types (plain text in SQLite) reads as RunStatus."""
    from labctl.procedures.clock import ManualClock
    from labctl.procedures.runner import create_run

    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        rec = create_run(journal, ManualClock(), DmmDcVoltage(), dut={}, operator="a",
                         checker="b")
        assert journal.load_run(rec.run_id).status is RunStatus.CREATED
        journal.set_status(rec.run_id, RunStatus.HELD, "room too warm")
        assert journal.status(rec.run_id) == (RunStatus.HELD, "room too warm")
    with sa.create_engine(f"sqlite:///{tmp_path / 'j.sqlite'}").begin() as con:
        assert con.execute(sa.text("SELECT status FROM runs")).scalar_one() == "held"
        con.execute(sa.text("UPDATE runs SET status='paused'"))
    with SqliteJournal(tmp_path / "j.sqlite") as journal:
        status, _ = journal.status(rec.run_id)
        assert status is RunStatus.PAUSED and status.terminal


# -- quantities --------------------------------------------------------------------------------


def test_quantity_values_and_units():
    assert Quantity.DC_VOLTAGE == "DC voltage" and Quantity.DC_VOLTAGE.unit is VOLT
    assert Quantity.RESISTANCE.unit is OHM and Quantity.TEMPERATURE.unit is DEGREE_CELSIUS
    assert Quantity.parse("temperature") is Quantity.TEMPERATURE
    with pytest.raises(ValidationError) as caught:
        Quantity.parse("Temperature")
    assert caught.value.value == "Temperature" and "DC voltage" in str(caught.value)


@pytest.mark.parametrize("cls", list(PROCEDURES.values()), ids=list(PROCEDURES))
def test_every_procedure_names_a_quantity_and_its_points_state_it(cls):
    assert isinstance(cls.info.quantity, Quantity)
    point = _one_point(cls)
    assert point.quantity == cls.info.quantity
    assert point.unit == cls.info.quantity.unit.symbol
    assert RangeLabel.read(point.range_label) is not None
    assert str(RangeLabel.parse(point.range_label)) == point.range_label  # canonical


def _one_point(cls):
    if cls is DmmDcVoltage:
        proc = DmmDcVoltage()
        point = next(p for p in proc.test_points() if p.key == "100mV/+100mV")
        return proc.evaluate(point, np.full(10, 0.1), 1e-8, _calibrator("330mV"))
    ref = RegisteredStandard("R", "ref", "Fluke", "1594A", "2", "in_service", date(2030, 1, 1),
                             "Y", corrections=(Correction("temperature", "all", "offset", 0.001,
                                                          0.002, "°C"),))
    if cls is DmmCalibratorCheck:
        check = DmmCalibratorCheck()
        dmm_std = RegisteredStandard("D", "dmm", "Keysight", "34465A", "3", "in_service",
                                     date(2030, 1, 1), "Z")
        return check.evaluate(check.test_points()[1], np.linspace(9.99999, 10.00001, 10), 1e-6,
                              dmm_std)
    if cls is PrtDryBlockCheck:
        block = PrtDryBlockCheck()
        t = np.linspace(99.99, 100.01, 10)
        return block.evaluate(block.test_points()[0], t + 0.05, t, ref)
    assert cls is PrtComparison
    proc = PrtComparison()
    point = proc.test_points()[1]
    r = float(cvd_resistance(point.setpoint))
    dmm = RegisteredStandard("D", "dmm", "Keysight", "34465A", "3", "in_service",
                             date(2030, 1, 1), "Z", corrections=(
                                 Correction("resistance", "1kohm", "gain", 1e-6, 4e-6, "1"),
                                 Correction("resistance", "1kohm", "offset", 1e-4, 1e-3,
                                            "ohm")))
    t = np.full(8, point.setpoint) + np.linspace(-1e-3, 1e-3, 8)
    return proc.evaluate(point, t, np.full(8, r), 1000.0, 1e-5, {"thermometer": ref,
                                                                 "dmm": dmm})


def test_a_point_table_reads_typed_cells(tmp_path: Path):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Row:
        key: str
        quantity: Quantity
        range: RangeLabel

    table = tmp_path / "points.csv"
    table.write_text("key,quantity,range\na,DC voltage,330mV\nb,resistance,1 kΩ\n",
                     encoding="utf-8")
    rows = load_table(table, Row)
    assert rows[0].quantity is Quantity.DC_VOLTAGE and str(rows[0].range) == "330 mV"
    assert rows[1].range == RangeLabel.parse("1kohm")
    table.write_text("key,quantity,range\na,DC volts,330mV\n", encoding="utf-8")
    with pytest.raises(ValidationError) as caught:
        load_table(table, Row)
    assert caught.value.field == "points.csv: row 2, column quantity"
    assert "DC voltage" in str(caught.value)
    table.write_text("key,quantity,range\na,DC voltage,full scale\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="column range"):
        load_table(table, Row)


def test_the_registry_and_the_procedures_agree_on_quantity_names(db_engine: sa.Engine,
                                                                 world: World):
    """Authorisations are granted in the registry for a quantity by name; a procedure's
    Quantity finds them, and only for that quantity (the world's technicians are authorised
    for DC voltage, by any procedure)."""
    register = PlatformRegister(db_engine, world.orgs["lab"],
                                {p.info.id: p.info.quantity for p in PROCEDURES.values()})
    tech = world.usernames[("lab", "technician")]
    now = datetime.now(UTC)
    assert DmmDcVoltage.info.quantity is Quantity.DC_VOLTAGE
    assert register.is_authorised(person=tech, procedure_id=DmmDcVoltage.info.id, at=now)
    assert not register.is_authorised(person=tech, procedure_id=PrtComparison.info.id, at=now)
