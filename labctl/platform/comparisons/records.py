"""Comparisons on the platform: create one, enter the participants' results, open and close
it, evaluate it (computed on read from the stored results, by :mod:`.evaluation`) and
publish it.

Every write checks every rule first (:mod:`labctl.platform.accounts.policy`, the state, the
organisation boundary), then writes its rows and one audit event in one transaction: a
refused request changes nothing. Published comparisons are public; before that a
comparison exists only for its pilot's and its participants' staff (anyone else gets the
404 of an unknown identifier). Results are locked once the comparison is closed or
published.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from labctl.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.accounts.organisations import org_by_code
from labctl.platform.comparisons.evaluation import (
    Design,
    Entry,
    Evaluation,
    FailedParticipation,
    evaluable,
    failed_participations,
)
from labctl.platform.comparisons.evaluation import evaluate as evaluate_entries
from labctl.platform.db import utcnow
from labctl.platform.models.base import CLOCK_SKEW, EARLIEST_DATE
from labctl.platform.models.comparisons import (
    ENTRY_STATES,
    STATUS_FROM,
    Comparison,
    ComparisonCreate,
    ComparisonPublic,
    ComparisonResult,
    ComparisonStatus,
    ComparisonSummary,
    EvaluationPublic,
    ParticipantPublic,
    PublishIn,
    ReferenceMethod,
    ResultIn,
    StatusIn,
)
from labctl.platform.models.org import Organisation
from labctl.platform.models.registry import Page, Standard

#: The longest page of a listing.
MAX_LIMIT = 200

#: What publishing calls with the failed participations, inside its transaction (the lead
#: wires it to the quality events): ``(session, principal, failures)``.
FailureHook = Callable[[Session, Principal, list[FailedParticipation]], object]


# --- reading --------------------------------------------------------------------------------


def _by_identifier(session: Session, identifier: str, *, lock: bool = False) -> Comparison:
    query = select(Comparison).where(Comparison.identifier == identifier)
    if lock:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise NotFoundError("comparison", identifier)
    return row


def results_of(session: Session, comparison: Comparison) -> list[ComparisonResult]:
    """The comparison's results in the order they were first entered."""
    return list(session.exec(select(ComparisonResult).where(
        ComparisonResult.comparison_id == comparison.id).order_by(col(ComparisonResult.id))))


def comparison_by_identifier(session: Session, principal: Principal | None, identifier: str,
                             *, lock: bool = False) -> Comparison:
    """The comparison if the caller may read it (published: anyone), else 404."""
    row = _by_identifier(session, identifier, lock=lock)
    published = row.status == ComparisonStatus.PUBLISHED
    if not published:
        participants = [r.participant_id for r in results_of(session, row)]
        if not policy.can_read_comparison(session, principal, row.pilot_id, participants,
                                          published, creator_id=row.created_by_id):
            raise NotFoundError("comparison", identifier)
    return row


def design_of(row: Comparison) -> Design:
    return Design(
        identifier=row.identifier, method=ReferenceMethod(row.reference_method),
        en_limit=float(row.en_limit),
        assigned_value=None if row.assigned_value is None else float(row.assigned_value),
        assigned_u=None if row.assigned_u is None else float(row.assigned_u),
        sigma_pt=None if row.sigma_pt is None else float(row.sigma_pt))


def _entries(session: Session, rows: list[ComparisonResult]) -> list[Entry]:
    orgs = _orgs(session, [r.participant_id for r in rows])
    stds = _standards(session, [r.standard_id for r in rows])
    return [Entry(participant=orgs[r.participant_id].code, value=float(r.value), u=float(r.u),
                  dof=r.dof, k=float(r.coverage_factor), standard_id=r.standard_id,
                  standard=stds[r.standard_id].identifier if r.standard_id else None)
            for r in rows]


def evaluate_stored(session: Session, row: Comparison) -> Evaluation | None:
    """The evaluation of the stored results (computed on read), or ``None`` while there are
    too few (two for a weighted mean, one against an assigned value)."""
    design = design_of(row)
    entries = _entries(session, results_of(session, row))
    return evaluate_entries(design, entries) if evaluable(design, entries) else None


