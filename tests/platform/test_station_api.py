"""A remote station: register snapshot from the platform, ``labctl run --post`` back to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from labctl.api import create_app
from labctl.cli.demo import Api, seed_chain, seed_people, seed_registry
from labctl.platform.settings import Settings
from labctl.procedures.register import RegisterSnapshot
from simulators.bench import SimulatedBench
from tests.fixtures.db import LiveServer

SEED = 91


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Api, Any]]:
    tmp = tmp_path_factory.mktemp("station")
    settings = Settings(database_url=f"sqlite:///{tmp / 'p.sqlite'}", keys_dir=tmp / "keys")
    with SimulatedBench(seed=SEED) as sim:  # the bench the station will simulate again
        truth = sim.truth()
    with LiveServer(create_app(settings)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        api = Api(client)
        seed_people(api, settings.database_url, settings.keys_dir)
        seed_registry(api, truth)
        seed_chain(api, truth, datetime.now(UTC).replace(microsecond=0), SEED)
        yield url, api, truth


def test_register_snapshot_for_the_station(platform):
    _, api, truth = platform
    snap = RegisterSnapshot.from_dict(api.call("GET", "/stations/register", who="station"))
    cal = next(s for s in snap.standards if s.id == "LAB-CAL-01")
    assert cal.status == "in_service" and cal.serial_number == truth["calibrator"]["serial"]
    assert cal.certificate_number.startswith("PROV-")
    gain = cal.correction("DC voltage", "33V", "gain")
    assert gain is not None and abs(gain.value - truth["calibrator"]["errors"]["dcv"][33.0][
        "gain"]) < 4 * gain.u
    assert snap.is_authorised(person="alice", procedure_id="dmm-dcv-direct",
                              at=datetime.now(UTC))
    assert not snap.is_authorised(person="bob", procedure_id="dmm-dcv-direct",
                                  at=datetime.now(UTC))
    denied = api.client.get("/api/v1/stations/register",
                            headers={"Authorization": f"Bearer {api.tokens['alice']}"})
    assert denied.status_code == 403


@pytest.mark.timeout(180)
def test_labctl_run_post_creates_a_draft_once(platform, tmp_path: Path):
    url, api, truth = platform
    out = tmp_path / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "labctl", "run", "dmm-dcv-direct", "--sim", "--seed",
         str(SEED), "--post", url, "--operator", "alice", "--checker", "bob",
         "--dut-serial", truth["dmm"]["serial"], "--param", "ranges=10",
         "--customer-name", "Example Instruments Ltd", "--customer-code", "CUST",
         "--journal", str(tmp_path / "j.sqlite"), "--json", str(out)],
        capture_output=True, text=True, timeout=150,
        env={**os.environ, "LABCTL_STATION_TOKEN": api.tokens["station"]})
    assert done.returncode == 0, done.stdout + done.stderr
    number = next(w for w in done.stdout.split() if w.startswith("ACAL-"))
    cert = api.call("GET", f"/certificates/{number}", who="bob")
    assert cert["status"] == "draft" and len(cert["points"]) == 4
    assert cert["performed_by"] == "alice"
    # the station retries (say after a timeout): the same draft, nothing duplicated
    again = api.call("POST", "/stations/runs", who="station", body={
        "result": json.loads(out.read_text()), "customer_name": "Example Instruments Ltd",
        "customer_code": "CUST", "item_description": "Digital multimeter",
        "method": "m", "location": "l"})
    assert again["number"] == number and len(again["points"]) == 4
    # the same points labelled as an intermediate check of a standard (a new run): refused,
    # a check is filed for the standard's control chart, never a customer's certificate
    check = json.loads(out.read_text())
    check["run_id"] = check["run_id"][:-4] + "chk0"
    check["analysis"] = {**check.get("analysis", {}), "kind": "check"}
    before = api.call("GET", "/certificates?limit=200", who="bob")["total"]
    refused = httpx.post(f"{url}/api/v1/stations/runs", timeout=60, json={
        "result": check, "customer_name": "Example Instruments Ltd", "customer_code": "CUST",
        "item_description": "Digital multimeter", "method": "m", "location": "l"},
        headers={"Authorization": f"Bearer {api.tokens['station']}"})
    assert refused.status_code == 422 and refused.json()["rule"] == "check_not_certified"
    assert api.call("GET", "/certificates?limit=200", who="bob")["total"] == before


def test_post_without_a_station_token_is_refused_before_running(tmp_path: Path, platform):
    url, _, _ = platform
    env = {k: v for k, v in os.environ.items() if k != "LABCTL_STATION_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "labctl", "run", "dmm-dcv-direct", "--sim",
                           "--post", url, "--operator", "alice", "--checker", "bob",
                           "--journal", str(tmp_path / "j.sqlite")],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2 and "LABCTL_STATION_TOKEN" in done.stderr
