"""Declarative SCPI settings and measurements, and the base class of SCPI drivers.

In the spirit of pymeasure's ``Instrument.control``/``measurement``: a driver declares each
setting once, as a typed class attribute carrying its get/set commands, its parser, its
validator, its unit and its docstring::

    nplc = Setting("VOLT:DC:NPLC?", "VOLT:DC:NPLC {}", parse=parse_float,
                   validator=OneOf(0.02, 0.06, 0.2, 1, 10, 100), unit="PLC",
                   doc="Integration time of DC volts in power-line cycles.")

Reading ``dmm.nplc`` queries (retried on link faults, since asking changes nothing); setting
it validates *before any I/O* (out of range → ``ValidationError`` naming the property, the
value and the range, never clipped), writes, then drains the error queue and raises
``InstrumentError(code, message, command)`` on any entry. A set is never resent.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, TypeVar, overload

import numpy as np
import numpy.typing as npt

from labctl.drivers.base import InstrumentBase
from labctl.drivers.retry import LINK_FAULTS, RetryPolicy
from labctl.drivers.roles import Identity
from labctl.drivers.transports.base import MessageTransport
from labctl.errors import InstrumentError, ResponseError, ValidationError

_log = logging.getLogger(__name__)

T = TypeVar("T")

#: What SCPI instruments return for an overload or an unavailable reading.
OVERLOAD = 9.9e37
#: Entries to read at most when draining an error queue (32 deep + the overflow entry).
MAX_ERROR_ENTRIES = 34
#: Failures after which a set's outcome is unknown (sent, but its check never came back).
_UNKNOWN_OUTCOME: tuple[type[Exception], ...] = (*LINK_FAULTS, ResponseError)


# --- parsers (text → value; raise ValueError on anything else) ----------------------------


def parse_float(text: str) -> float:
    """An SCPI number (NR1/NR2/NR3): ``+1.000000E+01`` → 10.0. NaN is refused."""
    value = float(text)
    if value != value:  # NaN, the one float unequal to itself
        raise ValueError(f"{text!r} is not a number")
    return value


def parse_int(text: str) -> int:
    """An SCPI integer, also when sent in NR3 form (``+1.000000E+03``)."""
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        value = float(stripped)
        if not value.is_integer():
            raise ValueError(f"{text!r} is not an integer") from None
        return int(value)


def parse_bool(text: str) -> bool:
    """An SCPI boolean: ``1``/``0`` (also ``ON``/``OFF``)."""
    word = text.strip().upper()
    if word in ("1", "ON", "+1"):
        return True
    if word in ("0", "OFF", "+0"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


def parse_word(text: str) -> str:
    """A character reply (``FRON``), with surrounding quotes and blanks removed."""
    word = text.strip().strip('"').strip()
    if not word or not word.replace(":", "").replace("_", "").isalnum():
        raise ValueError(f"{text!r} is not an SCPI word")
    return word.upper()


_ERROR_RE = re.compile(r'^\s*([+-]?\d+)\s*,\s*"(.*)"\s*$')


def parse_error_entry(text: str) -> tuple[int, str]:
    """An error queue entry ``-222,"Data out of range"`` → (-222, "Data out of range")."""
    match = _ERROR_RE.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not an error queue entry")
    return int(match.group(1)), match.group(2)


def parse_idn(text: str) -> Identity:
    """``*IDN?``'s four comma-separated fields → :class:`Identity`."""
    fields = [f.strip() for f in text.strip().split(",")]
    if len(fields) != 4 or not all(fields[:2]):
        raise ValueError(f"{text!r} is not vendor,model,serial,firmware")
    return Identity(vendor=fields[0], model=fields[1], serial=fields[2], firmware=fields[3])


def parse_float_array(raw: bytes | str) -> npt.NDArray[np.float64]:
    """Comma-separated numbers (a ``READ?``/``FETC?`` reply) → float64 array, fast.

    Parsing is done by numpy's C string-to-float conversion over the split fields, not by a
    Python loop (the rate is in the README's benchmark table).
    """
    data = raw.encode("ascii") if isinstance(raw, str) else raw
    if not data.strip():
        raise ValueError("empty reply")
    try:
        return np.array(data.split(b","), dtype=np.float64)
    except ValueError:
        raise ValueError("not a comma-separated list of numbers") from None


