"""``labctl station register`` and ``labctl station push`` as processes against a live
platform (uvicorn on 127.0.0.1, seeded as ``labctl demo`` seeds it): the snapshot a station
works from off-line, an off-line run posted once the network is back, and the errors a
person meets (an address that is not one, a platform that does not answer, a revoked token,
a file that is not a run)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labctl.procedures.register import RegisterSnapshot
from tests.platform.live_bench import LiveBench, live_bench

LABCTL = [sys.executable, "-m", "labctl"]


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "LABCTL_STATION_TOKEN"}
    return subprocess.run([*LABCTL, *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **env})


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveBench]:
    with live_bench(tmp_path_factory.mktemp("station-cli"), seed=31) as bench:
        yield bench


def _completed_run(live: LiveBench) -> dict[str, Any]:
    """A run made on the bench, as ``labctl run --json`` writes one (``RunResult.to_dict()``:
    the API serves the same dict)."""
    api = live.api
    started = api.call("POST", "/benches/bench-1/runs", who="alice", body={
        "procedure": "dmm-dcv-direct", "parameters": {"ranges": [10.0], "settle_time": 1.0},
        "dut": {"serial_number": live.sim.truth()["dmm"]["serial"]}, "checker": "bob"})
    run_id = started["run_id"]
    deadline = time.monotonic() + 90
    while api.call("GET", f"/runs/{run_id}", who="alice")["status"] not in (
            "completed", "failed", "refused", "aborted", "paused"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    result: dict[str, Any] = api.call("GET", f"/runs/{run_id}/result", who="alice")
    assert result["status"] == "completed", result.get("reason")
    return result


@pytest.mark.timeout(120)
def test_register_writes_the_snapshot_and_push_posts_the_run(live: LiveBench,
                                                             tmp_path: Path) -> None:
    token = live.api.tokens["station"]
    out = tmp_path / "snap.json"
    done = _run("station", "register", "--url", live.url, "--token", token, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "register snapshot written to" in done.stdout
    snapshot = RegisterSnapshot.load(out)  # what `labctl run --register` loads
    assert any(s.id == "LAB-CAL-01" for s in snapshot.standards)
    assert any(a.person == "alice" for a in snapshot.authorisations)

    run_file = tmp_path / "run.json"
    run = _completed_run(live)
    run_file.write_text(json.dumps(run), encoding="utf-8")
    pushed = _run("station", "push", str(run_file), "--url", live.url,
                  "--customer-name", "Example Instruments Ltd", "--customer-code", "CUST",
                  LABCTL_STATION_TOKEN=token)
    assert pushed.returncode == 0, pushed.stderr
    number = pushed.stdout.split("draft certificate ")[1].split(",")[0]
    draft = live.api.call("GET", f"/certificates/{number}", who="bob")
    assert draft["status"] == "draft" and draft["performed_by"] == "alice"
    assert len(draft["points"]) == len(run["points"])
    again = _run("station", "push", str(run_file), "--url", live.url, "--token", token,
                 "--customer-name", "Example Instruments Ltd")
    assert again.returncode == 0 and f"draft certificate {number}," in again.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(60)
def test_clear_errors_with_exit_codes(live: LiveBench, tmp_path: Path) -> None:
    token = live.api.tokens["station"]
    bad_url = _run("station", "register", "--url", "lab.example.org", "--token", token)
    assert bad_url.returncode == 2 and "not a platform address" in bad_url.stderr
    no_token = _run("station", "register", "--url", live.url)
    assert no_token.returncode == 2 and "no station token" in no_token.stderr
    nobody = _run("station", "register", "--url", f"http://127.0.0.1:{_free_port()}",
                  "--token", token, "--out", str(tmp_path / "x.json"))
    assert nobody.returncode == 4 and "did not answer" in nobody.stderr
    assert not (tmp_path / "x.json").exists()
    user_token = live.api.tokens["alice"]  # a person's token is not a station's
    refused = _run("station", "register", "--url", live.url, "--token", user_token)
    assert refused.returncode == 4, refused.stderr
    wrong = _run("station", "register", "--url", live.url, "--token", "not-a-token")
    assert wrong.returncode == 4 and "refused the station token" in wrong.stderr

    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello", encoding="utf-8")
    r = _run("station", "push", str(not_json), "--url", live.url, "--token", token,
             "--customer-name", "X")
    assert r.returncode == 2 and "is not JSON" in r.stderr
    not_run = tmp_path / "other.json"
    not_run.write_text(json.dumps({"standards": []}), encoding="utf-8")
    r = _run("station", "push", str(not_run), "--url", live.url, "--token", token,
             "--customer-name", "X")
    assert r.returncode == 2 and "is not a run result" in r.stderr
    missing = _run("station", "push", str(tmp_path / "none.json"), "--url", live.url,
                   "--token", token, "--customer-name", "X")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
