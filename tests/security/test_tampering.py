"""Tampering shows (issue 9): direct edits of the real database, each one found.

One world (organisations, people, a traceability chain of issued certificates, a withdrawn
certificate) is built through the HTTP API of a live server once per backend; each test works
on its own copy of that database (SQLite: the backup API; PostgreSQL: ``CREATE DATABASE …
TEMPLATE``), edits it with plain SQL as an insider with database access would, and checks
that ``labctl audit verify`` (the real CLI), ``labctl.platform.admin.verify_audit``,
``GET /audit/verify`` and the public ``GET /verify/{number}`` show it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from labctl.api import ServerThread, create_app
from labctl.platform import audit
from labctl.platform.admin import verify_audit
from labctl.platform.db import make_engine, migrate
from labctl.platform.settings import Settings
from tests.fixtures.db import World, _pg_admin_url, build_world
from tests.platform.chain import build_chain
from tests.platform.helpers import draft, issue, ok

pytestmark = pytest.mark.timeout(300)


@dataclass
class Template:
    backend: str
    url: str
    keys_dir: Path
    world: World
    c3: str  # issued, current
    withdrawn: str  # issued, then withdrawn
    working: str  # the laboratory's working standard (used by c3)
    reference: str  # the provincial reference standard (c3's chain passes through it)


def _copy_sqlite(src: str, dst: Path) -> str:
    source = sqlite3.connect(sa.make_url(src).database)
    target = sqlite3.connect(dst)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return f"sqlite:///{dst}"


@pytest.fixture(scope="module")
def template(platform_backend: str, tmp_path_factory: pytest.TempPathFactory,
             request: pytest.FixtureRequest) -> Iterator[Template]:
    tmp = tmp_path_factory.mktemp("tamper")
    if platform_backend == "sqlite":
        url = f"sqlite:///{tmp / 'template.db'}"
    else:
        url = request.getfixturevalue("postgres_database_factory")()
    keys_dir = tmp / "keys"
    engine = make_engine(url)
    migrate(engine)
    audit.use_key(engine, keys_dir)
    settings = Settings(database_url=url, keys_dir=keys_dir, migrate_on_start=False,
                        public_url="https://labctl.test")
    try:
        with ServerThread(create_app(settings)) as base:
            world = build_world(base, engine, "T" + secrets.token_hex(2).upper())
            with httpx.Client(base_url=base, timeout=60) as api:
                chain = build_chain(api, world)
                gone = draft(api, world, "lab", standards=[chain.working])
                issue(api, world, "lab", gone["number"])
                ok(api.post(f"/api/v1/certificates/{gone['number']}/withdraw",
                            json={"reason": "wrong item"},
                            headers=world.headers("lab", "approver")))
    finally:
        engine.dispose()
    t = Template(platform_backend, url, keys_dir, world, chain.c3["number"], gone["number"],
                 chain.working, chain.reference)
    clean = verify_audit(url, keys_dir=keys_dir)
    assert clean.ok, clean.model_dump()  # the untouched world is fully explained
    assert clean.rows_checked > 90 and clean.unsealed_events == 0 and clean.events > 80
    yield t


class Copy:
    """One test's own copy of the template database."""

    def __init__(self, t: Template, url: str) -> None:
        self.t = t
        self.url = url
        self.engine = make_engine(url)
        self.world = t.world
        self.keys_dir = t.keys_dir

    def sql(self, statement: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            result = conn.execute(sa.text(statement), params)
            return result.all() if result.returns_rows else None

    def one(self, statement: str, **params: Any) -> Any:
        rows = self.sql(statement, **params)
        assert len(rows) == 1, rows
        return rows[0][0]

    def cert_id(self, number: str, revision: int = 0) -> int:
        return int(self.one("SELECT id FROM certificate WHERE number = :n AND revision = :r",
                            n=number, r=revision))

    def verify(self, *checkpoints: tuple[str, dict[str, Any]]) -> Any:
        return verify_audit(self.url, keys_dir=self.keys_dir, checkpoints=checkpoints)

    def cli(self, *args: str) -> Any:
        from labctl.cli import app

        return CliRunner().invoke(app, [*args, "--database-url", self.url],
                                  env={"LABCTL_KEYS_DIR": str(self.keys_dir)})

    @contextmanager
    def server(self) -> Iterator[httpx.Client]:
        settings = Settings(database_url=self.url, keys_dir=self.keys_dir,
                            migrate_on_start=False, public_url="https://labctl.test")
        with ServerThread(create_app(settings)) as base, \
                httpx.Client(base_url=base, timeout=60) as client:
            yield client


@pytest.fixture
def db(template: Template, tmp_path: Path) -> Iterator[Copy]:
    if template.backend == "sqlite":
        url = _copy_sqlite(template.url, tmp_path / "copy.db")
        name = None
    else:
        admin = _pg_admin_url()
        assert admin
        name = f"labctl_tamper_{uuid.uuid4().hex[:10]}"
        src = sa.make_url(template.url).database
        eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{src}"')
        eng.dispose()
        url = sa.make_url(admin).set(database=name).render_as_string(hide_password=False)
    copy = Copy(template, url)
    yield copy
    copy.engine.dispose()
    if name is not None:
        eng = sa.create_engine(_pg_admin_url() or "", isolation_level="AUTOCOMMIT")
        with eng.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        eng.dispose()


def _findings(result: Any, table: str, problem: str | None = None) -> list[Any]:
    return [f for f in result.rows if f.table == table
            and (problem is None or f.problem == problem)]


# --- 1. rows no event explains -------------------------------------------------------------


def test_an_issued_point_value_changed_shows(db: Copy) -> None:
    cid = db.cert_id(db.t.c3)
    before = db.one("SELECT measured_value FROM result_point WHERE certificate_id = :c", c=cid)
    db.sql("UPDATE result_point SET measured_value = '10.000001' WHERE certificate_id = :c",
           c=cid)
    result = db.verify()
    assert not result.ok and result.chain_ok  # the chain itself is intact
    [f] = _findings(result, "result_point")
    assert (f.problem, f.column, f.row_value, f.event_value) == (
        "differs", "measured_value", "10.000001", before)
    run = db.cli("audit", "verify")
    assert run.exit_code == 1 and "AUDIT TRAIL NOT INTACT: 1 finding" in run.output
    assert "result_point" in run.output and "measured_value" in run.output \
        and "10.000001" in run.output


def test_a_points_degrees_of_freedom_or_budget_set_afterwards_shows(db: Copy) -> None:
    """``dof`` and ``budget`` are checked since migration 0007 (``CheckedEntity.added``):
    events that predate them still explain their points, and setting either afterwards on a
    point posted without them is a finding."""
    assert db.verify().ok  # points posted without dof / budget: explained as they are
    cid = db.cert_id(db.t.c3)
    db.sql("UPDATE result_point SET dof = 3.5, budget = :b WHERE certificate_id = :c", c=cid,
           b=json.dumps([{"name": "u_ref", "standard_uncertainty": "1e-6"}]))
    found = {(f.problem, f.column, f.event_value) for f in _findings(db.verify(),
                                                                     "result_point")}
    assert found == {("differs", "dof", None), ("differs", "budget", None)}


def test_an_issued_certificates_customer_changed_shows(db: Copy) -> None:
    cid = db.cert_id(db.t.c3)
    db.sql("UPDATE certificate SET customer_name = 'Someone Else GmbH' WHERE id = :c", c=cid)
    [f] = _findings(db.verify(), "certificate")
    assert (f.key, f.problem, f.column, f.row_value, f.event_value) == (
        str(cid), "differs", "customer_name", "Someone Else GmbH", "Customer Ltd")


def test_a_withdrawn_certificate_set_back_to_issued_shows(db: Copy) -> None:
    cid = db.cert_id(db.t.withdrawn)
    db.sql("UPDATE certificate SET status = 'issued', withdrawn_at = NULL, "
           "withdrawal_reason = '' WHERE id = :c", c=cid)
    found = {f.column: f for f in _findings(db.verify(), "certificate")}
    assert found["status"].row_value == "issued"
    assert found["status"].event_value == "withdrawn"
    assert {"withdrawn_at", "withdrawal_reason"} <= set(found)
    with db.server() as api:  # the public page does not call it genuine and current
        v = ok(api.get(f"/api/v1/verify/{db.t.withdrawn}"))
        assert v["current"] is False and v["audit_consistent"] is False
        assert "withdrawn" in v["audit_detail"]
        page = api.get(f"/verify/{db.t.withdrawn}", headers={"Accept": "text/html"})
        assert "Genuine and current" not in page.text
        assert "withdrawn" in page.text and "audit trail" in page.text.lower()


def test_a_deleted_row_shows(db: Copy) -> None:
    cid = db.cert_id(db.t.c3)
    db.sql("DELETE FROM result_point WHERE certificate_id = :c", c=cid)
    [f] = _findings(db.verify(), "result_point")
    assert f.problem == "deleted" and f.event_value["certificate_id"] == cid


def test_an_inserted_admin_membership_shows(db: Copy) -> None:
    tech = db.world.usernames[("lab", "technician")]
    uid_ = db.one("SELECT id FROM user_account WHERE username = :u", u=tech)
    org = db.one("SELECT id FROM organisation WHERE code = :c", c=db.world.orgs["nmi"])
    db.sql("INSERT INTO membership (user_id, organisation_id, role, created_at) "
           "VALUES (:u, :o, 'admin', :t)", u=uid_, o=org, t=datetime.now(UTC))
    [f] = _findings(db.verify(), "membership")
    assert f.problem == "unexplained" and f.row_value == {
        "user_id": uid_, "organisation_id": org, "role": "admin"}


def test_a_swapped_password_hash_shows(db: Copy) -> None:
    victim = db.world.usernames[("lab", "approver")]
    mine = db.one("SELECT password_hash FROM user_account WHERE username = :u",
                  u=db.world.usernames[("lab", "technician")])
    db.sql("UPDATE user_account SET password_hash = :h WHERE username = :u", h=mine, u=victim)
    [f] = _findings(db.verify(), "user_account")
    assert f.column == "password_hash" and f.problem == "differs"
    # recorded and reported as digests, never the hash itself
    assert f.row_value == "sha256:" + hashlib.sha256(mine.encode()).hexdigest()
    assert f.event_value.startswith("sha256:") and f.event_value != f.row_value


def test_an_extended_due_date_shows(db: Copy) -> None:
    sid = db.one("SELECT id FROM standard WHERE identifier = :i", i=db.t.working)
    db.sql("UPDATE standard_calibration SET due_date = '2099-12-31' WHERE standard_id = :s",
           s=sid)
    db.sql("UPDATE standard SET due_date = '2099-12-31' WHERE id = :s", s=sid)
    result = db.verify()
    [cal] = _findings(result, "standard_calibration")
    [std] = _findings(result, "standard")
    assert cal.column == std.column == "due_date"
    assert cal.row_value == "2099-12-31" and cal.event_value < "2099-12-31"


def test_an_extended_authorisation_shows(db: Copy) -> None:
    db.sql("UPDATE authorisation SET valid_until = '2099-12-31'")
    found = _findings(db.verify(), "authorisation")
    assert found and {f.column for f in found} == {"valid_until"}


def test_a_forged_token_row_shows(db: Copy) -> None:
    secret = secrets.token_urlsafe(32)
    su = db.one("SELECT id FROM user_account WHERE username LIKE 'root-%'")
    db.sql("INSERT INTO api_token (token_hash, user_id, created_at) VALUES (:h, :u, :t)",
           h=hashlib.sha256(secret.encode()).hexdigest(), u=su, t=datetime.now(UTC))
    [f] = _findings(db.verify(), "api_token")
    assert f.problem == "unexplained" and f.row_value["user_id"] == su
    with db.server() as api:
        report = ok(api.get("/api/v1/audit/verify", headers=db.world.su))
        assert report["ok"] is False
        assert [(r["table"], r["problem"]) for r in report["rows"]] == [
            ("api_token", "unexplained")]
        # a laboratory's administrator sees which row, not the values of other organisations
        lab = ok(api.get("/api/v1/audit/verify", headers=db.world.headers("lab", "admin")))
        assert lab["ok"] is False and lab["rows"][0]["row_value"] is None


def test_a_standard_status_change_deleted_shows(db: Copy) -> None:
    with db.server() as api:
        ok(api.post(f"/api/v1/standards/{db.t.working}/status",
                    headers=db.world.headers("lab", "reviewer"),
                    json={"status": "quarantined", "reason": "dropped on the floor"}))
    assert db.verify().ok  # written through the service: explained
    db.sql("DELETE FROM standard_status_change")
    db.sql("UPDATE standard SET status = 'in_service'")
    result = db.verify()
    assert _findings(result, "standard_status_change", "deleted")
    assert [f.column for f in _findings(result, "standard")] == ["status"]


# --- 2. the chain: seals and signed checkpoints --------------------------------------------


def _rehash_from(db: Copy, first: int) -> None:
    """What an insider does to hide an edit: recompute every hash from the edit on."""
    from sqlmodel import Session, select

    from labctl.platform.models.audit import AuditEvent

    with Session(db.engine) as s:
        events = s.exec(select(AuditEvent).order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
        prev = next(e.hash for e in reversed(events) if e.id < first)  # type: ignore[operator]
        for e in events:
            if e.id < first:  # type: ignore[operator]
                continue
            e.prev_hash = prev
            e.hash = audit.event_hash(e)
            prev = e.hash
        rows = [(e.id, e.prev_hash, e.hash, e.reason) for e in events
                if e.id >= first]  # type: ignore[operator]
    with db.engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET hash = 'x' || CAST(id AS TEXT) "
                             "WHERE id >= :f"), {"f": first})  # free the unique hashes
        for id_, prev_hash, hash_, reason in rows:
            conn.execute(sa.text("UPDATE audit_event SET prev_hash = :p, hash = :h, "
                                 "reason = :r WHERE id = :i"),
                         {"p": prev_hash, "h": hash_, "r": reason, "i": id_})