def evaluate(session: Session, identifier: str, *,
             principal: Principal | None = None) -> Evaluation | None:
    """The evaluation of a comparison by the engine, computed on read from its stored
    results (see :func:`evaluate_stored`). Without ``principal`` (the platform itself:
    jobs, hooks) any comparison; with one, a comparison the caller sees in full (published,
    or the pilot's staff), else 404."""
    if principal is None:
        return evaluate_stored(session, _by_identifier(session, identifier))
    row = comparison_by_identifier(session, principal, identifier)
    if not sees_everything(session, principal, row):
        raise NotFoundError("comparison evaluation", identifier)
    return evaluate_stored(session, row)


def sees_everything(session: Session, principal: Principal | None, row: Comparison) -> bool:
    """Whether the caller sees every result and the evaluation: anyone once published;
    before, the pilot's staff only (a participant sees its own result alone: results stay
    confidential between participants until the pilot publishes, ISO/IEC 17043 4.10)."""
    return row.status == ComparisonStatus.PUBLISHED or (
        principal is not None and policy.is_lab_staff(session, principal, row.pilot_id))


def _orgs(session: Session, ids: list[int]) -> dict[int, Organisation]:
    if not ids:
        return {}
    return {o.id: o for o in session.exec(select(Organisation).where(
        col(Organisation.id).in_(set(ids)))) if o.id is not None}


def _standards(session: Session, ids: list[int | None]) -> dict[int, Standard]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {s.id: s for s in session.exec(select(Standard).where(
        col(Standard.id).in_(wanted))) if s.id is not None}


def _num(v: float | None) -> str | None:
    """A computed number as text: the shortest repr that reads back as the same double."""
    return None if v is None else repr(float(v))


def comparison_public(session: Session, row: Comparison,
                      principal: Principal | None) -> ComparisonPublic:
    """What the caller reads of a comparison: everything once published (or for the pilot's
    staff); before that a participant's staff read their own results only, without the
    evaluation (:func:`sees_everything`)."""
    pilot = session.get(Organisation, row.pilot_id)
    assert pilot is not None
    rows = results_of(session, row)
    full = sees_everything(session, principal, row)
    if not full:
        rows = [r for r in rows if principal is not None
                and policy.is_lab_staff(session, principal, r.participant_id)]
    orgs = _orgs(session, [r.participant_id for r in rows])
    stds = _standards(session, [r.standard_id for r in rows])
    ev = evaluate_stored(session, row) if full else None
    scores = {p.entry.participant: p for p in ev.participants} if ev else {}
    participants = []
    for r in rows:
        code = orgs[r.participant_id].code
        s = scores.get(code)
        participants.append(ParticipantPublic(
            participant_code=code, participant_name=orgs[r.participant_id].name,
            standard=stds[r.standard_id].identifier if r.standard_id else None,
            value=str(r.value), u=str(r.u), dof=r.dof, coverage_factor=str(r.coverage_factor),
            U=str(r.u * r.coverage_factor), reported_at=r.reported_at,
            contributing=bool(s and s.contributing),
            doe=_num(s.d) if s else None, u_doe=_num(s.u_d) if s else None,
            U_doe=_num(s.U_d) if s else None, en=_num(s.en) if s else None,
            zeta=_num(s.zeta) if s else None, z=_num(s.z) if s else None,
            en_passed=s.passed if s else None))
    evaluation = None if ev is None else EvaluationPublic(
        method=ReferenceMethod(row.reference_method),
        reference_value=repr(ev.reference_value), reference_u=repr(ev.reference_u),
        chi2=_num(ev.chi2), chi2_dof=ev.chi2_dof, p_value=_num(ev.p_value),
        consistent=ev.consistent, first_check_passed=ev.first_check_passed,
        excluded=list(ev.excluded), k=repr(ev.k))
    return ComparisonPublic(
        identifier=row.identifier, kind=row.kind, title=row.title,  # type: ignore[arg-type]
        quantity=row.quantity, measurand=row.measurand, nominal_value=str(row.nominal_value),
        unit=row.unit, pilot_code=pilot.code, pilot_name=pilot.name,
        status=row.status,  # type: ignore[arg-type]
        reference_method=row.reference_method,  # type: ignore[arg-type]
        assigned_value=None if row.assigned_value is None else str(row.assigned_value),
        assigned_u=None if row.assigned_u is None else str(row.assigned_u),
        sigma_pt=None if row.sigma_pt is None else str(row.sigma_pt),
        en_limit=str(row.en_limit), created_at=row.created_at, published_at=row.published_at,
        participants=participants, evaluation=evaluation)