def is_overload(value: float) -> bool:
    """Whether a reading is the SCPI overload/invalid marker ``9.9E+37``."""
    return abs(value) >= OVERLOAD * 0.999


# --- validators (value → accepted value; raise ValidationError otherwise) -----------------


class InRange:
    """A real number within ``minimum`` … ``maximum`` (inclusive), in ``unit``. Never clipped."""

    def __init__(self, minimum: float, maximum: float, unit: str = "") -> None:
        self.minimum, self.maximum, self.unit = minimum, maximum, unit

    @property
    def allowed(self) -> str:
        return f"{self.minimum:g} … {self.maximum:g} {self.unit}".rstrip()

    def __call__(self, name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ValidationError(name, value, f"a number, {self.allowed}")
        number = float(value)
        if not (self.minimum <= number <= self.maximum):  # also refuses NaN
            raise ValidationError(name, value, self.allowed)
        return number


class IntRange:
    """An integer within ``minimum`` … ``maximum`` (inclusive)."""

    def __init__(self, minimum: int, maximum: int) -> None:
        self.minimum, self.maximum = minimum, maximum

    @property
    def allowed(self) -> str:
        return f"an integer {self.minimum} … {self.maximum}"

    def __call__(self, name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValidationError(name, value, self.allowed)
        if not self.minimum <= int(value) <= self.maximum:
            raise ValidationError(name, value, self.allowed)
        return int(value)


class OneOf:
    """One of a fixed set of choices: numbers (compared exactly) or words (any case)."""

    def __init__(self, *choices: float | str, unit: str = "") -> None:
        self.choices = choices
        self.unit = unit

    @property
    def allowed(self) -> str:
        shown = ", ".join(f"{c:g}" if isinstance(c, int | float) else c for c in self.choices)
        return f"one of {shown} {self.unit}".rstrip()

    def __call__(self, name: str, value: Any) -> Any:
        if isinstance(value, str):
            for choice in self.choices:
                if isinstance(choice, str) and choice.upper() == value.strip().upper():
                    return choice
        elif isinstance(value, int | float | np.floating | np.integer) and not isinstance(
            value, bool
        ):
            for choice in self.choices:
                if not isinstance(choice, str) and float(value) == float(choice):
                    return choice
        raise ValidationError(name, value, self.allowed)


def format_number(value: float | int | str) -> str:
    """A value as sent to an instrument: integers plainly (``10``), other reals as the
    shortest text that reads back as exactly the same double (``0.1``, ``1.5e-07``), so
    what is sent is what was validated, never a rounded neighbour."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    return str(value)


# --- the descriptor -------------------------------------------------------------------------


class Setting(Generic[T]):
    """A readable (and optionally settable) instrument setting, declared once on the class.

    ``get`` is the query (``"VOLT:DC:RANG?"``); ``set`` the command template with one ``{}``
    for the formatted value, or a function value → command; ``parse`` turns the reply text
    into a value (ValueError → ``ResponseError``); ``validator(name, value)`` accepts or
    raises ``ValidationError`` before anything is sent; ``unit`` and ``doc`` document it.
    """

    def __init__(
        self,
        get: str | None,
        set: str | Callable[[T], str] | None = None,
        *,
        parse: Callable[[str], T],
        validator: Callable[[str, Any], T] | None = None,
        format: Callable[[Any], str] = format_number,
        unit: str = "",
        doc: str = "",
    ) -> None:
        self.get_command = get
        self.set_command = set
        self.parse = parse
        self.validator = validator
        self.format = format
        self.unit = unit
        self.name = "<setting>"
        allowed = getattr(validator, "allowed", "")
        details = [p for p in (f"Unit: {unit}." if unit else "",
                               f"Allowed: {allowed}." if allowed else "") if p]
        self.__doc__ = " ".join([doc, *details]).strip()

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Setting[T]: ...

    @overload
    def __get__(self, obj: ScpiInstrument, owner: type[Any] | None = None) -> T: ...

    def __get__(self, obj: ScpiInstrument | None, owner: type[Any] | None = None) -> Setting[T] | T:
        if obj is None:
            return self
        if self.get_command is None:
            raise AttributeError(f"{type(obj).__name__}.{self.name} cannot be read")
        return obj.query(self.get_command, self.parse, what=self.name)

    def __set__(self, obj: ScpiInstrument, value: T) -> None:
        if self.set_command is None:
            raise AttributeError(f"{type(obj).__name__}.{self.name} is read-only")
        accepted = self.check(obj, value)
        obj.write(self.command_for(accepted))
        obj._after_set(self.name, accepted)

    def check(self, obj: object, value: Any) -> T:
        """Validate ``value`` for ``obj`` without any I/O; return what will be sent."""
        if self.validator is None:
            return value  # type: ignore[no-any-return]
        return self.validator(f"{type(obj).__name__}.{self.name}", value)

    def command_for(self, value: T) -> str:
        """The set command for an already validated value."""
        if self.set_command is None:
            raise AttributeError(f"{self.name} is read-only")
        if callable(self.set_command):
            return self.set_command(value)
        return self.set_command.format(self.format(value))


def Measurement(
    get: str, *, parse: Callable[[str], T], unit: str = "", doc: str = ""
) -> Setting[T]:
    """A read-only quantity (a query that changes nothing, retried on link faults)."""
    return Setting(get, None, parse=parse, unit=unit, doc=doc)


# --- the base class -------------------------------------------------------------------------


class ScpiInstrument(InstrumentBase):
    """Base of SCPI drivers: queries with bounded retry, checked sets, ``*IDN?``.

    ``error_query`` is the model's error-queue query (``SYST:ERR?``; the 5522A's ``ERR?``).
    """

    error_query: ClassVar[str] = "SYST:ERR?"

    def __init__(self, transport: MessageTransport, *, retry: RetryPolicy | None = None) -> None:
        super().__init__(transport, retry=retry)
        self._transport: MessageTransport = transport

    # --- queries ------------------------------------------------------------------------

    def query(
        self,
        command: str,
        parse: Callable[[str], T],
        *,
        what: str | None = None,
        retry: bool = True,
        timeout: float | None = None,
    ) -> T:
        """Ask ``command`` and parse the reply; a query that changes nothing (``retry``) is
        asked again after a timeout, a dropped connection (after reconnecting) or a garbled
        reply, within the retry policy. Parse failures become ``ResponseError``."""
        return self._exchange(command, retry, self._ask, command, parse, what, timeout)

    def _ask(self, limit: float | None, command: str, parse: Callable[[str], T],
             what: str | None, timeout: float | None) -> T:
        """One attempt of :meth:`query` (the caller holds the lock; ``limit``: a retry's)."""
        text = self._transport.query(command, _within(timeout, limit, self._transport))
        try:
            return parse(text)
        except (ValueError, TypeError) as exc:
            if not text.strip():
                # A query the instrument refused still gets one (empty) reply line and
                # queues the reason: report that, it is not a link fault to retry.
                self.check_errors(command)
            raise ResponseError(self.resource, command, text,
                                _expected(what or command, parse)) from exc

    def query_bytes(
        self,
        command: str,
        parse: Callable[[bytes], T],
        *,
        what: str | None = None,
        retry: bool = True,
        timeout: float | None = None,
    ) -> T:
        """Like :meth:`query`, with the reply handed to ``parse`` as bytes (no str copy):
        for long numeric replies parsed in bulk."""
        return self._exchange(command, retry, self._ask_bytes, command, parse, what,
                              timeout)

    def _ask_bytes(self, limit: float | None, command: str, parse: Callable[[bytes], T],
                   what: str | None, timeout: float | None) -> T:
        """One attempt of :meth:`query_bytes` (the caller holds the lock)."""
        raw = self._transport.query_bytes(command, _within(timeout, limit, self._transport))
        try:
            return parse(raw)
        except (ValueError, TypeError) as exc:
            shown = raw[:80] + (b"..." if len(raw) > 80 else b"")
            raise ResponseError(self.resource, command, shown,
                                _expected(what or command, parse)) from exc

    def _after_set(self, name: str, value: object) -> None:
        """Called after a declared setting was set successfully (drivers that cache derived
        state override this)."""

    # --- sets -----------------------------------------------------------------------------

    def write(self, command: str) -> None:
        """Send a state-changing command once, then drain the error queue (raises on entry).

        Never resent: if the link fails, the command's outcome is unknown and the error
        says so. The caller decides what to do (usually: make safe and stop).
        """
        try:
            with self._lock:  # the command and its error check, with nothing in between
                self._transport.write(command)
                self.check_errors(command)
        except _UNKNOWN_OUTCOME as exc:  # the check failed, not the instrument
            exc.add_note(f"{self.resource}: outcome of {command!r} unknown (it was not resent)")
            raise

    def errors(self) -> list[tuple[int, str]]:
        """Drain the error queue: every entry, oldest first (empty when there was none)."""
        with self._lock:
            return self._drain()

    def _drain(self) -> list[tuple[int, str]]:
        entries: list[tuple[int, str]] = []
        for _ in range(MAX_ERROR_ENTRIES):
            try:
                code, message = parse_error_entry(self._transport.query(self.error_query))
            except ValueError as exc:
                # A garbled entry may have left the stream out of step: start afresh.
                self._transport.reconnect()
                raise ResponseError(self.resource, self.error_query, str(exc),
                                    'an entry <code>,"<message>"') from exc
            if code == 0:
                return entries
            entries.append((code, message))
        return entries

    def check_errors(self, command: str | None = None) -> None:
        """Raise ``InstrumentError`` for the oldest entry in the queue, if any (all drained)."""
        entries = self.errors()
        if not entries:
            return
        code, message = entries[0]
        if len(entries) > 1:
            message += "; then " + "; ".join(f"{c},{m!r}" for c, m in entries[1:])
        raise InstrumentError(self.resource, code, message, command)

    def write_all(self, commands: Sequence[str]) -> None:
        """Send several set commands in order, each checked (stops at the first error)."""
        for command in commands:
            self.write(command)

    # --- common commands ----------------------------------------------------------------

    def identify(self) -> Identity:
        """Parsed ``*IDN?``."""
        return self.query("*IDN?", parse_idn, what="identity")

    def clear_status(self) -> None:
        """``*CLS``: empty the error queue (old entries must not be blamed on our commands)."""
        self._transport.write("*CLS")

    def reset(self) -> None:
        """``*RST``: the instrument's power-on state (for the calibrator, standby at 0 V)."""
        self.write("*RST")

    def wait_complete(self) -> None:
        """``*OPC?``: block until pending operations finished."""
        self.query("*OPC?", parse_int, what="operation complete", retry=False)

    def settings(self) -> dict[str, object]:
        """Every declared setting (readable and settable) by name, read now (for snapshots)."""
        out: dict[str, object] = {}
        for klass in reversed(type(self).__mro__):
            for name, attr in vars(klass).items():
                if isinstance(attr, Setting) and attr.get_command and attr.set_command:
                    out[name] = getattr(self, name)
        return out


#: What each parser accepts, in words, for ``ResponseError.expected``.
EXPECTED: dict[Callable[..., Any], str] = {
    parse_float: "a number",
    parse_int: "an integer",
    parse_bool: "1 or 0",
    parse_word: "an SCPI word",
    parse_error_entry: 'an error entry <code>,"<message>"',
    parse_idn: "vendor,model,serial,firmware",
    parse_float_array: "comma-separated numbers",
}


def _within(timeout: float | None, limit: float | None, transport: MessageTransport
            ) -> float | None:
    """The reply timeout for one attempt: the caller's (or the link's), capped by ``limit``."""
    if limit is None:
        return timeout
    return min(transport.timeout if timeout is None else timeout, limit)


def _expected(what: str, parse: Callable[..., Any]) -> str:
    return f"{EXPECTED.get(parse, 'a valid reply')} (for {what})"
