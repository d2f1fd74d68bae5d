"""The audit trail: append-only, hash-chained, sealed events, the rows they must explain, and
signed checkpoints (see :mod:`~labctl.platform.audit.trail`)."""

from labctl.platform.audit.trail import (
    AUDIT_KEY_NAME,
    CHECKED,
    GENESIS,
    audit_identity,
    baseline,
    certificate_record,
    checkpoint_json,
    event_hash,
    make_checkpoint,
    record,
    use_key,
    verify,
    verify_chain,
)

__all__ = ["AUDIT_KEY_NAME", "CHECKED", "GENESIS", "audit_identity", "baseline",
           "certificate_record", "checkpoint_json", "event_hash", "make_checkpoint", "record",
           "use_key", "verify", "verify_chain"]