def _readable_filter(session: Session, principal: Principal | None) -> sa.ColumnElement[bool]:
    published = col(Comparison.status) == ComparisonStatus.PUBLISHED.value
    if principal is None or principal.kind != "user":
        return published
    staff = policy.staff_laboratories(session, principal)
    if not staff:
        return published
    taking_part = select(ComparisonResult.comparison_id).where(
        col(ComparisonResult.participant_id).in_(staff))
    return sa.or_(published, col(Comparison.pilot_id).in_(staff),
                  col(Comparison.id).in_(taking_part))


def list_comparisons(session: Session, *, principal: Principal | None,
                     status: ComparisonStatus | None = None, offset: int = 0,
                     limit: int = 50) -> Page[ComparisonSummary]:
    """The comparisons the caller may read (published ones, and for staff of a pilot or a
    participant theirs), newest first."""
    if not 0 <= offset <= 1_000_000:
        raise ValidationError("offset", offset, "0 … 1000000")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError("limit", limit, f"1 … {MAX_LIMIT}")
    where = [_readable_filter(session, principal)]
    if status is not None:
        where.append(col(Comparison.status) == status.value)
    total = session.exec(select(func.count()).select_from(Comparison).where(*where)).one()
    rows = session.exec(select(Comparison).where(*where).order_by(
        col(Comparison.created_at).desc(), col(Comparison.id).desc())
        .offset(offset).limit(limit)).all()
    counts = dict(session.exec(select(ComparisonResult.comparison_id, func.count()).where(
        col(ComparisonResult.comparison_id).in_([r.id for r in rows] or [-1]))
        .group_by(col(ComparisonResult.comparison_id))).all())
    pilots = _orgs(session, [r.pilot_id for r in rows])
    items = [ComparisonSummary(
        identifier=r.identifier, kind=r.kind, title=r.title,  # type: ignore[arg-type]
        quantity=r.quantity, nominal_value=str(r.nominal_value), unit=r.unit,
        pilot_code=pilots[r.pilot_id].code, status=r.status,  # type: ignore[arg-type]
        participants=int(counts.get(r.id or 0, 0)), published_at=r.published_at) for r in rows]
    return Page(items=items, total=total, offset=offset, limit=limit)


def standard_participations(session: Session, standard_id: int
                            ) -> list[tuple[Comparison, Evaluation, int]]:
    """The published comparisons a standard was used in, each with its evaluation and the
    index of the standard's participant in it, newest first (for the standard's page)."""
    rows = session.exec(select(Comparison).join(
        ComparisonResult, col(ComparisonResult.comparison_id) == col(Comparison.id)).where(
        ComparisonResult.standard_id == standard_id,
        Comparison.status == ComparisonStatus.PUBLISHED.value).order_by(
        col(Comparison.published_at).desc())).all()
    out = []
    for row in rows:
        ev = evaluate_stored(session, row)
        if ev is None:
            continue
        for i, p in enumerate(ev.participants):
            if p.entry.standard_id == standard_id:
                out.append((row, ev, i))
    return out


# --- writing --------------------------------------------------------------------------------


