"""The parsing and validation layer on its own: replies, validators, register words, config."""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.drivers.factory import (
    BenchConfig,
    InstrumentConfig,
    ModbusAddress,
    SocketAddress,
    parse_resource,
)
from labctl.drivers.keysight.k34465a import parse_configuration
from labctl.drivers.registers import (
    Access,
    Block,
    Register,
    RegisterType,
    Table,
    WordOrder,
    span,
)
from labctl.drivers.retry import RetryPolicy
from labctl.drivers.roles import Identity
from labctl.drivers.scpi import (
    InRange,
    IntRange,
    OneOf,
    format_number,
    is_overload,
    parse_bool,
    parse_error_entry,
    parse_float,
    parse_float_array,
    parse_idn,
    parse_int,
    parse_word,
)
from labctl.errors import ValidationError


class TestReplies:
    def test_numbers_in_scpi_forms(self) -> None:
        assert parse_float("+1.000000E+01") == 10.0
        assert parse_float("-2.5e-3\r") == -0.0025
        assert parse_int("+1.000000E+03") == 1000
        assert parse_int("  42 ") == 42
        with pytest.raises(ValueError):
            parse_int("1.5")
        with pytest.raises(ValueError):
            parse_float("NAN")
        with pytest.raises(ValueError):
            parse_float("#!x2")

    def test_booleans_and_words(self) -> None:
        assert parse_bool("1") is True and parse_bool("0") is False
        assert parse_bool("ON") is True
        with pytest.raises(ValueError):
            parse_bool("2")
        assert parse_word("FRON") == "FRON"
        assert parse_word('"rear"') == "REAR"
        with pytest.raises(ValueError):
            parse_word("FR%N")

    def test_error_queue_entries(self) -> None:
        assert parse_error_entry('+0,"No error"') == (0, "No error")
        assert parse_error_entry('-222,"Data out of range"') == (-222, "Data out of range")
        assert parse_error_entry('-113,"Undefined header; OUTX"') == (-113,
                                                                      "Undefined header; OUTX")
        with pytest.raises(ValueError):
            parse_error_entry("-222 Data out of range")

    def test_identity(self) -> None:
        assert parse_idn("Keysight Technologies,34465A,MY123,A.03") == Identity(
            "Keysight Technologies", "34465A", "MY123", "A.03")
        with pytest.raises(ValueError):
            parse_idn("FLUKE,5522A,123")

    def test_bulk_readings(self) -> None:
        values = np.linspace(-1.0, 1.0, 1000)
        reply = ",".join(f"{v:+.8E}" for v in values).encode()
        parsed = parse_float_array(reply)
        assert parsed.dtype == np.float64 and parsed.shape == (1000,)
        np.testing.assert_allclose(parsed, values, rtol=1e-8)
        assert parse_float_array("+1.0E+00").tolist() == [1.0]
        for bad in (b"", b"1.0,,2.0", b"1.0,x,2.0"):
            with pytest.raises(ValueError):
                parse_float_array(bad)

    def test_overload_marker(self) -> None:
        assert is_overload(parse_float("+9.9E+37")) and is_overload(-9.9e37)
        assert not is_overload(1e30)

    def test_dmm_configuration(self) -> None:
        conf = parse_configuration('"VOLT +1.000000E+01,+1.000000E-06"')
        assert (conf.function, conf.range, conf.resolution, conf.unit) == ("VOLT", 10.0, 1e-6,
                                                                           "V")
        assert parse_configuration('"FRES +1.000000E+02,+1.000000E-04"').unit == "OHM"
        with pytest.raises(ValueError):
            parse_configuration('"CURR +1.0E+00,+1.0E-06"')


class TestValidators:
    def test_range_names_property_value_and_range(self) -> None:
        check = InRange(-1020.0, 1020.0, "V")
        assert check("Fluke5522A.dc_voltage", 10) == 10.0
        with pytest.raises(ValidationError) as err:
            check("Fluke5522A.dc_voltage", 1020.5)
        assert err.value.field == "Fluke5522A.dc_voltage" and err.value.value == 1020.5
        assert "-1020 … 1020 V" in err.value.allowed and "1020.5" in str(err.value)

    @pytest.mark.parametrize("bad", [math.nan, math.inf, True, "10", None])
    def test_range_refuses_non_numbers(self, bad: object) -> None:
        with pytest.raises(ValidationError):
            InRange(0, 100)("x", bad)

    def test_choices_are_exact_never_rounded(self) -> None:
        ranges = OneOf(0.1, 1.0, 10.0, unit="V")
        assert ranges("r", 10) == 10.0
        with pytest.raises(ValidationError) as err:
            ranges("Keysight34465A.range", 5.0)  # a real DMM would pick 10 V: we refuse
        assert "one of 0.1, 1, 10 V" in str(err.value)
        assert OneOf("FRON", "REAR")("t", "rear") == "REAR"

    def test_integers(self) -> None:
        assert IntRange(1, 4)("ch", 4) == 4
        for bad in (0, 5, 1.0, True):
            with pytest.raises(ValidationError):
                IntRange(1, 4)("ch", bad)


