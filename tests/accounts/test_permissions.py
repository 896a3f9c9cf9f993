"""Who may manage whom, and who sees a phone number in full."""
from __future__ import annotations

import pytest

from lms.accounts.models import Role
from lms.accounts.permissions import (admin_scope_paths, can_manage_user, can_see_full_phone,
                                      grantable_roles, mask_phone, visible_phone)
from lms.org.models import UnitKind
from tests.factories import make_district, make_unit, make_user


@pytest.fixture
def tree(db):
    root = make_district()
    zone = make_unit(kind=UnitKind.ZONE)
    other = make_unit(kind=UnitKind.ZONE)
    return {"root": root, "zone": zone, "other": other,
            "grassroots": make_unit(kind=UnitKind.GRASSROOTS, parent=zone),
            "other_grassroots": make_unit(kind=UnitKind.GRASSROOTS, parent=other)}


def test_can_manage_user(tree):
    platform = make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,))
    zone_admin = make_user(unit=tree["zone"], roles=(Role.UNIT_ADMIN,))
    cadre = make_user(unit=tree["grassroots"])
    outsider = make_user(unit=tree["other_grassroots"])
    boss_inside = make_user(unit=tree["grassroots"], roles=(Role.PLATFORM_ADMIN,))
    wide_inside = make_user(unit=tree["grassroots"], roles=(Role.UNIT_ADMIN,), admin_of=tree["root"])
    narrow_inside = make_user(unit=tree["grassroots"], roles=(Role.UNIT_ADMIN,))
    learner = make_user(unit=tree["zone"])

    assert all(can_manage_user(platform, u) for u in (cadre, outsider, boss_inside, zone_admin))
    assert can_manage_user(zone_admin, cadre) and can_manage_user(zone_admin, narrow_inside)
    assert not can_manage_user(zone_admin, outsider)
    assert not can_manage_user(zone_admin, boss_inside)
    assert not can_manage_user(zone_admin, wide_inside)
    assert not can_manage_user(learner, cadre) and not can_manage_user(None, cadre)
    zone_admin.active = False
    assert not can_manage_user(zone_admin, cadre)


def test_scope_and_grantable_roles(tree):
    platform = make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,))
    zone_admin = make_user(unit=tree["zone"], roles=(Role.UNIT_ADMIN,))
    learner = make_user(unit=tree["zone"])
    assert admin_scope_paths(platform) is None
    assert admin_scope_paths(zone_admin) == [tree["zone"].path]
    assert admin_scope_paths(learner) == []
    assert grantable_roles(platform) == set(Role)
    assert grantable_roles(zone_admin) == {Role.LEARNER, Role.UNIT_ADMIN}
    assert grantable_roles(learner) == set()


def test_phone_is_masked_for_a_learner_and_for_an_admin_of_another_subtree(tree):
    cadre = make_user(unit=tree["grassroots"], phone="13912345678")
    own_admin = make_user(unit=tree["zone"], roles=(Role.UNIT_ADMIN,))
    other_admin = make_user(unit=tree["other"], roles=(Role.UNIT_ADMIN,))
    platform = make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,))
    colleague = make_user(unit=tree["grassroots"])

    assert visible_phone(cadre, cadre) == "13912345678"          # the owner
    assert visible_phone(own_admin, cadre) == "13912345678"      # administers the unit
    assert visible_phone(platform, cadre) == "13912345678"
    assert visible_phone(other_admin, cadre) == "139****5678"    # another subtree
    assert visible_phone(colleague, cadre) == "139****5678"      # not an administrator
    assert visible_phone(None, cadre) == "139****5678"
    assert not can_see_full_phone(other_admin, cadre)


def test_mask_phone():
    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone(None) == "" and mask_phone("123") == "****"
