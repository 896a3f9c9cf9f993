"""The job queue: enqueue, claim exactly once, run with one commit, retry, report progress."""
from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from lms.db import write_intent
from lms.errors import DomainError, NotFound
from lms.extensions import db
from lms.jobs.models import Job, JobStatus

log = logging.getLogger("lms.jobs")

#: a running job silent (no progress reported) this long is taken to be from a dead worker
STALE_AFTER = timedelta(minutes=30)
RETRY_DELAY = timedelta(seconds=30)


@dataclass
class JobContext:
    job_id: int
    payload: dict
    #: the job's start on the caller's clock (time is a parameter)
    now: datetime
    _started: float = field(default_factory=time.monotonic, repr=False)

    def clock(self) -> datetime:
        """The job's clock: its start plus the time it has run."""
        return self.now + timedelta(seconds=time.monotonic() - self._started)

    def progress(self, done: int, total: int) -> None:
        """Record progress in its own short transaction, so that pages polling it see it.

        On SQLite call it before the handler's first write (see begin_writes): a writer holds
        the only write lock.
        """
        # Progress is also the job's heartbeat: a job reporting it is never taken for a dead
        # worker's (STALE_AFTER counts from the last report), however long it runs.
        stmt = (sa.update(Job).where(Job.id == self.job_id)
                .values(progress_done=done, progress_total=total, claimed_at=self.clock()))
        bind = db.session.get_bind()
        if not isinstance(bind, Engine):  # a session bound to one connection (the tests)
            db.session.execute(stmt)
            return
        with write_intent(True), bind.begin() as conn:
            conn.execute(stmt)


def begin_writes() -> None:
    """End a job's reading and start its writing transaction.

    Handlers start with a deferred BEGIN so that ctx.progress can write meanwhile; on SQLite a
    read transaction that began before such a write can no longer become a writer
    (SQLITE_BUSY_SNAPSHOT). Nothing has been written yet, so this commit only ends the reads;
    the writing transaction starts at once with BEGIN IMMEDIATE and lasts until the job ends.
    """
    db.session.commit()
    with write_intent(True):
        db.session.execute(sa.select(1))


Handler = Callable[[JobContext], None]
_REGISTRY: dict[str, Handler] = {}


def register(kind: str):
    """Decorator: domains register their job handlers under a name."""
    def deco(fn: Handler) -> Handler:
        _REGISTRY[kind] = fn
        return fn
    return deco


def registered_kinds() -> list[str]:
    return sorted(_REGISTRY)


def enqueue(kind: str, payload: dict, *, now: datetime, dedupe_key: str | None = None,
            max_attempts: int = 3) -> Job:
    if kind not in _REGISTRY:
        raise ValueError(f"unknown job kind {kind!r}")
    job = Job(kind=kind, payload=payload, run_after=now, created_at=now,
              dedupe_key=dedupe_key, max_attempts=max_attempts)
    db.session.add(job)
    db.session.flush()
    return job


def get_job(job_id: int) -> Job:
    job = db.session.get(Job, job_id)
    if job is None:
        raise NotFound("job_not_found")
    return job


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _requeue_stale(now: datetime) -> None:
    db.session.execute(
        sa.update(Job)
        .where(Job.status == JobStatus.RUNNING, Job.claimed_at < now - STALE_AFTER)
        .values(status=JobStatus.PENDING, claimed_by=None, claimed_at=None)
    )


def claim_next(worker: str, now: datetime) -> int | None:
    """Claim one due job in a short committed transaction; None when there is none.

    The conditional UPDATE (status still pending) makes a second worker's claim of the same
    row affect no row; on PostgreSQL SKIP LOCKED also keeps workers from waiting on each other.
    """
    with write_intent(True):
        try:
            _requeue_stale(now)
            stmt = (sa.select(Job.id)
                    .where(Job.status == JobStatus.PENDING, Job.run_after <= now)
                    .order_by(Job.run_after, Job.id).limit(5))
            if db.engine.dialect.name == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            for job_id in db.session.scalars(stmt).all():
                result = db.session.execute(
                    sa.update(Job)
                    .where(Job.id == job_id, Job.status == JobStatus.PENDING)
                    .values(status=JobStatus.RUNNING, claimed_by=worker, claimed_at=now,
                            attempts=Job.attempts + 1)
                )
                if result.rowcount == 1:
                    db.session.commit()
                    return job_id
            db.session.commit()
            return None
        except Exception:
            db.session.rollback()
            raise


def run_job(job_id: int, now: datetime) -> JobStatus:
    """Run a claimed job: its work and its DONE mark commit together, or not at all."""
    job = db.session.get(Job, job_id)
    handler = _REGISTRY.get(job.kind)
    ctx = JobContext(job_id=job.id, payload=dict(job.payload or {}), now=now)
    kind, attempts, max_attempts = job.kind, job.attempts, job.max_attempts
    db.session.commit()
    # Handlers read without holding SQLite's write lock, so that progress can be written
    # meanwhile; a conflicting concurrent write makes the final commit fail and retry.
    try:
        with write_intent(False):
            if handler is None:
                raise RuntimeError(f"no handler registered for {kind!r}")
            handler(ctx)
            db.session.execute(
                sa.update(Job).where(Job.id == job_id)
                .values(status=JobStatus.DONE, finished_at=now, error=None))
            db.session.commit()
        return JobStatus.DONE
    except Exception as exc:  # a job's failure must not stop the worker
        db.session.rollback()
        message = exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"
        log.error("job %s (%s) failed: %s\n%s", job_id, kind, message, traceback.format_exc())
        final = isinstance(exc, DomainError) or attempts >= max_attempts
        with write_intent(True):
            db.session.execute(
                sa.update(Job).where(Job.id == job_id).values(
                    status=JobStatus.FAILED if final else JobStatus.PENDING,
                    error=message[:2000], claimed_by=None,
                    finished_at=now if final else None,
                    run_after=now + RETRY_DELAY * attempts))
            db.session.commit()
        return JobStatus.FAILED if final else JobStatus.PENDING


def run_pending(now_fn: Callable[[], datetime], *, worker: str | None = None,
                limit: int = 100) -> int:
    """Claim and run due jobs until none is left (or `limit`); returns how many ran."""
    worker = worker or worker_name()
    ran = 0
    while ran < limit:
        job_id = claim_next(worker, now_fn())
        if job_id is None:
            break
        run_job(job_id, now_fn())
        ran += 1
    return ran
