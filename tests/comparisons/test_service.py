"""The comparison services called directly on the real database: ``evaluate(session,
identifier)`` is the engine's evaluation of what is stored; publishing hands exactly the
failed participations (|En| > 1, standard recorded) to the quality-event hook inside its
transaction, and a hook that fails leaves the comparison unpublished."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from labctl.platform import comparisons
from labctl.platform.accounts.auth import Principal, principal_for_token
from labctl.platform.comparisons import FailedParticipation
from labctl.platform.models.comparisons import PublishIn
from labctl.platform.models.registry import Standard
from labctl.uncertainty import comparison as engine
from tests.comparisons.conftest import Comparisons


def _principal(session: Session, cmp: Comparisons, org: str, role: str) -> Principal:
    return principal_for_token(session, cmp.world.tokens[(org, role)])


def _standard_id(session: Session, identifier: str) -> int:
    row = session.exec(select(Standard).where(Standard.identifier == identifier)).one()
    assert row.id is not None
    return row.id


def _three(cmp: Comparisons) -> str:
    ident = cmp.create()["identifier"]
    cmp.enter(ident, cmp.h("nmi", "technician"), "nmi", "10.0000011", "0.0000003",
              standard=cmp.standards["nmi"])
    cmp.enter(ident, cmp.h("prov", "technician"), "prov", "10.0000013", "0.0000005",
              standard=cmp.standards["prov"])
    cmp.enter(ident, cmp.h("lab", "technician"), "lab", "10.0000090", "0.0000010",
              standard=cmp.standards["lab"])
    return ident


def test_evaluate_is_the_engines_evaluation_of_the_stored_results(
        cmp: Comparisons, db_engine: sa.Engine) -> None:
    ident = _three(cmp)
    with Session(db_engine) as session:
        ev = comparisons.evaluate(session, ident)
    assert ev is not None
    ref = engine.evaluate_comparison([10.0000011, 10.0000013, 10.0000090],
                                     [0.3e-6, 0.5e-6, 1.0e-6], k=2.0)
    assert ev.reference_value == ref.reference.value and ev.reference_u == ref.reference.u
    assert [p.en for p in ev.participants] == list(ref.doe.en)


def test_publishing_hands_exactly_the_failed_participations_to_the_hook(
        cmp: Comparisons, db_engine: sa.Engine) -> None:
    ident = _three(cmp)
    seen: list[list[FailedParticipation]] = []
    with Session(db_engine, expire_on_commit=False) as session:
        who = _principal(session, cmp, "nmi", "reviewer")
        row, failures = comparisons.publish_comparison(
            session, principal=who, identifier=ident, data=PublishIn(),
            on_failed=lambda _s, _p, f: seen.append(f))
        lab_std = _standard_id(session, cmp.standards["lab"])
    ev = _evaluated(db_engine, ident)
    assert row.status == "published" and [p.passed for p in ev.participants] == [
        True, True, False]
    assert failures == [(lab_std, ev.participants[2].en, ident)] and seen == [failures]
    assert abs(failures[0].en) > 1


def _evaluated(db_engine: sa.Engine, ident: str) -> comparisons.Evaluation:
    with Session(db_engine) as session:
        ev = comparisons.evaluate(session, ident)
    assert ev is not None
    return ev


def test_a_failing_hook_leaves_the_comparison_unpublished(
        cmp: Comparisons, db_engine: sa.Engine) -> None:
    ident = _three(cmp)

    def broken(_s: Session, _p: Principal, _f: list[FailedParticipation]) -> None:
        raise RuntimeError("quality events unavailable")

    with Session(db_engine) as session:
        who = _principal(session, cmp, "nmi", "reviewer")
        with pytest.raises(RuntimeError):
            comparisons.publish_comparison(session, principal=who, identifier=ident,
                                           data=PublishIn(), on_failed=broken)
        session.rollback()
    with db_engine.connect() as conn:
        status = conn.execute(sa.text("SELECT status FROM comparison WHERE identifier = :i"),
                              {"i": ident}).scalar_one()
    assert status == "open"