class TestRegisters:
    FLOAT = Register("t", Table.INPUT, 0, RegisterType.FLOAT32, "°C")

    def test_float32_high_word_first(self) -> None:
        # 25.0 = 0x41C80000: high word at the lower address ("ABCD")
        assert self.FLOAT.decode([0x41C8, 0x0000]) == 25.0
        words = list(struct.unpack(">2H", struct.pack(">f", -12.345)))
        assert self.FLOAT.decode(words) == pytest.approx(-12.345, abs=1e-6)

    def test_low_word_first_and_integers(self) -> None:
        swapped = Register("t", Table.INPUT, 0, RegisterType.FLOAT32,
                           word_order=WordOrder.LOW_FIRST)
        assert swapped.decode([0x0000, 0x41C8]) == 25.0
        serial = Register("s", Table.HOLDING, 100, RegisterType.UINT32)
        assert serial.decode([0x0001, 0x0002]) == 65538
        signed = Register("i", Table.HOLDING, 0, RegisterType.INT16)
        assert signed.decode([0xFFFF]) == -1

    def test_scale_converts_to_si(self) -> None:
        pressure = Register("p", Table.INPUT, 4, RegisterType.FLOAT32, "Pa", scale=100.0)
        assert pressure.decode(list(struct.unpack(">2H", struct.pack(">f", 1013.25)))) == (
            pytest.approx(101325.0))

    def test_encode_validates_before_anything(self) -> None:
        setpoint = Register("setpoint", Table.HOLDING, 0, RegisterType.FLOAT32, "°C",
                            access=Access.READ_WRITE, minimum=-25, maximum=450)
        assert setpoint.decode(setpoint.encode(123.5)) == 123.5
        with pytest.raises(ValidationError) as err:
            setpoint.encode(450.01)
        assert err.value.field == "setpoint" and "-25 … 450 °C" in err.value.allowed
        with pytest.raises(ValidationError):
            self.FLOAT.encode(1.0)  # read-only
        control = Register("control", Table.HOLDING, 2, RegisterType.UINT16,
                           access=Access.READ_WRITE, minimum=0, maximum=1)
        with pytest.raises(ValidationError):
            control.encode(0.5)  # not representable: never rounded

    def test_range_check_refuses_nan_and_accepts_open_ends(self) -> None:
        bounded = Register("b", Table.INPUT, 0, RegisterType.FLOAT32, minimum=-1.0, maximum=1.0)
        assert bounded.in_range(-1.0) and bounded.in_range(1.0)
        assert not bounded.in_range(1.0000001) and not bounded.in_range(math.nan)
        assert self.FLOAT.in_range(math.inf) and not self.FLOAT.in_range(math.nan)

    @pytest.mark.parametrize("order", [WordOrder.HIGH_FIRST, WordOrder.LOW_FIRST])
    def test_block_from_bytes_matches_register_by_register(self, order: WordOrder) -> None:
        # a gap (address 3), a scaled float, a 32-bit integer; listed out of address order.
        # High-word-first takes the one-struct path, low-word-first the per-register one.
        pressure = Register("p", Table.INPUT, 4, RegisterType.FLOAT32, scale=100.0,
                            word_order=order)
        status = Register("s", Table.INPUT, 0, RegisterType.UINT16)
        count = Register("n", Table.INPUT, 1, RegisterType.INT32, word_order=order)
        layout = Block((pressure, status, count))
        words = [7, *struct.unpack(">2H", struct.pack(">i", -70000)), 0xFFFF,
                 *struct.unpack(">2H", struct.pack(">f", 1013.25))]
        if order is WordOrder.LOW_FIRST:
            words[1:3], words[4:6] = words[2:0:-1], words[5:3:-1]
        data = struct.pack(">6H", *words)
        expected = {"p": 101325.0, "s": 7.0, "n": -70000.0}
        assert layout.decode_bytes(data) == expected == layout.decode(words)
        assert layout.values(data) == (101325.0, 7.0, -70000.0)  # in the order given

    def test_span_of_a_block(self) -> None:
        a = Register("a", Table.INPUT, 0, RegisterType.FLOAT32)
        b = Register("b", Table.INPUT, 6, RegisterType.UINT16)
        assert span([a, b]) == (Table.INPUT, 0, 7)
        with pytest.raises(ValidationError):
            span([a, Register("c", Table.HOLDING, 0, RegisterType.UINT16)])


