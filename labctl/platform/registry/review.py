"""The one review workflow of registry entries (standards and CMCs), by entry type.

An entry goes draft → submitted → published (or back to draft when the reviewer rejects it);
a published entry is revised back to draft for changes, and only a draft is edited. Who may
act is :mod:`labctl.platform.accounts.policy`'s decision: data entry of the holder enters,
edits and submits; a reviewer of the holder who neither entered nor edited the content
publishes. Each step checks every rule before it writes, leaves one audit event
(``<entity>.submit``, ``.publish``, ``.reject``, ``.update``, ``.revise``) and commits once.

What differs between the entry types is data, a :class:`ReviewedEntry` each
(:data:`STANDARD`, :data:`CAPABILITY`): how a row is found by its key, who may see it, its
public view, its audit name and the fields an edit may change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlmodel import Session, col, select

from labctl.errors import ConflictError, ValidationError
from labctl.platform import audit
from labctl.platform.accounts import policy
from labctl.platform.accounts.auth import Principal
from labctl.platform.db import utcnow
from labctl.platform.models.base import ReviewState
from labctl.platform.models.registry import (
    Capability,
    CapabilityPublic,
    EntryUpdate,
    ReviewDecision,
    Standard,
    StandardPublic,
)
from labctl.platform.registry.entries import (
    can_see_unpublished,
    capability_by_id,
    capability_public,
    standard_by_identifier,
    standard_public,
    unpublished_scope,
    visible_capability,
    visible_standard,
)

R = TypeVar("R", Standard, Capability)
K = TypeVar("K", str, int)
P = TypeVar("P", bound=BaseModel)

#: What an edit of a draft may change in any entry: what it covers and how well.
RANGE_FIELDS = frozenset({"range_min", "range_max", "uncertainty_relative",
                          "uncertainty_absolute"})


@dataclass(frozen=True)
class ReviewedEntry(Generic[R, K, P]):
    """One type of registry entry as the review workflow sees it."""

    #: the audit trail's entity type and the prefix of its actions and policy actions
    entity: str
    #: the row by its key (``NotFoundError`` if there is none)
    find: Callable[[Session, K], R]
    #: the row by its key if the caller may see it (else ``NotFoundError``, not 403)
    visible: Callable[[Session, K, Principal | None], R]
    #: the row as the API shows it, and that view's model
    public: Callable[[Session, R], P]
    public_model: type[P]
    #: the fields of :class:`EntryUpdate` a draft of this type may change
    editable: frozenset[str]


STANDARD: ReviewedEntry[Standard, str, StandardPublic] = ReviewedEntry(
    entity="standard", find=standard_by_identifier, visible=visible_standard,
    public=standard_public, public_model=StandardPublic,
    editable=RANGE_FIELDS | {"description", "manufacturer", "model", "serial_number",
                             "accuracy_class", "calibration_interval_days",
                             "restrictions"},
)
CAPABILITY: ReviewedEntry[Capability, int, CapabilityPublic] = ReviewedEntry(
    entity="capability", find=capability_by_id, visible=visible_capability,
    public=capability_public, public_model=CapabilityPublic,
    editable=RANGE_FIELDS | {"method"},
)


def _in_state(entry: ReviewedEntry[R, K, P], key: K, row: R, state: ReviewState,
              only: str) -> None:
    if row.review_state != state:
        raise ConflictError(f"{entry.entity} {key} is {row.review_state}{only}",
                            reason="review_state", entry=str(key), status=row.review_state)


def _commit(session: Session, principal: Principal, entry: ReviewedEntry[R, K, P], key: K,
            row: R, step: str, *, reason: str = "", data: dict[str, Any] | None = None) -> R:
    """Write the row with its audit event (``<entity>.<step>``), in one transaction."""
    session.add(row)
    audit.record(session, actor=principal.actor, action=f"{entry.entity}.{step}",
                 entity_type=entry.entity, entity_id=str(key),
                 organisation_id=row.organisation_id, reason=reason, data=data)
    session.commit()
    return row


def submit_entry(session: Session, *, principal: Principal, entry: ReviewedEntry[R, K, P],
                 key: K) -> R:
    """Send a draft to review (data entry of the holder)."""
    row = entry.find(session, key)
    policy.may_enter(session, principal, row.organisation_id, f"{entry.entity}.submit")
    _in_state(entry, key, row, ReviewState.DRAFT, ", only a draft is submitted")
    row.review_state = ReviewState.SUBMITTED.value
    return _commit(session, principal, entry, key, row, "submit")


def review_entry(session: Session, *, principal: Principal, entry: ReviewedEntry[R, K, P],
                 key: K, decision: ReviewDecision) -> R:
    """Publish a submitted entry, or send it back to draft (a reviewer of the holder who
    neither entered nor edited it)."""
    row = entry.find(session, key)
    authors: list[int | None] = [row.created_by_id]
    authors += row.contributor_ids
    policy.may_review(session, principal, row.organisation_id, authors, f"{entry.entity}.review")
    _in_state(entry, key, row, ReviewState.SUBMITTED, ", only a submitted entry is reviewed")
    if decision.approve:
        row.review_state = ReviewState.PUBLISHED.value
        row.reviewed_by_id = principal.user_id
        row.published_at = utcnow()
    else:
        row.review_state = ReviewState.DRAFT.value
    return _commit(session, principal, entry, key, row,
                   "publish" if decision.approve else "reject", reason=decision.comment)


def update_entry(session: Session, *, principal: Principal, entry: ReviewedEntry[R, K, P],
                 key: K, data: EntryUpdate) -> R:
    """Edit a draft (data entry of the holder), with the reason; a published entry is
    revised first (:func:`revise_entry`). The editor becomes a contributor, who may not
    review it."""
    row = entry.find(session, key)
    policy.may_enter(session, principal, row.organisation_id, f"{entry.entity}.update")
    _in_state(entry, key, row, ReviewState.DRAFT,
              "; only a draft is edited (revise a published entry first)")
    changes = data.model_dump(exclude_unset=True, exclude={"reason"})
    if not changes:
        raise ValidationError("body", {}, "at least one field to change besides the reason")
    for name, value in changes.items():
        if name not in entry.editable:
            raise ValidationError(name, value,
                                  f"one of {sorted(entry.editable)} for a {entry.entity}")
        if value is None:
            raise ValidationError(name, None, "a value (omit the field to keep it)")
    range_min = changes.get("range_min", row.range_min)
    range_max = changes.get("range_max", row.range_max)
    if range_min > range_max:
        raise ValidationError("range_min", str(range_min), f"at most range_max={range_max}")
    if "restrictions" in changes:  # no restriction is NULL, as audit.CHECKED expects
        changes["restrictions"] = changes["restrictions"].strip() or None
    for name, value in changes.items():
        setattr(row, name, value)
    row.range_min_f, row.range_max_f = float(row.range_min), float(row.range_max)
    row.uncertainty_relative_f = float(row.uncertainty_relative)
    row.uncertainty_absolute_f = float(row.uncertainty_absolute)
    row.contributor_ids = policy.with_contributor(row.contributor_ids, principal)
    return _commit(session, principal, entry, key, row, "update", reason=data.reason,
                   data=data.model_dump(exclude_unset=True, mode="json"))


def revise_entry(session: Session, *, principal: Principal, entry: ReviewedEntry[R, K, P],
                 key: K, reason: str) -> R:
    """Take a published entry back to draft for changes: it leaves the public registry
    until a reviewer publishes it again."""
    row = entry.find(session, key)
    policy.may_revise(session, principal, row.organisation_id, f"{entry.entity}.revise")
    _in_state(entry, key, row, ReviewState.PUBLISHED, "; only a published entry is revised")
    row.review_state = ReviewState.DRAFT.value
    row.reviewed_by_id = None
    row.published_at = None
    return _commit(session, principal, entry, key, row, "revise", reason=reason)


def authors_of(row: Standard | Capability) -> list[int]:
    """Who entered or edited an entry (user ids, first-seen order): none of them reviews it."""
    ids = [row.created_by_id, *row.contributor_ids]
    return [i for i in dict.fromkeys(ids) if i is not None]


def awaiting_review(session: Session, principal: Principal
                    ) -> list[tuple[ReviewedEntry[Any, Any, Any], Standard | Capability]]:
    """Every submitted entry the caller may see (the holder's people and administrators
    above it), oldest first, each with its entry type. Whether the caller may review one is
    :func:`~labctl.platform.accounts.policy.may_review`'s answer, asked per entry."""
    out: list[tuple[ReviewedEntry[Any, Any, Any], Standard | Capability]] = []
    scope = unpublished_scope(session, principal) or {-1}
    standards = session.exec(select(Standard).where(
        Standard.review_state == ReviewState.SUBMITTED.value,
        col(Standard.organisation_id).in_(scope))
        .order_by(col(Standard.created_at), col(Standard.id))).all()
    capabilities = session.exec(select(Capability).where(
        Capability.review_state == ReviewState.SUBMITTED.value,
        col(Capability.organisation_id).in_(scope))
        .order_by(col(Capability.created_at), col(Capability.id))).all()
    out += [(STANDARD, r) for r in standards
            if can_see_unpublished(session, principal, r.organisation_id)]
    out += [(CAPABILITY, r) for r in capabilities
            if can_see_unpublished(session, principal, r.organisation_id)]
    return out
