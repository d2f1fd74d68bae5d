"""``labctl admin create``, ``db upgrade``, ``audit verify`` and ``serve`` as processes."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

LABCTL = [sys.executable, "-m", "labctl"]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LABCTL, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env})


def test_admin_then_audit_verify_catches_an_edited_row(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    keys = str(tmp_path / "keys")  # the audit key that seals the events
    done = _run("admin", "create", "--username", "root", "--full-name", "Root",
                "--organisation-code", "NMI", "--organisation-name", "National Institute",
                "--database-url", url, LABCTL_ADMIN_PASSWORD="a-long-password",
                LABCTL_KEYS_DIR=keys)
    assert done.returncode == 0, done.stderr
    assert _run("db", "upgrade", "--database-url", url).returncode == 0
    ok = _run("audit", "verify", "--database-url", url, LABCTL_KEYS_DIR=keys)
    assert ok.returncode == 0 and "intact" in ok.stdout
    with sqlite3.connect(tmp_path / "p.sqlite") as db:
        table = next(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE "
                                              "type='table' AND name LIKE 'audit%'"))
        db.execute(f"UPDATE {table} SET actor = 'mallory' WHERE id = 1")
    bad = _run("audit", "verify", "--database-url", url, LABCTL_KEYS_DIR=keys)
    assert bad.returncode == 1 and "BROKEN" in bad.stderr


def test_admin_create_rejects_a_short_password(tmp_path: Path):
    done = _run("admin", "create", "--username", "root", "--full-name", "Root",
                "--organisation-code", "NMI", "--organisation-name", "N",
                "--database-url", f"sqlite:///{tmp_path / 'p.sqlite'}",
                LABCTL_ADMIN_PASSWORD="short")
    assert done.returncode == 2 and "password" in done.stderr


@pytest.mark.timeout(90)
def test_serve_answers_and_stops_on_sigterm(tmp_path: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([*LABCTL, "serve", "--port", str(port), "--database-url",
                             f"sqlite:///{tmp_path / 'p.sqlite'}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "LABCTL_KEYS_DIR": str(tmp_path / "keys")})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert r.status_code == 200 and "/api/v1/verify/{number}" in r.json()["paths"]
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/standards", timeout=5
                         ).status_code == 200
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        # uvicorn finishes in-flight work, runs the lifespan shutdown, then re-raises the
        # signal so the exit status tells a supervisor it was stopped by SIGTERM
        assert proc.returncode in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
