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
from labctl.platform.models.desk import Complaint, ServiceOrder
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
        raise PermissionDeniedError(action, "only a person may do this, not a station",
                                    rule="station")
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
                                        "the station belongs to another laboratory", rule="station")
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
                                        "the station belongs to another laboratory", rule="station")
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
            f"and may not check their own work ({TWO_PERSON})", rule="separation")


def may_issue(session: Session, principal: Principal, cert: Certificate) -> None:
    require_role(session, principal, Role.APPROVER, cert.organisation_id,
                 action="certificate.issue")
    if principal.user_id in contributors(cert) or principal.user_id == cert.checked_by_id:
        raise PermissionDeniedError(
            "certificate.issue", f"the approver ({principal.name}) must be neither a performer "
            f"(who performed, posted or edited) nor the checker of this revision ({TWO_PERSON})",
            rule="separation")


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
                                    "person who performs it cannot also check it",
                                    rule="separation")


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
                                    f"and may not review it ({TWO_PERSON})", rule="separation")


def may_change_status(session: Session, principal: Principal, org_id: int) -> None:
    require_any_role(session, principal, (Role.REVIEWER, Role.ADMIN), org_id,
                     action="standard.status")


# --- quality control: intermediate checks, events, return to service ----------------------


def may_file_check(session: Session, principal: Principal, lab_id: int) -> None:
    """A check of a standard is filed by a station of the laboratory that holds it or by a
    technician there (the organisation boundary: nobody files checks of another's standard)."""
    if principal.kind == "station":
        if principal.station_org_id != lab_id:
            raise PermissionDeniedError("check.file", "the station belongs to another "
                                        "laboratory than the standard's", rule="station")
        return
    require_role(session, principal, Role.TECHNICIAN, lab_id, action="check.file")


def can_read_checks(session: Session, principal: Principal, lab_id: int) -> bool:
    """A standard's checks and events: the holder's staff, admins above, its stations."""
    if principal.kind == "station":
        return principal.station_org_id == lab_id
    return is_lab_staff(session, principal, lab_id)


def may_return_to_service(session: Session, principal: Principal, lab_id: int,
                          suspended_by: Iterable[int | None]) -> int:
    """A standard under investigation or in quarantine returns to service by a person who
    may change its status (reviewer or admin of the holder) and who is not the one who
    quarantined it or whose check opened the event (ISO/IEC 17025 6.4.9: verified by someone
    else). Returns the person's user id."""
    user_id = _person(principal, "standard.return_to_service")
    may_change_status(session, principal, lab_id)
    if user_id in set(suspended_by):
        raise PermissionDeniedError(
            "standard.return_to_service", "the person who put the standard out of service "
            "(or whose check did) does not return it: another person verifies it",
            rule="separation")
    return user_id


# --- service desk: orders, complaints, evaluations ----------------------------------------
#
# Who acts on an order (ISO/IEC 17025 7.1 review of requests, 7.4 handling of items):
#
# * a customer (role ``customer`` in an organisation) books for that organisation, accepts
#   the quote, cancels before work starts, files complaints and evaluates; they see their
#   organisation's orders and complaints only (another's is a 404, as if unknown);
# * the laboratory's approver (its authorised signatory) or an admin of it reviews the
#   request: quotes or rejects it, records the payment, cancels it with a reason, and
#   completes it once its certificate is issued;
# * a technician of the laboratory receives the item (its condition), starts the work and
#   links the run's draft certificate (an edit of the draft: they become its contributor);
# * any staff of the laboratory answers an information request;
# * a complaint's handler is a person of the laboratory named by its approver or an admin,
#   who took no part in the work complained about (:func:`desk_participants`).


#: The roles that look after a laboratory's standards (enter and edit them, change their
#: status): the people its due notices go to.
STANDARD_KEEPERS = (Role.DATA_ENTRY, Role.REVIEWER, Role.ADMIN)


def may_print_labels(session: Session, principal: Principal, lab_id: int) -> None:
    """Status labels of a laboratory's standards: its staff (and administrators above)."""
    if not is_lab_staff(session, principal, lab_id):
        org = session.get(Organisation, lab_id)
        raise PermissionDeniedError(
            "standard.labels", f"{principal.actor} is not staff of laboratory "
            f"{org.code if org else lab_id}", rule="organisation")


def customer_of(principal: Principal, organisation_id: int) -> bool:
    """Whether the caller holds the customer role in the organisation."""
    return (organisation_id, Role.CUSTOMER) in principal.roles


