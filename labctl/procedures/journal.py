"""The station's run journal: a SQLite file on the bench computer.

Every completed point is committed (one transaction) before the next point starts, so a run
killed at any moment (SIGKILL, a crash) loses nothing that was measured, and ``labctl run
--resume`` continues from the next point. SQLite's WAL mode keeps the file consistent through
a power cut too; without ``sync_points`` the last commits before the cut may roll back, and
those points are simply measured again on resume — never half-written, never twice. With
``sync_points=True`` each point is also synced to disk before the next starts (a few ms more
per point on an ordinary disk). The journal is local on purpose: a
station keeps calibrating through a network outage, and posts finished runs to the platform
afterwards (idempotently, keyed by run id).

A point's key is unique within its run: committing the same key twice raises
``ConflictError``, so a point can never be on record twice.

The journal is also the one place a run's :class:`~labctl.procedures.results.RunResult` is
built (:meth:`SqliteJournal.result`): the runner returns it, the API certifies it, the command
line prints and delivers it, all from what is on record here, so none of them can lose a part
of it (the fitted curve, the instruments) or summarise the room differently.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from labctl.errors import ConflictError, NotFoundError
from labctl.procedures.environment import EnvironmentSample, summarise
from labctl.procedures.interfaces import RunRecord
from labctl.procedures.results import PointResult, RunEvent, RunResult, jsonable
from labctl.quantities import RunStatus

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    procedure_id TEXT NOT NULL,
    procedure_version TEXT NOT NULL,
    parameters TEXT NOT NULL,
    dut TEXT NOT NULL,
    operator TEXT NOT NULL,
    checker TEXT NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    updated TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS points (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE TABLE IF NOT EXISTS samples (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    time REAL NOT NULL,
    utc TEXT NOT NULL,
    temperature REAL NOT NULL,
    humidity REAL NOT NULL,
    pressure REAL NOT NULL,
    sensor TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_run ON samples(run_id, time);
CREATE TABLE IF NOT EXISTS run_data (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    name TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""
# ``run_data`` (standards used, instruments, analysis) came after schema 1 without changing
# it: a table only added, absent runs of older journals read as "nothing recorded".

#: Statuses a run ends in (its final event has the same kind): the run's ``finished`` time.
ENDED = frozenset({"completed", "paused", "aborted", "refused", "failed"})



class SqliteJournal:
    """A :class:`~labctl.procedures.interfaces.Journal` in one SQLite file (thread-safe)."""

    def __init__(self, path: str | Path, *, sync_points: bool = False) -> None:
        self.path = Path(path)
        self.sync_points = sync_points
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a killed process; see the module docstring.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise ConflictError(f"journal {self.path} has schema {row[0]}, this labctl "
                                f"reads {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One transaction; ``durable`` ones are synced to disk before returning."""
        with self._lock:
            if durable:
                self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                if durable:
                    self._db.execute("PRAGMA synchronous=NORMAL")
                raise
            self._db.execute("COMMIT")
            if durable:
                self._db.execute("PRAGMA synchronous=NORMAL")

    # -- Journal ------------------------------------------------------------------------------

    def create_run(self, record: RunRecord) -> None:
        now = record.created.isoformat()
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (record.run_id, record.procedure_id, record.procedure_version,
                     json.dumps(record.parameters), json.dumps(record.dut), record.operator,
                     record.checker, record.status, "", now, now))
        except sqlite3.IntegrityError:
            raise ConflictError(f"run {record.run_id} already exists") from None

    def load_run(self, run_id: str) -> RunRecord:
        with self._lock:
            row = self._db.execute(
                "SELECT run_id, procedure_id, procedure_version, parameters, dut, operator, "
                "checker, status, created FROM runs WHERE run_id=?", (run_id,)).fetchone()
            if row is None:
                raise NotFoundError("run", run_id)
            points = self._db.execute(
                "SELECT data FROM points WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()
            events = self._db.execute(
                "SELECT data FROM events WHERE run_id=? ORDER BY seq", (run_id,)).fetchall()
            samples = self._db.execute(
                "SELECT time, utc, temperature, humidity, pressure, sensor FROM samples "
                "WHERE run_id=? ORDER BY time", (run_id,)).fetchall()
        return RunRecord(
            run_id=row[0], procedure_id=row[1], procedure_version=row[2],
            parameters=_tuples(json.loads(row[3])), dut=json.loads(row[4]), operator=row[5],
            checker=row[6], status=RunStatus(row[7]), created=datetime.fromisoformat(row[8]),
            points=tuple(PointResult.from_dict(json.loads(p[0])) for p in points),
            events=tuple(RunEvent.from_dict(json.loads(e[0])) for e in events),
            samples=tuple(EnvironmentSample(s[0], datetime.fromisoformat(s[1]), s[2], s[3],
                                            s[4], s[5]) for s in samples),
        )

    def record_point(self, run_id: str, point: PointResult) -> None:
        try:
            with self._tx(durable=self.sync_points) as db:
                seq = db.execute("SELECT COUNT(*) FROM points WHERE run_id=?",
                                 (run_id,)).fetchone()[0]
                db.execute("INSERT INTO points VALUES (?,?,?,?)",
                           (run_id, point.key, seq, json.dumps(point.to_dict())))
        except sqlite3.IntegrityError:
            raise ConflictError(f"run {run_id}: point {point.key!r} is already on record "
                                "(a point is never measured twice)") from None

    def record_event(self, run_id: str, event: RunEvent) -> None:
        with self._tx() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE run_id=?",
                             (run_id,)).fetchone()[0]
            db.execute("INSERT INTO events VALUES (?,?,?)",
                       (run_id, seq, json.dumps(event.to_dict())))

    def record_samples(self, run_id: str, samples: Sequence[EnvironmentSample]) -> None:
        with self._tx() as db:
            db.executemany("INSERT INTO samples VALUES (?,?,?,?,?,?,?)", [
                (run_id, s.time, s.utc.isoformat(), s.temperature, s.humidity, s.pressure,
                 s.sensor) for s in samples])

    def set_status(self, run_id: str, status: RunStatus, reason: str = "") -> None:
        with self._tx() as db:
            done = db.execute("UPDATE runs SET status=?, reason=?, updated=datetime('now') "
                              "WHERE run_id=?", (status, reason, run_id))
            if done.rowcount == 0:
                raise NotFoundError("run", run_id)

    def record_standards(self, run_id: str, standards: Sequence[dict[str, Any]]) -> None:
        """The standards the run's checks found (each its registry record as seen then, with
        its ``role``); a resume's checks replace them."""
        self._put(run_id, "standards", list(standards))

    def record_instruments(self, run_id: str, instruments: dict[str, dict[str, Any]]) -> None:
        """Each role's identity and configuration snapshot (or why it was not read)."""
        self._put(run_id, "instruments", instruments)

    def record_analysis(self, run_id: str, analysis: dict[str, Any]) -> None:
        """The procedure's run-level analysis (e.g. a fitted curve) of a completed run."""
        self._put(run_id, "analysis", analysis)

    def _put(self, run_id: str, name: str, data: Any) -> None:
        with self._tx() as db:
            if db.execute("SELECT 1 FROM runs WHERE run_id=?", (run_id,)).fetchone() is None:
                raise NotFoundError("run", run_id)
            db.execute("INSERT OR REPLACE INTO run_data VALUES (?,?,?)",
                       (run_id, name, json.dumps(jsonable(data))))

    def result(self, run_id: str) -> RunResult:
        """The run as it stands on record: status and reason, every committed point, the
        room summarised over every sample of the run (all its sessions), the standards its
        latest checks used, the instruments, the analysis, the events.

        ``finished`` is the time of the final event of an ended run, ``None`` while it runs.
        Values are as JSON keeps them (``RunResult.from_dict(r.to_dict()) == r``)."""
        record = self.load_run(run_id)
        status, reason = self.status(run_id)
        with self._lock:
            rows = self._db.execute("SELECT name, data FROM run_data WHERE run_id=?",
                                    (run_id,)).fetchall()
        data: dict[str, Any] = {name: json.loads(text) for name, text in rows}
        finished = None
        if status in ENDED:
            finished = next((e.time for e in reversed(record.events) if e.kind == status),
                            None)
        standards = data.get("standards")
        if standards is None:  # a run journaled before run_data: the ids its checks logged
            standards = [{"id": s} for s in _started_standards(record.events)]
        analysis = data.get("analysis")
        if analysis is None:  # likewise: the analysis the final event carried
            analysis = next((e.data.get("analysis") for e in reversed(record.events)
                             if e.kind == "completed"), None) or {}
        return RunResult(
            run_id=record.run_id, procedure_id=record.procedure_id,
            procedure_version=record.procedure_version, status=status,
            dut=dict(record.dut), operator=record.operator, checker=record.checker,
            started=record.created, finished=finished, points=record.points,
            conditions=summarise(record.samples).quantities,
            standards=tuple(standards),
            instruments=data.get("instruments", {}), events=record.events,
            analysis=analysis, reason=reason)

    # -- queries ------------------------------------------------------------------------------

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        """Runs on this station, newest first (optionally only those with ``status``)."""
        query = ("SELECT run_id, procedure_id, status, reason, created, updated, "
                 "(SELECT COUNT(*) FROM points p WHERE p.run_id = r.run_id) FROM runs r")
        args: tuple[str, ...] = ()
        if status:
            query += " WHERE status=?"
            args = (status,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY created DESC", args).fetchall()
        keys = ("run_id", "procedure_id", "status", "reason", "created", "updated", "points")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def status(self, run_id: str) -> tuple[RunStatus, str]:
        with self._lock:
            row = self._db.execute("SELECT status, reason FROM runs WHERE run_id=?",
                                   (run_id,)).fetchone()
        if row is None:
            raise NotFoundError("run", run_id)
        return RunStatus(row[0]), row[1]


def _started_standards(events: Sequence[RunEvent]) -> list[str]:
    used: list[str] = []
    for event in events:  # the latest start's checks
        if event.kind in ("started", "resumed_run"):
            used = list(event.data.get("standards", used))
    return used


def _tuples(parameters: dict[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists; parameters are frozen dataclasses with tuple fields."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in parameters.items()}
