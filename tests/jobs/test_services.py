"""The job queue: exactly-once claiming, retries, failure reasons, schedules."""
import threading
from datetime import timedelta

import pytest

from lms import jobs
from lms.db import utcnow
from lms.errors import ValidationFailed
from lms.jobs.models import Job, JobStatus
from lms.jobs.worker import Schedule, enqueue_scheduled

RAN: list[int] = []
FLAKY_FAILURES: dict[int, int] = {}


@jobs.register("tests.record")
def record_run(ctx):
    RAN.append(ctx.payload["n"])


@jobs.register("tests.flaky")
def flaky(ctx):
    FLAKY_FAILURES[ctx.job_id] = FLAKY_FAILURES.get(ctx.job_id, 0) + 1
    raise RuntimeError("disk full")


@jobs.register("tests.refused")
def refused(ctx):
    raise ValidationFailed("import_empty")


@jobs.register("tests.progress")
def with_progress(ctx):
    for i in range(1, 4):
        ctx.progress(i, 3)


def test_two_workers_run_each_job_exactly_once(app, committed):
    RAN.clear()
    now = utcnow()
    for n in range(60):
        jobs.enqueue("tests.record", {"n": n}, now=now)
    committed.session.commit()

    def work(name):
        with app.app_context():
            jobs.run_pending(utcnow, worker=name, limit=1000)
            committed.session.remove()

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(RAN) == list(range(60))  # every job once, none twice
    done = committed.session.query(Job).filter_by(status=JobStatus.DONE).count()
    assert done == 60


def test_failing_job_retries_then_stops_with_its_reason(db):
    now = utcnow()
    job = jobs.enqueue("tests.flaky", {}, now=now)
    t = now
    for attempt in range(1, 4):
        job_id = jobs.claim_next("w", t)
        assert job_id == job.id
        status = jobs.run_job(job_id, t)
        t += timedelta(minutes=5)
    assert status is JobStatus.FAILED
    db.session.refresh(job)
    assert job.attempts == 3 and "disk full" in job.error
    assert jobs.claim_next("w", t) is None  # no fourth try


def test_refusal_fails_at_once_with_chinese_reason(db):
    job = jobs.enqueue("tests.refused", {}, now=utcnow())
    jobs.run_pending(utcnow)
    db.session.refresh(job)
    assert job.status is JobStatus.FAILED and job.attempts == 1
    assert job.error == "工作簿中没有数据行。"


def test_retry_waits(db):
    now = utcnow()
    job = jobs.enqueue("tests.flaky", {}, now=now)
    jobs.run_job(jobs.claim_next("w", now), now)
    assert jobs.claim_next("w", now + timedelta(seconds=5)) is None
    assert jobs.claim_next("w", now + timedelta(seconds=31)) == job.id


def test_stale_running_job_is_claimed_again(db):
    now = utcnow()
    job = jobs.enqueue("tests.record", {"n": -1}, now=now)
    assert jobs.claim_next("dead-worker", now) == job.id  # claimed, then the worker died
    assert jobs.claim_next("w2", now + timedelta(minutes=5)) is None
    assert jobs.claim_next("w2", now + timedelta(minutes=31)) == job.id


def test_progress_is_recorded(db):
    job = jobs.enqueue("tests.progress", {}, now=utcnow())
    jobs.run_pending(utcnow)
    db.session.refresh(job)
    assert (job.progress_done, job.progress_total, job.status) == (3, 3, JobStatus.DONE)


def test_unknown_kind_is_refused(db):
    with pytest.raises(ValueError):
        jobs.enqueue("no.such.kind", {}, now=utcnow())


def test_a_scheduled_run_is_enqueued_once(app, committed):
    fire = utcnow().replace(second=0, microsecond=0)
    item = Schedule(kind="tests.record", cron={"minute": 0}, payload=lambda: {"n": 1})
    threads = [threading.Thread(target=enqueue_scheduled, args=(app, item, fire)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert committed.session.query(Job).filter_by(kind="tests.record").count() == 1


def test_reporting_progress_keeps_a_long_job_from_being_taken_again(db):
    now = utcnow()
    job = jobs.enqueue("tests.record", {"n": -2}, now=now)
    assert jobs.claim_next("w1", now) == job.id
    ctx = jobs.JobContext(job_id=job.id, payload={}, now=now + timedelta(minutes=20))
    ctx.progress(1, 10)  # a heartbeat twenty minutes into the job
    assert jobs.claim_next("w2", now + timedelta(minutes=31)) is None
    assert jobs.claim_next("w2", now + timedelta(minutes=51)) == job.id  # silent since: dead
