"""Housekeeping run by the worker every hour."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from lms.accounts.models import ApiToken, LoginThrottle
from lms.extensions import db
from lms.jobs import JobContext, register
from lms.jobs.worker import schedule

TOKEN_KEEP = timedelta(days=30)
THROTTLE_KEEP = timedelta(days=1)


@register("accounts.housekeeping")
def housekeeping(ctx: JobContext) -> None:
    """Forget old sign-in failures and long-dead tokens."""
    now = ctx.now
    db.session.execute(sa.delete(LoginThrottle).where(
        LoginThrottle.last_failure_at < now - THROTTLE_KEEP,
        sa.or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until < now)))
    db.session.execute(sa.delete(ApiToken).where(sa.or_(
        ApiToken.expires_at < now - TOKEN_KEEP, ApiToken.revoked_at < now - TOKEN_KEEP)))


schedule("accounts.housekeeping", minute=17)
