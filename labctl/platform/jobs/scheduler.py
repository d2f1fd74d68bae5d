"""The scheduler every API worker runs (when ``Settings.scheduler`` is on): a thread that, every
``Settings.scheduler_tick`` seconds, claims the current period of each job
(:func:`~labctl.platform.jobs.claims.claim`) and runs those it got. With N workers each
period of each job runs once, in whichever worker claimed it first; the others skip it.

A job's failure is recorded on its row (``failed``, the error) and logged; the period is not
tried again (the jobs are written so that the next period's run catches up: the due-notice job
lists overdue standards and retries unsent mail, the checkpoint signs the head as it is then).
A run whose worker died leaves its row ``running``; after the job's lease another worker takes
the period over as a new attempt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from labctl.platform.db import utcnow
from labctl.platform.jobs.claims import claim, finish, period_of, run_of, this_worker
from labctl.platform.models.jobs import JobRun, JobState
from labctl.platform.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What a job's run is given: the database, the settings, its period ``[start, end)``."""

    engine: Engine
    settings: Settings
    period_start: datetime
    period_end: datetime


@dataclass(frozen=True)
class Job:
    """A job run once per ``period`` (UTC slices from the epoch) across all workers.

    ``run`` does the work and returns what it did (JSON-able, kept on the row); ``lease`` is
    how long a claimed run may stay ``running`` before another worker may take it over (longer
    than the job ever takes)."""

    name: str
    period: timedelta
    run: Callable[[JobContext], Mapping[str, Any] | None]
    lease: timedelta = timedelta(hours=1)


def run_due(engine: Engine, settings: Settings, jobs: Sequence[Job], *,
            now: datetime | None = None, worker: str | None = None) -> list[JobRun]:
    """Claim and run every job whose current period (at ``now``, default the clock) nobody
    has claimed: the runs this call carried out, each as recorded (state, outcome, error)."""
    now = now or utcnow()
    worker = worker or this_worker()
    done: list[JobRun] = []
    for job in jobs:
        start, end = period_of(now, job.period)
        run = claim(engine, job=job.name, start=start, end=end, now=now, lease=job.lease,
                    worker=worker)
        if run is None:
            continue
        log.info("job %s: period %s claimed by %s (attempt %d)", job.name,
                 start.isoformat(), worker, run.attempt)
        try:
            outcome = dict(job.run(JobContext(engine, settings, start, end)) or {})
        except Exception as exc:  # any failure of the job is recorded on its row
            log.exception("job %s failed for the period %s", job.name, start.isoformat())
            state, outcome, error = JobState.FAILED, {}, f"{type(exc).__name__}: {exc}"
        else:
            state, error = JobState.SUCCEEDED, ""
        ended = max(utcnow(), now)
        if finish(engine, run, state=state, outcome=outcome, error=error[:4000], now=ended):
            done.append(run_of(engine, run))
        else:
            log.warning("job %s: period %s was taken over by another worker before this "
                        "run ended; its outcome is not recorded", job.name, start.isoformat())
    return done


class Scheduler:
    """The scheduler thread of one worker (started and stopped by the app's lifespan)."""

    def __init__(self, engine: Engine, settings: Settings, jobs: Sequence[Job]) -> None:
        self.engine, self.settings, self.jobs = engine, settings, tuple(jobs)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="labctl-jobs")

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                run_due(self.engine, self.settings, self.jobs)
            except Exception:  # the database away for a moment: try again at the next tick
                log.exception("the scheduler could not claim or record its jobs")
            self._stop.wait(self.settings.scheduler_tick)
