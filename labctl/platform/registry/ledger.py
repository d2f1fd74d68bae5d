"""The primary-standards ledger: a national primary standard's ledger record and its core
components, kept by the national institute that holds it, and the report's aggregates.

- :func:`put_profile`, :func:`add_component`, :func:`update_component`: the holder's staff
  (:func:`labctl.platform.accounts.policy.may_edit_ledger`) create and change them; every rule
  is checked before the first write, each request is one transaction ending in its audit
  event, which carries each changed field with its old and new value;
- :func:`ledger_history`: those changes read back from the audit trail;
- :func:`ledger_entries`: the public ledger, paged;
- :func:`ledger_aggregates`: the report's table (metrology area × fully, partly, not
  self-reliant, suspended) and the share of imported core components with or without a
  domestic alternative; :func:`aggregates_csv` writes it for a spreadsheet.

How the report counts: the four columns are exclusive and add up to the row's total. A
suspended standard is counted in ``suspended`` only, not in its self-reliance class (it
realises nothing while suspended, and the report lists "fully, partly, not self-reliant,
suspended" as four parts of one whole: 185 standards). A standard under renovation still
counts in its class. Percentages are of the row's total (the total row: of all standards),
one decimal, rounded half up, so a row's percentages may add up to 99.9 or 100.1. Only
published national primary standards with a ledger record count; those without one are
``unprofiled``. Components are those of every counted standard, suspended ones included (a
suspended standard still needs its parts to return to service).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from labctl.errors import ConflictError, NotFoundError, PermissionDeniedError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.db import utcnow
from labctl.platform.models.audit import AuditEvent
from labctl.platform.models.base import ReviewState, StandardKind
from labctl.platform.models.ledger import (
    AREAS,
    COMPONENT_FIELDS,
    PROFILE_FIELDS,
    Alternative,
    AreaRow,
    Cell,
    Change,
    ComponentIn,
    ComponentPublic,
    HistoryEntry,
    ImportedComponents,
    LedgerAggregates,
    LedgerEntry,
    LedgerStatus,
    MetrologyArea,
    Origin,
    PrimaryStandardComponent,
    PrimaryStandardProfile,
    ProfileIn,
    SelfReliance,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Page, Standard
from labctl.platform.registry.entries import visible_standard

#: the audit trail's entity type of a ledger record (its components' events too)
ENTITY = "ledger_profile"
MAX_LIMIT = 200
#: the report's columns, in order
COLUMNS = ("fully", "partly", "not", "suspended")


# --- reading one record ------------------------------------------------------------------


def primary_standard(session: Session, identifier: str,
                     principal: Principal | None) -> Standard:
    """The national primary standard ``identifier`` as the caller may see it (published, or
    the holder's people); any other standard has no ledger record: 404."""
    std = visible_standard(session, identifier, principal)
    if std.kind != StandardKind.NATIONAL_PRIMARY:
        raise NotFoundError("national primary standard", identifier)
    return std


def profile_of(session: Session, std: Standard, *,
               lock: bool = False) -> PrimaryStandardProfile | None:
    query = select(PrimaryStandardProfile).where(PrimaryStandardProfile.standard_id == std.id)
    if lock:
        query = query.with_for_update()
    return session.exec(query).first()


def components_of(session: Session,
                  profile_ids: Iterable[int]) -> dict[int, list[PrimaryStandardComponent]]:
    ids = sorted(set(profile_ids))
    out: dict[int, list[PrimaryStandardComponent]] = {i: [] for i in ids}
    if ids:
        for c in session.exec(select(PrimaryStandardComponent).where(
                col(PrimaryStandardComponent.profile_id).in_(ids))
                .order_by(col(PrimaryStandardComponent.id))).all():
            out[c.profile_id].append(c)
    return out


def component_public(c: PrimaryStandardComponent) -> ComponentPublic:
    assert c.id is not None
    return ComponentPublic(id=c.id, name=c.name, role=c.role, origin=Origin(c.origin),
                           supplier=c.supplier, supplier_country=c.supplier_country,
                           domestic_alternative=Alternative(c.domestic_alternative),
                           notes=c.notes)


def entry_public(std: Standard, org: Organisation, profile: PrimaryStandardProfile | None,
                 components: Sequence[PrimaryStandardComponent]) -> LedgerEntry:
    entry = LedgerEntry(
        identifier=std.identifier, description=std.description, organisation_code=org.code,
        organisation_name=org.name, quantity=std.quantity, unit=std.unit,
        range_min=str(std.range_min), range_max=str(std.range_max),
        uncertainty_relative=str(std.uncertainty_relative),
        uncertainty_absolute=str(std.uncertainty_absolute))
    if profile is not None:
        entry.domain = MetrologyArea(profile.domain)
        entry.status = LedgerStatus(profile.status)
        entry.self_reliance = SelfReliance(profile.self_reliance)
        entry.risk_notes, entry.actions = profile.risk_notes, profile.actions
        entry.updated_at = profile.updated_at
        entry.components = [component_public(c) for c in components]
    return entry


def ledger_entry(session: Session, identifier: str,
                 principal: Principal | None = None) -> LedgerEntry:
    """One national primary standard with its ledger record and components."""
    std = primary_standard(session, identifier, principal)
    org = session.get(Organisation, std.organisation_id)
    assert org is not None
    profile = profile_of(session, std)
    comps = components_of(session, [profile.id]) if profile and profile.id else {}
    return entry_public(std, org, profile,
                        comps.get(profile.id, []) if profile and profile.id else [])


def records_by_identifier(session: Session, identifiers: Sequence[str]
                          ) -> dict[str, tuple[PrimaryStandardProfile,
                                               list[PrimaryStandardComponent]]]:
    """The ledger records (with components) of the standards ``identifiers`` that have one,
    by identifier (for a page that lists standards found by the registry's search)."""
    if not identifiers:
        return {}
    rows = session.exec(
        select(Standard.identifier, PrimaryStandardProfile)
        .join(PrimaryStandardProfile,
              col(PrimaryStandardProfile.standard_id) == col(Standard.id))
        .where(col(Standard.identifier).in_(list(identifiers)))).all()
    comps = components_of(session, [p.id for _, p in rows if p.id is not None])
    return {ident: (p, comps.get(p.id, []) if p.id is not None else []) for ident, p in rows}


def _published_primary() -> Any:
    return sa.and_(col(Standard.kind) == StandardKind.NATIONAL_PRIMARY.value,
                   col(Standard.review_state) == ReviewState.PUBLISHED.value)


def ledger_entries(session: Session, *, offset: int = 0, limit: int = 50) -> Page[LedgerEntry]:
    """The public ledger: published national primary standards by holder and identifier,
    each with its record (if any) and components."""
    total = session.exec(select(func.count()).select_from(Standard)
                         .where(_published_primary())).one()
    rows = session.exec(
        select(Standard, Organisation, PrimaryStandardProfile)
        .join(Organisation, col(Organisation.id) == col(Standard.organisation_id))
        .outerjoin(PrimaryStandardProfile,
                   col(PrimaryStandardProfile.standard_id) == col(Standard.id))
        .where(_published_primary())
        .order_by(col(Organisation.code), col(Standard.identifier))
        .offset(offset).limit(limit)).all()
    comps = components_of(session, [p.id for _, _, p in rows if p is not None and p.id])
    items = [entry_public(s, o, p, comps.get(p.id, []) if p is not None and p.id else [])
             for s, o, p in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)


# --- writing -----------------------------------------------------------------------------


def _person_id(principal: Principal) -> int:
    assert principal.user_id is not None  # policy.may_edit_ledger admits persons only
    return principal.user_id


def _changes(row: Any, new: dict[str, Any], fields: Sequence[str],
             created: bool) -> list[Change]:
    return [Change(field=f, old=None if created else getattr(row, f), new=new[f])
            for f in fields if created or getattr(row, f) != new[f]]


def _record(session: Session, principal: Principal, std: Standard, profile_id: int,
            action: str, changes: list[Change], component_id: int | None = None) -> None:
    data: dict[str, Any] = {"standard": std.identifier,
                            "changes": [c.model_dump() for c in changes]}
    if component_id is not None:
        data["component_id"] = component_id
    audit.record(session, actor=principal.actor, action=action, entity_type=ENTITY,
                 entity_id=str(profile_id), organisation_id=std.organisation_id, data=data)


def put_profile(session: Session, *, principal: Principal, identifier: str,
                data: ProfileIn) -> tuple[PrimaryStandardProfile, bool]:
    """Create or replace the standard's ledger record; returns it and whether it was
    created. A replacement that changes nothing writes nothing (no event)."""
    std = primary_standard(session, identifier, principal)
    policy.may_edit_ledger(session, principal, std.organisation_id)
    uid = _person_id(principal)
    new = data.model_dump(mode="json")
    row = profile_of(session, std, lock=True)
    created = row is None
    if row is None:
        assert std.id is not None
        row = PrimaryStandardProfile(standard_id=std.id, created_by_id=uid, updated_by_id=uid,
                                     **new)
        changes = _changes(row, new, PROFILE_FIELDS, created=True)
        session.add(row)
        try:
            session.flush()
        except sa.exc.IntegrityError:  # a colleague entered it at the same moment
            session.rollback()
            raise ConflictError(f"the ledger record of {identifier} was entered at the same "
                                "time by someone else; read it and try again",
                                reason="ledger_exists", standard=identifier) from None
    else:
        changes = _changes(row, new, PROFILE_FIELDS, created=False)
        if not changes:
            session.rollback()
            return row, False
        for c in changes:
            setattr(row, c.field, c.new)
        row.updated_by_id = uid
        row.updated_at = utcnow()
        session.add(row)
    assert row.id is not None
    _record(session, principal, std, row.id,
            "ledger.profile.create" if created else "ledger.profile.update", changes)
    session.commit()
    return row, created


def _editable_profile(session: Session, principal: Principal,
                      identifier: str) -> tuple[Standard, PrimaryStandardProfile]:
    std = primary_standard(session, identifier, principal)
    policy.may_edit_ledger(session, principal, std.organisation_id)
    profile = profile_of(session, std, lock=True)
    if profile is None or profile.id is None:
        raise ConflictError(f"{identifier} has no ledger record yet: enter it first (its "
                            "area, status and self-reliance class), then its components",
                            reason="no_ledger_record", standard=identifier)
    return std, profile


def add_component(session: Session, *, principal: Principal, identifier: str,
                  data: ComponentIn) -> PrimaryStandardComponent:
    """Add a core component to the standard's ledger record."""
    std, profile = _editable_profile(session, principal, identifier)
    assert profile.id is not None
    _person_id(principal)
    new = data.model_dump(mode="json")
    row = PrimaryStandardComponent(profile_id=profile.id, **new)
    session.add(row)
    session.flush()
    assert row.id is not None
    profile.updated_by_id, profile.updated_at = _person_id(principal), utcnow()
    session.add(profile)
    _record(session, principal, std, profile.id, "ledger.component.create",
            _changes(row, new, COMPONENT_FIELDS, created=True), component_id=row.id)
    session.commit()
    return row


def update_component(session: Session, *, principal: Principal, identifier: str,
                     component_id: int, data: ComponentIn) -> PrimaryStandardComponent:
    """Replace a component of the standard's ledger record (another standard's: 404)."""
    std, profile = _editable_profile(session, principal, identifier)
    assert profile.id is not None
    row = session.get(PrimaryStandardComponent, component_id)
    if row is None or row.profile_id != profile.id:
        raise NotFoundError("component", f"{identifier}/{component_id}")
    new = data.model_dump(mode="json")
    changes = _changes(row, new, COMPONENT_FIELDS, created=False)
    if not changes:
        session.rollback()
        return row
    for c in changes:
        setattr(row, c.field, c.new)
    row.updated_at = utcnow()
    session.add(row)
    profile.updated_by_id, profile.updated_at = _person_id(principal), utcnow()
    session.add(profile)
    _record(session, principal, std, profile.id, "ledger.component.update", changes,
            component_id=component_id)
    session.commit()
    return row


# --- history -----------------------------------------------------------------------------


def ledger_history(session: Session, *, principal: Principal,
                   identifier: str) -> list[HistoryEntry]:
    """Every audited change of the standard's ledger record and its components, oldest
    first: who, when, what (field, old, new). The holder's staff and administrators above it
    read it; anyone else: 403."""
    std = primary_standard(session, identifier, principal)
    if not policy.can_read_ledger_history(session, principal, std.organisation_id):
        raise PermissionDeniedError("ledger.history", "the history of a ledger record is read "
                                    "by the staff of the institute that holds the standard",
                                    rule="role")
    profile = profile_of(session, std)
    if profile is None:
        return []
    events = session.exec(select(AuditEvent).where(
        AuditEvent.entity_type == ENTITY, AuditEvent.entity_id == str(profile.id))
        .order_by(col(AuditEvent.id))).all()
    out = []
    for ev in events:
        assert ev.id is not None
        out.append(HistoryEntry(
            event_id=ev.id, at=ev.at, actor=ev.actor.split(":", 1)[-1], action=ev.action,
            component_id=ev.data.get("component_id"),
            changes=[Change(**c) for c in ev.data.get("changes", [])]))
    return out


# --- aggregates --------------------------------------------------------------------------


def percent(part: int, whole: int) -> str:
    """``part`` of ``whole`` in percent, one decimal, half up ("0.0" of nothing)."""
    if whole == 0:
        return "0.0"
    return str((Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _row(domain: str, counts: dict[str, int], grand: int) -> AreaRow:
    total = sum(counts[c] for c in COLUMNS)
    cells = {c: Cell(count=counts[c], percent=percent(counts[c], total)) for c in COLUMNS}
    return AreaRow(domain=domain, fully=cells["fully"], partly=cells["partly"],
                   not_=cells["not"], suspended=cells["suspended"], total=total,
                   percent_of_all=percent(total, grand))


def column_of(status: str, self_reliance: str) -> str:
    """The report's column of a standard: ``suspended`` if it is, else its class."""
    return "suspended" if status == LedgerStatus.SUSPENDED else self_reliance


def ledger_aggregates(session: Session) -> LedgerAggregates:
    """The report's table by metrology area and class (see the module's docstring for how
    it counts), with the imported core components' shares. Two grouped queries."""
    counted = (select(PrimaryStandardProfile.domain, PrimaryStandardProfile.status,
                      PrimaryStandardProfile.self_reliance, func.count())
               .join(Standard, col(Standard.id) == col(PrimaryStandardProfile.standard_id))
               .where(_published_primary())
               .group_by(col(PrimaryStandardProfile.domain), col(PrimaryStandardProfile.status),
                         col(PrimaryStandardProfile.self_reliance)))
    by_area: dict[str, dict[str, int]] = {a.value: dict.fromkeys(COLUMNS, 0) for a in AREAS}
    for domain, status, reliance, n in session.exec(counted).all():
        by_area.setdefault(domain, dict.fromkeys(COLUMNS, 0))[column_of(status, reliance)] += n
    grand = sum(sum(c.values()) for c in by_area.values())
    rows = [_row(domain, counts, grand) for domain, counts in by_area.items()]
    totals = {c: sum(counts[c] for counts in by_area.values()) for c in COLUMNS}
    unprofiled = session.exec(
        select(func.count()).select_from(Standard)
        .outerjoin(PrimaryStandardProfile,
                   col(PrimaryStandardProfile.standard_id) == col(Standard.id))
        .where(_published_primary(), col(PrimaryStandardProfile.id).is_(None))).one()
    parts = dict(((o, a), n) for o, a, n in session.exec(
        select(PrimaryStandardComponent.origin, PrimaryStandardComponent.domestic_alternative,
               func.count())
        .join(PrimaryStandardProfile,
              col(PrimaryStandardProfile.id) == col(PrimaryStandardComponent.profile_id))
        .join(Standard, col(Standard.id) == col(PrimaryStandardProfile.standard_id))
        .where(_published_primary())
        .group_by(col(PrimaryStandardComponent.origin),
                  col(PrimaryStandardComponent.domestic_alternative))).all())
    all_parts = sum(parts.values())
    imported = {a: parts.get((Origin.IMPORTED.value, a.value), 0) for a in Alternative}
    n_imported = sum(imported.values())
    return LedgerAggregates(
        rows=rows, total=_row("total", totals, grand), unprofiled=unprofiled,
        components=ImportedComponents(
            components=all_parts,
            imported=Cell(count=n_imported, percent=percent(n_imported, all_parts)),
            with_alternative=Cell(count=imported[Alternative.YES],
                                  percent=percent(imported[Alternative.YES], n_imported)),
            alternative_in_development=Cell(
                count=imported[Alternative.IN_DEVELOPMENT],
                percent=percent(imported[Alternative.IN_DEVELOPMENT], n_imported)),
            without_alternative=Cell(count=imported[Alternative.NO],
                                     percent=percent(imported[Alternative.NO], n_imported))))


# --- CSV ---------------------------------------------------------------------------------

#: A spreadsheet reads a cell starting with one of these as a formula (CSV injection):
#: such a cell is written with a leading apostrophe, which the spreadsheet shows as text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

CSV_HEADER = ("metrology area", "fully self-reliant", "fully %", "partly self-reliant",
              "partly %", "not self-reliant", "not %", "suspended", "suspended %", "total",
              "% of all standards")


def neutralise(cell: object) -> str:
    """``cell`` as CSV text that no spreadsheet evaluates as a formula."""
    text = str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """Rows as CSV (RFC 4180: CRLF, quoted where needed), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise(c) for c in row])
    return out.getvalue()


def aggregates_csv(agg: LedgerAggregates) -> str:
    """The report's table as CSV: a header, one row per area, the total row; then, after an
    empty line, the imported core components (measure, count, %)."""
    def cells(r: AreaRow) -> list[object]:
        out: list[object] = [r.domain]
        for cell in (r.fully, r.partly, r.not_, r.suspended):
            out += [cell.count, cell.percent]
        return [*out, r.total, r.percent_of_all]

    c = agg.components
    return csv_text([
        CSV_HEADER, *(cells(r) for r in agg.rows), cells(agg.total), (),
        ("core components", "count", "%"),
        ("all", c.components, "100.0" if c.components else "0.0"),
        ("imported", c.imported.count, c.imported.percent),
        ("imported, domestic alternative exists", c.with_alternative.count,
         c.with_alternative.percent),
        ("imported, domestic alternative in development",
         c.alternative_in_development.count, c.alternative_in_development.percent),
        ("imported, no domestic alternative", c.without_alternative.count,
         c.without_alternative.percent),
        ("national primary standards without a ledger record", agg.unprofiled, ""),
    ])
