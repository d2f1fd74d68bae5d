"""Stateless API workers on PostgreSQL, and station agents. Printed, never asserted.

Run::

    .venv/bin/python benchmarks/workers.py [--parts workers agent]
        [--pg-url postgresql+psycopg://postgres@127.0.0.1:5432/test]

``workers``: N ``labctl serve`` processes on one PostgreSQL database (what N workers behind
a reverse proxy are), measured with 1 and then 2 processes in the same run, on the same
database, by the same clients spreading their requests over the processes as a reverse proxy
would, in turn (round robin) and then to the process with the fewest requests in flight
(least connections, what docs/deployment.md configures):

- ingest: station threads posting result points to drafts (``POST
  /api/v1/certificates/{number}/results`` with an idempotency key), results/s;
- signed certificates/s: threads each making a draft, posting its points, checking and
  issuing it (rules, PDF, DCC built, validated and signed) through the HTTP API.

Printed as the ratio 2 processes / 1 process for each way of spreading (issue 13 wants >= 1.5
on 2 cores: on a machine where other jobs hold the cores the ratio says little), each rate
with where the cores went meanwhile (in cores: 1.0 is one core busy for the whole
measurement): the workers, the clients, PostgreSQL, idle, the kernel and the rest.

``agent``: the cost of running a bench behind a station agent (``labctl station serve``, a
subprocess long-polling the platform and posting its journal's progress) instead of as the
server's own bench (``BenchEntry``, the runner in the server's process), on the same simulated
bench (seed, simulated time, noiseless readings, the same reply latency): the wall time from
``POST /api/v1/benches/{name}/runs`` to the end of the run's event stream, per point, and the
difference (issue 13 wants < 5 ms per point).

A fresh database ``labctl_bench_<random>`` is created and dropped afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path, and benchmarks/platform.py would
# shadow the standard library's ``platform`` for every library that imports it. Drop it.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
ROOT = _HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import ExitStack, contextmanager  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402

from benchmarks.platform import (  # noqa: E402
    PASSWORD,
    new_draft,
    points,
    scratch_database,
    setup_lab,
)
from labctl.api import ServerThread, create_app  # noqa: E402
from labctl.cli.bench import simulated_bench_config  # noqa: E402
from labctl.cli.demo import LAB, Api, seed_chain, seed_people, seed_registry  # noqa: E402
from labctl.platform.admin import create_admin  # noqa: E402
from labctl.platform.db import make_engine, migrate  # noqa: E402
from labctl.platform.settings import Settings  # noqa: E402
from labctl.platform.stations.benches import BenchEntry  # noqa: E402
from labctl.procedures.clock import ManualClock  # noqa: E402
from simulators.bench import SimulatedBench  # noqa: E402
from tests.stations.agents import (  # noqa: E402
    AgentPlatform,
    agent,
    free_port,
    platform_process,
)


@contextmanager
def database(pg_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database, migrated; dropped afterwards."""
    with scratch_database(pg_url) as url:
        engine = make_engine(url)
        migrate(engine)
        engine.dispose()
        yield url


