"""Certificates: the workflow draft → checked → issued → superseded / withdrawn, the documents
rendered and signed at issue, the public views and verification.

- :mod:`~labctl.platform.certificates.workflow`: create, post results, check, issue, amend,
  withdraw, with every rule that gates issue;
- :mod:`~labctl.platform.certificates.rendering`: stored rows → document → PDF and signed DCC;
- :mod:`~labctl.platform.certificates.views`: reading a certificate, public verification;
- :mod:`~labctl.platform.certificates.guard`: issued revisions are immutable (a flush-time
  net under the services).
"""

from labctl.platform.certificates import guard as _guard  # noqa: F401  (installs the net)
from labctl.platform.certificates.views import (
    MAX_LIST,
    CertificateFilters,
    can_read,
    certificate_public,
    list_certificates,
    readable,
    summaries,
    verify,
)
from labctl.platform.certificates.workflow import (
    amend_certificate,
    check_certificate,
    create_certificate,
    discard_posting,
    enforce_rules,
    issue_certificate,
    post_results,
    update_draft,
    withdraw_certificate,
)
from labctl.platform.results.records import latest, revision_of

__all__ = ["MAX_LIST", "CertificateFilters", "amend_certificate", "can_read",
           "certificate_public", "check_certificate", "create_certificate", "discard_posting",
           "enforce_rules", "issue_certificate", "latest", "list_certificates", "post_results",
           "readable", "revision_of", "summaries", "update_draft", "verify",
           "withdraw_certificate"]
