"""Load on the national deployment's shape: two stateless API processes (``labctl serve``) on
one PostgreSQL database, 50 stations posting finished runs and 20 portal users searching at
the same time, for ``LABCTL_LOAD_SECONDS`` (60 s unless set; the issue's figure).

Each station has its own token and posts each run (``POST /api/v1/stations/runs``, as
:class:`~labctl.platform.stations.seam.RemoteStation` does) to the two processes in turn, as
a round-robin reverse proxy would; some posts are retried on the other process after the
answer (a station that timed out), some are posted to both at once (a retry that overtakes
a first post still in flight). Afterwards the database must hold every posted run exactly
once, as the draft the station was answered with. The portal users' answers must equal the
answers given before the load (JSON search) or show the entries searched for (pages).

Nothing is mocked: real ``labctl serve`` subprocesses, a real PostgreSQL database, a run
result made by the real runner on the simulated bench. The figures printed are throughput
on a shared 2-core machine, not goals: those are in ``benchmarks/workers.py``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from labctl.cli.demo import LAB, Api
from labctl.platform.db import make_engine, migrate
from tests.stations.agents import free_port, platform_process, seed_for_agents

SEED = 93
STATIONS = 50
USERS = 20
#: How long the load lasts, s: ``LABCTL_LOAD_SECONDS``, 60 unless set, at least 20 (two
#: periods: every station posts, and retries and racing posts both happen).
SECONDS = max(float(os.environ.get("LABCTL_LOAD_SECONDS", "60")), 20.0)
#: One post in RETRY is retried after its answer, one in RACE posted to both at once.
RETRY, RACE = 5, 7
#: A station posts a finished run every PERIOD s, a person searches again after THINK s.
#: Flat out (no pause), 50 stations offer more drafts than two shared cores make (a draft
#: holds the audit chain's lock): requests then queue for a database connection until the
#: pool's 30 s timeout. This test is about correctness under concurrency; the capacity
#: figures are ``benchmarks/workers.py``'s.
PERIOD, THINK = 10.0, 1.0

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def finished_run(url: str, api: Api, serial: str, tmp: Path) -> dict[str, Any]:
    """One run of ``dmm-dcv-direct`` on the simulated bench by a remote station (``labctl
    run --post``), as the JSON a station posts: the template of every post below."""
    out = tmp / "run.json"
    done = subprocess.run(
        [sys.executable, "-m", "labctl", "run", "dmm-dcv-direct", "--sim", "--seed",
         str(SEED), "--sim-noiseless", "--post", url, "--operator", "alice", "--checker",
         "bob", "--dut-serial", serial, "--param", "ranges=10", "--customer-name",
         "Example Instruments Ltd", "--customer-code", "CUST",
         "--journal", str(tmp / "template.journal.sqlite"), "--json", str(out)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "LABCTL_STATION_TOKEN": api.tokens["station"]})
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(out.read_text())  # type: ignore[no-any-return]


class Tally:
    """What every simulated client saw: answers by kind, latencies, and every error."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.errors: list[str] = []
        self.latency: dict[str, list[float]] = {}
        self.posted: dict[str, str] = {}  # run id -> the draft number answered

    def timed(self, kind: str, call: Callable[..., httpx.Response], *args: Any, **kw: Any
              ) -> httpx.Response | None:
        t0 = time.perf_counter()
        try:
            resp = call(*args, **kw)
        except httpx.HTTPError as exc:
            self.error(f"{kind}: {type(exc).__name__}: {exc}")
            return None
        with self.lock:
            self.latency.setdefault(kind, []).append(time.perf_counter() - t0)
        return resp

    def error(self, what: str) -> None:
        with self.lock:
            self.errors.append(what)