def create_comparison(session: Session, *, principal: Principal,
                      data: ComparisonCreate) -> Comparison:
    """A new comparison (the pilot's staff, or a national-level organisation's)."""
    pilot = org_by_code(session, data.pilot_code)
    policy.may_create_comparison(session, principal, pilot)
    if session.exec(select(Comparison.id).where(
            Comparison.identifier == data.identifier)).first() is not None:
        raise ConflictError(f"a comparison {data.identifier} exists already",
                            reason="duplicate", identifier=data.identifier)
    assert principal.user_id is not None and pilot.id is not None
    row = Comparison(
        identifier=data.identifier, kind=data.kind.value, title=data.title,
        quantity=data.quantity, measurand=data.measurand, nominal_value=data.nominal_value,
        unit=data.unit, pilot_id=pilot.id, status=data.status.value,
        reference_method=data.reference_method.value, assigned_value=data.assigned_value,
        assigned_u=data.assigned_u, sigma_pt=data.sigma_pt, en_limit=data.en_limit,
        created_by_id=principal.user_id)
    session.add(row)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # created at the same moment elsewhere
        session.rollback()
        raise ConflictError(f"a comparison {data.identifier} exists already",
                            reason="duplicate", identifier=data.identifier) from None
    audit.record(session, actor=principal.actor, action="comparison.create",
                 entity_type="comparison", entity_id=row.identifier,
                 organisation_id=pilot.id, data=data.model_dump(mode="json"))
    session.commit()
    return row


def _participant(session: Session, principal: Principal, code: str | None) -> Organisation:
    if code is not None:
        try:
            return org_by_code(session, code)
        except NotFoundError:
            raise ValidationError("participant_code", code, "a registered organisation's "
                                  "code") from None
    own = sorted({org for org, role in principal.roles if role in policy.RESULT_ROLES})
    if len(own) != 1:
        raise ValidationError("participant_code", None, "the participant's code (the caller "
                              f"holds result roles in {len(own)} organisations, not one)")
    org = session.get(Organisation, own[0])
    assert org is not None
    return org


def _reported_at(value: datetime | None) -> datetime:
    now = utcnow()
    if value is None:
        return now
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError("reported_at", value.isoformat(),
                              "a time with its zone (e.g. 2026-11-30T10:00:00Z)")
    if value > now + CLOCK_SKEW or value.date() < EARLIEST_DATE:
        raise ValidationError("reported_at", value.isoformat(),
                              f"{EARLIEST_DATE.isoformat()} … now")
    return value


def enter_result(session: Session, *, principal: Principal, identifier: str,
                 data: ResultIn) -> ComparisonResult:
    """Enter (or replace, while entries are taken) a participant's result: the
    participant's own staff (a laboratory takes part by entering its result) or the
    pilot's; the standard, if named, is the participant's. A refused caller who cannot read
    the comparison gets its 404."""
    row = _by_identifier(session, identifier, lock=True)
    try:
        participant = _participant(session, principal, data.participant_code)
        assert participant.id is not None and row.id is not None
        policy.may_enter_result(session, principal, row.pilot_id, participant.id)
    except (PermissionDeniedError, ValidationError):
        # a laboratory joins by entering its own result (the identifier is what the pilot
        # sends to the invited laboratories); to anyone else who cannot read the comparison
        # it does not exist
        comparison_by_identifier(session, principal, identifier)
        raise
    if row.status not in ENTRY_STATES:
        raise ConflictError(f"comparison {row.identifier} is {row.status}: results are "
                            "entered while it is planned or open", reason="comparison_state",
                            identifier=row.identifier, status=row.status)
    standard_id = None
    if data.standard is not None:
        std = session.exec(select(Standard).where(
            Standard.identifier == data.standard)).first()
        if std is None or std.organisation_id != participant.id:
            raise ValidationError("standard", data.standard,
                                  f"the identifier of a standard held by {participant.code}")
        standard_id = std.id
    reported_at = _reported_at(data.reported_at)
    assert principal.user_id is not None
    existing = session.exec(select(ComparisonResult).where(
        ComparisonResult.comparison_id == row.id,
        ComparisonResult.participant_id == participant.id)).first()
    result = existing or ComparisonResult(comparison_id=row.id, participant_id=participant.id,
                                          value=data.value, u=data.u,
                                          reported_at=reported_at,
                                          entered_by_id=principal.user_id)
    result.standard_id = standard_id
    result.value, result.u, result.dof = data.value, data.u, data.dof
    result.coverage_factor = data.coverage_factor
    result.reported_at, result.entered_by_id = reported_at, principal.user_id
    result.entered_at = utcnow()
    session.add(result)
    try:
        session.flush()
    except sa.exc.IntegrityError:  # the same participant entered at the same moment
        session.rollback()
        raise ConflictError(f"{participant.code}'s result in {identifier} was entered at the "
                            "same moment: reload and retry", reason="duplicate",
                            identifier=identifier) from None
    audit.record(session, actor=principal.actor,
                 action="comparison.result.replace" if existing else "comparison.result",
                 entity_type="comparison", entity_id=row.identifier,
                 organisation_id=participant.id,
                 data={**data.model_dump(mode="json"), "participant": participant.code})
    session.commit()
    return result


