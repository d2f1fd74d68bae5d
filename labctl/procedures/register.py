"""A register snapshot: the standards and authorisations a station needs, held locally.

A station normally asks the platform. When it cannot (a remote site, a network outage), it
works from a snapshot the platform exported: the standards on its bench with their status,
due dates and certified errors, and who is authorised for which procedure until when. The
snapshot records when it was taken; a standard's status can only be as fresh as that, which is
why a snapshot older than ``max_age`` is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from labctl.errors import NotFoundError, PreconditionError, ValidationError
from labctl.procedures.interfaces import (
    CheckedDrift,
    Correction,
    RegisteredStandard,
    same_maker,
)


@dataclass(frozen=True)
class Authorisation:
    """``person`` may perform ``procedure_id`` from ``valid_from`` to ``valid_until``."""

    person: str
    procedure_id: str
    valid_from: date
    valid_until: date | None = None

    def holds(self, person: str, procedure_id: str, at: datetime) -> bool:
        day = at.date()
        return (self.person == person and self.procedure_id == procedure_id
                and self.valid_from <= day and (self.valid_until is None
                                                or day <= self.valid_until))



@dataclass(frozen=True)
class RegisterSnapshot:
    """A :class:`~labctl.procedures.interfaces.StandardsRegister` held in memory."""

    standards: tuple[RegisteredStandard, ...]
    authorisations: tuple[Authorisation, ...]
    taken_at: datetime
    max_age: timedelta = field(default=timedelta(days=7))

    def find_standard(self, *, manufacturer: str, model: str, serial_number: str,
                      at: datetime) -> RegisteredStandard:
        if at - self.taken_at > self.max_age:
            taken = self.taken_at.strftime("%Y-%m-%d %H:%M")
            raise PreconditionError(
                "register_snapshot_stale", f"the register snapshot of {taken} UTC is older "
                f"than {self.max_age.days} days: refresh it from the platform")
        for std in self.standards:
            if (std.model.upper() == model.upper() and std.serial_number == serial_number
                    and same_maker(std.manufacturer, manufacturer)):
                return std
        raise NotFoundError("standard", f"{manufacturer} {model} s/n {serial_number}")

    def is_authorised(self, *, person: str, procedure_id: str, at: datetime) -> bool:
        return any(a.holds(person, procedure_id, at) for a in self.authorisations)

    # -- files --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at.isoformat(),
            "max_age_days": self.max_age.days,
            "standards": [_jsonable(asdict(s)) for s in self.standards],
            "authorisations": [_jsonable(asdict(a)) for a in self.authorisations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RegisterSnapshot:
        try:
            standards = tuple(_standard(s) for s in data["standards"])
            auths = tuple(Authorisation(
                person=a["person"], procedure_id=a["procedure_id"],
                valid_from=date.fromisoformat(a["valid_from"]),
                valid_until=date.fromisoformat(a["valid_until"]) if a.get("valid_until")
                else None) for a in data["authorisations"])
            taken = datetime.fromisoformat(data["taken_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationError("register snapshot", type(exc).__name__,
                                  f"standards, authorisations and taken_at ({exc})") from None
        if taken.tzinfo is None:
            raise ValidationError("taken_at", data["taken_at"], "a UTC time with its offset")
        return cls(standards, auths, taken, timedelta(days=int(data.get("max_age_days", 7))))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> RegisterSnapshot:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _standard(data: Mapping[str, Any]) -> RegisteredStandard:
    data = dict(data)
    # snapshots written before a correction carried its gain–offset correlation have none: 0
    data["corrections"] = tuple(Correction(**(c | {"dof": float(c.get("dof", "inf")),
                                                   "correlation": float(c.get("correlation",
                                                                              0.0))}))
                                for c in data.get("corrections", ()))
    if data.get("due_date"):
        data["due_date"] = date.fromisoformat(data["due_date"])
    # snapshots written before the checks' drift was carried have none
    data["drifts"] = tuple(CheckedDrift(**(d | {
        "calibrated_at": datetime.fromisoformat(d["calibrated_at"]),
        "last_check_at": datetime.fromisoformat(d["last_check_at"]),
        "dof": float(d.get("dof", "inf"))})) for d in data.get("drifts", ()))
    return RegisteredStandard(**data)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, date | datetime):
        return obj.isoformat()
    if isinstance(obj, float) and obj == float("inf"):
        return "inf"
    return obj


def snapshot(standards: Iterable[RegisteredStandard], authorisations: Iterable[Authorisation],
             taken_at: datetime) -> RegisterSnapshot:
    """Build a snapshot (convenience for exporters)."""
    return RegisterSnapshot(tuple(standards), tuple(authorisations), taken_at)