def station(i: int, urls: list[str], token: str, template: dict[str, Any], deadline: float,
            tally: Tally) -> None:
    """Post finished runs until ``deadline``, each to the next process in turn."""
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=u, timeout=60, headers=headers) for u in urls]
    both = ThreadPoolExecutor(2)

    def post(c: int, body: dict[str, Any], kind: str) -> str | None:
        resp = tally.timed(kind, clients[c].post, "/api/v1/stations/runs", json=body)
        if resp is None:
            return None
        if resp.status_code != 201:
            tally.error(f"station {i} {kind} {body['result']['run_id']} to process {c}: "
                        f"{resp.status_code} {resp.text[:300]}")
            return None
        return str(resp.json()["number"])

    try:
        n = 0
        due = time.monotonic() + PERIOD * i / STATIONS  # spread over the first period
        while True:
            time.sleep(max(0.0, min(due, deadline) - time.monotonic()))
            if time.monotonic() >= deadline:
                break
            due = max(due + PERIOD, time.monotonic())  # behind: no burst to catch up
            n += 1
            run_id = f"load-s{i:02d}-{n:05d}"
            body = {"result": {**template, "run_id": run_id},
                    "customer_name": "Example Instruments Ltd", "customer_code": "CUST",
                    "item_description": "Digital multimeter", "method": "Direct comparison",
                    "location": f"Station {i}"}
            first = (i + n) % 2
            if (i + 3 * n) % RACE == 0:  # the retry overtakes the first post, still in flight
                numbers = list(both.map(post, (first, 1 - first), (body, body),
                                        ("post (both at once)",) * 2))
            else:
                numbers = [post(first, body, "post")]
                if (i + n) % RETRY == 0 and numbers[0] is not None:
                    numbers.append(post(1 - first, body, "retry"))
            if None in numbers:
                continue
            if len(set(numbers)) != 1:
                tally.error(f"station {i} run {run_id}: answered as {numbers}")
            with tally.lock:
                tally.posted[run_id] = str(numbers[0])
    finally:
        both.shutdown()
        for c in clients:
            c.close()


def searches(serial: str) -> list[tuple[str, str, dict[str, str], str | None]]:
    """The portal users' requests: (kind, path, query, text a page must show; None: a JSON
    answer, which must equal the one given before the load)."""
    return [
        ("search JSON", "/api/v1/standards", {"q": "calibrator"}, None),
        ("search JSON", "/api/v1/capabilities", {"quantity": "DC voltage", "value": "10"},
         None),
        ("search JSON", "/api/v1/standards", {"domain": "electrical DC"}, None),
        ("search page", "/", {"what": "standards", "q": "calibrator"}, "LAB-CAL-01"),
        ("search page", "/", {"what": "capabilities", "quantity": "DC voltage",
                              "value": "10"}, "Acme Calibration Laboratory"),
        ("entry page", "/standards/LAB-CAL-01", {}, serial),
    ]


def portal_user(i: int, urls: list[str], expected: dict[int, Any], serial: str,
                deadline: float, tally: Tally) -> None:
    """Search the public registry until ``deadline``, each request to the next process."""
    clients = [httpx.Client(base_url=u, timeout=60) for u in urls]
    todo = searches(serial)
    try:
        n = i
        time.sleep(THINK * i / USERS)
        while time.monotonic() < deadline:
            n += 1
            k = n % len(todo)
            kind, path, query, shows = todo[k]
            resp = tally.timed(kind, clients[n % 2].get, path, params=query)
            if resp is None:
                continue
            if resp.status_code != 200:
                tally.error(f"user {i} {path} {query}: {resp.status_code} {resp.text[:200]}")
            elif shows is None and resp.json() != expected[k]:
                tally.error(f"user {i} {path} {query}: answered otherwise than before the "
                            f"load: {resp.text[:300]}")
            elif shows is not None and shows not in resp.text:
                tally.error(f"user {i} {path} {query}: {shows!r} not on the page")
            time.sleep(max(0.0, min(THINK, deadline - time.monotonic())))
    finally:
        for c in clients:
            c.close()


