"""The argon2id parameters of password hashes: RFC 9106's by default, the cheap ones only
where ``LABCTL_PASSWORD_HASHING`` asks for them (this test suite does, see tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from labctl.errors import ValidationError
from labctl.platform.accounts.auth import password_hasher
from labctl.platform.accounts.organisations import login
from labctl.platform.admin import create_admin, open_platform, verify_audit
from labctl.platform.models.audit import AuditEvent
from labctl.platform.models.org import User


@pytest.mark.timeout(60)
def test_without_the_variable_new_hashes_get_rfc_9106_parameters() -> None:
    env = {k: v for k, v in os.environ.items() if k != "LABCTL_PASSWORD_HASHING"}
    out = subprocess.run(
        [sys.executable, "-c", "from labctl.platform.accounts.auth import hash_password;"
                               "print(hash_password('correct horse battery staple'))"],
        env=env, capture_output=True, text=True, timeout=50, check=True).stdout
    assert out.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), out


def test_a_hash_verifies_whichever_parameters_the_server_now_uses() -> None:
    strong, cheap = password_hasher({}), password_hasher(
        {"LABCTL_PASSWORD_HASHING": "insecure-fast-for-tests"})
    made_cheap = cheap.hash("s3cret-enough")
    assert made_cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert strong.verify(made_cheap, "s3cret-enough")  # the parameters travel in the hash
    assert strong.check_needs_rehash(made_cheap)


@pytest.mark.parametrize("value", ["md5", "RFC9106", "cheapest"])
def test_an_unknown_setting_is_refused_naming_the_variable_and_the_choices(value: str) -> None:
    with pytest.raises(ValidationError) as err:
        password_hasher({"LABCTL_PASSWORD_HASHING": value})
    assert err.value.field == "LABCTL_PASSWORD_HASHING"
    assert "rfc9106-low-memory" in str(err.value)


_SIGN_IN = """
import sys
from datetime import timedelta
from sqlmodel import Session, select
from labctl.platform.accounts.organisations import login
from labctl.platform.admin import open_platform
from labctl.platform.models.org import User

url, keys, password = sys.argv[1:4]
with open_platform(url, keys_dir=keys) as (engine, _), Session(engine) as session:
    login(session, username="root", password=password, lifetime=timedelta(hours=1))
    print(session.exec(select(User.password_hash).where(User.username == "root")).one())
"""


@pytest.mark.timeout(90)
def test_signing_in_stores_a_new_hash_when_the_server_now_hashes_with_other_parameters(
        tmp_path: Path) -> None:
    # An account made while the server ran with the cheap parameters (a mistake, or this test
    # suite) gets RFC 9106's at its next sign-in on a server that uses them: audited, and the
    # password still the same.
    url, keys, password = f"sqlite:///{tmp_path / 'p.db'}", tmp_path / "keys", "a long passphrase 1"
    create_admin(username="root", password=password, full_name="Root", organisation_code="NMI",
                 organisation_name="National Institute", database_url=url, keys_dir=keys)
    with open_platform(url, keys_dir=keys) as (engine, _), Session(engine) as session:
        made = session.exec(select(User.password_hash).where(User.username == "root")).one()
    assert made.startswith("$argon2id$v=19$m=8,t=1,p=1$")  # this suite's parameters

    strong = {k: v for k, v in os.environ.items() if k != "LABCTL_PASSWORD_HASHING"}
    out = subprocess.run([sys.executable, "-c", _SIGN_IN, url, str(keys), password], env=strong,
                         capture_output=True, text=True, timeout=80, check=True).stdout
    assert out.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), out

    with open_platform(url, keys_dir=keys) as (engine, _), Session(engine) as session:
        login(session, username="root", password=password, lifetime=timedelta(hours=1))
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "auth.login")
                              .order_by(col(AuditEvent.id))).all()
    # the first sign-in rehashed (and said so); this one, on the cheap parameters again, too
    assert [e.data.get("password_rehashed") for e in events] == [True, True]
    report = verify_audit(url, keys_dir=keys)
    assert report.ok, report
