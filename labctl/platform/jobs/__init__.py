"""Background jobs that run once per period however many API workers there are.

A ``job_run`` row per job and period (``models.jobs.JobRun``) is the claim: the worker that
inserts it runs the job (:mod:`.claims`); every worker's scheduler thread tries each tick
(:mod:`.scheduler`); the platform's jobs are listed in :mod:`.catalogue` (due notices, audit
checkpoints). Modules, each importing only those before it: ``claims``, ``scheduler``,
``catalogue``.
"""

from labctl.platform.jobs.catalogue import PLATFORM_JOBS, audit_checkpoint, due_notices
from labctl.platform.jobs.claims import claim, finish, job_runs, period_of, this_worker
from labctl.platform.jobs.scheduler import Job, JobContext, Scheduler, run_due

__all__ = ["PLATFORM_JOBS", "Job", "JobContext", "Scheduler", "audit_checkpoint", "claim",
           "due_notices", "finish", "job_runs", "period_of", "run_due", "this_worker"]
