"""The station agent (``labctl station serve``): a laboratory's bench working for the platform.

The agent runs at the laboratory, holds its instruments and connects outward only: it
announces its bench, asks the platform for work with a long poll (``GET
/api/v1/stations/benches/{name}/work``), carries each run out with the same
:class:`~labctl.procedures.runner.Runner` and local :class:`SqliteJournal` as ``labctl run``,
and posts what the journal recorded (``POST /api/v1/stations/bench-runs/{id}/progress``).

The journal is the buffer. Posting is a copy of the journal, repeated until the platform has
it: events and points are numbered as the journal numbers them and the platform skips those it
holds, so a network outage or a restart of the platform loses nothing (the run goes on, the
posts fail, the next one carries the backlog) and duplicates nothing. A stop asked for through
the API comes back in the answer to a post. When the agent itself is killed mid-run, the
platform hands the same request out again when it comes back; the journal then says the run
was interrupted, and the agent resumes it from its next point (bench made safe first).
SIGTERM / Ctrl-C pause the current run (outputs safe) and post it before the agent exits.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from labctl.drivers.factory import open_bench
from labctl.errors import (
    LabctlError,
    NotFoundError,
    PlatformRefusedError,
    PlatformUnreachableError,
    ValidationError,
)
from labctl.platform.stations.seam import REMOTE_TIMEOUT, RemoteStation
from labctl.procedures.catalog import PROCEDURES, procedure_class
from labctl.procedures.clock import Clock
from labctl.procedures.journal import SqliteJournal
from labctl.procedures.results import RunEvent
from labctl.procedures.runner import Runner, create_run
from labctl.quantities import RunStatus

log = logging.getLogger(__name__)

#: Events or points per post (the platform's limit is 500).
BATCH = 500
#: How often a running run's progress is posted (and a stop looked for), s.
POST_EVERY = 0.3
#: Longest pause between two tries while the platform does not answer, s.
MAX_BACKOFF = 5.0
#: Long poll asked of the platform for work, s.
POLL_WAIT = 20.0

#: Opens the bench's instruments for one run: yields (role → driver, the run's clock).
Instruments = Callable[[], contextlib.AbstractContextManager[tuple[dict[str, Any], Clock]]]


class PlatformLink:
    """The platform at ``url`` seen by a station with ``token`` (HTTP, outward only)."""

    def __init__(self, url: str, token: str) -> None:
        self.station = RemoteStation(url, token)
        self.url = url.rstrip("/")
        self._client = httpx.Client(base_url=self.url, timeout=REMOTE_TIMEOUT + POLL_WAIT,
                                    headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            resp = self._client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise PlatformUnreachableError(self.url, f"{type(exc).__name__}: {exc}") from None
        if resp.status_code >= 500 or resp.status_code == 429:
            raise PlatformUnreachableError(self.url, f"it answered {resp.status_code}")
        if resp.status_code >= 400:
            raise PlatformRefusedError(self.url, resp.status_code, resp.text)
        return resp

    def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(method, path, **kw).json()
        return answer

    def announce(self, name: str, *, roles: list[str], description: str,
                 simulated_time: bool) -> dict[str, Any]:
        return self._json("PUT", f"/api/v1/stations/benches/{name}", json={
            "roles": roles, "description": description, "simulated_time": simulated_time})

    def work(self, name: str, wait: float) -> dict[str, Any] | None:
        resp = self._call("GET", f"/api/v1/stations/benches/{name}/work",
                          params={"wait": wait})
        if resp.status_code == 204:
            return None
        work: dict[str, Any] = resp.json()
        return work

    def progress(self, run_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", f"/api/v1/stations/bench-runs/{run_id}/progress",
                          json=body)

    def register(self) -> Any:
        try:
            return self.station.register()
        except ValidationError as exc:  # how RemoteStation says it got no answer
            raise PlatformUnreachableError(self.url, str(exc)) from None


@dataclass
class _Posted:
    """How much of a run the platform has acknowledged."""

    events: int = 0
    points: int = 0
    status: str = RunStatus.CREATED.value
    final: bool = False  # the ended run's result acknowledged


@dataclass
class AgentStats:
    """What the agent did (for its log line and the tests)."""

    runs: list[str] = field(default_factory=list)
    posts: int = 0
    failed_posts: int = 0


class StationAgent:
    """One bench behind one agent. ``instruments`` opens the bench for a run; ``journal``
    is the station's run journal; ``done_file`` remembers which requests were carried out
    (beside the journal by default)."""

    def __init__(self, link: PlatformLink, *, bench: str, roles: list[str],
                 instruments: Instruments, journal: SqliteJournal, description: str = "",
                 simulated_time: bool = False, sample_interval: float = 5.0,
                 poll_wait: float = POLL_WAIT, post_every: float = POST_EVERY,
                 done_file: Path | None = None) -> None:
        self.link, self.bench, self.roles = link, bench, sorted(roles)
        self.instruments, self.journal = instruments, journal
        self.description, self.simulated_time = description, simulated_time
        self.sample_interval = sample_interval
        self.poll_wait, self.post_every = poll_wait, post_every
        self.stop = threading.Event()
        self.stats = AgentStats()
        self._posted: dict[str, _Posted] = {}
        self._runner: Runner | None = None
        self._done = sqlite3.connect(done_file or journal.path.with_suffix(".agent.sqlite"),
                                     check_same_thread=False, isolation_level=None)
        self._done.execute("CREATE TABLE IF NOT EXISTS carried_out (request_id INTEGER "
                           "PRIMARY KEY, run_id TEXT NOT NULL, at TEXT NOT NULL)")
        self._lock = threading.Lock()
        self._forwarding = threading.Event()

    # -- the loop ----------------------------------------------------------------------------

    def serve(self) -> None:
        """Announce the bench, then take and carry out work until :meth:`shutdown`."""
        self._retry(lambda: self.link.announce(self.bench, roles=self.roles,
                                               description=self.description,
                                               simulated_time=self.simulated_time))
        log.info("bench %s announced to %s", self.bench, self.link.url)
        while not self.stop.is_set():
            try:
                work = self.link.work(self.bench, self.poll_wait)
            except PlatformUnreachableError as exc:
                log.warning("no work from the platform (%s); trying again", exc)
                self.stop.wait(1.0)
                continue
            if work is not None:
                self.carry_out(work)

    def shutdown(self) -> None:
        """Stop taking work; pause the current run at its next safe moment (SIGTERM)."""
        self.stop.set()
        with self._lock:
            if self._runner is not None:
                self._runner.request_stop()

    def close(self) -> None:
        self._done.close()
        self.link.close()

    # -- one request -------------------------------------------------------------------------

    def carry_out(self, work: Mapping[str, Any]) -> None:
        """Carry one request out (or, if it was carried out before the agent restarted,
        only post it) and post the run until the platform has all of it."""
        run_id, request_id = str(work["run_id"]), int(work["request_id"])
        self.stats.runs.append(run_id)
        if not self._carried_out(request_id):
            forwarder = threading.Thread(target=self._forward, args=(run_id,), daemon=True,
                                         name=f"post-{run_id[:8]}")
            finished = threading.Event()
            self._forwarding = finished
            forwarder.start()
            try:
                unjournaled = self._run(work)
            finally:
                finished.set()
                forwarder.join()
            if unjournaled is not None:  # failed before the journal had it: say so, once
                self._retry(lambda: self.link.progress(run_id, {
                    "status": RunStatus.FAILED.value, "reason": unjournaled}))
                self._done.execute("INSERT OR IGNORE INTO carried_out VALUES (?,?,?)",
                                   (request_id, run_id, datetime.now(UTC).isoformat()))
                return
            self._done.execute("INSERT OR IGNORE INTO carried_out VALUES (?,?,?)",
                               (request_id, run_id, datetime.now(UTC).isoformat()))
        # Post the end; through an outage, until the platform has it (or the agent stops).
        self._retry(lambda: self._sync(run_id), until_final=run_id)

    def _carried_out(self, request_id: int) -> bool:
        return self._done.execute("SELECT 1 FROM carried_out WHERE request_id=?",
                                  (request_id,)).fetchone() is not None

    def _run(self, work: Mapping[str, Any]) -> str | None:
        """Carry the request out; the reason if it failed before the run was journaled."""
        run_id = str(work["run_id"])
        try:
            status: RunStatus | None = self.journal.status(run_id)[0]
        except NotFoundError:
            status = None
        try:
            register = self._retry(self.link.register)
            if register is None:  # the agent was stopped while the platform was away
                return None
            with self.instruments() as (drivers, clock):
                runner = Runner(instruments=drivers, register=register, journal=self.journal,
                                clock=clock, background_sampling=not self.simulated_time,
                                sample_interval=self.sample_interval)
                with self._lock:
                    self._runner = runner
                    if self.stop.is_set():
                        runner.request_stop()
                if work["kind"] == "start" and status in (None, RunStatus.CREATED):
                    procedure = procedure_class(str(work["procedure_id"])).from_parameters(
                        dict(work["parameters"]))
                    if status is None:
                        create_run(self.journal, clock, procedure, dut=dict(work["dut"]),
                                   operator=str(work["operator"]),
                                   checker=str(work["checker"]), run_id=run_id)
                    runner.start_created(run_id, procedure)
                elif work["kind"] == "start" and status is not None and status.terminal:
                    return None  # ended before the agent restarted: only to be posted
                else:  # a resume, or a start the agent was killed in the middle of
                    runner.resume(run_id, PROCEDURES, resumed_by=str(work["resumed_by"]))
        except Exception as exc:  # refused, or a fault outside the runner: on record
            if not isinstance(exc, LabctlError) or not getattr(exc, "rule", None):
                log.exception("run %s failed", run_id)
            reason = "; ".join([str(exc), *getattr(exc, "__notes__", ())])
            try:
                now_status = self.journal.status(run_id)[0]
            except NotFoundError:
                return reason or type(exc).__name__
            if not now_status.terminal:
                self.journal.record_event(run_id, RunEvent(RunStatus.FAILED,
                                                           datetime.now(UTC), reason))
                self.journal.set_status(run_id, RunStatus.FAILED, reason)
        finally:
            with self._lock:
                self._runner = None
        return None

    # -- posting -----------------------------------------------------------------------------

    def _forward(self, run_id: str) -> None:
        """While the run is carried out: post its progress every ``post_every`` s (failures
        only logged: the next post carries the backlog) and pass a stop on to the runner."""
        finished = self._forwarding
        while not finished.wait(self.post_every):
            try:
                answer = self._sync(run_id, final_allowed=False)
            except (PlatformUnreachableError, NotFoundError) as exc:
                log.debug("progress of %s not posted: %s", run_id, exc)
                continue
            except PlatformRefusedError as exc:
                log.error("progress of %s refused: %s", run_id, exc)
                continue
            if answer.get("stop_requested"):
                with self._lock:
                    if self._runner is not None:
                        self._runner.request_stop()

    def _sync(self, run_id: str, *, final_allowed: bool = True) -> dict[str, Any]:
        """Post what the journal has that the platform does not (one batch); the answer."""
        record = self.journal.load_run(run_id)
        status, reason = self.journal.status(run_id)
        with self._lock:
            posted = self._posted.setdefault(run_id, _Posted())
        events = [{"seq": i, "kind": e.kind, "data": e.to_dict()}
                  for i, e in enumerate(record.events)][posted.events:posted.events + BATCH]
        points = [{"seq": i, "key": p.key, "data": p.to_dict()}
                  for i, p in enumerate(record.points)][posted.points:posted.points + BATCH]
        complete = (posted.events + len(events) == len(record.events)
                    and posted.points + len(points) == len(record.points))
        body: dict[str, Any] = {"status": status.value if complete else posted.status,
                                "reason": reason if complete else "",
                                "events": events, "points": points, "result": None}
        if complete and status.terminal and final_allowed:
            body["result"] = self.journal.result(run_id).to_dict()
        elif complete and status.terminal:
            body["status"] = posted.status  # the end goes with its result, from the loop
        try:
            answer = self.link.progress(run_id, body)
            self.stats.posts += 1
        except (PlatformUnreachableError, PlatformRefusedError):
            self.stats.failed_posts += 1
            raise
        with self._lock:
            posted.events = min(int(answer["events_stored"]), len(record.events))
            posted.points = min(int(answer["points_stored"]), len(record.points))
            posted.status = str(body["status"])
            posted.final = body["result"] is not None
        return answer

    def _retry(self, call: Callable[[], Any], *, until_final: str | None = None) -> Any:
        """``call`` until it answers (backing off while the platform is away); ``None`` if
        the agent was stopped first. ``until_final``: also until that run's end is posted."""
        pause = 0.2
        deadline_after_stop = None
        while True:
            try:
                answer = call()
                if until_final is None or self._posted[until_final].final:
                    return answer
                pause = 0.0  # more batches to post: at once
            except PlatformUnreachableError as exc:
                log.warning("platform unreachable (%s); trying again in %.1f s", exc, pause)
            except PlatformRefusedError as exc:
                if until_final is None:
                    raise
                log.error("platform refused run %s: %s", until_final, exc)
                return None
            if self.stop.is_set():
                # On the way out, a bounded last effort for the run's end, then leave it to
                # the next start (the platform hands the request out again).
                deadline_after_stop = deadline_after_stop or time.monotonic() + 10.0
                if until_final is None or time.monotonic() > deadline_after_stop:
                    return None
            time.sleep(pause)
            pause = min(MAX_BACKOFF, max(0.2, pause * 2))


@contextlib.contextmanager
def bench_instruments(config: Any, clock: Clock) -> Iterator[tuple[dict[str, Any], Clock]]:
    """A bench configuration's drivers for one run (made safe and closed after it)."""
    with open_bench(config) as bench:
        yield dict(bench), clock
