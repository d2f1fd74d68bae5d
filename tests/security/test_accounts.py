"""Issue 9, "secrets and accounts": private database and key files, login throttling and
lockout, expiring and revocable station tokens, password change, deactivation, token
revocation, password and e-mail policy, who may read a person's authorisations, the demo's
credentials in the README.

Everything runs against the live platform server on the real databases (SQLite and, with
``LABCTL_TEST_POSTGRES_URL``, PostgreSQL) and reads the stored rows back.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from tests.fixtures.db import PASSWORD, World

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 5  # the default per-username failure limit (Settings.login_failure_limit)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The common default umask, under which files come out world-readable unless created
    private on purpose."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _new_user(api: httpx.Client, world: World, org: str = "lab", roles: tuple[str, ...] = (
        "technician",), password: str = PASSWORD) -> str:
    # created by the organisation's administrator, not world.su: the schemathesis run
    # (same session) revokes the superuser's token
    name = f"acc-{secrets.token_hex(4)}"
    r = api.post(f"/api/v1/organisations/{world.orgs[org]}/users",
                 headers=world.headers("lab", "admin"),
                 json={"username": name, "full_name": "Account Test", "password": password,
                       "roles": list(roles)})
    assert r.status_code == 201, r.text
    return name


def _login(api: httpx.Client, username: str, password: str = PASSWORD) -> httpx.Response:
    return api.post("/api/v1/auth/token", json={"username": username, "password": password})


def _token(api: httpx.Client, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = _login(api, username, password)
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _events(engine: sa.Engine, action: str, entity_id: str) -> list[dict]:  # type: ignore[type-arg]
    from labctl.platform.models.audit import AuditEvent

    with Session(engine) as s:
        rows = s.exec(select(AuditEvent).where(AuditEvent.action == action,
                                               AuditEvent.entity_id == entity_id)
                      .order_by(AuditEvent.id)).all()  # type: ignore[arg-type]
        return [{"actor": e.actor, "data": e.data} for e in rows]


# --- 1. files ----------------------------------------------------------------------------


def test_sqlite_database_wal_and_shm_are_created_private(tmp_path: Path, umask_022: None):
    from labctl.platform.admin import create_admin

    db = tmp_path / "data" / "labctl.db"
    engine_url = f"sqlite:///{db}"
    create_admin(username="root", password=PASSWORD, full_name="Root",
                 organisation_code="NMI", organisation_name="N", database_url=engine_url)
    from labctl.platform.db import make_engine

    engine = make_engine(engine_url)
    try:
        with engine.connect() as conn:  # keeps the WAL and shared-memory files open
            conn.exec_driver_sql("SELECT count(*) FROM user_account").scalar()
            files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
            for f in files:
                assert f.exists(), f
                assert _mode(f) == 0o600, (f, oct(_mode(f)))
        assert _mode(db.parent) == 0o700
    finally:
        engine.dispose()


def test_an_existing_world_readable_database_is_made_private(tmp_path: Path, umask_022: None):
    import sqlite3

    from labctl.platform.db import make_engine

    db = tmp_path / "old.db"
    sqlite3.connect(db).close()
    db.chmod(0o644)
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        assert _mode(db) == 0o600
        for suffix in ("-wal", "-shm"):
            f = db.with_name(db.name + suffix)
            if f.exists():
                assert _mode(f) == 0o600, (f, oct(_mode(f)))
    finally:
        engine.dispose()


def test_keys_directory_and_private_keys_are_private(tmp_path: Path, umask_022: None):
    from labctl.platform.documents.signing import LaboratoryKeyStore

    keys = tmp_path / "keys"
    keys.mkdir(mode=0o755)  # an operator made it, with the usual umask
    LaboratoryKeyStore(keys).get_or_create("LAB1", "Lab One")
    assert _mode(keys) == 0o700
    assert _mode(keys / "LAB1.key.pem") == 0o600
    fresh = tmp_path / "new-keys"
    LaboratoryKeyStore(fresh).get_or_create("LAB2", "Lab Two")
    assert _mode(fresh) == 0o700 and _mode(fresh / "LAB2.key.pem") == 0o600


# --- 2. throttling and lockout --------------------------------------------------------------


@pytest.mark.timeout(120)
def test_failed_logins_lock_the_username_in_the_database_until_an_audited_unlock(
        api: httpx.Client, world: World, platform_settings: object, db_engine: sa.Engine):
    from labctl.api import ServerThread, create_app

    name = _new_user(api, world)
    for _ in range(LIMIT):
        r = _login(api, name, "not the password")
        assert r.status_code == 401 and "locked" not in r.json()["detail"]
    # now even the right password is refused, without being checked
    locked = _login(api, name)
    assert locked.status_code == 429, locked.text
    assert "locked" in locked.json()["detail"]
    assert 0 < int(locked.headers["Retry-After"]) <= 15 * 60
    # the lock is in the database: another server process (a restart, another worker) sees it
    with ServerThread(create_app(platform_settings)) as other, \
            httpx.Client(base_url=other, timeout=30) as c2:  # type: ignore[arg-type]
        again = _login(c2, name)
        assert again.status_code == 429 and "locked" in again.json()["detail"]
    assert _events(db_engine, "auth.login_failed", name)[-1]["data"]["locked_until"]
    # only an administrator over the user may unlock
    tech = world.headers("lab", "technician")
    assert api.post(f"/api/v1/users/{name}/unlock", headers=tech).status_code == 403
    r = api.post(f"/api/v1/users/{name}/unlock", headers=world.headers("lab", "admin"))
    assert r.status_code == 204, r.text
    assert _login(api, name).status_code == 200
    unlock = _events(db_engine, "auth.unlock", name)
    assert unlock and unlock[-1]["actor"] == f"user:{world.usernames[('lab', 'admin')]}"


@pytest.mark.timeout(120)
def test_unknown_usernames_are_answered_and_locked_exactly_like_known_ones(
        api: httpx.Client, world: World):
    known = _new_user(api, world)
    unknown = f"acc-nobody-{secrets.token_hex(4)}"
    answers = {}
    for name in (known, unknown):
        seen = []
        for _ in range(LIMIT + 1):
            r = _login(api, name, "not the password")
            # the lock's end differs by the second it was set: compare the wording
            seen.append((r.status_code, re.sub(r"\d", "9", r.json()["detail"])))
        answers[name] = seen
    assert answers[known] == answers[unknown]
    assert "locked" in answers[unknown][-1][1]


@pytest.mark.timeout(180)
def test_failed_logins_from_one_address_lock_that_address(fresh_database_url: str,
                                                          keys_dir: Path):
    from labctl.api import ServerThread, create_app
    from labctl.platform.accounts.organisations import create_admin
    from labctl.platform.db import make_engine, migrate
    from labctl.platform.settings import Settings

    engine = make_engine(fresh_database_url)
    migrate(engine)
    with Session(engine) as s:
        create_admin(s, username="addr-root", password=PASSWORD, full_name="Root",
                     organisation_code="ADDR", organisation_name="Addr")
    settings = Settings(database_url=fresh_database_url, keys_dir=keys_dir,
                        migrate_on_start=False, login_address_failure_limit=6)
    try:
        with ServerThread(create_app(settings)) as url, \
                httpx.Client(base_url=url, timeout=30) as c:
            for i in range(6):  # six different usernames: no single one reaches its limit
                assert _login(c, f"guess-{i}", "x" * 12).status_code == 401
            r = _login(c, "addr-root")
            assert r.status_code == 429 and "locked" in r.json()["detail"]
        from labctl.platform.accounts.organisations import unlock_login

        with Session(engine) as s:
            unlock_login(s, actor="system:test", address="127.0.0.1")
        with ServerThread(create_app(settings)) as url, \
                httpx.Client(base_url=url, timeout=30) as c:
            assert _login(c, "addr-root").status_code == 200
    finally:
        engine.dispose()


def test_cli_unlocks_a_user(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    keys = tmp_path / "keys"
    env = {**os.environ, "LABCTL_ADMIN_PASSWORD": PASSWORD, "LABCTL_KEYS_DIR": str(keys)}
    run = [sys.executable, "-m", "labctl"]
    done = subprocess.run([*run, "admin", "create", "--username", "root", "--full-name", "R",
                           "--organisation-code", "NMI", "--organisation-name", "N",
                           "--database-url", url], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    from labctl.platform.accounts.organisations import record_login_failure
    from labctl.platform.audit import use_key
    from labctl.platform.db import make_engine

    engine = make_engine(url)
    use_key(engine, keys)  # the failures are recorded as the server records them: sealed
    try:
        with Session(engine) as s:
            for _ in range(LIMIT):
                record_login_failure(s, username="root", address="10.0.0.9")
        done = subprocess.run([*run, "admin", "unlock", "root", "--database-url", url],
                              capture_output=True, text=True, timeout=120, env=env)
        assert done.returncode == 0, done.stderr
        assert "unlocked" in done.stdout
        assert _events(engine, "auth.unlock", "root")[-1]["actor"].startswith("system:cli")
        # the CLI's event is sealed like the server's: the trail still verifies
        verified = subprocess.run([*run, "audit", "verify", "--database-url", url],
                                  capture_output=True, text=True, timeout=120, env=env)
        assert verified.returncode == 0, verified.stderr
    finally:
        engine.dispose()


# --- 3. station tokens ----------------------------------------------------------------------


def test_station_tokens_expire_and_can_be_revoked(api: httpx.Client, world: World,
                                                  db_engine: sa.Engine):
    from labctl.platform.accounts.auth import token_digest
    from labctl.platform.models.org import ApiToken

    lab = world.orgs["lab"]
    hdr = world.headers("lab", "admin")
    for bad in (0, 731, -1):
        r = api.post(f"/api/v1/organisations/{lab}/stations", headers=hdr,
                     json={"name": "bench-x", "valid_days": bad})
        assert r.status_code == 422, r.text
    r = api.post(f"/api/v1/organisations/{lab}/stations", headers=hdr,
                 json={"name": "bench-exp", "valid_days": 30})
    assert r.status_code == 201, r.text
    st = r.json()
    expires = datetime.fromisoformat(st["expires_at"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)
    station = {"Authorization": f"Bearer {st['access_token']}"}
    # a valid station token authenticates (and is then refused a person's endpoint: 403)
    assert api.get("/api/v1/users/me", headers=station).status_code == 403
    # default lifetime is bounded too
    r = api.post(f"/api/v1/organisations/{lab}/stations", headers=hdr, json={"name": "b-def"})
    assert r.status_code == 201 and r.json()["expires_at"] is not None
    # expiry: the clock moves past it (set in the database: no waiting 30 days)
    with Session(db_engine) as s:
        row = s.exec(select(ApiToken).where(
            ApiToken.token_hash == token_digest(st["access_token"]))).one()
        expires_at, row.expires_at = row.expires_at, datetime.now(UTC) - timedelta(seconds=1)
        s.add(row)
        s.commit()
    try:
        assert api.get("/api/v1/users/me", headers=station).status_code == 401
    finally:  # set back (the session's other tests verify this database's audit trail)
        with Session(db_engine) as s:
            row = s.exec(select(ApiToken).where(
                ApiToken.token_hash == token_digest(st["access_token"]))).one()
            row.expires_at = expires_at
            s.add(row)
            s.commit()
    # revocation: a new token for a station, then revoked by an administrator
    r = api.post(f"/api/v1/stations/{st['station_id']}/tokens", headers=hdr,
                 json={"valid_days": 10})
    assert r.status_code == 201, r.text
    station = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert api.get("/api/v1/users/me", headers=station).status_code == 403
    tech = world.headers("lab", "technician")
    assert api.delete(f"/api/v1/stations/{st['station_id']}/tokens",
                      headers=tech).status_code == 403
    assert api.get("/api/v1/users/me", headers=station).status_code == 403
    assert api.delete(f"/api/v1/stations/{st['station_id']}/tokens",
                      headers=hdr).status_code == 204
    assert api.get("/api/v1/users/me", headers=station).status_code == 401
    ev = _events(db_engine, "station.revoke_tokens", str(st["station_id"]))
    assert ev and ev[-1]["data"]["token_ids"]
    created = _events(db_engine, "station.token", str(st["station_id"]))
    assert created and created[-1]["data"]["expires_at"] and created[-1]["data"]["token_id"]


def test_a_token_without_expiry_is_refused(api: httpx.Client, world: World,
                                           db_engine: sa.Engine):
    from labctl.platform.accounts.auth import new_token, token_digest
    from labctl.platform.models.org import ApiToken, Station

    with Session(db_engine) as s:
        station = s.exec(select(Station)).first()
        assert station is not None
        tok = new_token()
        row = ApiToken(token_hash=token_digest(tok), station_id=station.id, expires_at=None)
        s.add(row)
        s.commit()
        planted = row.id
    try:
        assert api.get("/api/v1/users/me",
                       headers={"Authorization": f"Bearer {tok}"}).status_code == 401
    finally:  # planted behind the trail's back: the session's other tests verify this database
        with Session(db_engine) as s:
            s.delete(s.get(ApiToken, planted))
            s.commit()


# --- 4. password change ---------------------------------------------------------------------


def test_users_change_their_password_and_other_sessions_end(api: httpx.Client, world: World,
                                                           db_engine: sa.Engine):
    from labctl.platform.models.org import User

    name = _new_user(api, world)
    mine, other = _token(api, name), _token(api, name)
    url = "/api/v1/users/me/password"
    new = "a much better passphrase 42"
    r = api.post(url, headers=mine, json={"current_password": "wrong password!",
                                          "new_password": new})
    assert r.status_code == 422 and r.json()["field"] == "current_password"
    assert "wrong password" not in r.text
    r = api.post(url, headers=mine, json={"current_password": PASSWORD,
                                          "new_password": " " * 12})
    assert r.status_code == 422 and r.json()["field"] == "new_password"
    assert _login(api, name).status_code == 200  # refused changes changed nothing
    r = api.post(url, headers=mine, json={"current_password": PASSWORD, "new_password": new})
    assert r.status_code == 204, r.text
    assert api.get("/api/v1/users/me", headers=mine).status_code == 200
    assert api.get("/api/v1/users/me", headers=other).status_code == 401
    assert _login(api, name).status_code == 401
    assert _login(api, name, new).status_code == 200
    with Session(db_engine) as s:
        user = s.exec(select(User).where(User.username == name)).one()
    ev = _events(db_engine, "user.password_change", name)[-1]
    assert ev["data"]["password_hash_sha256"] == hashlib.sha256(
        user.password_hash.encode()).hexdigest()
    assert ev["data"]["revoked_token_ids"]
    station = world.station("lab")
    assert api.post(url, headers=station, json={"current_password": PASSWORD,
                                                "new_password": new}).status_code == 403


# --- 5. deactivation and token revocation ---------------------------------------------------


def test_admins_deactivate_and_reactivate_users(api: httpx.Client, world: World,
                                               db_engine: sa.Engine):
    name = _new_user(api, world)
    tok = _token(api, name)
    admin = world.headers("lab", "admin")
    assert api.post(f"/api/v1/users/{name}/deactivate",
                    headers=world.headers("lab", "technician")).status_code == 403
    prov_user = world.usernames[("prov", "technician")]
    assert api.post(f"/api/v1/users/{prov_user}/deactivate", headers=admin).status_code == 403
    own = world.usernames[("lab", "admin")]
    r = api.post(f"/api/v1/users/{own}/deactivate", headers=admin)
    assert r.status_code == 422, r.text
    r = api.post(f"/api/v1/users/{name}/deactivate", headers=admin)
    assert r.status_code == 204, r.text
    assert api.get("/api/v1/users/me", headers=tok).status_code == 401
    refused = _login(api, name)
    assert refused.status_code == 401
    assert refused.json()["detail"] == _login(api, f"nobody-{secrets.token_hex(3)}").json()[
        "detail"]
    assert api.post(f"/api/v1/users/{name}/activate", headers=admin).status_code == 204
    assert api.get("/api/v1/users/me", headers=tok).status_code == 401  # stays revoked
    assert _login(api, name).status_code == 200
    ev = _events(db_engine, "user.deactivate", name)[-1]
    assert ev["data"]["revoked_token_ids"]
    assert _events(db_engine, "user.activate", name)


def test_admins_revoke_a_users_tokens(api: httpx.Client, world: World, db_engine: sa.Engine):
    name = _new_user(api, world)
    a, b = _token(api, name), _token(api, name)
    assert api.delete(f"/api/v1/users/{name}/tokens",
                      headers=world.headers("lab", "checker")).status_code == 403
    assert api.get("/api/v1/users/me", headers=a).status_code == 200
    r = api.delete(f"/api/v1/users/{name}/tokens", headers=world.headers("prov", "admin"))
    assert r.status_code == 204, r.text
    assert api.get("/api/v1/users/me", headers=a).status_code == 401
    assert api.get("/api/v1/users/me", headers=b).status_code == 401
    assert len(_events(db_engine, "user.revoke_tokens", name)[-1]["data"]["token_ids"]) == 2
    assert _login(api, name).status_code == 200


# --- 6. password and e-mail policy ----------------------------------------------------------


@pytest.mark.parametrize(("password", "why"), [
    (" " * 16, "only whitespace"),
    ("\t \n" * 5, "only whitespace"),
    ("short1", "too short"),
    ("aaaaaaaaaaaa", "too few different characters"),
])
def test_weak_passwords_are_refused_and_never_echoed(api: httpx.Client, world: World,
                                                     password: str, why: str):
    r = api.post(f"/api/v1/organisations/{world.orgs['lab']}/users",
                 headers=world.headers("lab", "admin"),
                 json={"username": f"weak-{secrets.token_hex(3)}", "full_name": "W",
                       "password": password, "roles": []})
    assert r.status_code == 422, (why, r.text)
    body = r.json()
    assert body["field"] == "password", body
    assert body["allowed"] and "characters" in body["allowed"]
    assert password not in r.text or password.strip() == ""
    assert body["value"] != password


def test_the_username_is_not_a_password(api: httpx.Client, world: World):
    name = f"samename-{secrets.token_hex(3)}"
    r = api.post(f"/api/v1/organisations/{world.orgs['lab']}/users",
                 headers=world.headers("lab", "admin"),
                 json={"username": name, "full_name": "S", "password": name.upper(),
                       "roles": []})
    assert r.status_code == 422 and r.json()["field"] == "password", r.text


def test_create_admin_refuses_a_blank_password(db_engine: sa.Engine):
    from labctl.errors import ValidationError
    from labctl.platform.accounts.organisations import create_admin

    with Session(db_engine) as s, pytest.raises(ValidationError) as exc:
        create_admin(s, username="blank-admin", password=" " * 20, full_name="B",
                     organisation_code="BLANKORG", organisation_name="B")
    assert exc.value.field == "password"


@pytest.mark.parametrize(("email", "ok"), [
    ("not-an-email", False), ("a@b", False), ("x@@example.org", False),
    ("alice.weber@example.org", True), ("", True),
])
def test_email_addresses_are_validated(api: httpx.Client, world: World, email: str, ok: bool):
    r = api.post(f"/api/v1/organisations/{world.orgs['lab']}/users",
                 headers=world.headers("lab", "admin"),
                 json={"username": f"mail-{secrets.token_hex(3)}", "full_name": "M",
                       "password": PASSWORD, "email": email, "roles": []})
    assert r.status_code == (201 if ok else 422), r.text
    if ok:
        assert r.json()["email"] == email


# --- 7. who may read a person's authorisations ----------------------------------------------


@pytest.mark.parametrize(("reader", "visible"), [
    (("lab", "technician"), True),   # the person themself
    (("lab", "admin"), True),
    (("prov", "admin"), True),       # admins above
    (("lab", "checker"), True),      # staff of the same laboratory who check and issue
    (("lab", "approver"), True),
    (("lab", "reviewer"), False),
    (("lab", "data_entry"), False),
    (("prov", "technician"), False),
    (("prov", "checker"), False),    # another organisation's checker
    (("cust", "customer"), False),
])
def test_authorisations_are_readable_only_by_those_who_need_them(
        api: httpx.Client, world: World, reader: tuple[str, str], visible: bool):
    tech = world.usernames[("lab", "technician")]
    r = api.get(f"/api/v1/users/{tech}/authorisations", headers=world.headers(*reader))
    missing = api.get(f"/api/v1/users/nobody-{secrets.token_hex(3)}/authorisations",
                      headers=world.headers(*reader))
    assert missing.status_code == 404
    if visible:
        assert r.status_code == 200, r.text
        assert any(a["quantity"] == "DC voltage" for a in r.json())
    else:
        assert r.status_code == 404, r.text
        # the same answer as for a username that does not exist
        assert r.json()["error"] == missing.json()["error"]
        assert r.json()["detail"].replace(tech, "X") == missing.json()["detail"].replace(
            missing.url.path.split("/")[-2], "X")


def test_a_station_cannot_read_authorisations(api: httpx.Client, world: World):
    tech = world.usernames[("lab", "technician")]
    r = api.get(f"/api/v1/users/{tech}/authorisations", headers=world.station("lab"))
    assert r.status_code == 404


# --- every account write is audited with what explains the row ------------------------------


def test_account_writes_leave_events_that_explain_the_rows(api: httpx.Client, world: World,
                                                           db_engine: sa.Engine):
    from labctl.platform.accounts.auth import token_digest
    from labctl.platform.models.org import ApiToken, User

    name = _new_user(api, world)
    r = _login(api, name)
    token = r.json()["access_token"]
    with Session(db_engine) as s:
        user = s.exec(select(User).where(User.username == name)).one()
        row = s.exec(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).one()
    created = _events(db_engine, "user.create", name)[-1]["data"]
    assert created["password_hash_sha256"] == hashlib.sha256(
        user.password_hash.encode()).hexdigest()
    assert created["is_active"] is True and created["is_superuser"] is False
    login = _events(db_engine, "auth.login", name)[-1]["data"]
    assert login["token_id"] == row.id
    assert login["token_hash_sha256"] == hashlib.sha256(row.token_hash.encode()).hexdigest()
    assert datetime.fromisoformat(login["expires_at"]) == row.expires_at
    hdr = {"Authorization": f"Bearer {token}"}
    assert api.delete("/api/v1/auth/token", headers=hdr).status_code == 204
    rev = _events(db_engine, "auth.revoke", name)[-1]["data"]
    assert rev["token_id"] == row.id


# --- 8. the demo's credentials are in the README --------------------------------------------


def test_the_readme_states_the_demo_credentials():
    from labctl.cli import demo

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert demo.PASSWORD in readme
    for who in ("admin", "alice", "bob", "carol", "frank"):
        assert f"`{who}`" in readme
