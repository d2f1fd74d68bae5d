"""Due notices: the daily job over a live platform's database, mailed to a REAL SMTP server
(aiosmtpd) on 127.0.0.1, read back on the portal and from the command line."""

from __future__ import annotations

import asyncio
import email
import os
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from sqlmodel import Session, col, select

from labctl.errors import ValidationError
from labctl.platform.models import Notice, Standard, User
from labctl.platform.notices import daily_due_notices, send_pending
from labctl.platform.settings import SmtpConfig
from tests.fixtures.db import PASSWORD, World, build_world
from tests.platform.helpers import ok, publish_standard, record_calibration

TODAY = datetime.now(UTC).date()
# aiosmtpd warns when AUTH is offered without TLS: that is the login test's set-up on purpose
# (no certificate to make for a loopback server)
# The module's world is built through the API (about half a minute on a loaded machine) and
# the command test starts three processes: a wider bound than the suite's 60 s.
pytestmark = [pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning"), pytest.mark.timeout(180)]


# --- a real SMTP server ----------------------------------------------------------------------


@dataclass
class Inbox:
    """What the server accepted: (envelope recipients, parsed message) per message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content,
                                       policy=default_policy)
        self.messages.append((list(envelope.rcpt_tos), msg))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpts, m in self.messages if address in rcpts]


@contextmanager
def smtp_server(*, login: tuple[str, str] | None = None) -> Iterator[tuple[Inbox, int]]:
    """aiosmtpd on 127.0.0.1, an OS-chosen port, in its own thread's event loop; with
    ``login``, AUTH is required (over plain TCP: no certificate to make here)."""
    inbox = Inbox()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str,
                     data: Any) -> AuthResult:
        good = isinstance(data, LoginPassword) and login is not None and (
            data.login.decode(), data.password.decode()) == login
        return AuthResult(success=good, handled=False)

    def factory() -> SMTP:
        if login is None:
            return SMTP(inbox, hostname="smtp.test")
        return SMTP(inbox, hostname="smtp.test", authenticator=authenticate,
                    auth_required=True, auth_require_tls=False)

    def run() -> None:
        asyncio.set_event_loop(loop)
        holder["server"] = loop.run_until_complete(
            loop.create_server(factory, "127.0.0.1", 0))
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10)
    port = holder["server"].sockets[0].getsockname()[1]
    try:
        yield inbox, port
    finally:
        async def stop() -> None:
            holder["server"].close()
            await holder["server"].wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def closed_port() -> int:
    """A port nothing listens on (bound, then released): an SMTP server that is down."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the laboratory ----------------------------------------------------------------------------


@dataclass
class Setup:
    world: World
    standards: dict[str, str]  # role → identifier
    mail: dict[str, str]  # person → address


@pytest.fixture(scope="module")
def lab(platform_url: str, db_engine: sa.Engine) -> Setup:
    prefix = "N" + secrets.token_hex(2).upper()
    world = build_world(platform_url, db_engine, prefix)
    mail = {}
    with httpx.Client(base_url=platform_url, timeout=30) as api:
        for key, org, roles in (("keeper1", "lab", ["data_entry"]),
                                ("keeper2", "lab", ["reviewer", "checker"]),
                                ("tech", "lab", ["technician"]),
                                ("pkeeper", "prov", ["data_entry"])):
            name = f"{prefix.lower()}-{key}"
            mail[key] = f"{name}@lab.example.org"
            ok(api.post(f"/api/v1/organisations/{world.orgs[org]}/users", headers=world.su,
                        json={"username": name, "full_name": f"Person {key}",
                              "email": mail[key], "password": PASSWORD, "roles": roles}), 201)
        std = {}

        def dated(org: str, due: date, **kw: Any) -> str:
            ident = str(publish_standard(api, world, org, **kw)["identifier"])
            record_calibration(api, world, org, ident, {
                "certificate_number": f"EXT-{secrets.token_hex(3)}", "issuer": "Outside",
                "calibrated_on": (TODAY - timedelta(days=400)).isoformat(),
                "due_date": due.isoformat()})
            return ident

        std["overdue"] = dated("lab", TODAY - timedelta(days=5), description="Overdue Zener")
        std["soon"] = dated("lab", TODAY + timedelta(days=10), description="Soon Zener")
        std["later"] = dated("lab", TODAY + timedelta(days=200), description="Later Zener")
        std["retired"] = dated("lab", TODAY - timedelta(days=5), description="Old Zener")
        ok(api.post(f"/api/v1/standards/{std['retired']}/status", json={
            "status": "retired", "reason": "worn out"}, headers=world.headers("lab", "reviewer")))
        std["prov"] = dated("prov", TODAY + timedelta(days=3), description="Prov Zener")
    return Setup(world, std, mail)


def ids_of(session: Session, identifiers: list[str]) -> dict[str, int]:
    rows = session.exec(select(Standard).where(col(Standard.identifier).in_(identifiers)))
    return {r.identifier: r.id for r in rows if r.id is not None}


def lab_notices(session: Session, setup: Setup, org: str, day: date) -> list[Notice]:
    from labctl.platform.accounts.organisations import org_by_code

    lab_id = org_by_code(session, setup.world.orgs[org]).id
    return list(session.exec(select(Notice).where(Notice.organisation_id == lab_id,
                                                  Notice.day == day)).all())


def username_of(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    assert user is not None
    return user.username


# --- tests ---------------------------------------------------------------------------------------


def test_the_job_notifies_the_keepers_once_and_the_mail_arrives(
        lab: Setup, db_engine: sa.Engine, api: httpx.Client) -> None:
    w, std = lab.world, lab.standards
    with Session(db_engine) as session:
        run = daily_due_notices(session, TODAY, 30)
        assert run.created
        ids = ids_of(session, list(std.values()))
        notices = lab_notices(session, lab, "lab", TODAY)
        who = sorted(username_of(session, n.recipient_id) for n in notices)
        prefix = w.orgs["lab"].removesuffix("LAB").lower()
        # the people who look after the standards (data entry, reviewer, admin), not the
        # technician, checker or approver
        assert who == sorted([f"{prefix}-keeper1", f"{prefix}-keeper2", f"{prefix}-lab-admin",
                              f"{prefix}-lab-data_entry", f"{prefix}-lab-reviewer"])
        for n in notices:
            assert sorted(n.standard_ids) == sorted([ids[std["overdue"]], ids[std["soon"]]])
            assert n.kind == "overdue"
            assert std["overdue"] in n.body and std["soon"] in n.body
            assert std["later"] not in n.body and std["retired"] not in n.body
            assert "overdue by 5 days" in n.body and "due in 10 days" in n.body
        # the provincial institute's keepers hear of its standard only
        for n in lab_notices(session, lab, "prov", TODAY):
            assert n.standard_ids == [ids[std["prov"]]]
            assert std["overdue"] not in n.body and w.orgs["lab"] not in n.subject
        # nobody outside the laboratory's keepers got any notice naming its standards
        everyone = session.exec(select(Notice).where(Notice.day == TODAY)).all()
        naming = {n.recipient_id for n in everyone
                  if ids[std["overdue"]] in n.standard_ids or ids[std["soon"]] in n.standard_ids}
        assert naming == {n.recipient_id for n in notices}
        # the same day again: nothing new
        again = daily_due_notices(session, TODAY, 30)
        assert again.created == []
        assert again.existing >= len(notices)
        assert len(lab_notices(session, lab, "lab", TODAY)) == len(notices)

        with smtp_server() as (inbox, port):
            report = send_pending(session, SmtpConfig(host="127.0.0.1", port=port,
                                                      sender="labctl@lab.test", timeout=5))
        mailed = [n for n in notices if n.email]
        assert {n.email for n in mailed} == {lab.mail["keeper1"], lab.mail["keeper2"]}
        for n in mailed:
            session.refresh(n)
            assert n.sent_at is not None and n.attempts == 1 and n.last_error == ""
            assert n.id in report.sent
        for key in ("keeper1", "keeper2"):
            got = inbox.to(lab.mail[key])
            assert len(got) == 1
            assert got[0]["Subject"].strip() == (f"[{w.orgs['lab']}] Standards due for "
                                                 "calibration: 1 overdue, 1 due within 30 days")
            assert got[0]["From"] == "labctl@lab.test"
            assert std["overdue"] in got[0].get_content()
        assert inbox.to(lab.mail["tech"]) == []
        for msg in inbox.to(lab.mail["pkeeper"]):
            assert std["overdue"] not in msg.get_content()
            assert std["prov"] in msg.get_content()
        # portal-only notices (no address) stay unsent, and are never tried
        for n in notices:
            if not n.email:
                session.refresh(n)
                assert n.sent_at is None and n.attempts == 0

    # the portal: each person reads their own notices, nobody else's
    mine = ok(api.get("/api/v1/notices", headers=w.headers("lab", "reviewer")))
    assert [n["laboratory_code"] for n in mine if n["day"] == TODAY.isoformat()] == \
        [w.orgs["lab"]]
    assert sorted(mine[0]["standards"]) == sorted([std["overdue"], std["soon"]])
    assert ok(api.get("/api/v1/notices", headers=w.headers("lab", "technician"))) == []
    prov = ok(api.get("/api/v1/notices", headers=w.headers("prov", "data_entry")))
    assert all(std["overdue"] not in n["standards"] for n in prov)
    assert api.get("/api/v1/notices").status_code == 401
    from labctl.platform.pages.session import SESSION_COOKIE

    with httpx.Client(base_url=w.url, timeout=30,
                      cookies={SESSION_COOKIE: w.tokens[("lab", "reviewer")]}) as person:
        page = person.get("/staff")
    assert page.status_code == 200
    assert f"[{w.orgs['lab']}] Standards due for calibration" in page.text
    assert "On the portal only" in page.text


def test_a_down_server_leaves_notices_pending_with_the_error_until_it_is_back(
        lab: Setup, db_engine: sa.Engine) -> None:
    day = TODAY + timedelta(days=1)
    with Session(db_engine) as session:
        daily_due_notices(session, day, 30)
        mailed = [n for n in lab_notices(session, lab, "lab", day) if n.email]
        assert len(mailed) == 2
        report = send_pending(session, SmtpConfig(host="127.0.0.1", port=closed_port(),
                                                  timeout=3))
        for n in mailed:
            session.refresh(n)
            assert n.sent_at is None and n.attempts == 1
            assert "refused" in n.last_error.lower() or "errno" in n.last_error.lower()
            assert n.id in report.failed
        # a server that wants a login, given the wrong password: kept, with its answer
        with smtp_server(login=("labctl", "s3cret")) as (inbox, port):
            send_pending(session, SmtpConfig(host="127.0.0.1", port=port, user="labctl",
                                             password="wrong", timeout=5))
            for n in mailed:
                session.refresh(n)
                assert n.sent_at is None and n.attempts == 2
                assert "535" in n.last_error  # authentication failed
            assert inbox.messages == []
            send_pending(session, SmtpConfig(host="127.0.0.1", port=port, user="labctl",
                                             password="s3cret", timeout=5))
        for n in mailed:
            session.refresh(n)
            assert n.sent_at is not None and n.attempts == 3
        assert sorted(r for rcpts, _ in inbox.messages for r in rcpts
                      if r in lab.mail.values() and r != lab.mail["pkeeper"]) == \
            sorted([lab.mail["keeper1"], lab.mail["keeper2"]])


def test_the_command_runs_the_job_and_mails(lab: Setup, database_url: str, keys_dir: Any,
                                            db_engine: sa.Engine) -> None:
    day = TODAY + timedelta(days=2)
    with smtp_server() as (inbox, port):
        env = {**os.environ, "LABCTL_KEYS_DIR": str(keys_dir),
               "LABCTL_SMTP_HOST": "127.0.0.1", "LABCTL_SMTP_PORT": str(port),
               "LABCTL_SMTP_FROM": "notices@lab.test"}
        cmd = [sys.executable, "-m", "labctl", "notices", "run", "--today", day.isoformat(),
               "--within-days", "5", "--database-url", database_url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 0, done.stderr
        assert "written" in done.stdout and "mailed" in done.stdout
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        assert again.returncode == 0, again.stderr
        assert "0 notice(s) written" in again.stdout
    got = inbox.to(lab.mail["keeper1"])
    assert len(got) == 1
    # within 5 days of day+2: the overdue standard only (the one due in 10 days is not yet)
    assert got[0]["Subject"].strip() == (f"[{lab.world.orgs['lab']}] Standards due for "
                                         "calibration: 1 overdue")
    assert lab.standards["soon"] not in got[0].get_content()
    bad = subprocess.run([sys.executable, "-m", "labctl", "notices", "run", "--today",
                          "2026-13-40", "--no-send", "--database-url", database_url],
                         capture_output=True, text=True, timeout=60, env=env)
    assert bad.returncode == 2 and "--today" in bad.stderr


def test_bad_configuration_and_window_are_refused() -> None:
    with pytest.raises(ValidationError, match="within_days"), \
            Session(sa.create_engine("sqlite://")) as session:
        daily_due_notices(session, TODAY, -1)
    for kwargs, name in (({"port": 0}, "PORT"), ({"tls": "maybe"}, "TLS"),
                         ({"timeout": float("nan")}, "timeout"),
                         ({"timeout": 1e9}, "timeout"), ({"user": "u"}, "USER"),
                         ({"sender": "nobody"}, "FROM")):
        with pytest.raises(ValidationError, match=name):
            SmtpConfig(host="127.0.0.1", **kwargs)  # type: ignore[arg-type]
    assert SmtpConfig.from_env({}) is None
    cfg = SmtpConfig.from_env({"LABCTL_SMTP_HOST": "mail.lab.test", "LABCTL_SMTP_TLS": "ssl"})
    assert cfg is not None and cfg.port == 465 and cfg.sender == "labctl@mail.lab.test"
    with pytest.raises(ValidationError, match="PORT"):
        SmtpConfig.from_env({"LABCTL_SMTP_HOST": "h", "LABCTL_SMTP_PORT": "twenty-five"})


def test_every_notice_row_is_explained_by_the_audit_trail(
        lab: Setup, db_engine: sa.Engine, database_url: str, keys_dir: Any) -> None:
    from labctl.platform.admin import verify_audit

    day = TODAY + timedelta(days=3)
    with Session(db_engine) as session:
        daily_due_notices(session, day, 30)
        send_pending(session, SmtpConfig(host="127.0.0.1", port=closed_port(), timeout=3))
        with smtp_server() as (_inbox, port):
            send_pending(session, SmtpConfig(host="127.0.0.1", port=port, timeout=5))
        target = next(n for n in lab_notices(session, lab, "lab", day) if n.email)
        assert target.sent_at is not None
    report = verify_audit(database_url, keys_dir=keys_dir, checkpoint_if_clean=False)
    assert report.ok, report.model_dump()
    with db_engine.begin() as conn:
        actions = set(conn.execute(sa.text(
            "SELECT action FROM audit_event WHERE entity_type = 'notice'")).scalars())
        assert {"notice.create", "notice.send", "notice.fail"} <= actions
        # a notice marked sent behind the trail's back shows
        conn.execute(sa.text("UPDATE notice SET sent_at = NULL WHERE id = :i"),
                     {"i": target.id})
    try:
        tampered = verify_audit(database_url, keys_dir=keys_dir, checkpoint_if_clean=False)
        assert not tampered.ok
        assert any(f.table == "notice" and f.key == str(target.id) for f in tampered.rows)
    finally:  # put it back as it was (the session's other tests verify the trail too)
        with Session(db_engine) as session:
            row = session.get(Notice, target.id)
            assert row is not None
            row.sent_at = target.sent_at
            session.commit()
    assert verify_audit(database_url, keys_dir=keys_dir, checkpoint_if_clean=False).ok
