"""Factory functions for tests: make_unit(...), make_user(unit=..., roles=...)."""
from __future__ import annotations

import itertools

from lms.accounts.models import (CadreProfile, CadreType, EnterpriseType, Role, RoleGrant, User)
from lms.accounts.services import CHEAP_HASHER
from lms.extensions import db
from lms.org.models import Unit, UnitKind
from lms.org.services import create_unit

PASSWORD = "Test@2026pass"
_HASH = CHEAP_HASHER.hash(PASSWORD)  # argon2 at its lowest cost: the rules are under test
_seq = itertools.count(1)


def make_district() -> Unit:
    existing = db.session.query(Unit).filter_by(kind=UnitKind.DISTRICT).first()
    return existing or create_unit(name="滨海新区总工会", kind=UnitKind.DISTRICT, parent_id=None)


def make_unit(name: str | None = None, kind: UnitKind = UnitKind.ZONE, parent: Unit | None = None) -> Unit:
    if parent is None and kind is not UnitKind.DISTRICT:
        parent = make_district()
    return create_unit(name=name or f"测试单位{next(_seq)}", kind=kind,
                       parent_id=parent.id if parent else None)


def make_user(*, unit: Unit | None = None, roles=(Role.LEARNER,), name: str | None = None,
              phone: str | None = None, username: str | None = None, admin_of: Unit | None = None,
              must_change_password: bool = False, active: bool = True,
              cadre_type: CadreType = CadreType.PART_TIME) -> User:
    n = next(_seq)
    unit = unit or make_unit(kind=UnitKind.GRASSROOTS)
    user = User(name=name or f"测试用户{n}", phone=phone or f"137{n:08d}",
                username=username, unit=unit, password_hash=_HASH, active=active,
                must_change_password=must_change_password)
    user.profile = CadreProfile(position="工会主席", cadre_type=cadre_type,
                                enterprise_type=EnterpriseType.NON_PUBLIC)
    for role in roles:
        user.role_grants.append(RoleGrant(
            role=role, unit=(admin_of or unit) if role is Role.UNIT_ADMIN else None))
    db.session.add(user)
    db.session.flush()
    return user
