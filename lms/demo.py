"""`lms demo`: each domain's demo content, loaded in order; running it twice changes nothing."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from lms.accounts.demo import load_accounts
from lms.org.demo import load_units


def load_demo(*, password: str, now: datetime, echo: Callable[[str], None] = print) -> str:
    units = load_units()
    echo(f"单位：{len(units)} 个")
    created, total = load_accounts(units, password=password, now=now)
    echo(f"账号：{total} 个（本次新建 {created} 个）")
    return "演示数据已就绪。演示账号 admin / unitadmin / organizer / instructor / learner。"
