"""``labctl serve --workers N``: N uvicorn worker processes on one port over PostgreSQL, with
nothing a request needs kept in one worker's memory.

The server is a real ``labctl serve --workers 2`` subprocess and the bench a real station
agent (``labctl station serve`` on the simulated bench). An HTTP/1.1 connection stays with the
worker that accepted it, so a client is pinned to a worker by the connection it keeps
(``GET /api/v1/health`` says which process answered, the socket's local address proves the
later requests used that same connection). Also: the refusals (SQLite, embedded benches),
and migrations started at once by several processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from labctl.cli import app
from labctl.cli.demo import Api
from labctl.platform.db import make_engine
from labctl.platform.jobs import PLATFORM_JOBS, job_runs
from tests.fixtures.sse import sse_blocks
from tests.stations.agents import (
    LABCTL,
    AgentPlatform,
    agent,
    free_port,
    seed_for_agents,
    stop_gently,
)

SEED = 57


def _workers(parent: int) -> set[int]:
    """The uvicorn workers among the parent's children (not multiprocessing's tracker)."""
    try:
        text = Path(f"/proc/{parent}/task/{parent}/children").read_text()
    except FileNotFoundError:
        return set()
    out = set()
    for pid in map(int, text.split()):
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.add(pid)
        except FileNotFoundError:  # it has just ended
            continue
    return out


@contextmanager
def serve_workers(database_url: str, keys: Path, port: int, log: Path, workers: int = 2
                  ) -> Iterator[subprocess.Popen[bytes]]:
    """``labctl serve --workers N`` until every worker answers; stopped with SIGTERM (its
    workers with it), killed with them if it does not stop."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*LABCTL, "serve", "--port", str(port), "--database-url", database_url,
             "--workers", str(workers)], stdout=out, stderr=subprocess.STDOUT,
            env={**os.environ, "LABCTL_KEYS_DIR": str(keys), "PYTHONUNBUFFERED": "1"})
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 90
        while len(seen) < workers:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, f"workers answering: {seen}"
            try:
                seen.add(httpx.get(f"http://127.0.0.1:{port}/api/v1/health",
                                   timeout=5).json()["worker"])
            except httpx.HTTPError:
                time.sleep(0.2)
        yield proc
    finally:
        children = _workers(proc.pid)
        stop_gently(proc)
        for pid in children:  # only if the parent could not stop them
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _client_addr(resp: httpx.Response) -> Any:
    """The local address of the connection that carried ``resp``."""
    return resp.extensions["network_stream"].get_extra_info("client_addr")


@contextmanager
def pinned_clients(base: str, workers: int = 2, tries: int = 200
                   ) -> Iterator[dict[int, tuple[httpx.Client, Any]]]:
    """One kept-alive client per worker: worker pid → (client, its connection's address)."""
    found: dict[int, tuple[httpx.Client, Any]] = {}
    with ExitStack() as stack:
        for _ in range(tries):
            client = stack.enter_context(httpx.Client(base_url=base, timeout=60))
            resp = client.get("/api/v1/health")
            assert resp.status_code == 200, resp.text
            found.setdefault(resp.json()["worker"], (client, _client_addr(resp)))
            if len(found) == workers:
                break
        assert len(found) == workers, f"{tries} connections all reached {set(found)}"
        yield found


def _client_of(pid: int, base: str, stack: ExitStack, tries: int = 200
               ) -> tuple[httpx.Client, Any]:
    """A kept-alive client whose connection worker ``pid`` accepted, and its address."""
    for _ in range(tries):
        client = stack.enter_context(httpx.Client(base_url=base, timeout=60))
        resp = client.get("/api/v1/health")
        if resp.json()["worker"] == pid:
            return client, _client_addr(resp)
    raise AssertionError(f"{tries} connections, none reached worker {pid}")


def _events(client: httpx.Client, token: str, run_id: str) -> tuple[Any, list[dict[str, Any]]]:
    """The run's server-sent events until the stream ends, and the connection that carried
    them."""
    out: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=60,
                       headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status_code == 200, resp.read()
        addr = _client_addr(resp)
        for block in sse_blocks(resp.iter_lines()):
            out.append({**block, "id": int(block["id"])} if "id" in block else block)
    return addr, out


