"""The audit trail: append-only, hash-chained, sealed events; the rows they must explain; signed
checkpoints.

**Chain.** Each event's ``hash`` is SHA-256 over a canonical JSON form of the event (time,
actor, organisation, action, entity, reason, data) and the previous event's hash, starting from
``GENESIS``. Editing, inserting or deleting an event breaks the chain at that point;
``verify.verify_chain`` finds the first broken event.

**Seals.** When the process holds the platform's audit key (``keys.use_key``, done by the server
and the CLI; the key lives in ``LABCTL_KEYS_DIR``, outside the database), each event also
carries ``seal``: an ECDSA signature of its hash. Whoever can only write to the database cannot
seal, so an event forged there (appended, or the chain re-hashed from an edit on) has no valid
seal. Once an event is sealed, every later one must be.

**Rows explained.** The tables that matter are listed in ``rows.CHECKED`` (table, key columns,
checked columns, secret columns). Every row of those tables that a transaction inserts, changes
or deletes through the session (ORM flushes; insert statements with the key values; update and
delete statements, by the rows they match) is noted, and ``trail.record`` stores the row's
checked columns as they are after the write (secrets as SHA-256 digests; ``None`` for a deleted
row) in the event's ``data["rows"]`` (``{table: {key: values}}``). ``verify.check_rows`` replays
the events and compares every row of every checked table with the last event that wrote it: a
row no event explains (inserted, changed or deleted directly in the database) is a finding. To
check a new table, add one :class:`CheckedEntity` to ``rows.CHECKED``: its writes are captured
from then on, with nothing to change in the services (writes must go through the session, and
``audit.record`` must come last in the transaction, as it already must).

**Checkpoints.** ``verify.make_checkpoint`` signs the head (id, hash, number of events, time)
with the audit key; a checkpoint is also written every :data:`CHECKPOINT_EVERY` events (in the
transaction of the event that reaches the count) and after a clean ``labctl audit verify``.
Exported as JSON (``checkpoints.checkpoint_json``) and kept elsewhere, it shows truncation and
re-hashing: ``checkpoints.check_checkpoint``.

Appends are serialised: on SQLite every write transaction holds the database's write lock
(``BEGIN IMMEDIATE``, see ``db``); on PostgreSQL ``trail.record`` takes a transaction-scoped
advisory lock before it reads the current head. Call it once per transaction, after the other
writes (it flushes them first, so only the append happens under the lock: no lock cycles).

Modules, each importing only those above it in this list: ``rows`` (what must be explained,
noting a transaction's writes), ``keys`` (the audit key, seals), ``checkpoints``, ``trail``
(appending), ``verify`` (chain, seals, rows, checkpoints, one certificate), ``baseline``.
"""

from labctl.platform.audit.baseline import baseline
from labctl.platform.audit.checkpoints import checkpoint_json
from labctl.platform.audit.keys import AUDIT_KEY_NAME, audit_identity, use_key
from labctl.platform.audit.rows import CHECKED
from labctl.platform.audit.trail import GENESIS, event_hash, record
from labctl.platform.audit.verify import (
    certificate_record,
    make_checkpoint,
    verify,
    verify_chain,
)

__all__ = ["AUDIT_KEY_NAME", "CHECKED", "GENESIS", "audit_identity", "baseline",
           "certificate_record", "checkpoint_json", "event_hash", "make_checkpoint", "record",
           "use_key", "verify", "verify_chain"]
