"""Every fault the simulators can inject ends in its typed error or a successful bounded retry.

Driver timeouts here are 0.2–1 s so a hung instrument fails a test quickly. A retry that is
meant to succeed clears the fault from the driver's own "retrying" log record (the
``on_retry`` fixture), so the sequence is deterministic, without timers.
"""

from __future__ import annotations

from typing import Any

import pytest

from labctl.drivers.retry import NO_RETRY, RetryPolicy
from labctl.errors import (
    ConnectionLostError,
    InstrumentError,
    InstrumentTimeoutError,
    OverloadError,
    ResponseError,
)
from tests.drivers.conftest import commands

TWO = RetryPolicy(attempts=2, deadline=3.0, backoff=0.01)

pytestmark = pytest.mark.timeout(20)


class TestScpiLinkFaults:
    def test_latency_within_the_timeout_is_only_slower(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm", timeout=1.0)
        bench.instruments["dmm"].faults.latency = 0.05
        assert dmm.identify().model == "34465A"
        assert commands(bench, "dmm").count("*IDN?") == 2  # open's identity check + this one

    def test_latency_beyond_the_timeout_times_out_then_recovers(self, bench: Any,
                                                                connect: Any) -> None:
        dmm = connect("dmm", timeout=0.2, retry=NO_RETRY)
        bench.instruments["dmm"].faults.latency = 0.5
        with pytest.raises(InstrumentTimeoutError) as err:
            dmm.voltage_range  # noqa: B018 - the property read is the query under test
        assert err.value.command == "VOLT:DC:RANG?" and err.value.timeout == 0.2
        bench.instruments["dmm"].faults.clear()
        # the late reply went with the dropped session: the next answer is the right one
        assert dmm.identify().model == "34465A"

    def test_no_reply_ends_in_a_timeout_after_bounded_retries(self, bench: Any,
                                                              connect: Any) -> None:
        dmm = connect("dmm", timeout=0.2, retry=TWO)
        before = len(commands(bench, "dmm"))
        bench.instruments["dmm"].faults.no_reply = True
        with pytest.raises(InstrumentTimeoutError) as err:
            dmm.identify()
        assert isinstance(err.value, TimeoutError) and "*IDN?" in str(err.value)
        assert commands(bench, "dmm")[before:] == ["*IDN?", "*IDN?"]  # 2 attempts, no more

    def test_dropped_connection_on_a_query_reconnects_and_succeeds(
        self, bench: Any, connect: Any, on_retry: Any
    ) -> None:
        dmm = connect("dmm", timeout=1.0)
        opened = dmm.transport.opened_count
        faults = bench.instruments["dmm"].faults
        faults.drop_connection = True
        handler = on_retry(faults.clear)
        before = len(commands(bench, "dmm"))
        assert dmm.terminals == "FRON"
        assert handler.retries == 1 and dmm.transport.opened_count == opened + 1
        assert commands(bench, "dmm")[before:] == ["ROUT:TERM?", "ROUT:TERM?"]

    def test_dropped_connection_persisting_ends_in_connection_lost(self, bench: Any,
                                                                   connect: Any) -> None:
        thermometer = connect("thermometer", timeout=1.0, retry=TWO)
        bench.instruments["thermometer"].faults.drop_connection = True
        with pytest.raises(ConnectionLostError) as err:
            thermometer.measure(1)
        assert isinstance(err.value, ConnectionError)
        assert commands(bench, "thermometer")[-2:] == ["MEAS? 1", "MEAS? 1"]

    def test_a_set_is_never_resent_after_a_dropped_connection(self, bench: Any,
                                                              connect: Any) -> None:
        cal = connect("calibrator", timeout=1.0)  # retries allowed for queries: not for sets
        bench.instruments["calibrator"].faults.drop_connection = True
        before = len(commands(bench, "calibrator"))
        with pytest.raises(ConnectionLostError) as err:
            cal.operate()
        assert any("not resent" in note for note in err.value.__notes__)
        sent = commands(bench, "calibrator")[before:]
        assert sent.count("OPER") == 1 and sent[0] == "OPER"

    def test_a_set_is_never_resent_when_its_check_times_out(self, bench: Any,
                                                            connect: Any) -> None:
        dmm = connect("dmm", timeout=0.2)
        bench.instruments["dmm"].faults.no_reply = True
        before = len(commands(bench, "dmm"))
        with pytest.raises(InstrumentTimeoutError) as err:
            dmm.voltage_nplc = 1
        assert err.value.command == "SYST:ERR?"
        assert commands(bench, "dmm")[before:] == ["VOLT:DC:NPLC 1", "SYST:ERR?"]

    def test_garbled_reply_is_a_response_error(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm", retry=TWO)
        bench.instruments["dmm"].faults.garble = True
        with pytest.raises(ResponseError) as err:
            dmm.voltage_nplc  # noqa: B018
        assert err.value.command == "VOLT:DC:NPLC?" and str(err.value.response).startswith("#?")
        assert isinstance(err.value, ValueError)

    def test_garbled_reply_once_is_retried(self, bench: Any, connect: Any, on_retry: Any) -> None:
        dmm = connect("dmm")
        faults = bench.instruments["dmm"].faults
        faults.garble = True
        handler = on_retry(faults.clear)
        assert dmm.voltage_nplc == 10.0
        assert handler.retries == 1


class TestErrorQueue:
    def test_queued_error_is_raised_with_code_after_a_set(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm")
        bench.instruments["dmm"].model.push_error(-222, "Data out of range")
        with pytest.raises(InstrumentError) as err:
            dmm.sample_count = 5
        assert (err.value.code, err.value.message, err.value.command) == (
            -222, "Data out of range", "SAMP:COUN 5")
        dmm.sample_count = 6  # the queue was drained: the next set is clean
        assert dmm.sample_count == 6

    def test_several_entries_are_all_drained_and_reported(self, bench: Any, connect: Any) -> None:
        cal = connect("calibrator")
        model = bench.instruments["calibrator"].model
        model.push_error(-113)
        model.push_error(-104)
        with pytest.raises(InstrumentError) as err:
            cal.standby()
        assert err.value.code == -113 and "-104" in err.value.message
        assert cal.errors() == []

    def test_the_instruments_own_refusals(self, bench: Any, connect: Any) -> None:
        cal = connect("calibrator")
        with pytest.raises(InstrumentError) as err:
            cal.write("OUT 2000 V")  # past our validation on purpose: the 5522A refuses too
        assert err.value.code == -222 and err.value.command == "OUT 2000 V"
        with pytest.raises(InstrumentError) as err:
            cal.write("OUTX 1 V")
        assert err.value.code == -113

    def test_a_refused_query_reports_its_error_not_a_parse_failure(self, bench: Any,
                                                                   connect: Any) -> None:
        thermometer = connect("thermometer")
        with pytest.raises(InstrumentError) as err:
            thermometer.query("MEAS?", float)  # channel missing: empty reply, -109 queued
        assert err.value.code == -109 and err.value.command == "MEAS?"

    def test_unconnected_channel(self, bench: Any, connect: Any) -> None:
        thermometer = connect("thermometer")
        with pytest.raises(InstrumentError) as err:
            thermometer.measure(3)
        assert err.value.code == -222 and err.value.command == "MEAS? 3"


class TestOutOfRange:
    def test_dmm_overload(self, bench: Any, connect: Any) -> None:
        dmm = connect("dmm")
        dmm.configure_dc_voltage(1.0, nplc=0.02)
        bench.instruments["dmm"].faults.out_of_range = True
        with pytest.raises(OverloadError):
            dmm.read()
        with pytest.raises(OverloadError, match="overloads in 10"):
            dmm.read_many(10)

    def test_dmm_real_overload_from_the_calibrator(self, bench: Any, connect: Any) -> None:
        cal, dmm = connect("calibrator"), connect("dmm")
        cal.source_dc_voltage(5.0)
        cal.operate()
        dmm.configure_dc_voltage(1.0, nplc=0.02)  # 5 V on the 1 V range: beyond 120 %
        with pytest.raises(OverloadError):
            dmm.read()

    def test_readout_below_absolute_zero(self, bench: Any, connect: Any) -> None:
        thermometer = connect("thermometer")
        bench.instruments["thermometer"].faults.out_of_range = True
        with pytest.raises(ResponseError, match=r"-273\.15"):
            thermometer.measure(1)


class TestRetryBounds:
    def test_retries_never_run_past_the_deadline(self, bench: Any, connect: Any) -> None:
        # 0.5 s link timeout, 10 attempts allowed, but a 0.9 s deadline: the retry gets only
        # what is left of the deadline, and nothing starts after it
        dmm = connect("dmm", timeout=0.5,
                      retry=RetryPolicy(attempts=10, deadline=0.9, backoff=0.01))
        bench.instruments["dmm"].faults.no_reply = True
        before = len(commands(bench, "dmm"))
        with pytest.raises(InstrumentTimeoutError) as err:
            dmm.identify()
        assert err.value.timeout < 0.4  # the last attempt was cut to the deadline
        assert commands(bench, "dmm")[before:] == ["*IDN?", "*IDN?"]

    def test_an_instrument_gone_for_good_ends_in_a_link_error(self, bench: Any,
                                                              connect: Any) -> None:
        from labctl.errors import InstrumentCommunicationError

        thermometer = connect("thermometer", timeout=0.5)
        bench.stop()  # every server closes: reconnecting is refused too
        with pytest.raises(InstrumentCommunicationError):
            thermometer.measure(1)


def test_a_garbled_error_check_leaves_the_set_unknown_not_resent(bench: Any,
                                                                 connect: Any) -> None:
    cal = connect("calibrator")
    bench.instruments["calibrator"].faults.garble = True
    before = len(commands(bench, "calibrator"))
    with pytest.raises(ResponseError) as err:
        cal.source_dc_voltage(2.0)
    assert any("not resent" in note for note in err.value.__notes__)
    assert commands(bench, "calibrator")[before:] == ["OUT 2 V", "ERR?"]
