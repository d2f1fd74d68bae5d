"""Modbus register maps as data, and their conversion to and from SI values.

A device's map is a tuple of :class:`Register` rows copied from its manual (name, table,
address, type, word order, scale, unit, access, valid range), so a reviewer compares the
table with the manual line by line instead of reading code. Conversion uses ``struct`` on
the registers' big-endian bytes; no Modbus library is needed here.
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from itertools import pairwise

from labctl.errors import ValidationError


class Table(Enum):
    """The Modbus data table a register lives in."""

    HOLDING = "holding"  # read/write, function 3 / 6 / 16
    INPUT = "input"  # read-only, function 4


class RegisterType(Enum):
    """How a value is stored: (struct format of its big-endian bytes, number of registers)."""

    UINT16 = (">H", 1)
    INT16 = (">h", 1)
    UINT32 = (">I", 2)
    INT32 = (">i", 2)
    FLOAT32 = (">f", 2)

    @property
    def words(self) -> int:
        return self.value[1]


class WordOrder(Enum):
    """Order of the 16-bit words of a 32-bit value (bytes within a word are big-endian)."""

    HIGH_FIRST = "ABCD"  # the Modbus convention and the bench's: high word at the lower address
    LOW_FIRST = "CDAB"


class Access(Enum):
    READ = "r"
    READ_WRITE = "rw"


@dataclass(frozen=True)
class Register:
    """One quantity in a device's register map.

    The SI value is ``raw × scale`` (e.g. a pressure register in hPa has ``scale=100`` and
    ``unit="Pa"``). ``minimum``/``maximum`` bound what may be written (and, for sensors, what
    is physically plausible) in the SI unit; ``None`` means unbounded.
    """

    name: str
    table: Table
    address: int
    type: RegisterType
    unit: str = ""
    access: Access = Access.READ
    scale: float = 1.0
    word_order: WordOrder = WordOrder.HIGH_FIRST
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""
    # Derived once (enum attribute access is slow on a hot read path).
    _struct: struct.Struct = field(init=False, repr=False, compare=False)
    _count: int = field(init=False, repr=False, compare=False)
    _low: float = field(init=False, repr=False, compare=False)  # minimum, or −∞
    _high: float = field(init=False, repr=False, compare=False)  # maximum, or +∞

    def __post_init__(self) -> None:
        object.__setattr__(self, "_struct", struct.Struct(self.type.value[0]))
        object.__setattr__(self, "_count", self.type.value[1])
        object.__setattr__(self, "_low", -math.inf if self.minimum is None else self.minimum)
        object.__setattr__(self, "_high", math.inf if self.maximum is None else self.maximum)
        if not 0 <= self.address <= 0xFFFF - (self.type.words - 1):
            raise ValidationError(f"{self.name}.address", self.address, "0 … 65535")
        if self.access is Access.READ_WRITE and self.table is Table.INPUT:
            raise ValidationError(f"{self.name}.access", self.access, "READ for input registers")
        if not (math.isfinite(self.scale) and self.scale != 0):
            raise ValidationError(f"{self.name}.scale", self.scale, "a finite non-zero factor")

    @property
    def count(self) -> int:
        """How many 16-bit registers the value occupies."""
        return self._count

    @property
    def allowed(self) -> str:
        """The valid range as people read it, for error messages."""
        lo = "−∞" if self.minimum is None else f"{self.minimum:g}"
        hi = "∞" if self.maximum is None else f"{self.maximum:g}"
        return f"{lo} … {hi} {self.unit}".rstrip()

    def in_range(self, value: float) -> bool:
        """Whether an SI value lies within ``minimum`` … ``maximum`` (NaN never does)."""
        return self._low <= value <= self._high  # False for NaN: every comparison with it is

    def decode(self, words: Sequence[int]) -> float:
        """The SI value of this register's raw 16-bit ``words`` (exactly :attr:`count`)."""
        if len(words) != self._count:
            raise ValidationError(f"{self.name} words", list(words), f"{self._count} registers")
        ordered = words if self.word_order is WordOrder.HIGH_FIRST else tuple(reversed(words))
        raw = self._struct.unpack(struct.pack(f">{len(ordered)}H", *ordered))[0]
        return float(raw) * self.scale if self.scale != 1.0 else float(raw)

    def encode(self, value: float) -> list[int]:
        """The raw words for an SI ``value``; raises ``ValidationError`` if it is not writable,
        outside ``minimum`` … ``maximum``, or not representable (never clipped or rounded to fit).
        """
        if self.access is not Access.READ_WRITE:
            raise ValidationError(self.name, value, "nothing: the register is read-only")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(self.name, value, f"a number, {self.allowed}")
        if not self.in_range(float(value)):
            raise ValidationError(self.name, value, self.allowed)
        raw: float | int = value / self.scale
        fmt = self.type.value[0]
        if fmt != ">f":
            if not float(raw).is_integer():
                raise ValidationError(self.name, value, f"a multiple of {self.scale:g} {self.unit}")
            raw = int(raw)
        try:
            packed = struct.pack(fmt, raw)
        except struct.error:
            raise ValidationError(self.name, value, f"a value fitting {self.type.name}") from None
        words = list(struct.unpack(f">{len(packed) // 2}H", packed))
        return words if self.word_order is WordOrder.HIGH_FIRST else words[::-1]