def customer_organisations(principal: Principal) -> list[int]:
    """The organisations the caller is a customer of (sorted ids)."""
    return sorted(org for org, role in principal.roles if role is Role.CUSTOMER)


def is_lab_staff(session: Session, principal: Principal, lab_id: int) -> bool:
    """Staff of the laboratory (any laboratory role there) or an admin of it or above."""
    if principal.kind != "user":
        return False
    return any((lab_id, r) in principal.roles for r in LAB_ROLES) or \
        has_role(session, principal, Role.ADMIN, lab_id)


def staff_laboratories(session: Session, principal: Principal) -> list[int]:
    """The laboratories whose orders and complaints the caller works on (sorted ids): those
    where they hold a laboratory role, and every organisation below one they administer."""
    if principal.kind != "user":
        return []
    if principal.is_superuser:
        return sorted(session.exec(select(Organisation.id)).all())  # type: ignore[arg-type]
    direct = {org for org, role in principal.roles if role in LAB_ROLES}
    admin_of = [org for org, role in principal.roles if role is Role.ADMIN]
    below: set[int] = set()
    frontier = list(admin_of)
    while frontier:
        children = session.exec(select(Organisation.id).where(
            col(Organisation.parent_id).in_(frontier))).all()
        frontier = [c for c in children if c is not None and c not in below]
        below.update(frontier)
    return sorted(direct | below)


def can_read_order(session: Session, principal: Principal, order: ServiceOrder) -> bool:
    """The customer organisation's people and the laboratory's staff read an order."""
    return customer_of(principal, order.customer_organisation_id) or \
        is_lab_staff(session, principal, order.laboratory_id)


def may_book(session: Session, principal: Principal, customer_id: int) -> None:
    """A person holding the customer role in the organisation books for it."""
    _person(principal, "order.create")
    require_role(session, principal, Role.CUSTOMER, customer_id, action="order.create")


#: Who takes each laboratory-side step of an order (the roles that may, in the laboratory).
ORDER_STEP_ROLES: dict[str, tuple[Role, ...]] = {
    "quote": (Role.APPROVER, Role.ADMIN),
    "reject": (Role.APPROVER, Role.ADMIN),
    "payment": (Role.APPROVER, Role.ADMIN),
    "receive": (Role.TECHNICIAN,),
    "start": (Role.TECHNICIAN,),
    "certificate": (Role.TECHNICIAN,),
    "complete": (Role.APPROVER, Role.ADMIN),
    "answer": (Role.TECHNICIAN, Role.CHECKER, Role.APPROVER, Role.REVIEWER, Role.ADMIN),
}


def may_order_step(session: Session, principal: Principal, order: ServiceOrder,
                   step: str) -> None:
    """A laboratory-side step (a key of :data:`ORDER_STEP_ROLES`) by a person of the order's
    laboratory holding one of its roles."""
    action = f"order.{step}"
    _person(principal, action)
    require_any_role(session, principal, ORDER_STEP_ROLES[step], order.laboratory_id,
                     action=action)


def may_accept_quote(session: Session, principal: Principal, order: ServiceOrder) -> None:
    """The customer accepts the laboratory's quote (the contract, ISO/IEC 17025 7.1)."""
    _person(principal, "order.accept")
    require_role(session, principal, Role.CUSTOMER, order.customer_organisation_id,
                 action="order.accept")


def may_cancel_order(session: Session, principal: Principal, order: ServiceOrder) -> str:
    """Who may cancel: the customer, or the laboratory's approver or admin; returns which
    side (``"customer"`` or ``"laboratory"``) since each may cancel at different stages."""
    _person(principal, "order.cancel")
    if customer_of(principal, order.customer_organisation_id):
        return "customer"
    require_any_role(session, principal, ORDER_STEP_ROLES["quote"], order.laboratory_id,
                     action="order.cancel")
    return "laboratory"


def order_people(order: ServiceOrder) -> dict[int, str]:
    """The laboratory people who took part in an order, each with what they did."""
    out: dict[int, str] = {}
    for attr, what in (("quoted_by_id", "quoted the order"),
                       ("payment_by_id", "recorded its payment"),
                       ("received_by_id", "received the item"),
                       ("started_by_id", "performed the work"),
                       ("linked_by_id", "linked its certificate"),
                       ("completed_by_id", "completed the order")):
        uid = getattr(order, attr)
        if uid is not None:
            out.setdefault(uid, what)
    return out


