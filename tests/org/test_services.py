"""The unit tree's rules (lms.org.services) and its administration with an actor
(lms.accounts.services: who may, what is audited)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms.accounts import services as accounts
from lms.accounts.audit import Origin
from lms.accounts.models import AuditEntry, CadreImport, Role
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.org import services as org
from lms.org.models import Unit, UnitKind
from tests.factories import make_district, make_unit, make_user


@pytest.fixture
def root(db):
    return make_district()


@pytest.fixture
def admin(root):
    return make_user(unit=root, roles=(Role.PLATFORM_ADMIN,), name="平台管理员")


@pytest.fixture
def origin(admin, now):
    return Origin(actor=admin, ip="10.1.2.3", now=now)


def entries(action: str) -> list[AuditEntry]:
    return list(org.db.session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)))


# ---------------------------------------------------------------- tree rules

@pytest.mark.parametrize("kind", [UnitKind.ZONE, UnitKind.SUBDISTRICT, UnitKind.SECTOR,
                                  UnitKind.AFFILIATED, UnitKind.GRASSROOTS])
def test_every_kind_can_stand_under_the_district(root, kind):
    unit = org.create_unit(name=f"单位-{kind.value}", kind=kind, parent_id=root.id)
    assert unit.parent is root and unit.depth == 1 and unit.path == f"{root.path}{unit.id}/"


def test_grassroots_goes_under_a_zone_but_a_zone_does_not(root):
    zone = make_unit(kind=UnitKind.ZONE)
    grassroots = org.create_unit(name="某公司工会", kind=UnitKind.GRASSROOTS, parent_id=zone.id)
    assert grassroots.depth == 2 and grassroots.path == f"/{root.id}/{zone.id}/{grassroots.id}/"
    with pytest.raises(ValidationFailed) as exc:
        org.create_unit(name="区中之区", kind=UnitKind.ZONE, parent_id=zone.id)
    assert exc.value.code == "unit_bad_parent"
    assert "“功能区”不能设在“功能区”之下" in exc.value.message
    with pytest.raises(ValidationFailed):
        org.create_unit(name="工会下的工会", kind=UnitKind.GRASSROOTS, parent_id=grassroots.id)
    with pytest.raises(ValidationFailed) as exc:
        org.create_unit(name="无上级", kind=UnitKind.GRASSROOTS, parent_id=None)
    assert exc.value.code == "unit_parent_required"


def test_only_one_district_root(root):
    with pytest.raises(Conflict) as exc:
        org.create_unit(name="第二个区总工会", kind=UnitKind.DISTRICT, parent_id=None)
    assert exc.value.code == "unit_root_exists"


def test_names_are_unique_per_parent_after_tidying_spaces(root):
    zone_a, zone_b = make_unit(kind=UnitKind.ZONE), make_unit(kind=UnitKind.ZONE)
    org.create_unit(name="联合工会", kind=UnitKind.GRASSROOTS, parent_id=zone_a.id)
    with pytest.raises(Conflict) as exc:
        org.create_unit(name="  联合工会 ", kind=UnitKind.GRASSROOTS, parent_id=zone_a.id)
    assert exc.value.code == "unit_name_taken"
    # the same name under another parent is another unit
    assert org.create_unit(name="联合工会", kind=UnitKind.GRASSROOTS, parent_id=zone_b.id)
    with pytest.raises(ValidationFailed):
        org.create_unit(name="   ", kind=UnitKind.GRASSROOTS, parent_id=zone_b.id)
    with pytest.raises(ValidationFailed):
        org.create_unit(name="长" * 101, kind=UnitKind.GRASSROOTS, parent_id=zone_b.id)


def test_no_unit_under_an_inactive_parent(root):
    zone = make_unit(kind=UnitKind.ZONE)
    org.set_unit_active(zone, False)
    with pytest.raises(ValidationFailed) as exc:
        org.create_unit(name="新工会", kind=UnitKind.GRASSROOTS, parent_id=zone.id)
    assert exc.value.code == "unit_parent_inactive"


def test_move_rewrites_the_paths_and_depths_of_the_whole_subtree(db, root):
    zone_a, zone_b = make_unit(kind=UnitKind.ZONE), make_unit(kind=UnitKind.ZONE)
    moving = org.create_unit(name="迁移的工会", kind=UnitKind.GRASSROOTS, parent_id=zone_a.id)
    # an older, deeper subtree (as imported data may have it): two levels below `moving`
    child = Unit(name="分会", kind=UnitKind.GRASSROOTS, parent_id=moving.id, path="", depth=3)
    db.session.add(child)
    db.session.flush()
    child.path = f"{moving.path}{child.id}/"
    grandchild = Unit(name="小组", kind=UnitKind.GRASSROOTS, parent_id=child.id, path="", depth=4)
    db.session.add(grandchild)
    db.session.flush()
    grandchild.path = f"{child.path}{grandchild.id}/"
    bystander = org.create_unit(name="不动的工会", kind=UnitKind.GRASSROOTS, parent_id=zone_a.id)
    db.session.flush()

    moved = org.move_unit(moving, zone_b)
    assert moved.parent_id == zone_b.id and moved.path == f"{zone_b.path}{moving.id}/"
    rows = {u.id: (u.path, u.depth) for u in db.session.scalars(sa.select(Unit))}
    assert rows[child.id] == (f"{zone_b.path}{moving.id}/{child.id}/", 3)
    assert rows[grandchild.id] == (f"{zone_b.path}{moving.id}/{child.id}/{grandchild.id}/", 4)
    assert rows[bystander.id] == (f"{zone_a.path}{bystander.id}/", 2)

    # up one level: every depth of the subtree shifts by one
    org.move_unit(db.session.get(Unit, moving.id), root)
    rows = {u.id: (u.path, u.depth) for u in db.session.scalars(sa.select(Unit))}
    assert rows[moving.id] == (f"/{root.id}/{moving.id}/", 1)
    assert rows[grandchild.id] == (f"/{root.id}/{moving.id}/{child.id}/{grandchild.id}/", 3)


def test_no_move_into_its_own_subtree_nor_of_the_root(root):
    zone = make_unit(kind=UnitKind.ZONE)
    grassroots = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    with pytest.raises(ValidationFailed) as exc:
        org.move_unit(zone, grassroots)
    assert exc.value.code == "unit_move_into_self"
    with pytest.raises(ValidationFailed):
        org.move_unit(grassroots, grassroots)
    with pytest.raises(ValidationFailed) as exc:
        org.move_unit(root, zone)
    assert exc.value.code == "unit_root_locked"


def test_move_keeps_kind_rules_and_unique_names(root):
    zone_a, zone_b = make_unit(kind=UnitKind.ZONE), make_unit(kind=UnitKind.ZONE)
    first = make_unit(name="同名工会", kind=UnitKind.GRASSROOTS, parent=zone_a)
    make_unit(name="同名工会", kind=UnitKind.GRASSROOTS, parent=zone_b)
    with pytest.raises(Conflict):
        org.move_unit(first, zone_b)
    with pytest.raises(ValidationFailed):
        org.move_unit(zone_a, zone_b)


def test_deactivation_waits_for_active_children(root):
    zone = make_unit(kind=UnitKind.ZONE)
    child = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    with pytest.raises(Conflict) as exc:
        org.set_unit_active(zone, False)
    assert exc.value.code == "unit_has_active_children" and "1 个" in exc.value.message
    org.set_unit_active(child, False)
    org.set_unit_active(zone, False)
    assert not zone.active
    with pytest.raises(ValidationFailed):  # a child comes back only under an active parent
        org.set_unit_active(child, True)
    with pytest.raises(ValidationFailed):
        org.set_unit_active(root, False)


def test_parent_candidates_offer_only_allowed_active_units_outside_the_subtree(root):
    zone = make_unit(kind=UnitKind.ZONE)
    closed = make_unit(kind=UnitKind.SECTOR)
    org.set_unit_active(closed, False)
    grassroots = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    any_parent = org.parent_candidates()
    assert root in any_parent and zone in any_parent
    assert closed not in any_parent and grassroots not in any_parent
    assert org.parent_candidates(UnitKind.ZONE) == [root]
    assert zone not in org.parent_candidates(UnitKind.GRASSROOTS, exclude=zone)


# ---------------------------------------------------------------- administered, audited

def test_platform_admin_creates_renames_and_moves_with_audit(origin, admin, root):
    zone_a, zone_b = make_unit(kind=UnitKind.ZONE), make_unit(kind=UnitKind.ZONE)
    unit = accounts.create_unit(origin, name="新建的工会", kind=UnitKind.GRASSROOTS,
                                parent_id=zone_a.id, sort_order=5)
    assert unit.sort_order == 5
    accounts.rename_unit(origin, unit, "改名的工会", sort_order=2)
    unit = accounts.move_unit(origin, unit, zone_b.id)
    assert unit.parent_id == zone_b.id and unit.name == "改名的工会"
    for action in ("unit.create", "unit.rename", "unit.reorder", "unit.move"):
        [entry] = entries(action)
        assert (entry.actor_id, entry.actor_name, entry.ip) == (admin.id, "平台管理员", "10.1.2.3")
        assert entry.object_type == "unit" and entry.object_id == unit.id
        assert entry.at == origin.now
    assert entries("unit.move")[0].unit_path == unit.path


def test_unchanged_rename_writes_no_entry(origin):
    unit = make_unit(kind=UnitKind.ZONE)
    accounts.rename_unit(origin, unit, unit.name, sort_order=unit.sort_order)
    assert entries("unit.rename") == [] and entries("unit.reorder") == []


def test_deactivation_waits_for_active_members(origin):
    unit = make_unit(kind=UnitKind.GRASSROOTS)
    member = make_user(unit=unit)
    with pytest.raises(Conflict) as exc:
        accounts.set_unit_active(origin, unit, False)
    assert exc.value.code == "unit_has_active_members"
    accounts.set_user_active(origin, member, False)
    accounts.set_unit_active(origin, unit, False)
    assert not unit.active and len(entries("unit.deactivate")) == 1
    accounts.set_unit_active(origin, unit, False)  # already so: nothing more is recorded
    assert len(entries("unit.deactivate")) == 1
    accounts.set_unit_active(origin, unit, True)
    assert unit.active and len(entries("unit.activate")) == 1


def test_delete_only_an_empty_unit(db, origin, admin):
    zone = make_unit(kind=UnitKind.ZONE)
    with_member = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    make_user(unit=with_member, active=False)  # even an inactive member keeps the unit
    with_grant = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    make_user(unit=make_unit(kind=UnitKind.GRASSROOTS, parent=zone), roles=(Role.UNIT_ADMIN,),
              admin_of=with_grant)
    with_import = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    db.session.add(CadreImport(created_by_id=admin.id, scope_unit_id=with_import.id,
                               filename="名册.xlsx", stored_name="x" * 32))
    db.session.flush()
    for unit in (zone, with_member, with_grant, with_import):
        with pytest.raises(Conflict) as exc:
            accounts.delete_unit(origin, unit)
        assert exc.value.code == "unit_not_deletable"
        assert db.session.get(Unit, unit.id) is not None
    empty = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    empty_id = empty.id
    accounts.delete_unit(origin, empty)
    assert db.session.get(Unit, empty_id) is None
    [entry] = entries("unit.delete")
    assert entry.object_id == empty_id and entry.ip == "10.1.2.3"


@pytest.mark.parametrize("roles", [(Role.UNIT_ADMIN,), (Role.LEARNER,), (Role.ORGANIZER,)])
def test_only_platform_admins_change_the_tree(now, root, roles):
    zone = make_unit(kind=UnitKind.ZONE)
    grassroots = make_unit(kind=UnitKind.GRASSROOTS, parent=zone)
    actor = make_user(unit=zone, roles=roles)
    who = Origin(actor=actor, ip=None, now=now)
    attempts = [
        lambda: accounts.create_unit(who, name="x", kind=UnitKind.GRASSROOTS, parent_id=zone.id),
        lambda: accounts.rename_unit(who, grassroots, "y"),
        lambda: accounts.move_unit(who, grassroots, root.id),
        lambda: accounts.set_unit_active(who, grassroots, False),
        lambda: accounts.delete_unit(who, grassroots),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert entries("unit.create") == []


def test_html_in_a_unit_name_is_stored_verbatim(origin, root):
    unit = accounts.create_unit(origin, name="<b>工会</b>", kind=UnitKind.ZONE, parent_id=root.id)
    assert unit.name == "<b>工会</b>"


def test_member_counts_in_one_grouped_query(db, root):
    a, b, c = (make_unit(kind=UnitKind.GRASSROOTS) for _ in range(3))
    for _ in range(3):
        make_user(unit=a)
    make_user(unit=a, active=False)
    make_user(unit=b)
    statements = []

    def note(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        counts = accounts.member_counts([a.id, b.id, c.id])
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert counts == {a.id: (3, 4), b.id: (1, 1)}
    assert len(statements) == 1
    assert accounts.member_counts([]) == {}


def test_visible_unit_is_a_404_outside_the_scope(now, root):
    zone_a, zone_b = make_unit(kind=UnitKind.ZONE), make_unit(kind=UnitKind.ZONE)
    unit_admin = make_user(unit=zone_a, roles=(Role.UNIT_ADMIN,))
    assert accounts.visible_unit(unit_admin, zone_a.id) is zone_a
    with pytest.raises(NotFound):
        accounts.visible_unit(unit_admin, zone_b.id)
    with pytest.raises(NotFound):
        accounts.visible_unit(unit_admin, 999999)
    with pytest.raises(PermissionDenied):
        accounts.visible_unit(make_user(unit=zone_a), zone_a.id)