@pytest.mark.timeout(SECONDS + 300)
def test_two_workers_under_load_answer_everything_and_lose_or_duplicate_no_run(
        postgres_database_factory: Callable[[], str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    started = time.monotonic()
    monkeypatch.setenv("LABCTL_MIGRATE_ON_START", "0")  # migrated here, once
    database_url = postgres_database_factory()
    keys = tmp_path / "keys"
    engine = make_engine(database_url)
    migrate(engine)
    with ExitStack() as stack:
        urls = []
        for name in ("a", "b"):  # one after the other: two starting at once on a loaded
            port = free_port()   # machine can outlast platform_process's 60 s
            stack.enter_context(platform_process(database_url, keys, port,
                                                 tmp_path / f"worker-{name}.log"))
            urls.append(f"http://127.0.0.1:{port}")
        phases = {"processes": time.monotonic() - started}
        client = stack.enter_context(httpx.Client(base_url=urls[0], timeout=60))
        api = Api(client)
        truth, _ = seed_for_agents(api, database_url, keys, SEED)
        phases["seeding"] = time.monotonic() - started - sum(phases.values())
        with ThreadPoolExecutor(1) as pool:  # the run, while the stations are made
            run = pool.submit(finished_run, urls[1], api, truth["dmm"]["serial"], tmp_path)
            tokens = [api.call("POST", f"/organisations/{LAB}/stations", who="admin",
                               body={"name": f"load-station-{i:02d}"})["access_token"]
                      for i in range(STATIONS)]
            template = run.result(timeout=150)
        phases["stations and the run"] = time.monotonic() - started - sum(phases.values())
        serial = truth["calibrator"]["serial"]  # LAB-CAL-01's, on its page
        expected = {k: client.get(path, params=query).json()
                    for k, (_, path, query, shows) in enumerate(searches(serial))
                    if shows is None}

        tally = Tally()
        t0 = time.monotonic()
        print(f"\nload: set up in {t0 - started:.1f} s (" + ", ".join(
            f"{k} {v:.1f} s" for k, v in phases.items()) + ")")
        deadline = t0 + SECONDS
        threads = [threading.Thread(target=station, name=f"station-{i}", args=(
            i, urls, tokens[i], template, deadline, tally)) for i in range(STATIONS)]
        threads += [threading.Thread(target=portal_user, name=f"user-{i}", args=(
            i, urls, expected, serial, deadline, tally)) for i in range(USERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=SECONDS + 120)
        elapsed = time.monotonic() - t0
        assert not any(t.is_alive() for t in threads), "a client did not finish"

    # -- what the database holds, by the ids posted ---------------------------------------
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT p.idempotency_key, c.number FROM result_posting p "
            "JOIN certificate c ON c.id = p.certificate_id "
            "WHERE p.idempotency_key LIKE 'load-s%'")).all()
    engine.dispose()
    stored = Counter(key for key, _ in rows)
    numbers = {key: number for key, number in rows}
    lost = sorted(set(tally.posted) - set(stored))
    doubled = sorted(k for k, n in stored.items() if n > 1)
    unanswered = sorted(set(stored) - set(tally.posted))
    wrong = sorted(k for k in tally.posted if k in numbers and numbers[k] != tally.posted[k])

    counts = {kind: len(xs) for kind, xs in tally.latency.items()}
    posts = counts.get("post", 0) + counts.get("post (both at once)", 0)
    lines = [f"load: {STATIONS} stations and {USERS} portal users on 2 API processes, "
             f"{elapsed:.1f} s ({SECONDS:.0f} s asked), load average "
             f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
             f"  runs posted and stored: {len(tally.posted)} "
             f"({len(tally.posted) / elapsed:.1f} runs/s, "
             f"{len(tally.posted) * len(template['points']) / elapsed:.0f} points/s); "
             f"{posts + counts.get('retry', 0)} posts"]
    for kind, xs in sorted(tally.latency.items()):
        xs = sorted(xs)
        lines.append(f"  {kind:22s} {len(xs):6d} answers ({len(xs) / elapsed:6.1f}/s)  "
                     f"p50 {statistics.median(xs) * 1e3:7.1f} ms  "
                     f"p95 {xs[int(0.95 * (len(xs) - 1))] * 1e3:7.1f} ms")
    print("\n".join(lines))

    assert not tally.errors, f"{len(tally.errors)} errors:\n" + "\n".join(tally.errors[:50])
    assert tally.posted, "no run was posted"
    assert counts.get("retry") and counts.get("post (both at once)"), counts
    assert not lost, f"answered but not stored: {lost[:20]}"
    assert not doubled, f"stored more than once: {doubled[:20]}"
    assert not unanswered, f"stored but never answered: {unanswered[:20]}"
    assert not wrong, f"stored under another number than answered: {wrong[:20]}"
    assert sum(stored.values()) == len(tally.posted)
