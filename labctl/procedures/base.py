"""What a procedure is: metadata, parameters, a test-point table and short step code.

A procedure declares the instrument roles it needs (which are standards, which is the device
under calibration), its environmental limits and its test points; its ``execute`` walks the
points the runner hands it (``ctx.points()``) and commits one :class:`PointResult` per point
(``ctx.commit()``). Holding, journaling, resuming, invalidating and safety are the runner's.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from labctl.errors import ValidationError
from labctl.procedures.environment import EnvironmentLimits, EnvironmentSample
from labctl.procedures.interfaces import RegisteredStandard
from labctl.procedures.results import PointResult
from labctl.quantities import ProcedureKind, Quantity

if TYPE_CHECKING:
    from labctl.procedures.clock import Clock

T = TypeVar("T")

#: DMM integration times a run may ask for, in power-line cycles (the choices a 6½-digit DMM
#: such as the 34465A offers); a run parameter ``nplc`` outside them is refused up front.
NPLC_CHOICES: tuple[float, ...] = (0.02, 0.06, 0.2, 1.0, 10.0, 100.0)


def check_nplc(value: float) -> None:
    """Refuse an ``nplc`` run parameter that is not one of :data:`NPLC_CHOICES`."""
    if value not in NPLC_CHOICES:
        raise ValidationError("nplc", value, "one of " + ", ".join(
            f"{n:g}" for n in NPLC_CHOICES) + " power-line cycles")


class TestPoint(Protocol):
    """A row of a test-point table; ``key`` identifies it for journaling and resume."""

    @property
    def key(self) -> str: ...


@dataclass(frozen=True)
class RoleSpec:
    """An instrument role a procedure needs.

    ``kind``: "standard" (must be registered, in service and in date), "dut" (the item being
    calibrated) or "auxiliary" (used but not a standard, e.g. the room sensor).
    """

    kind: str
    interface: type
    description: str = ""


@dataclass(frozen=True)
class ProcedureInfo:
    """A procedure's identity and requirements, as a metrologist reviews them."""

    id: str
    version: str
    title: str
    quantity: Quantity
    device_type: str
    roles: Mapping[str, RoleSpec]
    environment: EnvironmentLimits
    environment_role: str = "environment"
    #: A certificate of this procedure states the standards used: only a procedure that
    #: needs none (e.g. a functional check against nothing) declares False.
    needs_standards: bool = True
    #: ... and identifies the item by serial number or identifier (False: e.g. a batch).
    needs_item_identification: bool = True
    #: A calibration (for a certificate) or an intermediate check of a standard (for its
    #: control chart); a check's "dut" role is the standard checked.
    kind: ProcedureKind = ProcedureKind.CALIBRATION

    @property
    def standard_roles(self) -> tuple[str, ...]:
        return tuple(r for r, s in self.roles.items() if s.kind == "standard")

    @property
    def dut_role(self) -> str | None:
        return next((r for r, s in self.roles.items() if s.kind == "dut"), None)


class RunContext(Protocol):
    """What the runner gives a procedure while it executes."""

    run_id: str
    clock: Clock
    standards: Mapping[str, RegisteredStandard]

    def instrument(self, role: str, interface: Any) -> Any:
        """The bench's instrument for ``role`` (``interface`` documents the role's protocol;
        annotate the variable with it)."""
        ...

    def points(self, table: Sequence[Any]) -> Iterator[Any]: ...

    def commit(self, result: PointResult) -> None: ...

    def is_done(self, key: str) -> bool:
        """Whether the point ``key`` is already on record (a resumed run)."""
        ...

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> datetime: ...

    def room(self) -> EnvironmentSample | None:
        """The latest sample of the room's conditions (temperature drives some budgets)."""
        ...

    def log(self, message: str) -> None: ...


def check_parameter(name: str, kind: Any, value: Any) -> Any:
    """``value`` checked against the parameter's declared type before the procedure sees it:
    numbers finite (no NaN, no infinity) and never a boolean, lists of numbers as tuples.
    Raises ``ValidationError`` naming the field, the value and what is allowed."""
    def number(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValidationError(name, v, "a finite number")
        if not math.isfinite(v):  # shown as text: NaN has no JSON form
            raise ValidationError(name, str(v), "a finite number")
        return float(v)

    if kind is float:
        return number(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(name, value, "an integer")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise ValidationError(name, value, "true or false")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise ValidationError(name, value, "text")
        return value
    if typing.get_origin(kind) is tuple:
        if isinstance(value, str | bytes) or not isinstance(value, list | tuple):
            raise ValidationError(name, value, "a list of finite numbers")
        return tuple(number(v) for v in value)
    return value


class Procedure(ABC):
    """Base of every procedure. Subclasses set ``info`` and ``Parameters``."""

    info: ClassVar[ProcedureInfo]
    #: A frozen dataclass of the procedure's parameters (all with defaults).
    Parameters: ClassVar[type]
    #: Parameters that name a file on the machine that runs the procedure (a point table).
    #: Only a local user may set them (``labctl run --param``); over the API they are
    #: refused, so a run uses the procedure's own reviewed tables and no server path is read.
    FILE_PARAMETERS: ClassVar[tuple[str, ...]] = ()

    def __init__(self, parameters: Any | None = None) -> None:
        self.parameters = parameters if parameters is not None else self.Parameters()

    @classmethod
    def from_parameters(cls, data: Mapping[str, Any]) -> Procedure:
        """Build from plain data (journal, API), rejecting unknown or mistyped fields."""
        names = {f.name for f in dataclasses.fields(cls.Parameters)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValidationError(f"{cls.info.id} parameter", unknown[0],
                                  "one of " + ", ".join(sorted(names)))
        hints = typing.get_type_hints(cls.Parameters)
        checked = {name: check_parameter(name, hints[name], value)
                   for name, value in data.items()}
        return cls(cls.Parameters(**checked))

    def parameters_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.parameters)

    @abstractmethod
    def test_points(self) -> Sequence[TestPoint]:
        """The points this run will measure, in order."""

    def setup(self, ctx: RunContext) -> None:  # noqa: B027 - optional hook
        """Bring the instruments to a known configuration (no output applied)."""

    @abstractmethod
    def execute(self, ctx: RunContext) -> None:
        """Measure every point from ``ctx.points(self.test_points())``, committing each."""

    @abstractmethod
    def make_safe(self, ctx: RunContext) -> None:
        """Put every output in a safe state (calibrator to standby, source off). Idempotent,
        and must not raise for an instrument that is already unreachable."""

    def teardown(self, ctx: RunContext) -> None:
        """Always runs at the end of a run, however it ended."""
        self.make_safe(ctx)

    def analyse(self, points: Sequence[PointResult], ctx: RunContext) -> dict[str, Any]:
        """Run-level analysis over all committed points (e.g. a fitted curve)."""
        return {}
