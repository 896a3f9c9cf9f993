"""`lms worker`: APScheduler in its own process. It runs due queued jobs every few seconds and
enqueues scheduled ones; claiming in the database keeps two workers from running one job twice."""
from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from typing import Callable

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask

from lms.db import utcnow, write_intent
from lms.extensions import db
from lms.jobs.models import Job
from lms.jobs.services import enqueue, run_pending, worker_name

log = logging.getLogger("lms.worker")
POLL_SECONDS = 2


@dataclass(frozen=True)
class Schedule:
    """A job kind enqueued on a cron schedule (Asia/Shanghai), once per fire time."""
    kind: str
    cron: dict
    payload: Callable[[], dict] = dict


_SCHEDULES: list[Schedule] = []
#: (name, seconds, function(now)) run in an app context every few seconds, e.g. the search tailer
_INTERVALS: list[tuple[str, float, Callable]] = []


def schedule(kind: str, **cron) -> None:
    """Domains call this to have a registered job kind enqueued on a cron schedule."""
    _SCHEDULES.append(Schedule(kind=kind, cron=cron))


def every(name: str, seconds: float, fn: Callable) -> None:
    """Domains call this to have fn(now) run in the worker every `seconds` (never overlapping)."""
    _INTERVALS.append((name, seconds, fn))


def interval_tasks() -> list[tuple[str, float, Callable]]:
    return list(_INTERVALS)


def enqueue_scheduled(app: Flask, item: Schedule, fire_time) -> None:
    """Enqueue one scheduled run; the dedupe key makes a second worker's enqueue a no-op."""
    key = f"{item.kind}@{fire_time.isoformat(timespec='minutes')}"
    with app.app_context(), write_intent(True):
        if db.session.query(Job.id).filter_by(dedupe_key=key).first() is None:
            try:
                enqueue(item.kind, item.payload(), now=utcnow(), dedupe_key=key)
                db.session.commit()
            except Exception:  # the other worker enqueued it first (unique dedupe_key)
                db.session.rollback()


def serve(app: Flask) -> None:
    name = worker_name()
    scheduler = BlockingScheduler(timezone="Asia/Shanghai")

    def poll():
        with app.app_context():
            try:
                run_pending(utcnow, worker=name)
            finally:
                db.session.remove()

    scheduler.add_job(poll, "interval", seconds=POLL_SECONDS, id="poll", max_instances=1,
                      coalesce=True)
    for task_name, seconds, fn in _INTERVALS:

        def tick(fn=fn, task_name=task_name):
            with app.app_context(), write_intent(True):
                try:
                    fn(utcnow())
                except Exception:  # keep the worker alive; the next tick tries again
                    db.session.rollback()
                    log.exception("interval task %s failed", task_name)
                finally:
                    db.session.remove()

        scheduler.add_job(tick, "interval", seconds=seconds, id=f"every:{task_name}",
                          max_instances=1, coalesce=True)
    for item in _SCHEDULES:
        trigger = CronTrigger(timezone="Asia/Shanghai", **item.cron)

        def fire(item=item, trigger=trigger):
            enqueue_scheduled(app, item, utcnow().replace(second=0, microsecond=0))

        scheduler.add_job(fire, trigger, id=f"schedule:{item.kind}", max_instances=1,
                          coalesce=True, misfire_grace_time=3600)

    def stop(*_):
        if scheduler.running:
            scheduler.shutdown(wait=False)

    signal.signal(signal.SIGTERM, stop)
    log.info("worker %s started; job kinds polled every %ss", name, POLL_SECONDS)
    scheduler.start()