def test_a_rehashed_chain_shows_by_its_seals_and_against_a_checkpoint(
        db: Copy, tmp_path: Path) -> None:
    file = tmp_path / "checkpoint.json"
    run = db.cli("audit", "checkpoint", "--export", str(file))
    assert run.exit_code == 0, run.output
    doc = json.loads(file.read_text())
    assert set(doc) >= {"head_id", "head_hash", "events", "at", "signature",
                        "signer_certificate"}
    assert db.verify(("kept.json", doc)).ok
    target = db.one("SELECT MIN(id) FROM audit_event WHERE action = 'certificate.issue'")
    db.sql("UPDATE audit_event SET reason = 'edited' WHERE id = :i", i=target)
    _rehash_from(db, target)
    result = db.verify(("kept.json", doc))
    assert result.chain_ok  # the chain alone no longer shows it
    assert not result.ok
    assert any(f"event {target}" in p and "seal" in p for p in result.seal_problems)
    checks = {c.source: c for c in result.checkpoints}
    assert not checks["kept.json"].ok and "re-written" in checks["kept.json"].problem
    assert not any(c.ok for c in checks.values())  # the stored checkpoint too
    run = db.cli("audit", "verify", "--checkpoint", str(file))
    assert run.exit_code == 1 and "re-written" in run.output


