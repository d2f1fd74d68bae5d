"""The platform's tables (SQLModel ``table=True``) and their API create/public schemas.

Importing this package registers every table on ``SQLModel.metadata`` (alembic compares it).
"""

from labctl.platform.models.audit import AuditCheckpoint, AuditEvent
from labctl.platform.models.base import (
    CertificateStatus,
    DecisionRule,
    OrgLevel,
    ReviewState,
    Role,
    StandardKind,
    StandardStatus,
)
from labctl.platform.models.certificates import (
    Certificate,
    CertificateFlag,
    CertificateStandard,
    ResultPoint,
    ResultPosting,
)
from labctl.platform.models.comparisons import Comparison, ComparisonResult
from labctl.platform.models.desk import (
    Complaint,
    ComplaintEvent,
    Evaluation,
    OrderEvent,
    ServiceOrder,
)
from labctl.platform.models.jobs import JobRun, JobState
from labctl.platform.models.ledger import PrimaryStandardComponent, PrimaryStandardProfile
from labctl.platform.models.notices import Notice, NoticeKind
from labctl.platform.models.org import (
    ApiToken,
    Authorisation,
    LoginThrottle,
    Membership,
    Organisation,
    Station,
    User,
)
from labctl.platform.models.quality import CheckResult, QualityEvent
from labctl.platform.models.registry import (
    Capability,
    Standard,
    StandardCalibration,
    StandardCorrection,
    StandardStatusChange,
)
from labctl.platform.models.runs import Bench, BenchRun, RunEventRow, RunPointRow, RunRequest

__all__ = [
    "ApiToken",
    "AuditCheckpoint",
    "AuditEvent",
    "Authorisation",
    "Bench",
    "BenchRun",
    "Capability",
    "Certificate",
    "CertificateFlag",
    "CertificateStandard",
    "CertificateStatus",
    "CheckResult",
    "Comparison",
    "ComparisonResult",
    "Complaint",
    "ComplaintEvent",
    "DecisionRule",
    "Evaluation",
    "JobRun",
    "JobState",
    "LoginThrottle",
    "Membership",
    "Notice",
    "NoticeKind",
    "OrderEvent",
    "OrgLevel",
    "Organisation",
    "PrimaryStandardComponent",
    "PrimaryStandardProfile",
    "QualityEvent",
    "ResultPoint",
    "ResultPosting",
    "ReviewState",
    "Role",
    "RunEventRow",
    "RunPointRow",
    "RunRequest",
    "ServiceOrder",
    "Standard",
    "StandardCalibration",
    "StandardCorrection",
    "StandardKind",
    "StandardStatus",
    "StandardStatusChange",
    "Station",
    "User",
]
