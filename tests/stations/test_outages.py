"""What a run behind a station agent survives: the platform killed and started again, the API
worker holding the run's event stream killed, PostgreSQL restarted, all mid-run. The run
completes with every point once, its events are each seen once across reconnections, its
certificate is issued and the audit trail verifies.

The API workers are ``labctl serve`` subprocesses (like workers behind a reverse proxy), the
agent a ``labctl station serve`` subprocess on the simulated bench. PostgreSQL is a cluster of
the test's own (``private_pg``) so that restarting it cuts no other test's connections.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from labctl.cli.demo import Api, DemoError
from tests.fixtures.sse import sse_blocks
from tests.stations.agents import (
    LABCTL,
    AgentPlatform,
    agent,
    free_port,
    journal_points,
    platform_process,
    seed_for_agents,
)
from tests.stations.private_pg import PrivateCluster, private_postgres

SEED = 93
CERTIFY = {"customer_name": "Example Instruments Ltd", "customer_code": "CUST",
           "item_description": "Digital multimeter", "method": "Direct comparison",
           "location": "Bench behind an agent"}


class Follower(threading.Thread):
    """Follows a run's events over SSE until the stream ends or breaks."""

    def __init__(self, url: str, token: str, run_id: str, last: str | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.run_id, self.last = url, token, run_id, last
        self.events: list[dict[str, Any]] = []
        self.error: str | None = None

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        if self.last is not None:
            headers["Last-Event-ID"] = self.last
        try:
            with httpx.stream("GET", f"{self.url}/api/v1/runs/{self.run_id}/events",
                              headers=headers, timeout=httpx.Timeout(10, read=60)) as resp:
                assert resp.status_code == 200
                for block in sse_blocks(resp.iter_lines()):  # kept as each one arrives
                    self.events.append(block)
        except httpx.HTTPError as exc:
            self.error = f"{type(exc).__name__}: {exc}"


def _patient(call: Any, timeout: float = 60.0) -> Any:
    """``call`` until it answers (the platform or its database may be restarting)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (httpx.HTTPError, DemoError) as exc:  # restarting: refused, or a 5xx
            if time.monotonic() > deadline:
                raise AssertionError(f"no answer for {timeout} s: {exc}") from exc
            time.sleep(0.2)


def _points_done(platform: AgentPlatform, run_id: str) -> int:
    return int(_patient(lambda: platform.status(run_id))["points_done"])


def _wait_points(platform: AgentPlatform, run_id: str, n: int) -> None:
    deadline = time.monotonic() + 60
    while _points_done(platform, run_id) < n:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _completed_and_issued(platform: AgentPlatform, run_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while (status := _patient(lambda: platform.status(run_id)))["status"] != "completed":
        assert status["status"] in ("created", "running", "held"), status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    keys = [p["key"] for p in status["points"]]
    assert len(keys) == len(set(keys)) == 8  # every point once
    assert keys == journal_points(platform.tmp / "agent.journal.sqlite", run_id)
    api = platform.api
    draft = api.call("POST", f"/runs/{run_id}/certificate", who="alice", body=CERTIFY)
    assert len(draft["points"]) == 8
    api.call("POST", f"/certificates/{draft['number']}/check", who="bob")
    assert api.call("POST", f"/certificates/{draft['number']}/issue",
                    who="carol")["status"] == "issued"
    return status


def _audit_verifies(database_url: str, keys: Path) -> None:
    done = subprocess.run([*LABCTL, "audit", "verify", "--database-url", database_url],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LABCTL_KEYS_DIR": str(keys)})
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    with private_postgres() as pg:
        yield pg


@pytest.mark.timeout(300)
def test_worker_killed_under_the_stream_then_postgresql_restarted_mid_run(
        cluster: PrivateCluster, tmp_path: Path):
    keys, url = tmp_path / "keys", cluster.url
    port_a, port_b = free_port(), free_port()
    with platform_process(url, keys, port_a, tmp_path / "a.log"), \
            platform_process(url, keys, port_b, tmp_path / "b.log") as worker_b, \
            httpx.Client(base_url=f"http://127.0.0.1:{port_a}", timeout=60) as client, \
            httpx.Client(base_url=f"http://127.0.0.1:{port_b}", timeout=60) as client_b:
        api = Api(client)
        truth, token = seed_for_agents(api, url, keys, SEED)
        platform = AgentPlatform(f"http://127.0.0.1:{port_a}", api, token, truth, SEED,
                                 tmp_path)
        with agent(platform, "agent", latency=0.03):
            api_b = Api(client_b, tokens=api.tokens)
            started = api_b.call("POST", "/benches/agent/runs", who="alice", body={
                "procedure": "dmm-dcv-direct",
                "parameters": {"ranges": [1.0, 10.0], "settle_time": 1.0},
                "dut": {"serial_number": truth["dmm"]["serial"]}, "checker": "bob"})
            run_id = started["run_id"]
            through_b = Follower(f"http://127.0.0.1:{port_b}", api.tokens["alice"], run_id)
            through_b.start()
            _wait_points(platform, run_id, 2)
            worker_b.send_signal(signal.SIGKILL)  # the worker holding the subscription
            through_b.join(timeout=30)
            assert through_b.error is not None and through_b.events
            _wait_points(platform, run_id, 4)
            cluster.restart()  # PostgreSQL restarted mid-run: every connection cut
            status = _completed_and_issued(platform, run_id)
            rest = Follower(platform.url, api.tokens["alice"], run_id,
                            last=through_b.events[-1]["id"])
            rest.run()
            assert rest.error is None
            seen = [int(e["id"]) for e in through_b.events + rest.events]
            assert seen == list(range(len(seen)))  # each event once, none missing
            assert rest.events[-1]["event"] == "completed"
            assert [e["event"] for e in through_b.events + rest.events].count(
                "point_done") == 8
            assert status["points_done"] == 8
    _audit_verifies(url, keys)


@pytest.mark.timeout(300)
def test_the_platform_killed_mid_run_while_the_agent_keeps_measuring(tmp_path: Path):
    keys, url = tmp_path / "keys", f"sqlite:///{tmp_path / 'platform.sqlite'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=60) as client:
        api = Api(client)
        with platform_process(url, keys, port, tmp_path / "p.log") as server:
            truth, token = seed_for_agents(api, url, keys, SEED)
            platform = AgentPlatform(base, api, token, truth, SEED, tmp_path)
            agent_cm = agent(platform, "agent", latency=0.03)
            agent_cm.__enter__()
            try:
                run_id = platform.start("agent", ranges=(1.0, 10.0))
                _wait_points(platform, run_id, 2)
                server.send_signal(signal.SIGKILL)
                server.wait(timeout=10)
                journal = tmp_path / "agent.journal.sqlite"
                posted = len(journal_points(journal, run_id))
                deadline = time.monotonic() + 60
                while len(journal_points(journal, run_id)) < posted + 2:  # still measuring
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
                with platform_process(url, keys, port, tmp_path / "p.log"):
                    _completed_and_issued(platform, run_id)
                    replay = Follower(base, api.tokens["alice"], run_id)
                    replay.run()
                    seen = [int(e["id"]) for e in replay.events]
                    assert replay.error is None and seen == list(range(len(seen)))
                    kinds = [e["event"] for e in replay.events]
                    assert kinds.count("point_done") == 8 and kinds[-1] == "completed"
            finally:
                agent_cm.__exit__(None, None, None)
    _audit_verifies(url, keys)