def test_tail_truncation_shows_against_a_checkpoint(db: Copy, tmp_path: Path) -> None:
    file = tmp_path / "checkpoint.json"
    assert db.cli("audit", "checkpoint", "--export", str(file)).exit_code == 0
    doc = json.loads(file.read_text())
    db.sql("DELETE FROM audit_checkpoint")  # the insider removes the stored ones as well
    db.sql("DELETE FROM audit_event WHERE id > :h", h=doc["head_id"] - 3)
    result = db.verify(("kept.json", doc))
    assert result.chain_ok and not result.ok
    [check] = result.checkpoints
    assert not check.ok and "truncated" in check.problem
    run = db.cli("audit", "verify", "--checkpoint", str(file))
    assert run.exit_code == 1 and "truncated" in run.output


def test_checkpoints_are_made_when_verify_runs_and_at_intervals(db: Copy) -> None:
    from sqlmodel import Session

    run = db.cli("audit", "verify")
    assert run.exit_code == 0, run.output
    head = db.one("SELECT MAX(id) FROM audit_event")
    assert db.sql("SELECT head_id, created_by FROM audit_checkpoint") == [
        (head, "system:verify")]
    audit.use_key(db.engine, db.t.keys_dir, checkpoint_every=3)
    for i in range(7):  # seven writes through a service: one checkpoint per 3 events
        with Session(db.engine) as s:
            audit.record(s, actor="system:test", action="test.write", entity_type="thing",
                         entity_id=str(i))
            s.commit()
    stored = db.sql("SELECT head_id FROM audit_checkpoint WHERE created_by = 'system:interval'")
    assert sorted(h for (h,) in stored) == [h for h in range(head + 1, head + 8) if h % 3 == 0]
    assert db.verify().ok and len(db.verify().checkpoints) == 1 + len(stored)


