"""`lms demo`: each domain's demo content, loaded in order; running it twice changes nothing."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

import sqlalchemy as sa

from lms.accounts.demo import load_accounts
from lms.accounts.models import User
from lms.config import ROOT
from lms.courses.content import import_all
from lms.extensions import db
from lms.org.demo import load_units

#: the demo courses (course packages) and the account that owns and teaches them
CONTENT_DIR = ROOT / "content"
COURSE_OWNER = "instructor"


def load_demo(*, password: str, now: datetime, echo: Callable[[str], None] = print) -> str:
    units = load_units()
    echo(f"单位：{len(units)} 个")
    created, total = load_accounts(units, password=password, now=now)
    echo(f"账号：{total} 个（本次新建 {created} 个）")
    owner = db.session.scalar(sa.select(User).where(User.username == COURSE_OWNER))
    courses = import_all(CONTENT_DIR, owner=owner, now=now, echo=echo)
    echo(f"课程：{len(courses)} 门（本次新建 {sum(c.created for c in courses)} 门）")
    return "演示数据已就绪。演示账号 admin / unitadmin / organizer / instructor / learner。"
