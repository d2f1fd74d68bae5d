"""Background jobs run once per period however many workers run the scheduler: two workers'
schedulers racing the same period (each with its own engine, as two processes have) run each
job once; a failing job records its error and the next period runs; a run whose worker died is
taken over after its lease; the scheduler thread of the app's lifespan runs the platform's
jobs. On a fresh database of each backend."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from labctl.api import ServerThread, create_app
from labctl.cli import app
from labctl.errors import ValidationError
from labctl.platform import audit
from labctl.platform.accounts.organisations import create_admin
from labctl.platform.db import make_engine, migrate
from labctl.platform.jobs import (
    PLATFORM_JOBS,
    Job,
    JobContext,
    audit_checkpoint,
    claim,
    job_runs,
    period_of,
    run_due,
)
from labctl.platform.models import AuditCheckpoint, AuditEvent, JobRun
from labctl.platform.settings import Settings

HOUR = timedelta(hours=1)
# the middle of a UTC day, so that "+ 10 minutes" stays in the same daily period
NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def engines(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[sa.Engine, sa.Engine]]:
    """Two engines on one freshly migrated database, each sealing with the same audit key:
    what two API worker processes hold. The chain has one event (the first administrator)."""
    first, second = make_engine(fresh_database_url), make_engine(fresh_database_url)
    migrate(first)
    for engine in (first, second):
        audit.use_key(engine, tmp_path / "keys")
    with Session(first) as session:
        create_admin(session, username="root", password="a long enough password",
                     full_name="Root", organisation_code="NMI",
                     organisation_name="National Institute", country_code="DE")
    try:
        yield first, second
    finally:
        first.dispose()
        second.dispose()


def _settings(engine: sa.Engine, tmp_path: Path) -> Settings:
    return Settings(database_url=engine.url.render_as_string(hide_password=False),
                    keys_dir=tmp_path / "keys")


def _write_event(engine: sa.Engine, n: int) -> None:
    with Session(engine) as session:
        audit.record(session, actor="test", action="test.event", entity_type="test",
                     entity_id=str(n))
        session.commit()


def _race(engines: tuple[sa.Engine, sa.Engine], settings: Settings, jobs: list[Job],
          now: datetime) -> list[list[JobRun]]:
    """Both workers' schedulers look at their jobs at the same instant."""
    start = threading.Barrier(2)
    done: list[list[JobRun]] = [[], []]
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            start.wait(timeout=10)
            done[i] = run_due(engines[i], settings, jobs, now=now, worker=f"worker-{i}")
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return done


def test_two_workers_racing_the_same_period_run_each_job_once(
        engines: tuple[sa.Engine, sa.Engine], tmp_path: Path):
    settings = _settings(engines[0], tmp_path)
    calls: list[tuple[datetime, str]] = []
    lock = threading.Lock()

    def counted(ctx: JobContext) -> Mapping[str, Any]:
        with lock:
            calls.append((ctx.period_start, threading.current_thread().name))
        time.sleep(0.2)  # still running while the other worker looks
        return {"period": ctx.period_start.isoformat()}

    jobs = [Job("counted", HOUR, counted), Job("audit-checkpoint", HOUR, audit_checkpoint)]
    for hour in range(3):
        _write_event(engines[0], hour)  # something new for the checkpoint to sign
        now = NOON + hour * HOUR
        ran = _race(engines, settings, jobs, now)
        # between them the two workers ran each job exactly once for this period
        assert sorted(r.job for r in ran[0] + ran[1]) == ["audit-checkpoint", "counted"]
        assert all(r.state == "succeeded" for r in ran[0] + ran[1])
    assert [start for start, _ in calls] == [NOON + h * HOUR for h in range(3)]
    rows = job_runs(engines[0])
    assert len(rows) == 6 and {(r.job, r.period_start) for r in rows} == {
        (job, NOON + h * HOUR) for job in ("counted", "audit-checkpoint") for h in range(3)}
    with Session(engines[0]) as session:
        signed = session.exec(select(AuditCheckpoint).where(
            AuditCheckpoint.created_by == "system:scheduler")).all()
        assert len(signed) == 3  # one checkpoint per period, not one per worker
        assert audit.verify(session, keys_dir=tmp_path / "keys").ok
    # a third look in the last period (the next tick of either worker) runs nothing
    assert run_due(engines[1], settings, jobs, now=NOON + 2 * HOUR + timedelta(minutes=10)) == []


def test_a_failing_job_records_its_error_and_the_next_period_runs(
        engines: tuple[sa.Engine, sa.Engine], tmp_path: Path):
    settings = _settings(engines[0], tmp_path)
    attempts: list[datetime] = []

    def flaky(ctx: JobContext) -> Mapping[str, Any]:
        attempts.append(ctx.period_start)
        if len(attempts) == 1:
            raise RuntimeError("the SMTP server refused us")
        return {"ok": True}

    jobs = [Job("flaky", HOUR, flaky)]
    [failed] = run_due(engines[0], settings, jobs, now=NOON)
    assert failed.state == "failed" and failed.finished_at is not None
    assert failed.error == "RuntimeError: the SMTP server refused us"
    assert failed.outcome == {} and failed.worker
    url = engines[0].url.render_as_string(hide_password=False)
    listed = CliRunner().invoke(app, ["jobs", "--json", "--database-url", url])
    assert listed.exit_code == 1, listed.output  # the newest run of a job failed
    [shown] = json.loads(listed.output)
    assert (shown["job"], shown["state"], shown["error"]) == (
        "flaky", "failed", "RuntimeError: the SMTP server refused us")
    # the failed period is not run again, by this worker or another
    assert run_due(engines[0], settings, jobs, now=NOON + timedelta(minutes=10)) == []
    assert run_due(engines[1], settings, jobs, now=NOON + timedelta(minutes=20)) == []
    [next_period] = run_due(engines[1], settings, jobs, now=NOON + HOUR)
    assert next_period.state == "succeeded" and next_period.error == ""
    assert next_period.outcome == {"ok": True}
    assert attempts == [NOON, NOON + HOUR]
    listed = CliRunner().invoke(app, ["jobs", "--database-url", url])
    assert listed.exit_code == 0 and "succeeded" in listed.output, listed.output
    refused = CliRunner().invoke(app, ["jobs", "--job", "flaky", "--database-url", url])
    assert refused.exit_code == 2 and "--job" in refused.output, refused.output
    assert [(r.period_start, r.state) for r in job_runs(engines[0], job="flaky")] == [
        (NOON + HOUR, "succeeded"), (NOON, "failed")]


