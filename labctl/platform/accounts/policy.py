"""Who may act: the one place the services (and through them the routes and pages) ask.

Each ``may_*`` function raises :class:`PermissionDeniedError` (HTTP 403) naming the action and
why, or returns; ``can_*`` functions answer a yes/no for listings. None of them writes: a
service asks every question it needs before its first write, so a refused request changes
nothing.

The separation rules (ISO/IEC 17025 6.2, 7.8; the laboratory's two- and three-person rules):

* a certificate's performer is the person calling, or the operator of a run the platform
  knows (a station's or a bench's run), never someone the caller names;
* everyone who contributed to a certificate revision (its performer, anyone who posted or
  discarded results or edited the draft) neither checks nor issues it; the checker does not
  issue it;
* a run's checker exists, is not its operator and holds the checker role in the laboratory;
* nobody who entered or edited a registry entry (standard, CMC) reviews it, and nobody who
  recorded an external calibration reviews that;
* customers read the issued revisions of their own certificates only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlmodel import Session, col, select

from labctl.errors import PermissionDeniedError, ValidationError
from labctl.platform.accounts.auth import Principal, has_role, require_any_role, require_role
from labctl.platform.accounts.organisations import is_authorised
from labctl.platform.models.base import CertificateStatus, Role
from labctl.platform.models.certificates import Certificate
from labctl.platform.models.org import Membership, Organisation, User

#: roles that make a person staff of a laboratory (who reads its drafts)
LAB_ROLES = (Role.TECHNICIAN, Role.CHECKER, Role.APPROVER, Role.ADMIN, Role.REVIEWER,
             Role.DATA_ENTRY)
#: certificate states a customer may read: revisions that were issued
ISSUED_STATES = frozenset({CertificateStatus.ISSUED.value, CertificateStatus.SUPERSEDED.value,
                           CertificateStatus.WITHDRAWN.value})

TWO_PERSON = "two-person rule"


def _person(principal: Principal, action: str) -> int:
    if principal.kind != "user" or principal.user_id is None:
        raise PermissionDeniedError(action, "only a person may do this, not a station")
    return principal.user_id


def with_contributor(ids: Iterable[int], principal: Principal) -> list[int]:
    """``ids`` with the calling person added (a station adds nobody), in first-seen order."""
    out = list(dict.fromkeys(ids))
    if principal.user_id is not None and principal.user_id not in out:
        out.append(principal.user_id)
    return out


# --- certificates ---------------------------------------------------------------------------


def may_draft(session: Session, principal: Principal, lab_id: int) -> None:
    """A draft is started by a technician of the laboratory (or, for a run, its station)."""
    if principal.kind == "station":
        if principal.station_org_id != lab_id:
            raise PermissionDeniedError("certificate.create",
                                        "the station belongs to another laboratory")
        return
    require_role(session, principal, Role.TECHNICIAN, lab_id, action="certificate.create")


def performer_for_draft(session: Session, principal: Principal, lab: Organisation,
                        performed_by: str | None) -> User:
    """The performer of a draft the caller starts: the caller; naming another is refused
    (a run's operator comes from the run, see :func:`run_people`)."""
    user_id = _person(principal, "certificate.create")
    user = session.get(User, user_id)
    assert user is not None
    if performed_by is not None and performed_by != user.username:
        raise PermissionDeniedError(
            "certificate.create", f"performed_by={performed_by!r}: the performer is the person "
            f"calling ({user.username}); a run's operator is taken from the run")
    return user


def may_post_results(session: Session, principal: Principal, cert: Certificate) -> None:
    """Results go into a draft from a technician of the laboratory (who thereby becomes one
    of its performers) or from a station of the laboratory."""
    if principal.kind == "station":
        if principal.station_org_id != cert.organisation_id:
            raise PermissionDeniedError("certificate.results",
                                        "the station belongs to another laboratory")
        return
    require_role(session, principal, Role.TECHNICIAN, cert.organisation_id,
                 action="certificate.results")


def may_edit_draft(session: Session, principal: Principal, cert: Certificate) -> None:
    require_role(session, principal, Role.TECHNICIAN, cert.organisation_id,
                 action="certificate.update")


def contributors(cert: Certificate) -> set[int]:
    """Everyone whose work is in the revision: performer, posters, editors."""
    return {cert.performed_by_id, *cert.contributor_ids}


def contributors_in_order(cert: Certificate) -> list[int]:
    """:func:`contributors` as a list, the performer first (for showing them)."""
    return list(dict.fromkeys([cert.performed_by_id, *cert.contributor_ids]))


def may_check(session: Session, principal: Principal, cert: Certificate) -> None:
    require_role(session, principal, Role.CHECKER, cert.organisation_id,
                 action="certificate.check")
    if principal.user_id in contributors(cert):
        raise PermissionDeniedError(
            "certificate.check", f"{principal.name} performed, posted or edited this revision "
            f"and may not check their own work ({TWO_PERSON})")


def may_issue(session: Session, principal: Principal, cert: Certificate) -> None:
    require_role(session, principal, Role.APPROVER, cert.organisation_id,
                 action="certificate.issue")
    if principal.user_id in contributors(cert) or principal.user_id == cert.checked_by_id:
        raise PermissionDeniedError(
            "certificate.issue", f"the approver ({principal.name}) must be neither a performer "
            f"(who performed, posted or edited) nor the checker of this revision ({TWO_PERSON})")


def may_amend_or_withdraw(session: Session, principal: Principal, cert: Certificate,
                          action: str) -> None:
    require_role(session, principal, Role.APPROVER, cert.organisation_id, action=action)


def can_read_certificate(session: Session, principal: Principal, cert: Certificate) -> bool:
    """Staff of the laboratory (admins above it) read every revision; a station of the
    laboratory too; the customer's people read the revisions that were issued."""
    if principal.kind == "station":
        return principal.station_org_id == cert.organisation_id
    if has_role(session, principal, Role.ADMIN, cert.organisation_id):
        return True
    if any((cert.organisation_id, r) in principal.roles for r in LAB_ROLES):
        return True
    return is_customer_of(principal, cert) and cert.status in ISSUED_STATES


def is_customer_of(principal: Principal, cert: Certificate) -> bool:
    return cert.customer_organisation_id is not None and (
        (cert.customer_organisation_id, Role.CUSTOMER) in principal.roles)


# --- runs -----------------------------------------------------------------------------------


def _holder(session: Session, username: str, lab_id: int, role: Role) -> User | None:
    """The active user ``username`` if they hold ``role`` in the laboratory, else ``None``."""
    return session.exec(
        select(User).join(Membership, col(Membership.user_id) == col(User.id)).where(
            User.username == username, Membership.organisation_id == lab_id,
            Membership.role == role.value, User.is_active)).first()


def run_people(session: Session, lab: Organisation, *, operator: str, checker: str,
               field: str = "result") -> User:
    """The operator of a run as a user, after checking the run's two people: the operator is
    an active technician of the laboratory; the checker an active person other than the
    operator holding the checker role there. :class:`ValidationError` names the field."""
    assert lab.id is not None
    op = _holder(session, operator, lab.id, Role.TECHNICIAN)
    if op is None:
        raise ValidationError(f"{field}.operator", operator,
                              f"an active technician of {lab.code}")
    if (not checker or checker == operator
            or _holder(session, checker, lab.id, Role.CHECKER) is None):
        raise ValidationError(f"{field}.checker", checker,
                              f"an active person holding the checker role in {lab.code}, "
                              f"other than the operator {operator}")
    return op


def may_resume_run(session: Session, principal: Principal, lab_id: int, *, procedure: str,
                   quantity: str, checker: str, on: date) -> None:
    """Who may carry on someone's paused run: a technician of the bench's laboratory who is
    authorised for the procedure on ``on`` and is not the run's checker (the run's operator
    stays who started it; the resumer is recorded beside them)."""
    require_role(session, principal, Role.TECHNICIAN, lab_id, action="run.resume")
    if principal.user_id is None or not is_authorised(
            session, user_id=principal.user_id, organisation_id=lab_id, quantity=quantity,
            procedure=procedure, on=on):
        raise PermissionDeniedError("run.resume", f"{principal.name} is not authorised for "
                                    f"{procedure}")
    if principal.name == checker:
        raise PermissionDeniedError("run.resume", f"{principal.name} is the run's checker: the "
                                    "person who performs it cannot also check it")


# --- registry -------------------------------------------------------------------------------


def may_enter(session: Session, principal: Principal, org_id: int, action: str) -> None:
    """Enter, edit, submit registry entries; record external calibrations and corrections."""
    require_role(session, principal, Role.DATA_ENTRY, org_id, action=action)


def may_revise(session: Session, principal: Principal, org_id: int, action: str) -> None:
    require_any_role(session, principal, (Role.DATA_ENTRY, Role.REVIEWER), org_id,
                     action=action)


def may_review(session: Session, principal: Principal, org_id: int, authors: Iterable[int | None],
               action: str) -> None:
    """A reviewer of the holder who neither entered nor edited the content."""
    require_role(session, principal, Role.REVIEWER, org_id, action=action)
    if principal.user_id in set(authors):
        raise PermissionDeniedError(action, f"{principal.name} entered or edited this content "
                                    f"and may not review it ({TWO_PERSON})")


def may_change_status(session: Session, principal: Principal, org_id: int) -> None:
    require_any_role(session, principal, (Role.REVIEWER, Role.ADMIN), org_id,
                     action="standard.status")
