"""Modbus register maps of the simulated devices, as data: address, type, reader, writer.

Reads compute live values from the device model at the moment of the request; writes are
decoded, validated (all of them first, then applied: nothing half-done) and handed to the
model. 32-bit values are IEEE-754 / unsigned, big-endian, high word first ("ABCD").
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

RegisterType = Literal["float32", "uint32", "uint16"]
_WORDS = {"float32": 2, "uint32": 2, "uint16": 1}

ILLEGAL_FUNCTION = 1
ILLEGAL_ADDRESS = 2
ILLEGAL_VALUE = 3


class ModbusDeviceError(Exception):
    """The device answers a request with Modbus exception ``code`` (2 address, 3 value)."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"Modbus exception {code}: {reason}")


def encode(kind: RegisterType, value: float | int) -> list[int]:
    """Register words of ``value`` (ABCD order for 32-bit types)."""
    if kind == "float32":
        hi, lo = struct.unpack(">HH", struct.pack(">f", float(value)))
        return [hi, lo]
    if kind == "uint32":
        v = int(value) & 0xFFFFFFFF
        return [v >> 16, v & 0xFFFF]
    return [int(value) & 0xFFFF]


def decode(kind: RegisterType, words: Sequence[int]) -> float | int:
    """Value of the register words (ABCD order for 32-bit types)."""
    if kind == "float32":
        return float(struct.unpack(">f", struct.pack(">HH", words[0], words[1]))[0])
    if kind == "uint32":
        return (words[0] << 16) | words[1]
    return int(words[0])


@dataclass(frozen=True)
class Register:
    """One mapped quantity: ``read()`` gives its value now; ``write(v)`` validates and sets it.

    ``write`` raises :class:`ModbusDeviceError` (code 3) for a value outside its range and
    must not change anything in that case. ``None`` means read-only.
    """

    address: int
    kind: RegisterType
    name: str
    read: Callable[[], float | int]
    write: Callable[[float | int], None] | None = None
    validate: Callable[[float | int], None] | None = None

    @property
    def words(self) -> int:
        """Number of 16-bit registers it occupies."""
        return _WORDS[self.kind]


class RegisterTable:
    """A table (holding or input registers) of one device."""

    def __init__(self, registers: Sequence[Register]) -> None:
        self._by_word: dict[int, Register] = {}
        for reg in registers:
            for a in range(reg.address, reg.address + reg.words):
                if a in self._by_word:
                    raise ValueError(f"register {reg.name} overlaps {self._by_word[a].name} at {a}")
                self._by_word[a] = reg
        self.registers = tuple(registers)

    def read(self, address: int, count: int) -> list[int]:
        """Words ``address … address+count−1``; exception 2 if any is not mapped."""
        words: list[int] = []
        cache: dict[int, list[int]] = {}
        for a in range(address, address + count):
            reg = self._by_word.get(a)
            if reg is None:
                raise ModbusDeviceError(ILLEGAL_ADDRESS, f"address {a} is not mapped")
            if reg.address not in cache:
                cache[reg.address] = encode(reg.kind, reg.read())
            words.append(cache[reg.address][a - reg.address])
        return words

    def write(self, address: int, values: Sequence[int]) -> None:
        """Write words starting at ``address``: whole registers only, validated first.

        Exception 2: an address not mapped or read-only. Exception 3: half of a 32-bit
        value, or a value the device does not accept. Nothing is written on any exception.
        """
        pending: list[tuple[Register, float | int]] = []
        a = address
        end = address + len(values)
        while a < end:
            reg = self._by_word.get(a)
            if reg is None:
                raise ModbusDeviceError(ILLEGAL_ADDRESS, f"address {a} is not mapped")
            if reg.write is None:
                raise ModbusDeviceError(ILLEGAL_ADDRESS, f"{reg.name} at {a} is read-only")
            if a != reg.address or a + reg.words > end:
                raise ModbusDeviceError(
                    ILLEGAL_VALUE, f"{reg.name} is {reg.words} registers from {reg.address}: "
                    "write all of it in one request"
                )
            value = decode(reg.kind, values[a - address : a - address + reg.words])
            if reg.validate is not None:
                reg.validate(value)
            pending.append((reg, value))
            a += reg.words
        for reg, value in pending:
            assert reg.write is not None
            reg.write(value)
