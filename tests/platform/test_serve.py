"""``labctl serve`` entry point: starts on the embedded default (a SQLite file in the user's
data directory), migrates it, and answers; the CLI-facing helpers work on that file."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(60)
def test_serve_starts_on_the_embedded_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABCTL_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # platformdirs' user data dir on Linux
    env["HOME"] = str(tmp_path)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", f"from labctl.api import serve; serve('127.0.0.1', {port})"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 40
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/organisations", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()[1].decode()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json() == []
        db = tmp_path / "data" / "labctl" / "labctl.db"
        assert db.exists()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)  # reaps it and closes the pipe
    # the bootstrap admin and the audit verification the CLI will call, on the same file
    from labctl.platform.admin import create_admin, verify_audit

    url = f"sqlite:///{db}"
    create_admin(username="boss", password="a long enough password", full_name="Boss",
                 organisation_code="NMI", organisation_name="National Institute",
                 country_code="DE", database_url=url, keys_dir=tmp_path / "keys")
    report = verify_audit(url, keys_dir=tmp_path / "keys")
    assert report.ok and report.events == 1
