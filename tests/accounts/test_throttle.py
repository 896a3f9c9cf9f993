"""Concurrent failed sign-ins are all counted, and a raced first failure is not an error."""
import threading
from datetime import timedelta

import pytest

from lms.accounts import services
from lms.accounts.models import LoginThrottle
from lms.db import utcnow, write_intent
from lms.extensions import db as ext_db


def test_parallel_failures_are_all_counted(app, committed):
    errors: list[Exception] = []
    barrier = threading.Barrier(4)

    def fail_once():
        with app.app_context(), write_intent(True):
            barrier.wait(10)
            try:
                services.authenticate("nobody-here", "bad-pass1", ip="198.51.100.7", now=utcnow())
            except services.LoginFailed:
                ext_db.session.commit()  # a refused sign-in keeps its count
            except Exception as exc:  # noqa: BLE001 - any other error fails the test
                errors.append(exc)
                ext_db.session.rollback()
            finally:
                ext_db.session.remove()

    threads = [threading.Thread(target=fail_once) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    committed.session.expire_all()
    assert committed.session.get(LoginThrottle, "acct:nobody-here").failures == 4
    assert committed.session.get(LoginThrottle, "ip:198.51.100.7").failures == 4


def test_an_expired_window_starts_counting_again(db):
    t = utcnow()
    for _ in range(3):
        with pytest.raises(services.LoginFailed):
            services.authenticate("someone-else", "bad-pass1", ip=None, now=t)
    with pytest.raises(services.LoginFailed):
        services.authenticate("someone-else", "bad-pass1", ip=None, now=t + timedelta(hours=1))
    db.session.expire_all()
    assert db.session.get(LoginThrottle, "acct:someone-else").failures == 1