def _job_rows(engine: sa.Engine, n: int, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while len(rows := [r for r in job_runs(engine) if r.finished_at]) < n:
        assert time.monotonic() < deadline, job_runs(engine)
        time.sleep(0.2)
    return rows


@pytest.mark.postgres
@pytest.mark.timeout(300)
def test_two_workers_share_the_port_the_runs_and_the_jobs_and_survive_a_kill(
        postgres_database_factory: Any, tmp_path: Path):
    url: str = postgres_database_factory()
    keys, port = tmp_path / "keys", free_port()
    base = f"http://127.0.0.1:{port}"
    engine = make_engine(url)
    try:
        with ExitStack() as stack, \
                serve_workers(url, keys, port, tmp_path / "serve.log") as server:
            workers = _workers(server.pid)
            assert len(workers) == 2
            # both workers' schedulers looked at the day's jobs when they started: each job
            # ran once, in one of them
            rows = _job_rows(engine, len(PLATFORM_JOBS))
            assert sorted(r.job for r in rows) == sorted(j.name for j in PLATFORM_JOBS)
            assert all(r.state == "succeeded" for r in rows), [r.error for r in rows]
            assert {int(r.worker.rsplit(":", 1)[1]) for r in rows} <= workers

            api = Api(stack.enter_context(httpx.Client(base_url=base, timeout=60)))
            truth, token = seed_for_agents(api, url, keys, SEED)
            platform = AgentPlatform(base, api, token, truth, SEED, tmp_path)
            with agent(platform, "agent-w"), pinned_clients(base) as pinned:
                assert set(pinned) == workers  # each worker accepts connections
                pid_a, pid_b = pinned
                # a connection to A made just now (one kept a while may have idled out of
                # its keep-alive, and the next would go to either worker)
                client_a, addr_a = _client_of(pid_a, base, stack)
                started = client_a.post("/api/v1/benches/agent-w/runs", headers={
                    "Authorization": f"Bearer {api.tokens['alice']}"}, json={
                    "procedure": "dmm-dcv-direct",
                    "parameters": {"ranges": [10.0], "settle_time": 1.0},
                    "dut": {"serial_number": truth["dmm"]["serial"]}, "checker": "bob"})
                assert started.status_code == 202, started.text
                assert _client_addr(started) == addr_a  # started through worker A
                run_id = started.json()["run_id"]
                # followed through worker B, which never saw the start
                client_b, addr_b = _client_of(pid_b, base, stack)
                addr, events = _events(client_b, api.tokens["alice"], run_id)
                assert addr == addr_b
            kinds = [e["event"] for e in events]
            assert [e["id"] for e in events] == list(range(len(events)))
            assert kinds[-1] == "completed" and kinds.count("point_done") >= 1
            status = platform.status(run_id)
            assert status["status"] == "completed"
            assert status["points_done"] == kinds.count("point_done")

            # a worker killed: the other keeps the port answering, and uvicorn starts
            # another in its place (not waited for here: a worker's start is the slow part)
            os.kill(pid_a, signal.SIGKILL)
            answered: set[int] = set()
            for _ in range(10):
                resp = httpx.get(f"{base}/api/v1/health", timeout=30)
                assert resp.status_code == 200
                answered.add(resp.json()["worker"])
            assert pid_a not in answered
            resp = httpx.get(f"{base}/api/v1/runs/{run_id}", timeout=30,
                             headers={"Authorization": f"Bearer {api.tokens['alice']}"})
            assert resp.json()["status"] == "completed"
            deadline = time.monotonic() + 60
            while not (_workers(server.pid) - workers):
                assert time.monotonic() < deadline, "no worker replaced the killed one"
                time.sleep(0.2)
            assert len(_workers(server.pid)) == 2 and pid_b in _workers(server.pid)
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.timeout(120)
def test_processes_migrating_at_once_take_turns(postgres_database_factory: Any):
    """Two processes migrate one fresh database at the same moment, as N workers starting
    together do: each waits for the advisory lock, the first upgrades, the others find the
    schema current."""
    url: str = postgres_database_factory()
    code = ("import sys; from labctl.platform.db import make_engine, migrate; "
            "engine = make_engine(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.readline(); migrate(engine)")
    procs = [subprocess.Popen([sys.executable, "-c", code, url], text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _ in range(2)]
    outputs = []
    try:
        for proc in procs:  # every one imported and waiting
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        for proc in procs:  # then all at once
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        for proc in procs:
            outputs.append((proc.communicate(timeout=90)[0], proc.returncode))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
    assert [rc for _, rc in outputs] == [0, 0], "\n".join(out[-2000:] for out, _ in outputs)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT version_num FROM alembic_version")
                                ).scalars().all() == [_head()]
            assert conn.execute(sa.text("SELECT count(*) FROM job_run")).scalar_one() == 0
    finally:
        engine.dispose()


def _head() -> str:
    """The newest migration's revision (what a finished migration leaves in the database)."""
    from alembic.script import ScriptDirectory

    from labctl.platform.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def test_more_than_one_worker_is_refused_where_they_cannot_share_the_work(tmp_path: Path):
    """The command line's own answer (in this process: the refusal comes before any server
    or database is started)."""
    benches = tmp_path / "benches.toml"
    benches.write_text('[benches.bench-1]\nlaboratory = "ACAL"\nconfig = "bench-1.toml"\n')
    sqlite_file = tmp_path / "p.sqlite"
    pg_url = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # refused before any connection
    env = {"LABCTL_KEYS_DIR": str(tmp_path / "keys"), "LABCTL_BENCHES": None,
           "LABCTL_DATABASE_URL": None}

    def serve(*args: str, **extra: str) -> tuple[int, str]:
        done = CliRunner().invoke(app, ["serve", *args], env={**env, **extra})
        return done.exit_code, " ".join(done.output.split())

    code, text = serve("--workers", "2", "--database-url", f"sqlite:///{sqlite_file}")
    assert code == 2, text
    assert "--workers 2 needs PostgreSQL" in text and "SQLite is one process's database" in text
    code, text = serve("--workers", "3", "--database-url", pg_url,
                       LABCTL_BENCHES=str(benches))
    assert code == 2, text
    assert "--workers 3 cannot serve the benches of LABCTL_BENCHES" in text
    assert "station agents" in text
    code, text = serve("--workers", "0", "--database-url", pg_url)
    assert code == 2 and "--workers" in text, text
    assert not sqlite_file.exists()  # refused before the database was touched