#: The worker processes running now, by base URL (their CPU time is read from /proc).
PIDS: dict[str, int] = {}
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(urls: list[str]) -> float:
    """CPU time (user + system) the workers at ``urls`` have used so far, s (Linux)."""
    total = 0.0
    for url in urls:
        try:
            fields = Path(f"/proc/{PIDS[url]}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, KeyError):
            return float("nan")
        total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


@contextmanager
def worker(database_url: str, keys: Path, log: Path) -> Iterator[str]:
    """``labctl serve`` on a port of its own: one stateless API worker; its base URL once
    it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with platform_process(database_url, keys, port, log) as proc:
        PIDS[url] = proc.pid
        try:
            yield url
        finally:
            PIDS.pop(url, None)


def idle_cpu_seconds() -> float:
    """CPU time the whole machine has spent idle so far, s, summed over its cores (Linux)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()
    return (int(fields[4]) + int(fields[5])) / _TICK  # idle + iowait


def postgres_cpu_seconds() -> dict[int, float]:
    """CPU time (user + system) each PostgreSQL server process has used so far, s, by pid
    (Linux; a backend that ends between two readings drops out: a slight undercount)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # it ended meanwhile
            continue
        name, rest = text.split("(", 1)[1].rsplit(")", 1)
        if name in ("postgres", "postmaster"):
            fields = rest.split()
            found[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return found


def postgres_cpu_since(before: dict[int, float]) -> float:
    return sum(t - before.get(pid, 0.0) for pid, t in postgres_cpu_seconds().items())


#: What each measurement found: (what, processes, balancing or, for 1 process, "before" or
#: "after" the 2) -> (units per s, cores the workers used, cores the clients used, cores
#: PostgreSQL used, cores left idle).
FOUND: dict[tuple[str, int, str], tuple[float, float, float, float, float]] = {}

#: How the clients spread their requests over the processes, as a reverse proxy would.
BALANCING = {
    "round-robin": "to the processes in turn (nginx's default round robin)",
    "least-conn": "to the process with the fewest requests in flight (nginx's least_conn)",
}


class Balancer:
    """Which process each request goes to: ``round-robin``, the processes in turn whatever
    they are doing (nginx's default); or ``least-conn``, the process with the fewest
    requests in flight now, ties taken in turn (nginx's ``least_conn``). A worker is one
    Python process, so one core at most: round robin can leave one with a queue while the
    other waits for work (idle cores); least_conn keeps both busy."""

    def __init__(self, urls: list[str], policy: str) -> None:
        self.urls, self.policy = urls, policy
        self.busy = [0] * len(urls)
        self.turn = 0
        self.lock = threading.Lock()

    @contextmanager
    def to(self) -> Iterator[str]:
        """The base URL of the process one request goes to, counted in flight meanwhile."""
        with self.lock:
            least = min(self.busy)
            ties = [n for n, b in enumerate(self.busy)
                    if self.policy == "round-robin" or b == least]
            k = ties[self.turn % len(ties)]
            self.turn += 1
            self.busy[k] += 1
        try:
            yield self.urls[k]
        finally:
            with self.lock:
                self.busy[k] -= 1


def spread(urls: list[str], threads: int, per_thread: int,
           job: Callable[[httpx.Client, Balancer, int], int], what: str = "",
           policy: str = "round-robin", label: str = "") -> float:
    """``job(client, balancer, w)`` ``per_thread`` times in each of ``threads`` threads
    (``with balancer.to() as url:`` around each of the job's requests); the units the jobs
    report per second of wall time. The workers' CPU over the same wall time is kept in
    :data:`FOUND`: a rate that does not grow with the processes while their CPU does not
    either means they waited (for a core, the database, a lock, or work)."""
    done = [0] * threads
    failures: list[BaseException] = []
    balancer = Balancer(urls, policy)

    def run(w: int) -> None:
        try:
            with httpx.Client(timeout=120) as client:
                for _ in range(per_thread):
                    done[w] += job(client, balancer, w)
        except BaseException as exc:  # reported below: a benchmark that failed says so
            failures.append(exc)

    pool = [threading.Thread(target=run, args=(w,)) for w in range(threads)]
    t0, cpu0 = time.perf_counter(), cpu_seconds(urls)
    client0, pg0, idle0 = time.process_time(), postgres_cpu_seconds(), idle_cpu_seconds()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    if failures:
        raise failures[0]
    if what:
        FOUND[(what, len(urls), label or policy)] = (sum(done) / elapsed,
                                            (cpu_seconds(urls) - cpu0) / elapsed,
                                            (time.process_time() - client0) / elapsed,
                                            postgres_cpu_since(pg0) / elapsed,
                                            (idle_cpu_seconds() - idle0) / elapsed)
    return sum(done) / elapsed


def ingest(urls: list[str], tokens: dict[str, str], args: argparse.Namespace, tag: str,
           policy: str = "round-robin", label: str = "") -> float:
    with httpx.Client(base_url=urls[0], timeout=60) as c:
        drafts = [new_draft(c, tokens) for _ in range(args.threads)]
    body = {"points": points(args.points_per_post)}
    sent = [0] * args.threads

    def post(client: httpx.Client, balancer: Balancer, w: int) -> int:
        sent[w] += 1
        with balancer.to() as url:
            r = client.post(f"{url}/api/v1/certificates/{drafts[w]}/results", json=body,
                            headers={"Authorization": tokens["station"],
                                     "Idempotency-Key": f"{tag}-w{w}-{sent[w]}"})
        assert r.status_code == 201, r.text
        return int(args.points_per_post)

    return spread(urls, args.threads, args.posts // args.threads, post, "ingest", policy,
                  label)


def issue(urls: list[str], tokens: dict[str, str], args: argparse.Namespace,
          policy: str = "round-robin", label: str = "") -> float:
    def certify(client: httpx.Client, balancer: Balancer, w: int) -> int:
        with balancer.to() as url:
            client.base_url = httpx.URL(url)
            number = new_draft(client, tokens)
        for path, who, body, headers in (
                ("results", "station", {"points": points(5)}, {"Idempotency-Key": "k"}),
                ("check", "checker", None, {}), ("issue", "approver", None, {})):
            with balancer.to() as url:  # each request balanced on its own, as a proxy does
                r = client.post(f"{url}/api/v1/certificates/{number}/{path}", json=body,
                                headers={"Authorization": tokens[who], **headers})
            assert r.status_code in (200, 201), r.text
        return 1

    return spread(urls, args.threads, args.issues // args.threads, certify,
                  "issue" if args.issues > 1 else "", policy, label)


def bench_workers(pg_url: str, args: argparse.Namespace, tmp: Path) -> None:
    keys = tmp / "keys"
    tmp.mkdir(parents=True, exist_ok=True)
    with database(pg_url) as url, ExitStack() as stack:
        create_admin(username="bench-root", password=PASSWORD, full_name="Bench Root",
                     organisation_code="BNMI", organisation_name="Bench National Institute",
                     country_code="DE", database_url=url, keys_dir=keys)
        first = stack.enter_context(worker(url, keys, tmp / "worker-1.log"))
        tokens = setup_lab(first)
        # the first issue makes the laboratory's signing key: not part of the rate
        issue([first], tokens, argparse.Namespace(threads=1, issues=1))
        # 1 process before and after the 2 (the second idle meanwhile): the mean of the two
        # is what the 2 are compared with, so the database's growth over the run (and the
        # autovacuum it brings) weighs on both sides alike
        ingest([first], tokens, args, "one-before", label="before")  # figures kept in FOUND
        issue([first], tokens, args, label="before")
        second = stack.enter_context(worker(url, keys, tmp / "worker-2.log"))
        try:
            for policy in BALANCING:
                ingest([first, second], tokens, args, f"two-{policy}", policy)
                issue([first, second], tokens, args, policy)
            ingest([first], tokens, args, "one-after", label="after")
            issue([first], tokens, args, label="after")
        except AssertionError:  # a refused or failed request: keep what the workers logged
            kept = Path(tempfile.mkdtemp(prefix="labctl-bench-logs-"))
            for log in tmp.glob("worker-*.log"):
                shutil.copy(log, kept / log.name)
            print(f"the workers' logs are kept in {kept}")
            raise
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    print(f"\n== workers on PostgreSQL ({args.threads} client threads, load average {load:.1f} "
          f"on {cores} cores after the run)")
    for what, label in (("ingest", f"ingest ({args.points_per_post} points/post), results/s"),
                        ("issue", "signed certificates (draft, points, check, issue), /s")):
        print(f"  {label}:")
        for when in ("before", "after"):
            r, c, k, p, i = FOUND[(what, 1, when)]
            print(f"    1 process, {when} the 2: {r:.1f} (its CPU {c:.2f} cores; the clients "
                  f"{k:.2f}, PostgreSQL {p:.2f}, idle {i:.2f}, the kernel and the rest "
                  f"{cores - c - k - p - i:.2f})")
        r1 = statistics.mean(FOUND[(what, 1, when)][0] for when in ("before", "after"))
        for policy, how in BALANCING.items():
            r2, c2, k2, p2, i2 = FOUND[(what, 2, policy)]
            print(f"    2 processes, each request {how}: {r2:.1f} (their CPU {c2:.2f} cores; "
                  f"the clients {k2:.2f}, PostgreSQL {p2:.2f}, idle {i2:.2f}, the kernel and "
                  f"the rest {cores - c2 - k2 - p2 - i2:.2f}): ratio {r2 / r1:.2f} to the "
                  "mean of 1 process before and after  [goal >= 1.5 on 2 cores]")


def run_seconds(api: Api, bench: str, ranges: list[float], serial: str) -> tuple[float, int]:
    """Wall time from the start request to the end of the run's event stream, and the
    number of points the run made."""
    t0 = time.perf_counter()
    run_id = api.call("POST", f"/benches/{bench}/runs", who="alice", body={
        "procedure": "dmm-dcv-direct", "parameters": {"ranges": ranges, "settle_time": 1.0},
        "dut": {"manufacturer": "Keysight Technologies", "model": "34465A",
                "serial_number": serial}, "checker": "bob"})["run_id"]
    headers = {"Authorization": f"Bearer {api.tokens['alice']}"}
    with api.client.stream("GET", f"/api/v1/runs/{run_id}/events", headers=headers,
                           timeout=300) as resp:
        for _ in resp.iter_lines():
            pass
    elapsed = time.perf_counter() - t0
    status = api.call("GET", f"/runs/{run_id}", who="alice")
    if status["status"] != "completed":
        raise RuntimeError(f"run {run_id} on {bench}: {status['status']}")
    return elapsed, int(status["points_done"])


def bench_agent(pg_url: str, args: argparse.Namespace, tmp: Path) -> None:
    seed = 91
    options: dict[str, Any] = {"latency": args.latency, "dmm_truth": {"noise_scale": 0.0},
                               "readout_truth": {"noise": 0.0}}
    clock = ManualClock(epoch=datetime.now(UTC) - timedelta(hours=6))
    tmp.mkdir(parents=True, exist_ok=True)
    with database(pg_url) as url, ExitStack() as stack:
        # the server's own bench: as ``labctl station serve --sim`` makes the agent's
        sim = stack.enter_context(SimulatedBench(seed=seed, clock=clock, **options))
        benches = {"own-bench": BenchEntry(
            "own-bench", LAB, simulated_bench_config(sim.resources, timeout=2.0),
            tmp / "own.journal.sqlite", clock=clock)}
        settings = Settings(database_url=url, keys_dir=tmp / "keys", migrate_on_start=False)
        base = stack.enter_context(ServerThread(create_app(settings, benches)))
        api = Api(stack.enter_context(httpx.Client(base_url=base, timeout=120)))
        seed_people(api, url, settings.keys_dir)
        truth = sim.truth()
        seed_registry(api, truth)
        seed_chain(api, truth, datetime.now(UTC).replace(microsecond=0), seed)
        # the agent's long poll as a laboratory would run it (25 s), on the same simulated bench
        stack.enter_context(agent(
            AgentPlatform(base, api, api.tokens["station"], truth, seed, tmp), "agent-bench",
            latency=args.latency, poll_wait=25))
        serial = truth["dmm"]["serial"]
        # two run lengths: the difference per added point is the per-point cost, free of
        # what a run costs once (the agent's wake-up from its long poll, opening the bench)
        sizes = {"short": args.ranges[:1], "long": args.ranges}
        times: dict[tuple[str, str], list[float]] = {}
        points: dict[str, int] = {}
        for _ in range(args.repeats):  # alternated: a change in the machine's load hits both
            for size, ranges in sizes.items():
                for bench in ("own-bench", "agent-bench"):
                    seconds, points[size] = run_seconds(api, bench, ranges, serial)
                    times.setdefault((bench, size), []).append(seconds)
    med = {key: statistics.median(xs) for key, xs in times.items()}
    added = points["long"] - points["short"]
    print(f"\n== station agent vs the server's own bench (PostgreSQL; runs of "
          f"{points['short']} and {points['long']} points, reply latency "
          f"{args.latency * 1e3:.0f} ms, median of {args.repeats} runs each; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    per_point = {}
    for bench in ("own-bench", "agent-bench"):
        per_point[bench] = (med[(bench, "long")] - med[(bench, "short")]) / added * 1e3
        print(f"  {bench:12s} {med[(bench, 'long')] / points['long'] * 1e3:6.1f} ms/point "
              f"over a {points['long']}-point run; per added point {per_point[bench]:6.1f} ms; "
              f"runs (s): " + ", ".join(
                  f"{size} {' '.join(f'{t:.2f}' for t in times[(bench, size)])}"
                  for size in sizes))
    whole = (med[("agent-bench", "long")] - med[("own-bench", "long")]) / points["long"]
    fixed = [(med[("agent-bench", size)] - med[("own-bench", size)]) -
             (per_point["agent-bench"] - per_point["own-bench"]) * points[size] / 1e3
             for size in sizes]
    print(f"  agent overhead: {per_point['agent-bench'] - per_point['own-bench']:+.1f} "
          f"ms/point  [goal < 5 ms/point]; once per run {statistics.mean(fixed) * 1e3:+.0f} ms"
          f"; over the whole {points['long']}-point run "
          f"{whole * 1e3:+.1f} ms/point")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pg-url", default=os.environ.get(
        "LABCTL_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--parts", nargs="+", choices=["workers", "agent"],
                    default=["workers", "agent"])
    ap.add_argument("--threads", type=int, default=8, help="client threads (workers)")
    ap.add_argument("--posts", type=int, default=800, help="result posts per measurement")
    ap.add_argument("--points-per-post", type=int, default=5)
    ap.add_argument("--issues", type=int, default=80, help="certificates per measurement")
    ap.add_argument("--ranges", type=float, nargs="+", default=[10.0, 0.1, 1.0, 100.0, 1000.0],
                    help="DMM ranges of the long agent/own-bench runs (the short run: the "
                    "first alone)")
    ap.add_argument("--latency", type=float, default=0.005,
                    help="simulated instruments' reply latency, s")
    ap.add_argument("--repeats", type=int, default=3, help="runs per bench and length (agent)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if "workers" in args.parts:
            bench_workers(args.pg_url, args, Path(tmp) / "workers")
        if "agent" in args.parts:
            bench_agent(args.pg_url, args, Path(tmp) / "agent")


if __name__ == "__main__":
    main()
