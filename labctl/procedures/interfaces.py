"""What the runner needs from the outside world, as protocols.

Procedures never import the platform: the registry of standards, the personnel
authorisations and the journal reach them through these interfaces, implemented by the
platform (database) and glued in by the CLI / API.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from labctl.errors import PreconditionError, ValidationError
from labctl.procedures.environment import EnvironmentSample
from labctl.procedures.results import PointResult, RunEvent, RunResult
from labctl.quantities import CorrectionParameter, Quantity, RangeLabel, RunStatus, same_range


def same_maker(a: str, b: str) -> bool:
    """Whether two spellings name one maker: their first words, case aside ("Fluke" and
    "FLUKE Corporation"), as registers match a standard to the instrument that identifies
    itself."""
    def key(name: str) -> str:
        return name.strip().split()[0].upper() if name.strip() else ""
    return key(a) == key(b)


@dataclass(frozen=True)
class Correction:
    """A certified error parameter of a standard on one range, with its standard uncertainty.

    ``parameter`` :attr:`~CorrectionParameter.GAIN` is a relative error (unit 1),
    :attr:`~CorrectionParameter.OFFSET` an error at zero (in ``unit``). They describe the
    instrument as its certificate found it: a source's actual output is
    ``setting·(1 + gain) + offset``; a meter reads ``true·(1 + gain) + offset``, so its true
    input is ``(reading − offset)/(1 + gain)``.

    ``quantity`` and ``range_label`` are as the certificate's points state them (a certificate
    from outside may name a quantity labctl has no :class:`Quantity` for, or a range "all");
    :meth:`RegisteredStandard.correction` matches the range in any spelling of it.

    ``dof`` is the effective degrees of freedom of ``u`` (inf: none stated). ``correlation``
    is the correlation coefficient (−1 … 1) of this parameter with the other one on the same
    quantity and range (the gain's with the offset and the offset's with the gain): both come
    from one fit through the certificate's points, so the uncertainty of a correction at x,
    u² = x²u²(gain) + 2x·r·u(gain)·u(offset) + u²(offset), needs it. 0 where they were
    stated independently (and in registers and snapshots that predate it).
    """

    quantity: Quantity | str
    range_label: str
    parameter: CorrectionParameter
    value: float
    u: float
    unit: str
    dof: float = float("inf")
    certificate_number: str = ""
    correlation: float = 0.0

    def correlation_with(self, other: Correction) -> float:
        """r between this parameter and ``other`` for a budget: :attr:`correlation` when they
        are the two parameters of one line (same quantity, range and certificate), else 0.
        Two parameters of one line that state different r are refused (PreconditionError)."""
        if (self.quantity, self.range_label, self.certificate_number) != (
                other.quantity, other.range_label, other.certificate_number) \
                or self.parameter == other.parameter:
            return 0.0
        if self.correlation != other.correlation:
            raise PreconditionError(
                "correction_inconsistent", f"the {self.parameter} and {other.parameter} of "
                f"{self.quantity} on {self.range_label} state different correlations "
                f"({self.correlation} and {other.correlation})", range=self.range_label)
        return self.correlation

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "parameter", CorrectionParameter(self.parameter))
        except ValueError:
            raise ValidationError("correction parameter", self.parameter, "one of " + ", ".join(
                p.value for p in CorrectionParameter)) from None
        if isinstance(self.range_label, RangeLabel):  # on the wire a label is its text
            object.__setattr__(self, "range_label", str(self.range_label))
        if not -1.0 <= self.correlation <= 1.0:
            raise ValidationError(f"correction {self.parameter} correlation",
                                  self.correlation, "a correlation coefficient, -1 <= r <= 1")

    @property
    def range(self) -> RangeLabel | None:
        """The range this correction is certified on (None: "all", or no range named)."""
        return RangeLabel.read(self.range_label)


@dataclass(frozen=True)
class CheckedDrift:
    """A standard's drift since its last calibration at one checked point, estimated by the
    laboratory's intermediate checks (a weighted line through them, ISO/TS 28037; the platform
    fits it, :func:`labctl.uncertainty.drift_fit`).

    The checked value (the standard's output minus its nominal, in ``unit``) moves by
    ``slope`` per second from ``calibrated_at``, with standard uncertainty ``u_slope`` and the
    fit's ``dof``; ``n`` checks, the last at ``last_check_at``; ``chi2_p`` the fit's χ²
    upper-tail probability (``None``: too few checks for one). A budget weighs it against the
    stated-accuracy allowance with :func:`labctl.uncertainty.choose_drift`.
    """

    quantity: Quantity | str
    nominal: float
    unit: str
    calibrated_at: datetime
    slope: float
    u_slope: float
    n: int
    last_check_at: datetime
    dof: float = float("inf")
    chi2_p: float | None = None

    def __post_init__(self) -> None:
        for name in ("nominal", "slope", "u_slope"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or v != v or v in (float("inf"), float("-inf")):
                raise ValidationError(f"checked drift {name}", v, "a finite number")
        if self.u_slope < 0:
            raise ValidationError("checked drift u_slope", self.u_slope, "a value >= 0")
        if self.n < 2:
            raise ValidationError("checked drift n", self.n, "2 or more checks")
        for name in ("calibrated_at", "last_check_at"):
            if getattr(self, name).tzinfo is None:
                raise ValidationError(f"checked drift {name}", getattr(self, name),
                                      "a timezone-aware time")

    def drift_at(self, t: datetime) -> tuple[float, float]:
        """The drift since the calibration at ``t`` and its standard uncertainty (``unit``)."""
        seconds = (t - self.calibrated_at).total_seconds()
        return self.slope * seconds, abs(seconds) * self.u_slope


@dataclass(frozen=True)
class RegisteredStandard:
    """A measurement standard as the registry knows it at a given time."""

    id: str
    description: str
    manufacturer: str
    model: str
    serial_number: str
    status: str  # "in_service", "quarantined", "out_of_tolerance", "retired"
    due_date: date | None
    certificate_number: str | None
    certificate_issuer: str = ""
    corrections: tuple[Correction, ...] = ()
    specification: dict[str, Any] = field(default_factory=dict)
    #: The drift its intermediate checks show since its last calibration, per checked point.
    drifts: tuple[CheckedDrift, ...] = ()

    def correction(self, quantity: Quantity | str, range_label: RangeLabel | str | None,
                   parameter: CorrectionParameter) -> Correction | None:
        """The correction of ``parameter`` on ``range_label`` (``None``: the only range),
        whatever spelling of the range its certificate used ("330mV" is 330 mV)."""
        found = [c for c in self.corrections if c.quantity == quantity
                 and c.parameter == parameter
                 and (range_label is None or same_range(c.range_label, range_label))]
        if range_label is None and len({c.range or c.range_label for c in found}) > 1:
            return None  # ambiguous: the caller must name the range
        return found[0] if found else None


class StandardsRegister(Protocol):
    """The laboratory's registry of standards and personnel authorisations."""

    def find_standard(self, *, manufacturer: str, model: str, serial_number: str,
                      at: datetime) -> RegisteredStandard:
        """The standard with this identity as registered at ``at`` (raises NotFoundError)."""
        ...

    def is_authorised(self, *, person: str, procedure_id: str, at: datetime) -> bool:
        """Whether ``person`` may perform ``procedure_id`` at ``at``."""
        ...


@dataclass(frozen=True)
class RunRecord:
    """A run as journaled: what to run and everything done so far."""

    run_id: str
    procedure_id: str
    procedure_version: str
    parameters: dict[str, Any]
    dut: dict[str, str]
    operator: str
    checker: str
    status: RunStatus
    created: datetime
    points: tuple[PointResult, ...] = ()
    events: tuple[RunEvent, ...] = ()
    samples: tuple[EnvironmentSample, ...] = ()


class Journal(Protocol):
    """Durable record of runs. Every method commits before it returns."""

    def create_run(self, record: RunRecord) -> None: ...

    def load_run(self, run_id: str) -> RunRecord: ...

    def record_point(self, run_id: str, point: PointResult) -> None:
        """Commit a completed point. Idempotent on ``point.key``: a second commit of the same
        key is refused (raises ConflictError), so nothing is measured twice on record."""
        ...

    def record_event(self, run_id: str, event: RunEvent) -> None: ...

    def record_samples(self, run_id: str, samples: Sequence[EnvironmentSample]) -> None: ...

    def set_status(self, run_id: str, status: RunStatus, reason: str = "") -> None: ...

    def record_standards(self, run_id: str, standards: Sequence[dict[str, Any]]) -> None:
        """The standards the run's checks found, each with its ``role``."""
        ...

    def record_instruments(self, run_id: str, instruments: dict[str, dict[str, Any]]) -> None:
        """Role → identity and configuration snapshot."""
        ...

    def record_analysis(self, run_id: str, analysis: dict[str, Any]) -> None: ...

    def result(self, run_id: str) -> RunResult:
        """The run's result as on record: the one place a RunResult is built."""
        ...