def certificate_people(revisions: Iterable[Certificate]) -> dict[int, str]:
    """Everyone on a certificate's revisions: its contributors (:func:`contributors`), its
    checkers and approvers, each with what they did."""
    out: dict[int, str] = {}
    for cert in revisions:
        for uid in contributors(cert):
            out.setdefault(uid, f"worked on certificate {cert.number}")
        if cert.checked_by_id is not None:
            out.setdefault(cert.checked_by_id, f"checked certificate {cert.number}")
        if cert.approved_by_id is not None:
            out.setdefault(cert.approved_by_id, f"approved certificate {cert.number}")
    return out


def desk_participants(order: ServiceOrder | None,
                      revisions: Iterable[Certificate]) -> dict[int, str]:
    """Who took part in the work a complaint is about (none of them handles it): the order's
    laboratory people and everyone on its certificate's revisions."""
    out = certificate_people(revisions)
    if order is not None:
        out = {**out, **order_people(order)}
    return out


def may_file_complaint(session: Session, principal: Principal, customer_id: int) -> None:
    _person(principal, "complaint.create")
    require_role(session, principal, Role.CUSTOMER, customer_id, action="complaint.create")


def can_read_complaint(session: Session, principal: Principal, complaint: Complaint) -> bool:
    """The complaining organisation's people and the laboratory's staff read a complaint."""
    return customer_of(principal, complaint.customer_organisation_id) or \
        is_lab_staff(session, principal, complaint.laboratory_id)


def may_assign_handler(session: Session, principal: Principal, complaint: Complaint) -> None:
    """The laboratory's approver or an admin of it names the complaint's handler."""
    _person(principal, "complaint.assign")
    require_any_role(session, principal, (Role.APPROVER, Role.ADMIN), complaint.laboratory_id,
                     action="complaint.assign")


def may_handle(session: Session, handler: User, complaint: Complaint,
               participants: dict[int, str], action: str = "complaint.assign") -> None:
    """``handler`` may handle the complaint: an active person holding a role in the
    laboratory who took no part in the work complained about (ISO/IEC 17025 7.9.6)."""
    assert handler.id is not None
    roles = session.exec(select(Membership.role).where(
        Membership.user_id == handler.id,
        Membership.organisation_id == complaint.laboratory_id)).all()
    if not handler.is_active or not set(roles) & {r.value for r in LAB_ROLES}:
        raise PermissionDeniedError(action, f"{handler.username} is not an active member of "
                                    "the laboratory's staff", rule="role")
    if handler.id in participants:
        raise PermissionDeniedError(
            action, f"{handler.username} {participants[handler.id]} and may not handle a "
            "complaint about that work (the handler must be independent of it)",
            rule="independence")


def may_work_complaint(session: Session, principal: Principal, complaint: Complaint,
                       participants: dict[int, str], action: str) -> None:
    """Investigating and answering: the assigned handler, still independent of the work."""
    uid = _person(principal, action)
    if complaint.handler_id is None or uid != complaint.handler_id:
        raise PermissionDeniedError(action, "only the complaint's assigned handler does this",
                                    rule="handler")
    handler = session.get(User, uid)
    assert handler is not None
    may_handle(session, handler, complaint, participants, action)


def may_close_complaint(session: Session, principal: Principal, complaint: Complaint) -> None:
    """The handler or the complaining customer closes an answered complaint."""
    uid = _person(principal, "complaint.close")
    if uid == complaint.handler_id or customer_of(principal, complaint.customer_organisation_id):
        return
    raise PermissionDeniedError("complaint.close", "the complaint's handler or the customer "
                                "who complained closes it", rule="handler")


def may_evaluate(session: Session, principal: Principal, order: ServiceOrder) -> None:
    """The order's customer organisation evaluates it (a person holding the role there)."""
    _person(principal, "order.evaluate")
    require_role(session, principal, Role.CUSTOMER, order.customer_organisation_id,
                 action="order.evaluate")


# --- the primary-standards ledger ---------------------------------------------------------

#: Who keeps a national primary standard's ledger record: the holder's registry people
#: (data entry, reviewers) and its administrators — the national institute's staff.
LEDGER_ROLES = (Role.DATA_ENTRY, Role.REVIEWER, Role.ADMIN)


def may_edit_ledger(session: Session, principal: Principal, holder_id: int) -> None:
    """A person holding one of :data:`LEDGER_ROLES` in the organisation that holds the
    standard (administrators also from above) edits its ledger record and components."""
    _person(principal, "ledger.edit")
    require_any_role(session, principal, LEDGER_ROLES, holder_id, action="ledger.edit")