def test_a_forged_event_appended_shows(db: Copy) -> None:
    """An insider adds an admin membership and appends a well-formed event that explains it
    (correct hash, the row's values), but cannot seal it without the platform's key."""
    from sqlmodel import Session, select

    from labctl.platform.models.audit import AuditEvent

    tech = db.world.usernames[("lab", "technician")]
    uid_ = db.one("SELECT id FROM user_account WHERE username = :u", u=tech)
    org = db.one("SELECT id FROM organisation WHERE code = :c", c=db.world.orgs["lab"])
    db.sql("INSERT INTO membership (user_id, organisation_id, role, created_at) "
           "VALUES (:u, :o, 'admin', :t)", u=uid_, o=org, t=datetime.now(UTC))
    mid = db.one("SELECT MAX(id) FROM membership")
    with Session(db.engine) as s:
        head = s.exec(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()  # type: ignore[union-attr]
        forged = AuditEvent(
            at=datetime.now(UTC), actor="user:" + db.world.usernames[("lab", "admin")],
            organisation_id=org, action="role.grant", entity_type="user", entity_id=tech,
            reason="", prev_hash=head.hash, hash="",
            data={"organisation": db.world.orgs["lab"], "role": "admin", "rows": {
                "membership": {str(mid): {"user_id": uid_, "organisation_id": org,
                                          "role": "admin"}}}},
            seal=head.seal)  # a seal copied from another event
        forged.hash = audit.event_hash(forged)
        s.add(forged)
        s.commit()
        forged_id = forged.id
    result = db.verify()
    assert result.chain_ok and not result.rows  # the chain and the rows are consistent
    assert not result.ok
    assert any(f"event {forged_id}" in p for p in result.seal_problems)
    db.sql("UPDATE audit_event SET seal = NULL WHERE id = :i", i=forged_id)
    assert any(f"event {forged_id}" in p and "no seal" in p
               for p in db.verify().seal_problems)
    db.sql("UPDATE audit_event SET seal = NULL")  # no seal anywhere: as if never sealed
    stripped = db.verify()
    assert not stripped.ok and any("after the audit key was made" in p
                                   for p in stripped.seal_problems)


# --- 3. public verification ----------------------------------------------------------------


def test_verification_rechecks_the_dcc_hash_against_the_audit_record(db: Copy) -> None:
    """A validly signed DCC of another certificate, with its own hash, put in place of c3's:
    the signature holds, the hash matches the row, but not what the audit trail recorded."""
    cid = db.cert_id(db.t.c3)
    other = db.cert_id(db.t.withdrawn)
    db.sql("UPDATE certificate SET dcc = (SELECT dcc FROM certificate WHERE id = :o), "
           "content_hash = (SELECT content_hash FROM certificate WHERE id = :o) "
           "WHERE id = :c", o=other, c=cid)
    with db.server() as api:
        v = ok(api.get(f"/api/v1/verify/{db.t.c3}"))
        assert v["current"] is False and v["audit_consistent"] is False
        assert "content_hash" in v["audit_detail"]


def test_verification_shows_out_of_tolerance_flags(db: Copy) -> None:
    with db.server() as api:
        v = ok(api.get(f"/api/v1/verify/{db.t.c3}"))
        assert v["current"] is True and v["flags"] == [] and v["audit_consistent"] is True
        since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
        ok(api.post(f"/api/v1/standards/{db.t.reference}/status",
                    headers=db.world.headers("prov", "reviewer"),
                    json={"status": "out_of_tolerance", "reason": "found 0.00011 V high",
                          "error_absolute": "0.00011", "impact_since": since}))
        v = ok(api.get(f"/api/v1/verify/{db.t.c3}"))
        assert v["current"] is False and v["status"] == "issued"
        assert len(v["flags"]) == 1 and db.t.reference in v["flags"][0]
        assert "out of tolerance" in v["flags"][0]
        page = api.get(f"/verify/{db.t.c3}", headers={"Accept": "text/html"}).text
        assert "Genuine and current" not in page and db.t.reference in page
    assert db.verify().ok  # flags written by the service are explained


# --- 4. comments inside signed content -----------------------------------------------------


def test_a_comment_inside_the_signed_identifier_is_read_as_signed(db: Copy) -> None:
    from labctl.platform.documents.signing import verify_dcc

    cid = db.cert_id(db.t.c3)
    dcc = bytes(db.one("SELECT dcc FROM certificate WHERE id = :c", c=cid))
    ident = db.t.c3.encode()
    tag = b"uniqueIdentifier>" + ident + b"<"
    assert dcc.count(tag) == 1
    # the comment splits the signed number: a reader of the first text node sees a prefix
    # (another certificate's number, e.g. ...-0001 for ...-00012)
    commented = dcc.replace(tag, b"uniqueIdentifier>" + ident[:-1] + b"<!--x-->" + ident[-1:]
                            + b"<")
    result = verify_dcc(commented)
    assert result.valid  # comments are outside what XML-DSig signs (C14N without comments)
    assert result.unique_identifier == db.t.c3  # read as signed, not as the prefix
    db.sql("UPDATE certificate SET dcc = :d, content_hash = :h WHERE id = :c", d=commented,
           h=hashlib.sha256(commented).hexdigest(), c=cid)
    with db.server() as api:  # stored under its own number it is still that certificate…
        v = ok(api.get(f"/api/v1/verify/{db.t.c3}"))
        assert v["signature_valid"] is True
        assert v["audit_consistent"] is False  # …but not the bytes the audit trail recorded


def test_rows_from_before_the_cross_check_are_adopted_once_on_the_record(db: Copy) -> None:
    """An upgraded database has rows its old events do not describe (here: two memberships
    written around the platform). `labctl audit baseline` adopts them in sealed events that
    name who and why, once per table: a second baseline is refused."""
    org = db.one("SELECT id FROM organisation WHERE code = :c", c=db.world.orgs["lab"])
    users = [u for (u,) in db.sql("SELECT id FROM user_account ORDER BY id LIMIT 2")]
    for u in users:
        db.sql("INSERT INTO membership (user_id, organisation_id, role, created_at) "
               "VALUES (:u, :o, 'reviewer', :t)", u=u, o=org, t=datetime.now(UTC))
    assert len(_findings(db.verify(), "membership", "unexplained")) == 2
    run = db.cli("audit", "baseline", "--reason", "upgrade to labctl 0.6",
                 "--table", "membership")
    assert run.exit_code == 0, run.output
    assert "membership: 2 rows adopted" in run.output
    assert db.verify().ok
    [(actor, reason)] = db.sql("SELECT actor, reason FROM audit_event "
                               "WHERE action = 'audit.baseline'")
    assert actor.startswith("system:cli") and reason == "upgrade to labctl 0.6"
    db.sql("INSERT INTO membership (user_id, organisation_id, role, created_at) "
           "VALUES (:u, :o, 'approver', :t)", u=users[0], o=org, t=datetime.now(UTC))
    again = db.cli("audit", "baseline", "--reason", "again", "--table", "membership")
    assert again.exit_code == 2 and "earlier baseline" in again.output
    assert len(_findings(db.verify(), "membership", "unexplained")) == 1


def _as_before_the_upgrade(db: Copy) -> None:
    """The database as labctl before the row check left it: events without row snapshots
    and without seals (a valid chain), no checkpoints."""
    from sqlmodel import Session, select

    from labctl.platform.models.audit import AuditEvent

    db.sql("DELETE FROM audit_checkpoint")
    db.sql("UPDATE audit_event SET hash = 'x' || CAST(id AS TEXT)")
    with Session(db.engine) as s:
        prev = audit.GENESIS
        for e in s.exec(select(AuditEvent).order_by(AuditEvent.id)).all():  # type: ignore[arg-type]
            e.data = {k: v for k, v in e.data.items() if k != "rows"}
            e.seal, e.prev_hash = None, prev
            e.hash = prev = audit.event_hash(e)
            s.add(e)
        s.commit()


def test_an_upgraded_database_verifies_the_older_way_until_adopted(db: Copy,
                                                                     tmp_path: Path) -> None:
    import shutil

    _as_before_the_upgrade(db)
    # the audit key comes with the upgrade: made after every event so far (the laboratories'
    # signing keys stay as they were)
    db.keys_dir = tmp_path / "keys"
    shutil.copytree(db.t.keys_dir, db.keys_dir)
    for old in db.keys_dir.glob(f"{audit.AUDIT_KEY_NAME}.*"):
        old.unlink()
    time.sleep(0.01)
    audit.audit_identity(db.keys_dir)
    before = db.verify()
    assert before.chain_ok and not before.seal_problems and before.unsealed_events > 80
    assert {f.problem for f in before.rows} == {"unexplained"}  # nothing recorded the rows
    cid = db.cert_id(db.t.withdrawn)
    with db.server() as api:
        assert ok(api.get(f"/api/v1/verify/{db.t.c3}"))["current"] is True  # issue event
        v = ok(api.get(f"/api/v1/verify/{db.t.withdrawn}"))
        assert v["audit_consistent"] is True and v["current"] is False
        db.sql("UPDATE certificate SET status = 'issued' WHERE id = :c", c=cid)
        v = ok(api.get(f"/api/v1/verify/{db.t.withdrawn}"))
        assert v["audit_consistent"] is False and "'withdrawn'" in v["audit_detail"]
        db.sql("UPDATE certificate SET status = 'withdrawn' WHERE id = :c", c=cid)
    assert db.cli("audit", "baseline", "--reason", "upgrade").exit_code == 0
    after = db.verify()
    assert after.ok, after.rows[:3]
    with db.server() as api:
        v = ok(api.get(f"/api/v1/verify/{db.t.c3}"))
        assert v["current"] is True and "audit.baseline" in v["audit_detail"]


def test_an_auditor_verifies_with_the_certificate_alone(db: Copy, tmp_path: Path) -> None:
    """Seals and checkpoints are checked with the audit key's certificate; without it the
    check says it cannot vouch for them instead of passing."""
    only_cert = tmp_path / "auditor"
    only_cert.mkdir()
    name = f"{audit.AUDIT_KEY_NAME}.cert.pem"
    (only_cert / name).write_bytes((db.t.keys_dir / name).read_bytes())
    assert verify_audit(db.url, keys_dir=only_cert).ok
    blind = verify_audit(db.url, keys_dir=tmp_path / "empty")
    assert not blind.ok and "not available" in blind.seal_problems[0]


def test_rows_written_by_update_and_delete_statements_are_explained(db: Copy) -> None:
    """A service may revoke tokens or drop memberships with one statement instead of
    flushed objects (as account features do): the rows it matched are recorded all the same;
    the same statement run around the platform shows."""
    from sqlmodel import Session

    from labctl.platform.models.org import ApiToken, Membership

    su = db.one("SELECT id FROM user_account WHERE username LIKE 'root-%'")
    audit.use_key(db.engine, db.keys_dir)  # a platform process, holding the audit key
    with Session(db.engine) as s:
        s.execute(sa.update(ApiToken).where(sa.column("user_id") == su)
                  .values(revoked_at=datetime.now(UTC)))
        s.execute(sa.delete(Membership).where(sa.column("role") == "customer"))
        audit.record(s, actor="system:test", action="test.bulk", entity_type="test",
                     entity_id="1")
        s.commit()
    assert db.verify().ok
    db.sql("UPDATE api_token SET revoked_at = NULL WHERE user_id = :u", u=su)
    assert {f.column for f in _findings(db.verify(), "api_token")} == {"revoked_at"}


def test_a_bench_moved_to_another_station_shows(db: Copy) -> None:
    # run requests for a bench go to the station the bench row names: an insider who points it
    # at another laboratory's station would send that laboratory someone else's work
    with db.server() as api:
        ok(api.put("/api/v1/stations/benches/tamper-bench", headers=db.world.station("lab"),
                   json={"roles": ["dmm"], "description": "a bench", "simulated_time": True}))
    assert db.verify().ok  # announced through the service: explained
    prov = db.one("SELECT id FROM organisation WHERE code = :c", c=db.world.orgs["prov"])
    other = db.one("SELECT id FROM station WHERE organisation_id = :o", o=prov)
    db.sql("UPDATE bench SET station_id = :s, laboratory_id = :o WHERE name = 'tamper-bench'",
           s=other, o=prov)
    found = _findings(db.verify(), "bench")
    assert {(f.problem, f.column) for f in found} == {
        ("differs", "laboratory_id"), ("differs", "station_id")}, found