def test_a_run_whose_worker_died_is_taken_over_after_its_lease(
        engines: tuple[sa.Engine, sa.Engine], tmp_path: Path):
    settings = _settings(engines[0], tmp_path)
    job = Job("leased", HOUR, lambda ctx: {"by": "second"}, lease=timedelta(minutes=10))
    start, end = period_of(NOON, HOUR)
    # the first worker claims the period and dies before it records anything
    held = claim(engines[0], job="leased", start=start, end=end, now=NOON,
                 lease=job.lease, worker="dead-worker")
    assert held is not None and held.state == "running"
    assert run_due(engines[1], settings, [job], now=NOON + timedelta(minutes=5)) == []
    [taken] = run_due(engines[1], settings, [job], now=NOON + timedelta(minutes=11),
                      worker="second-worker")
    assert (taken.state, taken.attempt, taken.worker) == ("succeeded", 2, "second-worker")
    assert taken.outcome == {"by": "second"}
    with Session(engines[0]) as session:
        assert session.exec(select(sa.func.count()).select_from(JobRun)).one() == 1


def test_periods_are_utc_slices_from_the_epoch():
    day = timedelta(days=1)
    start, end = period_of(datetime(2026, 12, 5, 23, 59, tzinfo=UTC), day)
    assert (start, end) == (datetime(2026, 12, 5, tzinfo=UTC), datetime(2026, 12, 6, tzinfo=UTC))
    # the same instant written in another zone is the same period
    from zoneinfo import ZoneInfo
    local = datetime(2026, 12, 6, 7, 59, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert period_of(local, day) == (start, end)
    with pytest.raises(ValidationError, match="now"):
        period_of(datetime(2026, 12, 5, 12, 0), day)  # naive: its zone would be a guess
    with pytest.raises(ValidationError, match="period"):
        period_of(NOON, timedelta(0))


def test_the_scheduler_switch_and_look_ahead_from_the_environment():
    assert Settings.from_env({}).scheduler is False
    assert Settings.from_env({"LABCTL_SCHEDULER": "on"}).scheduler is True
    assert Settings.from_env({"LABCTL_SCHEDULER": "OFF"}).scheduler is False
    with pytest.raises(ValidationError, match="LABCTL_SCHEDULER") as bad:
        Settings.from_env({"LABCTL_SCHEDULER": "sometimes"})
    assert bad.value.allowed == "on or off"
    assert Settings.from_env({"LABCTL_DUE_NOTICE_DAYS": "14"}).due_notice_days == 14
    for text in ("367", "-1", "two weeks"):
        with pytest.raises(ValidationError, match="LABCTL_DUE_NOTICE_DAYS"):
            Settings.from_env({"LABCTL_DUE_NOTICE_DAYS": text})
    with pytest.raises(ValidationError, match="scheduler_tick"):
        Settings(scheduler_tick=0)


def test_the_app_runs_the_platform_jobs_when_the_scheduler_is_on(
        engines: tuple[sa.Engine, sa.Engine], tmp_path: Path):
    base = _settings(engines[0], tmp_path)
    with ServerThread(create_app(base)) as url:  # the default: off
        assert httpx.get(f"{url}/api/v1/health", timeout=10).json()["status"] == "ok"
    assert job_runs(engines[0]) == []
    on = Settings(database_url=base.database_url, keys_dir=base.keys_dir, scheduler=True,
                  scheduler_tick=0.2)
    with ServerThread(create_app(on)):
        deadline = time.monotonic() + 30
        while len(runs := [r for r in job_runs(engines[0]) if r.finished_at]) < 2:
            assert time.monotonic() < deadline, job_runs(engines[0])
            time.sleep(0.1)
        time.sleep(0.5)  # a few more ticks: the periods are taken, nothing runs again
    runs = job_runs(engines[0])
    assert sorted(r.job for r in runs) == sorted(j.name for j in PLATFORM_JOBS)
    by_job = {r.job: r for r in runs}
    today = datetime.now(UTC).date()
    assert by_job["due-notices"].state == "succeeded", by_job["due-notices"].error
    assert by_job["due-notices"].outcome == {
        "day": today.isoformat(), "created": 0, "existing": 0, "laboratories": 0,
        "mail": "LABCTL_SMTP_HOST not set"}
    checkpoint = by_job["audit-checkpoint"]
    assert checkpoint.state == "succeeded", checkpoint.error
    with Session(engines[0]) as session:
        [row] = session.exec(select(AuditCheckpoint).where(
            AuditCheckpoint.created_by == "system:scheduler")).all()
        head = session.exec(select(sa.func.max(col(AuditEvent.id)))).one()
    assert checkpoint.outcome == {"checkpoint_id": row.id, "head_id": head, "events": 1}
