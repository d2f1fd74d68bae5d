"""SCPI instrument core: header matching, parameters, the error queue, IEEE-488.2 commands.

A device model subclasses :class:`ScpiModel`, registers its commands with SCPI mnemonic
patterns (``"CONFigure:VOLTage[:DC]"``: upper-case letters are the short form, brackets mark
an optional node) and implements the physics. The model knows nothing about sockets: the
server feeds it one line at a time and writes back the replies.

Rules shared by every simulated SCPI instrument (see docs/simulated-bench.md):

- Headers are case-insensitive, short or long form, with an optional leading ``:``.
- ``;`` separates commands on one line; each command is parsed from the root (no SCPI
  "current path" carried across ``;``).
- Every query gets exactly one reply line, also when it fails: the error goes to the queue
  and the reply is empty (or the instrument's overload value where the contract says so).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

#: Standard SCPI error messages used by the simulators (SCPI-99 vol. 2, chapter 21).
MESSAGES: dict[int, str] = {
    -104: "Data type error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -221: "Settings conflict",
    -222: "Data out of range",
    -230: "Data corrupt or stale",
    -350: "Queue overflow",
}

#: Capacity of the error queue; the 33rd error replaces the last entry with -350.
ERROR_QUEUE_SIZE = 32

# IEEE-488.2 Standard Event Status Register bits.
ESR_OPC = 1
ESR_QUERY_ERROR = 4
ESR_DEVICE_ERROR = 8
ESR_EXECUTION_ERROR = 16
ESR_COMMAND_ERROR = 32


class ScpiError(Exception):
    """A command failed: ``code`` and ``message`` go to the error queue.

    ``reply`` is what a failed query answers instead of a value (default: an empty line).
    """

    def __init__(self, code: int, message: str | None = None, reply: str = "") -> None:
        self.code = code
        self.message = message if message is not None else MESSAGES.get(code, "Error")
        self.reply = reply
        super().__init__(f"{code},{self.message}")


class ErrorQueue:
    """The instrument's FIFO error queue (thread-safe), capacity :data:`ERROR_QUEUE_SIZE`."""

    def __init__(self) -> None:
        self._items: deque[tuple[int, str]] = deque()
        self._lock = threading.Lock()

    def push(self, code: int, message: str) -> None:
        """Queue one error; on overflow the newest entry becomes ``-350,"Queue overflow"``."""
        with self._lock:
            if len(self._items) >= ERROR_QUEUE_SIZE:
                self._items[-1] = (-350, MESSAGES[-350])
            else:
                self._items.append((code, message))

    def pop(self) -> tuple[int, str] | None:
        """The oldest error, removed from the queue; ``None`` when empty."""
        with self._lock:
            return self._items.popleft() if self._items else None

    def clear(self) -> None:
        """Empty the queue (``*CLS``)."""
        with self._lock:
            self._items.clear()

    def snapshot(self) -> list[tuple[int, str]]:
        """The queued errors, oldest first, without removing them."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


# --- headers ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    short: str
    long: str
    optional: bool


def _compile(pattern: str) -> tuple[_Node, ...]:
    """Turn ``"CONFigure:VOLTage[:DC]"`` into nodes (short form, long form, optional)."""
    nodes: list[_Node] = []
    rest = pattern.lstrip(":")
    while rest:
        optional = rest.startswith("[")
        if optional:
            end = rest.index("]")
            word, rest = rest[1:end].strip(":"), rest[end + 1 :].lstrip(":")
        else:
            cut = min((i for i in (rest.find(":"), rest.find("[")) if i >= 0), default=len(rest))
            word, rest = rest[:cut], rest[cut:].lstrip(":")
        short = "".join(c for c in word if not c.islower())
        nodes.append(_Node(short=short.upper(), long=word.upper(), optional=optional))
    return tuple(nodes)


def _matches(tokens: list[str], nodes: tuple[_Node, ...]) -> bool:
    if not nodes:
        return not tokens
    node = nodes[0]
    if tokens and tokens[0] in (node.short, node.long) and _matches(tokens[1:], nodes[1:]):
        return True
    return node.optional and _matches(tokens, nodes[1:])


Handler = Callable[[list[str]], str | None]


@dataclass(frozen=True)
class _Command:
    nodes: tuple[_Node, ...]
    query: bool
    handler: Handler


# --- parameters -------------------------------------------------------------------------


def parse_number(text: str) -> float:
    """A SCPI decimal parameter as float; -104 if it is not a number."""
    try:
        value = float(text)
    except ValueError:
        raise ScpiError(-104) from None
    if not math.isfinite(value):
        raise ScpiError(-104)
    return value


def parse_bool(text: str) -> bool:
    """A SCPI boolean (``ON``/``OFF``/``1``/``0``); -104 otherwise."""
    word = text.upper()
    if word in {"ON", "1"}:
        return True
    if word in {"OFF", "0"}:
        return False
    raise ScpiError(-104)


def one_param(params: list[str], required: bool = True) -> str | None:
    """The single parameter of a command: -109 if missing and required, -108 if several."""
    if len(params) > 1:
        raise ScpiError(-108)
    if not params:
        if required:
            raise ScpiError(-109)
        return None
    return params[0]


def fmt_float(value: float) -> str:
    """Keysight-style number: ``+1.00000000E+01``."""
    return f"{value:+.8E}"


class ScpiModel:
    """Base of a simulated SCPI instrument: command table, error queue, ESR, common commands.

    ``lock`` is the bench-wide physics lock: every command runs under it, so a test thread
    reading ``truth()`` or moving the room never sees half an update.
    """

    #: ``*IDN?`` reply; subclasses set it.
    idn: str = "SIMULATORS,SCPI,0,0"

    def __init__(self, lock: threading.RLock | None = None) -> None:
        self.lock = lock or threading.RLock()
        self.errors = ErrorQueue()
        self.esr = 0
        self._commands: list[_Command] = []
        self.add("*IDN", self.bare(lambda: self.idn), query=True)
        self.add("*RST", self.bare(self.reset))
        self.add("*CLS", self.bare(self.clear_status))
        self.add("*OPC", self.bare(self._set_opc))
        self.add("*OPC", self.bare(lambda: "1"), query=True)
        self.add("*WAI", self.bare(lambda: None))
        self.add("*ESR", self.bare(self._read_esr), query=True)
        self.add("*TST", self.bare(lambda: "0"), query=True)

    # --- for subclasses -----------------------------------------------------------------

    def add(self, pattern: str, handler: Handler, query: bool = False) -> None:
        """Register a command (``query=True`` for the ``?`` form)."""
        self._commands.append(_Command(_compile(pattern), query, handler))

    def reset(self) -> None:
        """``*RST``: the instrument's power-on settings (the error queue is kept, per SCPI)."""

    def push_error(self, code: int, message: str | None = None) -> None:
        """Queue an error as the instrument would (also usable by tests to inject one)."""
        if not isinstance(code, int) or code == 0:
            raise ValueError(f"push_error code={code!r} is not allowed: expected a non-zero int")
        self.errors.push(code, message if message is not None else MESSAGES.get(code, "Error"))
        if -199 <= code <= -100:
            self.esr |= ESR_COMMAND_ERROR
        elif -299 <= code <= -200:
            self.esr |= ESR_EXECUTION_ERROR
        elif -499 <= code <= -400:
            self.esr |= ESR_QUERY_ERROR
        else:
            self.esr |= ESR_DEVICE_ERROR

    def clear_status(self) -> None:
        """``*CLS``: empty the error queue and the event status register."""
        self.errors.clear()
        self.esr = 0

    def pop_error(self) -> tuple[int, str]:
        """Oldest error as (code, message); ``(0, "No error")`` when the queue is empty."""
        return self.errors.pop() or (0, "No error")

    # --- execution ----------------------------------------------------------------------

    def execute_line(self, line: str) -> list[str]:
        """Run every ``;``-separated command of one input line; one reply per query."""
        replies: list[str] = []
        for command in split_commands(line):
            reply = self.execute(command)
            if reply is not None:
                replies.append(reply)
        return replies

    def execute(self, command: str) -> str | None:
        """Run one command; the reply line for a query, ``None`` otherwise."""
        # The header ends at the first white space (a space or a tab, per IEEE 488.2).
        header, *tail = command.strip().split(maxsplit=1)
        rest = tail[0] if tail else ""
        is_query = header.endswith("?")
        tokens = header.lstrip(":").rstrip("?").upper().split(":")
        params = [p.strip() for p in rest.split(",")] if rest.strip() else []
        with self.lock:
            for cmd in self._commands:
                if cmd.query == is_query and _matches(tokens, cmd.nodes):
                    try:
                        reply = cmd.handler(params)
                    except ScpiError as err:
                        self.push_error(err.code, err.message)
                        return err.reply if is_query else None
                    if is_query:
                        return "" if reply is None else reply
                    return None
            self.push_error(-113)
            return "" if is_query else None

    # --- helpers ------------------------------------------------------------------------

    @staticmethod
    def bare(action: Callable[[], str | None]) -> Handler:
        """A handler for a command without parameters (-108 if any are given)."""

        def handler(params: list[str]) -> str | None:
            if params:
                raise ScpiError(-108)
            return action()

        return handler

    def _set_opc(self) -> None:
        self.esr |= ESR_OPC

    def _read_esr(self) -> str:
        value, self.esr = self.esr, 0
        return str(value)


def split_commands(line: str) -> list[str]:
    """The non-empty ``;``-separated commands of one line (quoted strings kept whole)."""
    parts: list[str] = []
    current: list[str] = []
    quote: str | None = None
    for ch in line:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            current.append(ch)
        elif ch == ";":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]
