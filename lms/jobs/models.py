from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import UTCDateTime, enum_column, utcnow
from lms.extensions import db


class JobStatus(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Job(db.Model):
    """A unit of background work, claimed atomically by exactly one worker."""

    __tablename__ = "jobs"
    __table_args__ = (
        sa.Index("ix_jobs_status_run_after", "status", "run_after"),
        sa.UniqueConstraint("dedupe_key", name="uq_jobs_dedupe_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: registered handler name, e.g. "accounts.import_preview"
    kind: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    payload: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus, name="job_status"),
                                              nullable=False, default=JobStatus.PENDING)
    #: a scheduled run's identity (e.g. "bulletin:2026-10"): enqueued at most once
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(128), nullable=True)
    attempts: Mapped[int] = mapped_column(nullable=False, default=0)
    max_attempts: Mapped[int] = mapped_column(nullable=False, default=3)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    progress_done: Mapped[int] = mapped_column(nullable=False, default=0)
    progress_total: Mapped[int] = mapped_column(nullable=False, default=0)
    #: last failure, for people (the traceback goes to the worker log)
    error: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