def set_status(session: Session, *, principal: Principal, identifier: str,
               data: StatusIn) -> Comparison:
    """Open a planned comparison, or close it to entries (the pilot's staff)."""
    row = comparison_by_identifier(session, principal, identifier, lock=True)
    policy.may_run_comparison(session, principal, row.pilot_id, f"comparison.{data.status}")
    allowed_from = STATUS_FROM.get(data.status)
    if allowed_from is None:
        raise ValidationError("status", data.status.value, "open or closed (publishing is "
                              "its own step)")
    if row.status not in allowed_from:
        raise ConflictError(f"comparison {row.identifier} is {row.status}; it becomes "
                            f"{data.status} from " + " or ".join(sorted(allowed_from)),
                            reason="comparison_state", identifier=row.identifier,
                            status=row.status)
    row.status = data.status.value
    session.add(row)
    audit.record(session, actor=principal.actor, action=f"comparison.{data.status}",
                 entity_type="comparison", entity_id=row.identifier,
                 organisation_id=row.pilot_id, reason=data.note)
    session.commit()
    return row


def publish_comparison(session: Session, *, principal: Principal, identifier: str,
                       data: PublishIn, on_failed: FailureHook | None = None
                       ) -> tuple[Comparison, list[FailedParticipation]]:
    """Publish the evaluation (the pilot's staff who entered none of the results); the
    results are locked from then on. Returns the failed participations
    (:func:`~.evaluation.failed_participations`), also handed to ``on_failed`` inside the
    transaction (the quality events' hook)."""
    row = comparison_by_identifier(session, principal, identifier, lock=True)
    rows = results_of(session, row)
    policy.may_publish_comparison(session, principal, row.pilot_id,
                                  [r.entered_by_id for r in rows])
    if row.status == ComparisonStatus.PUBLISHED:
        raise ConflictError(f"comparison {row.identifier} is published already",
                            reason="comparison_state", identifier=row.identifier,
                            status=row.status)
    evaluation = evaluate_stored(session, row)
    if evaluation is None:
        raise ConflictError(f"comparison {row.identifier} has {len(rows)} result(s): too few "
                            "to evaluate", reason="too_few_results",
                            identifier=row.identifier, results=len(rows))
    failures = failed_participations(evaluation)
    assert principal.user_id is not None
    row.status = ComparisonStatus.PUBLISHED.value
    row.published_by_id, row.published_at = principal.user_id, utcnow()
    session.add(row)
    if on_failed is not None and failures:
        on_failed(session, principal, failures)
    audit.record(session, actor=principal.actor, action="comparison.publish",
                 entity_type="comparison", entity_id=row.identifier,
                 organisation_id=row.pilot_id, reason=data.note, data={
                     "reference_value": evaluation.reference_value,
                     "reference_u": evaluation.reference_u, "chi2": evaluation.chi2,
                     "excluded": list(evaluation.excluded),
                     "en": {p.entry.participant: p.en for p in evaluation.participants},
                     "failed": [list(f) for f in failures]})
    session.commit()
    return row, failures


__all__ = ["MAX_LIMIT", "FailureHook", "comparison_by_identifier", "comparison_public",
           "create_comparison", "design_of", "enter_result", "evaluate", "evaluate_stored",
           "list_comparisons", "publish_comparison", "results_of", "sees_everything",
           "set_status", "standard_participations"]