class TestConfiguration:
    def test_resource_strings(self) -> None:
        assert parse_resource("TCPIP0::127.0.0.1::5025::SOCKET") == SocketAddress("127.0.0.1",
                                                                                  5025)
        assert parse_resource("modbus-tcp://10.0.0.5:1502?unit=3") == ModbusAddress("10.0.0.5",
                                                                                    1502, 3)
        assert parse_resource("modbus-tcp://sensor.lab").resource == (
            "modbus-tcp://sensor.lab:502?unit=1")
        for bad in ("TCPIP0::h::5025::INSTR", "GPIB0::22::INSTR", "modbus-tcp://h:1?unit=0",
                    "modbus-tcp://h:1?unit=1&x=2", "TCPIP0::h::70000::SOCKET", ""):
            with pytest.raises(ValidationError):
                parse_resource(bad)

    def test_instrument_config_checks_model_against_address(self) -> None:
        with pytest.raises(ValidationError, match="modbus-tcp"):
            InstrumentConfig(model="THP-1", resource="TCPIP0::127.0.0.1::5025::SOCKET")
        with pytest.raises(ValidationError, match="one of"):
            InstrumentConfig(model="3458A", resource="TCPIP0::127.0.0.1::5025::SOCKET")
        with pytest.raises(ValidationError):
            InstrumentConfig(model="34465A", resource="TCPIP0::h::5025::SOCKET", timeout=0)

    def test_model_names_as_people_write_them(self) -> None:
        from labctl.drivers.factory import resolve_model

        assert resolve_model("Keysight 34465A") == "34465A"
        assert resolve_model("fluke 5522a") == "5522A"
        assert resolve_model("db-450") == "DB-450"
        config = InstrumentConfig(model="Fluke 1594A", resource="TCPIP0::h::5025::SOCKET")
        assert config.model == "1594A"
        for bad in ("3458A", "", "Keysight"):
            with pytest.raises(ValidationError, match="one of 5522A, 34465A"):
                resolve_model(bad)

    def test_bench_toml(self) -> None:
        config = BenchConfig.loads("""
            [instruments.dmm]
            model = "34465A"
            resource = "TCPIP0::127.0.0.1::5025::SOCKET"
            timeout = 0.5
            [instruments.environment]
            model = "THP-1"
            resource = "modbus-tcp://127.0.0.1:1502?unit=1"
            [retry]
            attempts = 2
        """)
        assert config.instruments["dmm"].timeout == 0.5
        assert config.instruments["environment"].retry == RetryPolicy(attempts=2)
        with pytest.raises(ValidationError):
            BenchConfig.loads('[instruments.dmm]\nmodel = "34465A"\n')
        with pytest.raises(ValidationError):
            BenchConfig.loads('[instruments.dmm]\nmodel = "34465A"\nresource = "x"\nspeed = 1\n')

    def test_retry_policy_bounds(self) -> None:
        for bad in ({"attempts": 0}, {"attempts": 2.0}, {"deadline": 0}, {"backoff": -1}):
            with pytest.raises(ValidationError):
                RetryPolicy(**bad)  # type: ignore[arg-type]


class TestProperties:
    """Conversions that must be exact for every value, not just the ones we thought of."""

    @settings(max_examples=300, deadline=None)
    @given(st.floats(allow_nan=False, allow_infinity=False))
    def test_what_is_sent_reads_back_as_the_same_double(self, value: float) -> None:
        text = format_number(value)
        assert parse_float(text) == value and "," not in text and " " not in text

    @settings(max_examples=300, deadline=None)
    @given(st.floats(min_value=-25.0, max_value=450.0))
    def test_float32_register_round_trip(self, value: float) -> None:
        setpoint = Register("setpoint", Table.HOLDING, 0, RegisterType.FLOAT32, "°C",
                            access=Access.READ_WRITE, minimum=-25, maximum=450)
        words = setpoint.encode(value)
        assert all(0 <= w <= 0xFFFF for w in words) and len(words) == 2
        assert setpoint.decode(words) == float(np.float32(value))

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.floats(min_value=-1e3, max_value=1e3), min_size=1, max_size=200))
    def test_bulk_parse_matches_python(self, values: list[float]) -> None:
        reply = ",".join(f"{v:+.8E}" for v in values).encode()
        expected = [float(x) for x in reply.split(b",")]
        assert parse_float_array(reply).tolist() == expected


def test_block_decoding_with_gaps_and_mixed_word_orders() -> None:
    from labctl.drivers.registers import Block

    a = Register("a", Table.INPUT, 10, RegisterType.FLOAT32, scale=100.0)
    b = Register("b", Table.INPUT, 13, RegisterType.INT16)  # a gap at 12
    c = Register("c", Table.INPUT, 14, RegisterType.UINT32, word_order=WordOrder.LOW_FIRST)
    words = [0x41C8, 0x0000, 0xDEAD, 0xFFFE, 0x0002, 0x0001]
    simple = Block((b, a))
    assert (simple.first, simple.count) == (10, 4)
    assert simple.decode(words[:4]) == {"a": 2500.0, "b": -2.0}
    mixed = Block((a, b, c))
    assert mixed.decode(words) == {"a": 2500.0, "b": -2.0, "c": 65538.0}