def can_read_ledger_history(session: Session, principal: Principal, holder_id: int) -> bool:
    """The holder's staff (and administrators above it) read who changed its ledger."""
    return is_lab_staff(session, principal, holder_id)


# --- comparisons ----------------------------------------------------------------------------
#
# Who acts on a comparison (ISO/IEC 17025 7.7.2, CIPM MRA, ISO/IEC 17043):
#
# * it is created by the pilot's staff (an approver, reviewer or admin of the pilot
#   organisation), or by such a person of a national-level organisation (the national
#   institute coordinating the country's comparisons) naming another pilot;
# * a participant's result is entered by the participant's own staff (a technician,
#   approver, reviewer or admin there: never another participant's) or by the pilot's;
# * the pilot opens, closes and publishes it; the person who publishes entered none of its
#   results (the evaluation is checked by someone who did not type the numbers).

#: The roles that run a comparison in the pilot (or the coordinating national institute).
COMPARISON_ROLES = (Role.APPROVER, Role.REVIEWER, Role.ADMIN)
#: The roles that enter a participant's result in its own organisation.
RESULT_ROLES = (Role.TECHNICIAN, Role.APPROVER, Role.REVIEWER, Role.ADMIN)


def _holds_any(session: Session, principal: Principal, roles: tuple[Role, ...],
               org_id: int) -> bool:
    return any(has_role(session, principal, r, org_id) for r in roles)


def may_create_comparison(session: Session, principal: Principal, pilot: Organisation) -> None:
    """The pilot's approver, reviewer or admin, or one of a national-level organisation."""
    _person(principal, "comparison.create")
    assert pilot.id is not None
    if _holds_any(session, principal, COMPARISON_ROLES, pilot.id):
        return
    national = session.exec(select(Organisation.id).where(
        Organisation.level == "national")).all()
    if any(o is not None and _holds_any(session, principal, COMPARISON_ROLES, o)
           for o in national):
        return
    names = ", ".join(r.value for r in COMPARISON_ROLES)
    raise PermissionDeniedError("comparison.create", f"{principal.actor} holds none of the "
                                f"roles ({names}) in the pilot {pilot.code} or in a "
                                "national-level organisation", rule="role")


def is_pilot_staff(session: Session, principal: Principal, pilot_id: int) -> bool:
    return principal.kind == "user" and _holds_any(session, principal, COMPARISON_ROLES,
                                                   pilot_id)


def may_run_comparison(session: Session, principal: Principal, pilot_id: int,
                       action: str) -> None:
    """Opening, closing: the pilot's approver, reviewer or admin."""
    _person(principal, action)
    require_any_role(session, principal, COMPARISON_ROLES, pilot_id, action=action)


def may_enter_result(session: Session, principal: Principal, pilot_id: int,
                     participant_id: int) -> None:
    """The participant's own staff or the pilot's enter a participant's result; anyone
    else (another participant) is refused: the organisation boundary."""
    _person(principal, "comparison.result")
    if _holds_any(session, principal, RESULT_ROLES, participant_id) or \
            is_pilot_staff(session, principal, pilot_id):
        return
    org = session.get(Organisation, participant_id)
    raise PermissionDeniedError(
        "comparison.result", f"{principal.actor} is neither staff of the participant "
        f"{org.code if org else participant_id} nor of the pilot: results are entered by "
        "their own laboratory or the pilot", rule="role")


def may_publish_comparison(session: Session, principal: Principal, pilot_id: int,
                           enterers: Iterable[int]) -> None:
    """The pilot's approver, reviewer or admin who entered none of the results."""
    may_run_comparison(session, principal, pilot_id, "comparison.publish")
    if principal.user_id in set(enterers):
        raise PermissionDeniedError(
            "comparison.publish", f"{principal.name} entered results of this comparison and "
            f"may not publish its evaluation ({TWO_PERSON})", rule="separation")


def can_read_comparison(session: Session, principal: Principal | None, pilot_id: int,
                        participant_ids: Iterable[int], published: bool, *,
                        creator_id: int | None = None) -> bool:
    """Published: everyone. Before: the pilot's staff, the participants' staff and the
    person who created it (anyone else gets the 404 of an unknown comparison)."""
    if published:
        return True
    if principal is None or principal.kind != "user":
        return False
    if creator_id is not None and principal.user_id == creator_id:
        return True
    return any(is_lab_staff(session, principal, o) for o in (pilot_id, *participant_ids))
