"""Issued revisions are immutable: a flush-time net under the services.

The services already refuse to change an issued, superseded or withdrawn revision; this
listener refuses it whichever code path tries (a change of content, of its points, of its
standards, or a delete), so a bug elsewhere cannot rewrite what a customer holds.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from labctl.errors import (
    ConflictError,
)
from labctl.platform.models.base import (
    CertificateStatus,
)
from labctl.platform.models.certificates import (
    Certificate,
    CertificateStandard,
    ResultPoint,
    ResultPosting,
)

#: What may still change on an issued revision: it can be superseded or withdrawn, nothing else.
_MUTABLE_AFTER_ISSUE = frozenset({"status", "withdrawn_at", "withdrawal_reason"})


_FINAL = frozenset({CertificateStatus.ISSUED.value, CertificateStatus.SUPERSEDED.value,
                    CertificateStatus.WITHDRAWN.value})


def _stored_status(cert: Certificate) -> str | None:
    hist = sa.inspect(cert).attrs.status.history
    if hist.deleted:
        return hist.deleted[0]  # type: ignore[no-any-return]
    return hist.unchanged[0] if hist.unchanged else None


def _guard_issued(session: Any, flush_context: Any, instances: Any) -> None:
    """Refuse, at flush time, any change to an issued revision's content, its points or its
    standards, whichever code path tries it (the services already refuse; this is the net)."""
    for obj in session.dirty:
        if isinstance(obj, Certificate) and _stored_status(obj) in _FINAL:
            state = sa.inspect(obj)
            changed = {a.key for a in state.attrs if a.history.has_changes()}
            if changed - _MUTABLE_AFTER_ISSUE:
                raise ConflictError(
                    f"certificate {obj.number} rev {obj.revision} is issued and immutable; "
                    f"refused change of {sorted(changed - _MUTABLE_AFTER_ISSUE)} (amend instead)")
    for obj in [*session.new, *session.deleted]:
        if isinstance(obj, Certificate) and obj in session.deleted and \
                _stored_status(obj) in _FINAL:
            raise ConflictError(f"certificate {obj.number} rev {obj.revision} is issued and "
                                "cannot be deleted")
        if isinstance(obj, ResultPoint | CertificateStandard | ResultPosting):
            parent = session.get(Certificate, obj.certificate_id)
            if parent is not None and _stored_status(parent) in _FINAL:
                raise ConflictError(f"certificate {parent.number} rev {parent.revision} is "
                                    "issued: its results and standards cannot change")


sa.event.listen(Session, "before_flush", _guard_issued)
