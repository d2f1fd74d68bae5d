"""Self-registration is limited per client address (``Settings.registration_limit`` within
``registration_window``): past the limit the form answers 429 with ``Retry-After`` and
creates nothing; a refused registration (a field not valid) does not count. On both
databases: the count lives in the database, like the login throttle, not in a process."""

from __future__ import annotations

import dataclasses
import re
import secrets
from typing import Any

import httpx
import sqlalchemy as sa

from labctl.api import ServerThread as LiveServer
from labctl.api import create_app
from labctl.platform.settings import Settings

PASSWORD = "Calibrate-2026!"


def _register(url: str, username: str, email: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/register", headers={"Accept": "text/html"})
        found = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert found, form.text[:500]
        return client.post("/register", headers={"Accept": "text/html", "Origin": url},
                           data={"csrf": found.group(1), "organisation_name": f"{username} Ltd",
                                 "address": "1 Test Road", "contact_name": username.title(),
                                 "email": email, "username": username, "password": PASSWORD,
                                 "password_again": PASSWORD})


def _can_sign_in(url: str, username: str) -> bool:
    r = httpx.post(f"{url}/api/v1/auth/token",
                   json={"username": username, "password": PASSWORD}, timeout=30)
    return r.status_code == 200


def test_registrations_past_the_limit_are_refused_and_create_nothing(
        platform_settings: Any, world: Any, db_engine: sa.Engine) -> None:
    settings = dataclasses.replace(platform_settings, registration_limit=2,
                                   public_url="http://127.0.0.1")  # cookies over http
    assert isinstance(settings, Settings)
    tag = f"r{secrets.token_hex(3)}"  # world: the platform's root exists
    try:
        with LiveServer(create_app(settings)) as url:
            bad = _register(url, f"{tag}-reg0", "not-an-address")
            assert bad.status_code == 422  # refused, so not counted
            for n in (1, 2):
                ok = _register(url, f"{tag}-reg{n}", f"reg{n}@{tag}.example")
                assert ok.status_code == 303, ok.text[:500]
                assert _can_sign_in(url, f"{tag}-reg{n}")
            third = _register(url, f"{tag}-reg3", f"reg3@{tag}.example")
            assert third.status_code == 429
            assert "Too many attempts" in third.text
            assert 0 < int(third.headers["Retry-After"]) <= 3600
            assert not _can_sign_in(url, f"{tag}-reg3")
            with db_engine.connect() as conn:
                orgs = conn.execute(sa.text("SELECT count(*) FROM organisation WHERE name = "
                                            ":n"), {"n": f"{tag}-reg3 Ltd"}).scalar_one()
            assert orgs == 0
    finally:  # the session's other tests register from 127.0.0.1 with the default limit
        with db_engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM login_throttle WHERE scope = 'register'"))
