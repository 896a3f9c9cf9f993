"""Users and roles administered through lms.accounts.services: scope, uniqueness, sessions,
the last platform administrator, grants, and the audit entry every change writes."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from lms.accounts import identity
from lms.accounts import services
from lms.accounts.audit import Origin
from lms.accounts.models import AuditEntry, CadreType, EnterpriseType, Gender, Role, User
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.extensions import db as ext_db
from lms.org.services import set_unit_active
from tests.factories import PASSWORD, make_two_zone_tree, make_user


@pytest.fixture
def tree(db):
    return make_two_zone_tree()


@pytest.fixture
def admin(tree):
    return make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,), name="平台管理员")


@pytest.fixture
def unit_admin(tree):
    return make_user(unit=tree["zone"], roles=(Role.UNIT_ADMIN,), name="开发区管理员")


def as_(actor, now):
    return Origin(actor=actor, ip="192.0.2.7", now=now)


def data(unit, **overrides) -> services.UserData:
    values = dict(name="王小明", unit_id=unit.id, phone="13911112222", position="工会主席",
                  cadre_type=CadreType.FULL_TIME, enterprise_type=EnterpriseType.NON_PUBLIC)
    values.update(overrides)
    return services.UserData(**values)


def audit(action: str) -> list[AuditEntry]:
    return list(ext_db.session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


# ---------------------------------------------------------------- creating users

def test_unit_admin_creates_a_learner_in_their_subtree(tree, unit_admin, now):
    user = services.create_user(as_(unit_admin, now), data(tree["grassroots"], gender=Gender.MALE,
                                                           email="wang@example.cn"),
                                password="Init2026pass")
    assert user.unit is tree["grassroots"] and user.roles() == {Role.LEARNER}
    assert user.must_change_password and services.verify_password(user.password_hash, "Init2026pass")
    assert user.profile.cadre_type is CadreType.FULL_TIME and user.profile.email == "wang@example.cn"
    [entry] = audit("user.create")
    assert (entry.actor_id, entry.ip, entry.object_id) == (unit_admin.id, "192.0.2.7", user.id)
    assert entry.unit_path == tree["grassroots"].path and "王小明" in entry.summary


def test_a_unit_outside_the_subtree_is_refused_as_not_found(tree, unit_admin, now):
    for unit_id in (tree["other_grassroots"].id, tree["root"].id, 999999):
        with pytest.raises(NotFound) as exc:
            services.create_user(as_(unit_admin, now), data(tree["grassroots"], unit_id=unit_id),
                                 password="Init2026pass")
        assert exc.value.code == "unit_not_found"
    with pytest.raises(ValidationFailed):
        services.create_user(as_(unit_admin, now), data(tree["grassroots"], unit_id=None),
                             password="Init2026pass")
    assert audit("user.create") == []


def test_an_inactive_unit_takes_no_new_users(tree, admin, now):
    set_unit_active(tree["other_grassroots"], False)
    with pytest.raises(ValidationFailed) as exc:
        services.create_user(as_(admin, now), data(tree["other_grassroots"]), password="Init2026pass")
    assert exc.value.code == "unit_inactive"


def test_duplicate_phone_and_username_are_refused(tree, admin, now):
    make_user(unit=tree["grassroots"], phone="13911112222", username="wangxm")
    with pytest.raises(Conflict) as exc:
        services.create_user(as_(admin, now), data(tree["grassroots"]), password="Init2026pass")
    assert exc.value.code == "phone_taken" and "13911112222" in exc.value.message
    with pytest.raises(Conflict) as exc:
        services.create_user(as_(admin, now), data(tree["grassroots"], phone=None, username="wangxm"),
                             password="Init2026pass")
    assert exc.value.code == "username_taken"


@pytest.mark.parametrize("phone", ["1391111222", "23911112222", "139111122223", "电话号码", "12345678901"])
def test_malformed_phone_is_refused(tree, admin, now, phone):
    with pytest.raises(ValidationFailed) as exc:
        services.create_user(as_(admin, now), data(tree["grassroots"], phone=phone), password="Init2026pass")
    assert exc.value.code == "phone_invalid"


def test_phone_written_with_country_code_and_dashes_is_tidied(tree, admin, now):
    user = services.create_user(as_(admin, now), data(tree["grassroots"], phone="+86 139-1111-2222"),
                                password="Init2026pass")
    assert user.phone == "13911112222"


def test_a_login_and_a_strong_password_are_required(tree, admin, now):
    with pytest.raises(ValidationFailed) as exc:
        services.create_user(as_(admin, now), data(tree["grassroots"], phone=None), password="Init2026pass")
    assert exc.value.code == "login_required_field"
    with pytest.raises(ValidationFailed) as exc:
        services.create_user(as_(admin, now), data(tree["grassroots"]), password="short")
    assert exc.value.code == "password_weak"


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "Robert'); DROP TABLE users;--",
                                  '张"三', "李\x00四"])
def test_markup_quotes_and_control_characters_in_names_are_refused(tree, admin, now, name):
    with pytest.raises(ValidationFailed) as exc:
        services.create_user(as_(admin, now), data(tree["grassroots"], name=name), password="Init2026pass")
    assert exc.value.code == "name_bad_chars"


def test_sql_looking_name_without_quotes_is_stored_verbatim(tree, admin, now):
    name = "张三; DROP TABLE users;--"
    user = services.create_user(as_(admin, now), data(tree["grassroots"], name=name), password="Init2026pass")
    ext_db.session.expire_all()
    assert ext_db.session.get(User, user.id).name == name
    assert ext_db.session.scalar(sa.select(sa.func.count()).select_from(User)) >= 2


def test_unit_admin_may_hand_out_only_learner_and_unit_admin(tree, unit_admin, now):
    user = services.create_user(as_(unit_admin, now), data(tree["grassroots"]), password="Init2026pass",
                                roles={Role.LEARNER, Role.UNIT_ADMIN})
    [grant] = [g for g in user.role_grants if g.role is Role.UNIT_ADMIN]
    assert grant.unit is tree["grassroots"]  # bound to the new user's unit
    with pytest.raises(PermissionDenied) as exc:
        services.create_user(as_(unit_admin, now), data(tree["grassroots"], phone="13911113333"),
                             password="Init2026pass", roles={Role.PLATFORM_ADMIN})
    assert exc.value.code == "role_not_grantable"


# ---------------------------------------------------------------- updating users

def test_update_records_what_changed(tree, admin, now):
    user = make_user(unit=tree["grassroots"], name="旧名字")
    services.update_user(as_(admin, now), user, data(tree["other_grassroots"], name="新名字",
                                                     phone=user.phone, position="工会副主席"))
    assert user.name == "新名字" and user.unit is tree["other_grassroots"]
    [entry] = audit("user.update")
    changed = entry.details["changed"]
    assert changed["name"] == ["旧名字", "新名字"] and changed["position"] == ["工会主席", "工会副主席"]
    assert changed["unit"] == ["甲公司工会", "乙公司工会"] and "phone" not in changed


def test_unit_admin_cannot_move_a_user_out_of_their_subtree(tree, unit_admin, now):
    user = make_user(unit=tree["grassroots"])
    with pytest.raises(NotFound):
        services.update_user(as_(unit_admin, now), user,
                             data(tree["other_grassroots"], phone=user.phone))
    assert user.unit is tree["grassroots"]


def test_users_outside_the_subtree_do_not_exist_for_a_unit_admin(tree, unit_admin, now):
    outsider = make_user(unit=tree["other_grassroots"])
    who = as_(unit_admin, now)
    for attempt in (lambda: services.update_user(who, outsider, data(tree["grassroots"])),
                    lambda: services.set_user_active(who, outsider, False),
                    lambda: services.reset_password(who, outsider),
                    lambda: services.grant_role(who, outsider, Role.LEARNER),
                    lambda: services.revoke_role(who, outsider, outsider.role_grants[0].id),
                    lambda: services.managed_user(unit_admin, outsider.id)):
        with pytest.raises(NotFound):
            attempt()
    assert outsider.active and audit("user.deactivate") == []


def test_a_platform_admin_in_the_subtree_is_not_manageable(tree, unit_admin, now):
    boss = make_user(unit=tree["grassroots"], roles=(Role.PLATFORM_ADMIN,))
    with pytest.raises(PermissionDenied):
        services.managed_user(unit_admin, boss.id)
    with pytest.raises(PermissionDenied):
        services.set_user_active(as_(unit_admin, now), boss, False)
    with pytest.raises(PermissionDenied):
        services.reset_password(as_(unit_admin, now), boss)


# ---------------------------------------------------------------- deactivation and passwords

def test_deactivation_ends_sessions_and_revokes_tokens(tree, admin, now):
    user = make_user(unit=tree["grassroots"])
    nonce = user.session_nonce
    raw, _ = services.issue_token(user, now=now, ttl=timedelta(days=1))
    assert services.user_id_for_token(raw, now=now) == user.id
    services.set_user_active(as_(admin, now), user, False)
    assert not user.active and user.session_nonce != nonce
    assert identity.load_session_user(f"{user.id}:{nonce}") is None
    assert services.user_id_for_token(raw, now=now) is None
    [entry] = audit("user.deactivate")
    assert entry.actor_id == admin.id and entry.ip == "192.0.2.7"
    services.set_user_active(as_(admin, now), user, True)
    assert user.active and len(audit("user.activate")) == 1


def _deactivated_behind_its_back(user: User) -> None:
    """The row says inactive while the object in hand still says active: what a second
    administrator acting at the same moment would see."""
    ext_db.session.execute(sa.update(User).where(User.id == user.id).values(active=False)
                           .execution_options(synchronize_session=False))


def test_no_one_deactivates_themselves_or_the_last_platform_admin(tree, admin, now):
    with pytest.raises(ValidationFailed) as exc:
        services.set_user_active(as_(admin, now), admin, False)
    assert exc.value.code == "cannot_deactivate_self"
    second = make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,))
    third = make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,))
    services.set_user_active(as_(second, now), third, False)  # others remain: allowed
    _deactivated_behind_its_back(admin)
    with pytest.raises(Conflict) as exc:
        services.set_user_active(as_(admin, now), second, False)
    assert exc.value.code == "last_platform_admin"
    assert second.active


def test_a_user_of_an_inactive_unit_is_not_reactivated(tree, admin, now):
    user = make_user(unit=tree["other_grassroots"])
    services.set_user_active(as_(admin, now), user, False)
    set_unit_active(tree["other_grassroots"], False)
    with pytest.raises(ValidationFailed) as exc:
        services.set_user_active(as_(admin, now), user, True)
    assert exc.value.code == "user_unit_inactive"


def test_reset_password_must_be_changed_and_ends_sessions(tree, unit_admin, now):
    user = make_user(unit=tree["grassroots"])
    nonce = user.session_nonce
    raw, _ = services.issue_token(user, now=now, ttl=timedelta(days=1))
    password = services.reset_password(as_(unit_admin, now), user)
    assert len(password) == 8 and services.verify_password(user.password_hash, password)
    assert not services.verify_password(user.password_hash, PASSWORD)
    assert user.must_change_password and user.session_nonce != nonce
    assert services.user_id_for_token(raw, now=now) is None
    [entry] = audit("user.reset_password")
    assert entry.actor_id == unit_admin.id and password not in entry.summary + str(entry.details)


# ---------------------------------------------------------------- roles

def test_unit_admin_grants_within_their_subtree_only(tree, unit_admin, now):
    user = make_user(unit=tree["grassroots"])
    who = as_(unit_admin, now)
    grant = services.grant_role(who, user, Role.UNIT_ADMIN, tree["grassroots"].id)
    assert grant.unit is tree["grassroots"]
    assert services.grant_role(who, user, Role.UNIT_ADMIN, tree["grassroots"].id) is grant  # once
    with pytest.raises(NotFound):
        services.grant_role(who, user, Role.UNIT_ADMIN, tree["other_zone"].id)
    with pytest.raises(NotFound):
        services.grant_role(who, user, Role.UNIT_ADMIN, 999999)
    with pytest.raises(ValidationFailed) as exc:
        services.grant_role(who, user, Role.UNIT_ADMIN, None)
    assert exc.value.code == "role_unit_required"
    for role in (Role.INSTRUCTOR, Role.ORGANIZER, Role.PLATFORM_ADMIN):
        with pytest.raises(PermissionDenied):
            services.grant_role(who, user, role)
    assert [e.details["role"] for e in audit("role.grant")] == ["unit_admin", "unit_admin"]


def test_no_unit_admin_grant_for_an_inactive_unit(tree, admin, now):
    user = make_user(unit=tree["grassroots"])
    set_unit_active(tree["other_grassroots"], False)
    with pytest.raises(ValidationFailed) as exc:
        services.grant_role(as_(admin, now), user, Role.UNIT_ADMIN, tree["other_grassroots"].id)
    assert exc.value.code == "unit_inactive"


def test_revoke_checks_whose_grant_it_is(tree, admin, unit_admin, now):
    user = make_user(unit=tree["grassroots"], roles=(Role.LEARNER, Role.INSTRUCTOR))
    other = make_user(unit=tree["grassroots"])
    learner_grant = next(g for g in user.role_grants if g.role is Role.LEARNER)
    instructor_grant = next(g for g in user.role_grants if g.role is Role.INSTRUCTOR)
    with pytest.raises(NotFound) as exc:  # another user's grant id through this user
        services.revoke_role(as_(unit_admin, now), other, learner_grant.id)
    assert exc.value.code == "grant_not_found"
    with pytest.raises(PermissionDenied):  # a unit admin could not have granted it
        services.revoke_role(as_(unit_admin, now), user, instructor_grant.id)
    assert services.revoke_role(as_(unit_admin, now), user, learner_grant.id) is Role.LEARNER
    assert user.roles() == {Role.INSTRUCTOR}
    [entry] = audit("role.revoke")
    assert entry.actor_id == unit_admin.id and entry.details["role"] == "learner"


def test_the_last_platform_admin_is_not_demoted(tree, admin, now):
    grant = next(g for g in admin.role_grants if g.role is Role.PLATFORM_ADMIN)
    with pytest.raises(ValidationFailed) as exc:
        services.revoke_role(as_(admin, now), admin, grant.id)
    assert exc.value.code == "cannot_demote_self"
    second = make_user(unit=tree["root"], roles=(Role.PLATFORM_ADMIN,))
    _deactivated_behind_its_back(second)
    with pytest.raises(Conflict) as exc:
        services.revoke_role(as_(second, now), admin, grant.id)
    assert exc.value.code == "last_platform_admin"
    assert admin.has_role(Role.PLATFORM_ADMIN)


def test_a_unit_admin_cannot_manage_a_wider_unit_admin(tree, unit_admin, now):
    # an administrator of the whole district sits in a unit of the zone's subtree
    wide = make_user(unit=tree["grassroots"], roles=(Role.UNIT_ADMIN,), admin_of=tree["root"])
    with pytest.raises(PermissionDenied):
        services.set_user_active(as_(unit_admin, now), wide, False)


# ---------------------------------------------------------------- listing

def test_users_query_is_scoped_and_filtered(tree, unit_admin, now):
    inside = make_user(unit=tree["grassroots"], name="张三", cadre_type=CadreType.FULL_TIME)
    stopped = make_user(unit=tree["grassroots"], name="李四", active=False)
    outside = make_user(unit=tree["other_grassroots"], name="张四")

    def names(**kw):
        return {u.name for u in ext_db.session.scalars(
            services.users_query(unit_admin, services.UserFilter(**kw)))}

    assert names() == {"开发区管理员", "张三", "李四"}
    assert outside.name not in names(q="张")
    assert names(q="张") == {"张三"}
    assert names(q=inside.phone[-6:]) == {"张三"}
    assert names(active=False) == {"李四"} and stopped.name in names(active=False)
    assert names(role=Role.UNIT_ADMIN) == {"开发区管理员"}
    assert names(cadre_type=CadreType.FULL_TIME) == {"张三"}
    assert names(unit_id=tree["grassroots"].id) == {"张三", "李四"}
    assert names(q="%") == set()  # wildcards are literal
    with pytest.raises(NotFound):
        names(unit_id=tree["other_grassroots"].id)


def test_user_audit_entries_are_the_latest_ten_about_the_user(tree, admin, now):
    user = make_user(unit=tree["grassroots"])
    for i in range(12):
        services.set_user_active(as_(admin, now + timedelta(minutes=i)), user, i % 2 == 1)
    services.reset_password(as_(admin, now), make_user(unit=tree["grassroots"]))
    entries = services.user_audit_entries(admin, user)
    assert len(entries) == 10 and all(e.object_id == user.id for e in entries)
    assert entries[0].at == now + timedelta(minutes=11)
