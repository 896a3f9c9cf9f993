"""Sign-in throttling: failures per account and per address slow down, then lock.

Counts change with one conditional UPDATE (never read-modify-write), so concurrent failed
sign-ins on PostgreSQL are all counted and a first failure raced by another is not an error.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from lms.accounts.models import LoginThrottle
from lms.errors import TooManyAttempts
from lms.extensions import db


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int        # failures allowed before any delay
    lock_failures: int        # failures that bring the long lockout
    base_delay: timedelta     # first delay, doubled per further failure
    lockout: timedelta
    window: timedelta = timedelta(minutes=30)

    def locked_until(self, failures: int, now: datetime) -> datetime | None:
        if failures >= self.lock_failures:
            return now + self.lockout
        if failures >= self.free_failures:
            delay = self.base_delay * (2 ** (failures - self.free_failures))
            return now + min(delay, self.lockout)
        return None


ACCOUNT_POLICY = ThrottlePolicy(5, 10, timedelta(seconds=30), timedelta(minutes=15))
# Many cadres of one enterprise share an address, so the address allows more.
ADDRESS_POLICY = ThrottlePolicy(20, 50, timedelta(seconds=30), timedelta(minutes=15))


def account_key(login: str) -> str:
    return "acct:" + login.strip().lower()[:150]


def throttle_keys(login: str, ip: str | None) -> list[tuple[str, ThrottlePolicy]]:
    keys = [(account_key(login), ACCOUNT_POLICY)]
    if ip:
        keys.append(("ip:" + ip[:150], ADDRESS_POLICY))
    return keys


def check_not_locked(keys, now: datetime) -> None:
    """Refuse while any key is locked, saying how long to wait."""
    rows = {t.key: t for t in db.session.scalars(
        sa.select(LoginThrottle).where(LoginThrottle.key.in_([k for k, _ in keys])))}
    for key, policy in keys:
        t = rows.get(key)
        if t and t.locked_until and t.locked_until > now:
            seconds = int((t.locked_until - now).total_seconds()) + 1
            if t.failures >= policy.lock_failures:
                code = "ip_locked" if key.startswith("ip:") else "login_locked"
                raise TooManyAttempts(code, minutes=(seconds + 59) // 60)
            raise TooManyAttempts("login_slow_down", seconds=seconds)


def _count_failure(key: str, policy: ThrottlePolicy, now: datetime) -> int | None:
    """Add one failure (restarting an expired window) in one statement; the new count, or
    None when the key has no row yet."""
    expired = LoginThrottle.window_start < now - policy.window
    stmt = (sa.update(LoginThrottle).where(LoginThrottle.key == key)
            .values(failures=sa.case((expired, 1), else_=LoginThrottle.failures + 1),
                    window_start=sa.case((expired, now), else_=LoginThrottle.window_start),
                    last_failure_at=now)
            .returning(LoginThrottle.failures)
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).scalar()


def note_failure(keys, now: datetime) -> None:
    for key, policy in keys:
        failures = _count_failure(key, policy, now)
        if failures is None:
            try:
                with db.session.begin_nested():
                    db.session.add(LoginThrottle(key=key, failures=1, window_start=now,
                                                 last_failure_at=now))
                failures = 1
            except IntegrityError:  # another request created it first: count on that row
                failures = _count_failure(key, policy, now)
        db.session.execute(
            sa.update(LoginThrottle).where(LoginThrottle.key == key)
            .values(locked_until=policy.locked_until(failures, now))
            .execution_options(synchronize_session=False))
    db.session.expire_all()


def clear_account(login: str) -> None:
    db.session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key == account_key(login)))