class Block:
    """Registers of one table read together: where the read starts, how long it is, and a
    decoder compiled once for the layout.

    When every register is high-word-first and none overlap, the whole block is decoded by a
    single ``struct`` format (pad bytes for gaps) straight from the response bytes, e.g.
    ``>fffH`` for the THP-1's reading; otherwise register by register.
    """

    def __init__(self, registers: Iterable[Register]) -> None:
        self.registers = tuple(registers)
        self.table, self.first, self.count = span(self.registers)
        self.what = f"read {self.table.value} {self.first}+{self.count}"
        ordered = sorted(self.registers, key=lambda r: r.address)
        simple = all(r.word_order is WordOrder.HIGH_FIRST for r in ordered) and all(
            a.address + a.count <= b.address for a, b in pairwise(ordered))
        self._names = tuple(r.name for r in ordered)
        self._scales = tuple(float(r.scale) for r in ordered)  # float: int × it is a float
        self._scaled = any(scale != 1.0 for scale in self._scales)
        self._words = struct.Struct(f">{self.count}H")
        self._whole: struct.Struct | None = None
        # Where each of ``registers`` (as given) sits among the address-ordered values.
        self._order = tuple(ordered.index(r) for r in self.registers)
        self._in_order = self._order == tuple(range(len(ordered)))
        if simple:
            fmt, at = ">", self.first
            for reg in ordered:
                fmt += "x" * (2 * (reg.address - at)) + reg._struct.format.lstrip(">")
                at = reg.address + reg.count
            self._whole = struct.Struct(fmt)

    def decode(self, words: Sequence[int]) -> dict[str, float]:
        """{name: SI value} from the ``count`` words read from ``first``."""
        return self.decode_bytes(self._words.pack(*words))

    def decode_bytes(self, data: bytes) -> dict[str, float]:
        """{name: SI value} from the ``2 × count`` big-endian bytes read from ``first``."""
        if self._whole is None:
            words = self._words.unpack(data)
            return {reg.name: reg.decode(words[reg.address - self.first:
                                               reg.address - self.first + reg.count])
                    for reg in self.registers}
        return dict(zip(self._names, self._si(self._whole.unpack(data)), strict=True))

    def values(self, data: bytes) -> tuple[float, ...]:
        """The SI values of :attr:`registers`, in the order given, from the ``2 × count``
        big-endian bytes read from ``first`` (no dictionary: for hot paths)."""
        if self._whole is None:
            decoded = self.decode_bytes(data)
            return tuple(decoded[reg.name] for reg in self.registers)
        ordered = self._si(self._whole.unpack(data))
        return ordered if self._in_order else tuple(ordered[i] for i in self._order)

    def _si(self, raw: tuple[int | float, ...]) -> tuple[float, ...]:
        # raw × its (float) scale is a float also for integer registers and for scale 1.0.
        return tuple(map(operator.mul, raw, self._scales))


@lru_cache(maxsize=256)
def block(registers: tuple[Register, ...]) -> Block:
    """The (cached) :class:`Block` for a tuple of registers."""
    return Block(registers)


def span(registers: Iterable[Register]) -> tuple[Table, int, int]:
    """The (table, first address, count) of one read covering all ``registers``."""
    regs = list(registers)
    tables = {r.table for r in regs}
    if len(tables) != 1:
        raise ValidationError("registers", [r.name for r in regs], "registers of one table")
    first = min(r.address for r in regs)
    last = max(r.address + r.count for r in regs)
    return regs[0].table, first, last - first


def decode_block(
    registers: Iterable[Register], first: int, words: Sequence[int]
) -> dict[str, float]:
    """Decode each register from a block of ``words`` read starting at address ``first``."""
    out: dict[str, float] = {}
    for reg in registers:
        start = reg.address - first
        out[reg.name] = reg.decode(words[start : start + reg.count])
    return out
