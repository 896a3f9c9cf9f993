"""Demo accounts: one per role (admin, unitadmin, organizer, instructor, learner) and 200 cadres."""
from __future__ import annotations

import random
from datetime import datetime

import sqlalchemy as sa

from lms.accounts.models import (CadreProfile, CadreType, EnterpriseType, Gender, Role, RoleGrant,
                                 User)
from lms.accounts.services import hash_password, verify_password
from lms.extensions import db
from lms.org.demo import DISTRICT, GRASSROOTS
from lms.org.models import Unit

ROLE_ACCOUNTS = [
    # username, name, phone, unit, roles, position
    ("admin", "王建华", "13900000001", DISTRICT, [Role.PLATFORM_ADMIN], "基层工作部部长"),
    ("unitadmin", "李秀英", "13900000002", "天津经济技术开发区总工会", [Role.UNIT_ADMIN],
     "组织部干事"),
    ("organizer", "张伟", "13900000003", DISTRICT, [Role.ORGANIZER], "宣教部干事"),
    ("instructor", "刘芳", "13900000004", DISTRICT, [Role.INSTRUCTOR], "滨海工会大讲堂讲师"),
    ("learner", "陈静", "13900000005", "泰达智能装备有限公司工会", [Role.LEARNER], "工会主席"),
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎"
GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
         "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建国", "海燕", "志强", "玉兰", "春梅", "晓东",
         "红梅", "国庆", "文博", "子涵", "浩然", "雨欣", "思远", "佳怡", "宇航", "梦瑶", "俊杰"]
POSITIONS = ["工会主席", "工会副主席", "工会委员", "经审委员", "女职工委员", "工会干事", "工会会员代表",
             "兼职工会主席", "劳动保护监督员", "职工代表"]
CADRES = 200


def _demo_cadres() -> list[tuple[str, str, str, CadreType, EnterpriseType, Gender, str]]:
    rng = random.Random(20261126)  # the same district every time
    rows = []
    for i in range(CADRES):
        unit = GRASSROOTS[i % len(GRASSROOTS)][1]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        cadre_type = CadreType.FULL_TIME if rng.random() < 0.2 else CadreType.PART_TIME
        if "医院" in unit or "中学" in unit:
            enterprise = EnterpriseType.PUBLIC_SECTOR
        elif "公交" in unit or "码头" in unit:
            enterprise = EnterpriseType.STATE_OWNED
        else:
            enterprise = EnterpriseType.NON_PUBLIC if rng.random() < 0.9 else EnterpriseType.OTHER
        gender = Gender.FEMALE if rng.random() < 0.45 else Gender.MALE
        rows.append((f"1380000{i:04d}", name, unit, cadre_type, enterprise, gender,
                     rng.choice(POSITIONS)))
    return rows


def _upsert(*, phone: str, username: str | None, name: str, unit: Unit, password_hash: str,
            cadre_type: CadreType, enterprise: EnterpriseType, gender: Gender | None,
            position: str, roles: list[Role], now: datetime) -> tuple[User, bool]:
    user = db.session.scalar(sa.select(User).where(User.phone == phone))
    created = user is None
    if created:
        user = User(phone=phone, username=username, name=name, unit=unit, active=True,
                    password_hash=password_hash, must_change_password=False)
        user.profile = CadreProfile(position=position, cadre_type=cadre_type,
                                    enterprise_type=enterprise, gender=gender)
        db.session.add(user)
    for role in roles:
        if not any(g.role is role for g in user.role_grants):
            user.role_grants.append(RoleGrant(role=role, granted_at=now,
                                              unit=unit if role is Role.UNIT_ADMIN else None))
    return user, created


def load_accounts(units: dict[str, Unit], *, password: str, now: datetime) -> tuple[int, int]:
    """Create missing demo accounts; all sign in with `password`. Returns (created, total)."""
    password_hash = hash_password(password)  # one hash for all: argon2 is slow on purpose
    created = total = 0
    demo_users = []
    for username, name, phone, unit, roles, position in ROLE_ACCOUNTS:
        user, new = _upsert(phone=phone, username=username, name=name, unit=units[unit],
                            password_hash=password_hash, cadre_type=CadreType.FULL_TIME,
                            enterprise=EnterpriseType.PUBLIC_SECTOR if unit == DISTRICT
                            else EnterpriseType.NON_PUBLIC,
                            gender=None, position=position, roles=roles + [Role.LEARNER], now=now)
        demo_users.append(user)
        created, total = created + new, total + 1
    for phone, name, unit, cadre_type, enterprise, gender, position in _demo_cadres():
        user, new = _upsert(phone=phone, username=None, name=name, unit=units[unit],
                            password_hash=password_hash, cadre_type=cadre_type,
                            enterprise=enterprise, gender=gender, position=position,
                            roles=[Role.LEARNER], now=now)
        demo_users.append(user)
        created, total = created + new, total + 1
    db.session.flush()
    # A changed LMS_DEMO_PASSWORD applies to the existing demo accounts too.
    if not verify_password(demo_users[0].password_hash, password):
        for user in demo_users:
            user.password_hash = password_hash
            user.must_change_password = False
    db.session.flush()
    return created, total
