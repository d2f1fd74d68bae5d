"""A live platform with no bench of its own, and station agents (``labctl station serve``) as
real subprocesses serving the simulated bench to it over loopback: the tests of runs on
benches behind agents start from here."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from labctl.api import create_app
from labctl.cli.demo import LAB, Api, seed_chain, seed_people, seed_registry
from labctl.platform.settings import Settings
from simulators.bench import SimulatedBench
from tests.fixtures.db import LiveServer
from tests.fixtures.sse import sse_blocks

LABCTL = [sys.executable, "-m", "labctl"]


@dataclass
class AgentPlatform:
    url: str
    api: Api
    token: str  # the laboratory's station token
    truth: dict[str, Any]
    seed: int
    tmp: Path

    def start(self, bench: str, *, who: str = "alice", ranges: tuple[float, ...] = (10.0,),
              checker: str = "bob", **extra: Any) -> str:
        started = self.api.call("POST", f"/benches/{bench}/runs", who=who, body={
            "procedure": "dmm-dcv-direct",
            "parameters": {"ranges": list(ranges), "settle_time": 1.0, **extra},
            "dut": {"manufacturer": "Keysight Technologies", "model": "34465A",
                    "serial_number": self.truth["dmm"]["serial"]},
            "checker": checker})
        return str(started["run_id"])

    def status(self, run_id: str, who: str = "alice") -> dict[str, Any]:
        return self.api.call("GET", f"/runs/{run_id}", who=who)  # type: ignore[no-any-return]

    def wait_status(self, run_id: str, statuses: set[str], timeout: float = 90.0
                    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status = self.status(run_id)
            if status["status"] in statuses:
                return status
            assert time.monotonic() < deadline, status
            time.sleep(0.1)


def seed_for_agents(api: Api, database_url: str, keys_dir: Path, seed: int
                     ) -> tuple[dict[str, Any], str]:
    """Seed the platform behind ``api`` as the demo seeds it for a simulated bench of
    ``seed``; the bench's truth and a station token of the laboratory."""
    with SimulatedBench(seed=seed) as sim:  # only its truth: the agent runs its own
        truth = sim.truth()
    now = datetime.now(UTC).replace(microsecond=0)
    seed_people(api, database_url, keys_dir)
    seed_registry(api, truth)
    seed_chain(api, truth, now, seed)
    token = api.call("POST", f"/organisations/{LAB}/stations", who="admin",
                     body={"name": "agent-station"})["access_token"]
    return truth, token


@contextmanager
def agent_platform(tmp: Path, seed: int, database_url: str | None = None
                   ) -> Iterator[AgentPlatform]:
    """The platform in this process (SQLite file in ``tmp`` unless ``database_url``) seeded
    for a simulated bench of ``seed``, with a station token for the laboratory."""
    settings = Settings(database_url=database_url or f"sqlite:///{tmp / 'p.sqlite'}",
                        keys_dir=tmp / "keys")
    with LiveServer(create_app(settings)) as url, \
            httpx.Client(base_url=url, timeout=60) as client:
        api = Api(client)
        truth, token = seed_for_agents(api, settings.database_url, settings.keys_dir, seed)
        yield AgentPlatform(url, api, token, truth, seed, tmp)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def platform_process(database_url: str, keys_dir: Path, port: int, log: Path
                     ) -> Iterator[subprocess.Popen[bytes]]:
    """``labctl serve`` as a subprocess on ``port`` (an API worker of its own), answering
    before this yields; SIGKILLed afterwards if still alive."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*LABCTL, "serve", "--port", str(port), "--database-url", database_url],
            stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "LABCTL_KEYS_DIR": str(keys_dir), "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code \
                        == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the platform did not start"
            time.sleep(0.2)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def agent_command(platform: AgentPlatform, bench: str, *, token: str | None = None,
                  latency: float = 0.0, poll_wait: float = 2) -> list[str]:
    return [*LABCTL, "station", "serve", "--url", platform.url, "--token",
            token or platform.token, "--name", bench, "--sim", "--seed", str(platform.seed),
            "--sim-noiseless", "--sim-latency", str(latency), "--poll-wait", str(poll_wait),
            "--journal", str(platform.tmp / f"{bench}.journal.sqlite")]


@contextmanager
def agent(platform: AgentPlatform, bench: str = "agent-1", **kw: Any
          ) -> Iterator[subprocess.Popen[str]]:
    """A station agent subprocess serving the simulated bench as ``bench``, announced
    before this yields; stopped with SIGTERM (killed if it does not end) afterwards."""
    log = (platform.tmp / f"{bench}.log").open("a")
    proc = subprocess.Popen(agent_command(platform, bench, **kw), stdout=log,
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.monotonic() + 60
        while not any(b["name"] == bench for b in platform.api.call(
                "GET", "/benches", who="alice")):
            assert proc.poll() is None, (platform.tmp / f"{bench}.log").read_text()
            assert time.monotonic() < deadline, "the agent did not announce its bench"
            time.sleep(0.1)
        yield proc
    finally:
        stop_gently(proc)
        log.close()


def stop_gently(proc: subprocess.Popen[Any], timeout: float = 30) -> None:
    """SIGTERM (the way a service manager stops it), then SIGKILL if it is still there after
    ``timeout`` s; nothing if it has ended already."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def journal_points(path: Path, run_id: str) -> list[str]:
    """The point keys the agent's journal holds for the run, in order."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
        return [row[0] for row in db.execute(
            "SELECT key FROM points WHERE run_id=? ORDER BY seq", (run_id,))]


def sse(api: Api, run_id: str, who: str = "alice", last: str | None = None
        ) -> list[dict[str, Any]]:
    """The run's server-sent events until the stream ends."""
    headers = {"Authorization": f"Bearer {api.tokens[who]}"}
    if last is not None:
        headers["Last-Event-ID"] = last
    out: list[dict[str, Any]] = []
    with api.client.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers,
                           timeout=60) as resp:
        assert resp.status_code == 200, resp.read()
        out.extend(sse_blocks(resp.iter_lines()))
    return out
