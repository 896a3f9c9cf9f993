"""Accounts: sign-in with throttling, passwords, API tokens, users and roles, unit administration."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import selectinload

from lms import org
from lms.accounts import identity, throttle
from lms.accounts.audit import AuditFilter, Origin, audit_query, record
from lms.accounts.models import (ApiToken, AuditEntry, CadreProfile, CadreType, EnterpriseType,
                                 Gender, Role, RoleGrant, User, new_session_nonce)
from lms.accounts.permissions import (admin_scope_paths, grantable_roles, is_platform_admin,
                                      path_in_scope, require_admin, require_manage_user,
                                      require_platform_admin, require_unit_in_scope,
                                      unit_scope_condition)
from lms.errors import Conflict, DomainError, NotFound, PermissionDenied, \
    ValidationFailed
from lms.extensions import db
from lms.org.models import Unit, UnitKind

_hasher = PasswordHasher()
#: the lowest cost argon2 allows: for tests and benchmarks of rules, never for real accounts
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
USERNAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.]{2,31}$")
NAME_MAX = 50
# Characters never valid in a person's name: control characters and markup.
NAME_BAD_RE = re.compile(r"[\x00-\x1f\x7f<>\"'`\\]")

ROLE_LABELS = {
    Role.LEARNER: "学员",
    Role.INSTRUCTOR: "讲师",
    Role.ORGANIZER: "竞赛组织者",
    Role.UNIT_ADMIN: "单位管理员",
    Role.PLATFORM_ADMIN: "平台管理员",
}
CADRE_TYPE_LABELS = {CadreType.FULL_TIME: "专职", CadreType.PART_TIME: "兼职"}
ENTERPRISE_TYPE_LABELS = {
    EnterpriseType.NON_PUBLIC: "非公",
    EnterpriseType.STATE_OWNED: "国有",
    EnterpriseType.PUBLIC_SECTOR: "机关事业",
    EnterpriseType.OTHER: "其他",
}
GENDER_LABELS = {Gender.MALE: "男", Gender.FEMALE: "女"}


# ---------------------------------------------------------------- passwords

def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_password_strength(password: str) -> None:
    """At least 8 characters with both letters and digits."""
    if (len(password or "") < 8 or len(password) > 128 or not re.search(r"[A-Za-z]", password)
            or not re.search(r"\d", password)):
        raise ValidationFailed("password_weak")


class LoginFailed(DomainError):
    """A refused sign-in whose failure count must still be committed."""
    http_status = 401


def find_user_by_login(login: str) -> User | None:
    login = (login or "").strip()
    if not login:
        return None
    column = User.phone if PHONE_RE.match(login) else User.username
    return db.session.scalar(sa.select(User).where(column == login))


def authenticate(login: str, password: str, *, ip: str | None, now: datetime) -> User:
    """Check a login (phone number or username) and password.

    Repeated failures for one login or one address first slow down (a wait doubling from
    30 s), then lock for 15 minutes; a locked key is refused without checking the password.
    Raises LoginFailed (the caller commits the failure count) or TooManyAttempts.
    """
    login = (login or "").strip()[:150]
    keys = throttle.throttle_keys(login, ip)
    throttle.check_not_locked(keys, now)
    user = find_user_by_login(login)
    if user is None or not verify_password(user.password_hash, password or ""):
        throttle.note_failure(keys, now)
        raise LoginFailed("login_failed")
    if not user.active:
        raise LoginFailed("login_inactive")
    throttle.clear_account(login)
    user.last_login_at = now
    db.session.flush()
    return user


def change_password(user: User, current: str, new: str, *, now: datetime) -> User:
    """Change one's own password; every other browser session of the user ends."""
    if not verify_password(user.password_hash, current or ""):
        raise ValidationFailed("password_wrong")
    if current == new:
        raise ValidationFailed("password_same")
    check_password_strength(new)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.session_nonce = new_session_nonce()
    db.session.flush()
    return user


# ---------------------------------------------------------------- API tokens

def _token_digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def issue_token(user: User, *, now: datetime, ttl: timedelta, label: str = "api") -> tuple[str, ApiToken]:
    raw = secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, token_hash=_token_digest(raw), created_at=now,
                     expires_at=now + ttl, label=label[:50])
    db.session.add(token)
    db.session.flush()
    return raw, token


def user_for_token(raw: str, *, now: datetime) -> User | None:
    """The API caller: the active user behind an unexpired, unrevoked token."""
    if not raw or len(raw) > 200:
        return None
    return identity.user_for_token(_token_digest(raw), now=now)


def user_id_for_token(raw: str, *, now: datetime) -> int | None:
    """The active user behind an unexpired, unrevoked token: one indexed query, no ORM load."""
    if not raw or len(raw) > 200:
        return None
    row = db.session.execute(
        sa.select(ApiToken.user_id, ApiToken.expires_at)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == _token_digest(raw), ApiToken.revoked_at.is_(None),
               User.active.is_(True))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return row.user_id


def revoke_token(raw: str, *, now: datetime) -> bool:
    result = db.session.execute(
        sa.update(ApiToken).where(ApiToken.token_hash == _token_digest(raw),
                                  ApiToken.revoked_at.is_(None)).values(revoked_at=now))
    return result.rowcount > 0


def revoke_all_tokens(user: User, *, now: datetime) -> None:
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id,
                                                 ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))


# ---------------------------------------------------------------- users

def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found")
    return user


def managed_user(actor: User, user_id: int) -> User:
    """A user the actor may manage: outside their subtree (or missing) 404, in it but not
    manageable (a platform administrator, a wider-scoped unit administrator) 403."""
    require_admin(actor)
    user = db.session.get(User, user_id, options=[
        selectinload(User.profile), selectinload(User.unit),
        selectinload(User.role_grants).selectinload(RoleGrant.unit)])
    if user is None:
        raise NotFound("user_not_found")
    require_manage_user(actor, user)
    return user


def clean_name(name: str | None) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed("name_required")
    if len(name) > NAME_MAX:
        raise ValidationFailed("name_too_long", max=NAME_MAX)
    if NAME_BAD_RE.search(name):
        raise ValidationFailed("name_bad_chars")
    return name


def clean_phone(phone: str | None) -> str | None:
    """Accept common ways of writing a mainland mobile number; None when blank."""
    if phone is None:
        return None
    text = str(phone).strip()
    if not text:
        return None
    digits = re.sub(r"[\s\-()（）]", "", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if digits.endswith(".0"):  # a number stored as a float in a spreadsheet
        digits = digits[:-2]
    if not PHONE_RE.match(digits):
        raise ValidationFailed("phone_invalid", phone=text[:20])
    return digits


def clean_username(username: str | None) -> str | None:
    username = (username or "").strip()
    if not username:
        return None
    if not USERNAME_RE.match(username):
        raise ValidationFailed("username_invalid")
    return username


def _check_unique(phone: str | None, username: str | None, exclude_id: int | None = None) -> None:
    for column, value, code in ((User.phone, phone, "phone_taken"),
                                (User.username, username, "username_taken")):
        if value is None:
            continue
        stmt = sa.select(User.id).where(column == value)
        if exclude_id is not None:
            stmt = stmt.where(User.id != exclude_id)
        if db.session.scalar(stmt.limit(1)) is not None:
            raise Conflict(code, phone=value, username=value)


@dataclass
class UserData:
    """What an administrator enters for a user; blank optional fields are None."""
    name: str
    unit_id: int
    phone: str | None = None
    username: str | None = None
    position: str | None = None
    cadre_type: CadreType = CadreType.PART_TIME
    enterprise_type: EnterpriseType = EnterpriseType.NON_PUBLIC
    gender: Gender | None = None
    email: str | None = None
    ethnicity: str | None = None
    education: str | None = None
    political_status: str | None = None


def _short(value: str | None, limit: int) -> str | None:
    value = " ".join((value or "").split())
    return value[:limit] or None


def _apply_profile(user: User, data: UserData) -> None:
    profile = user.profile or CadreProfile()
    profile.position = _short(data.position, 50)
    profile.cadre_type = data.cadre_type
    profile.enterprise_type = data.enterprise_type
    profile.gender = data.gender
    profile.email = _short(data.email, 120)
    profile.ethnicity = _short(data.ethnicity, 20)
    profile.education = _short(data.education, 20)
    profile.political_status = _short(data.political_status, 20)
    user.profile = profile


def _scoped_unit(actor: User, unit_id: int | None) -> Unit:
    """The unit a user is placed in: one of the actor's subtree (any other id is refused as
    if it did not exist, 404) and active."""
    if not unit_id:
        raise ValidationFailed("unit_required")
    unit = db.session.get(Unit, unit_id)
    if unit is None or not path_in_scope(unit.path, admin_scope_paths(actor)):
        raise NotFound("unit_not_found")
    if not unit.active:
        raise ValidationFailed("unit_inactive")
    return unit


def create_user(origin: Origin, data: UserData, *, password: str,
                roles: set[Role] | None = None, must_change_password: bool = True) -> User:
    """An administrator creates a user in a unit of their subtree; learners by default."""
    actor = origin.actor
    require_admin(actor)
    name = clean_name(data.name)
    phone, username = clean_phone(data.phone), clean_username(data.username)
    if not phone and not username:
        raise ValidationFailed("login_required_field")
    unit = _scoped_unit(actor, data.unit_id)
    _check_unique(phone, username)
    check_password_strength(password)
    user = User(name=name, phone=phone, username=username, unit=unit, active=True,
                password_hash=hash_password(password), must_change_password=must_change_password)
    _apply_profile(user, data)
    db.session.add(user)
    db.session.flush()
    for role in roles or {Role.LEARNER}:
        _grant(actor, user, role, unit if role is Role.UNIT_ADMIN else None)
    record(origin, "user.create", "user", user.id, f"新建用户 {name}（{unit.name}）",
           unit_path=unit.path, details={"roles": sorted(r.value for r in (roles or {Role.LEARNER}))})
    return user


def update_user(origin: Origin, user: User, data: UserData) -> User:
    """An administrator edits a user they may manage; a new unit must be an active one of the
    actor's subtree; the audit entry lists what changed (account, unit, position, types)."""
    actor = origin.actor
    require_manage_user(actor, user)
    before = _audited_fields(user)
    name = clean_name(data.name)
    phone, username = clean_phone(data.phone), clean_username(data.username)
    if not phone and not username:
        raise ValidationFailed("login_required_field")
    unit = user.unit if data.unit_id == user.unit_id else _scoped_unit(actor, data.unit_id)
    _check_unique(phone, username, exclude_id=user.id)
    user.name, user.phone, user.username, user.unit = name, phone, username, unit
    _apply_profile(user, data)
    db.session.flush()
    after = _audited_fields(user)
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    identity.touch(user, origin.now)  # cached sign-ins must see the change
    record(origin, "user.update", "user", user.id, f"修改用户 {name}", unit_path=unit.path,
           details={"changed": changed})
    return user


def _audited_fields(user: User) -> dict:
    """What a user.update audit entry compares before and after."""
    p = user.profile
    return {"name": user.name, "phone": user.phone, "username": user.username,
            "unit": user.unit.name, "position": p.position if p else None,
            "cadre_type": p.cadre_type.value if p else None,
            "enterprise_type": p.enterprise_type.value if p else None}


def _active_platform_admins() -> int:
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(User.id))).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == Role.PLATFORM_ADMIN, User.active.is_(True))) or 0


def set_user_active(origin: Origin, user: User, active: bool) -> User:
    """Deactivate (never delete) a user; their sessions and tokens end at once."""
    actor = origin.actor
    require_manage_user(actor, user)
    if user.active == active:
        return user
    if not active:
        if user.id == actor.id:
            raise ValidationFailed("cannot_deactivate_self")
        if user.has_role(Role.PLATFORM_ADMIN) and _active_platform_admins() <= 1:
            raise Conflict("last_platform_admin")
        user.session_nonce = new_session_nonce()
        revoke_all_tokens(user, now=origin.now)
    elif not user.unit.active:
        raise ValidationFailed("user_unit_inactive")
    user.active = active
    db.session.flush()
    record(origin, "user.activate" if active else "user.deactivate", "user", user.id,
           f"{'启用' if active else '停用'}用户 {user.name}", unit_path=user.unit.path)
    return user


def reset_password(origin: Origin, user: User, new_password: str | None = None) -> str:
    """Set a new initial password (generated if not given) that must be changed at sign-in."""
    require_manage_user(origin.actor, user)
    password = new_password or generate_initial_password()
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.session_nonce = new_session_nonce()
    revoke_all_tokens(user, now=origin.now)
    for login in filter(None, (user.phone, user.username)):
        throttle.clear_account(login)
    db.session.flush()
    record(origin, "user.reset_password", "user", user.id, f"重置用户 {user.name} 的密码",
           unit_path=user.unit.path)
    return password


def generate_initial_password() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwxyz"
    return "".join(secrets.choice(alphabet) for _ in range(4)) + \
        "".join(secrets.choice("23456789") for _ in range(4))


# ---------------------------------------------------------------- roles

def _grant(actor: User, user: User, role: Role, unit: Unit | None) -> RoleGrant:
    if role not in grantable_roles(actor):
        raise PermissionDenied("role_not_grantable", role=ROLE_LABELS[role])
    if role is Role.UNIT_ADMIN:
        if unit is None:
            raise ValidationFailed("role_unit_required")
        if not path_in_scope(unit.path, admin_scope_paths(actor)):
            raise NotFound("unit_not_found")
        if not unit.active:
            raise ValidationFailed("unit_inactive")
    else:
        unit = None
    existing = next((g for g in user.role_grants
                     if g.role is role and (g.unit_id == (unit.id if unit else None))), None)
    if existing:
        return existing
    grant = RoleGrant(role=role, unit=unit)
    user.role_grants.append(grant)
    db.session.flush()
    return grant


def grant_role(origin: Origin, user: User, role: Role, unit_id: int | None = None) -> RoleGrant:
    """Give a role the actor may grant (unit administrators: learner or unit administrator);
    a unit administrator's grant is bound to an active unit of the granter's subtree (any
    other unit id is refused as not found)."""
    require_manage_user(origin.actor, user)
    unit = db.session.get(Unit, unit_id) if unit_id else None
    if unit_id and unit is None:
        raise NotFound("unit_not_found")
    grant = _grant(origin.actor, user, role, unit)
    where = f"（{unit.name}）" if grant.unit else ""
    identity.touch(user, origin.now)  # cached sign-ins must see the change
    record(origin, "role.grant", "user", user.id, f"授予 {user.name} {ROLE_LABELS[role]}{where}",
           unit_path=user.unit.path, details={"role": role.value, "unit_id": grant.unit_id})
    return grant


def revoke_role(origin: Origin, user: User, grant_id: int) -> Role:
    """Take back one of the user's grants (404 for a grant id of anyone else); never the last
    active platform administrator's, nor one the actor could not have granted. Returns the
    role taken back."""
    actor = origin.actor
    require_manage_user(actor, user)
    grant = next((g for g in user.role_grants if g.id == grant_id), None)
    if grant is None:
        raise NotFound("grant_not_found")
    if grant.role not in grantable_roles(actor):
        raise PermissionDenied("role_not_grantable", role=ROLE_LABELS[grant.role])
    if grant.role is Role.PLATFORM_ADMIN:
        if user.id == actor.id:
            raise ValidationFailed("cannot_demote_self")
        if user.active and _active_platform_admins() <= 1:
            raise Conflict("last_platform_admin")
    if grant.role is Role.UNIT_ADMIN and not path_in_scope(grant.unit.path, admin_scope_paths(actor)):
        raise PermissionDenied("unit_out_of_scope")
    label, unit_id = ROLE_LABELS[grant.role], grant.unit_id
    user.role_grants.remove(grant)
    db.session.flush()
    identity.touch(user, origin.now)  # cached sign-ins must see the change
    record(origin, "role.revoke", "user", user.id, f"取消 {user.name} 的{label}角色",
           unit_path=user.unit.path, details={"role": grant.role.value, "unit_id": unit_id})
    return grant.role


# ---------------------------------------------------------------- listing users

@dataclass
class UserFilter:
    q: str | None = None
    unit_id: int | None = None
    role: Role | None = None
    active: bool | None = None
    cadre_type: CadreType | None = None
    enterprise_type: EnterpriseType | None = None


def users_query(actor: User, flt: UserFilter):
    """Users in the actor's subtree matching the filter, by unit path then name."""
    require_admin(actor)
    stmt = (sa.select(User).join(Unit, Unit.id == User.unit_id)
            .outerjoin(CadreProfile, CadreProfile.user_id == User.id)
            .where(unit_scope_condition(admin_scope_paths(actor)))
            .options(selectinload(User.unit), selectinload(User.profile),
                     selectinload(User.role_grants).selectinload(RoleGrant.unit)))
    if flt.unit_id:
        unit = org.get_unit(flt.unit_id)
        require_unit_in_scope(actor, unit)
        stmt = stmt.where(org.subtree_condition(unit.path))
    if flt.q:
        q = flt.q.strip()[:50]
        stmt = stmt.where(sa.or_(User.name.contains(q, autoescape=True),
                                 User.phone.contains(q, autoescape=True),
                                 User.username.contains(q, autoescape=True)))
    if flt.role:
        stmt = stmt.where(User.id.in_(sa.select(RoleGrant.user_id).where(RoleGrant.role == flt.role)))
    if flt.active is not None:
        stmt = stmt.where(User.active.is_(flt.active))
    if flt.cadre_type:
        stmt = stmt.where(CadreProfile.cadre_type == flt.cadre_type)
    if flt.enterprise_type:
        stmt = stmt.where(CadreProfile.enterprise_type == flt.enterprise_type)
    return stmt.order_by(Unit.path, User.name, User.id)


# ---------------------------------------------------------------- units (administered)

def units_in_scope(actor: User) -> list[Unit]:
    """The unit tree the actor may see, depth-first."""
    require_admin(actor)
    scope = admin_scope_paths(actor)
    if scope is None:
        return org.list_tree()
    units: list[Unit] = []
    for path in scope:
        root = db.session.scalar(sa.select(Unit).where(Unit.path == path))
        if root and not any(path.startswith(p) and p != path for p in scope):
            units.extend(org.list_tree(root))
    return units


def visible_unit(actor: User, unit_id: int) -> Unit:
    """A unit of the actor's subtree (administrators only); any other id is a 404."""
    require_admin(actor)
    unit = org.get_unit(unit_id)
    require_unit_in_scope(actor, unit)
    return unit


def member_counts(unit_ids) -> dict[int, tuple[int, int]]:
    """Members directly in each unit, as {unit_id: (active, all)}: one grouped query."""
    ids = list(unit_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(User.unit_id, sa.func.count(),
                  sa.func.coalesce(sa.func.sum(sa.case((User.active.is_(True), 1), else_=0)), 0))
        .where(User.unit_id.in_(ids)).group_by(User.unit_id))
    return {unit_id: (int(active), int(total)) for unit_id, total, active in rows}


def user_audit_entries(actor: User, user: User, *, limit: int = 10) -> list[AuditEntry]:
    """The newest audit entries about one user that the actor may read."""
    stmt = audit_query(actor, AuditFilter(object_type="user"))
    return list(db.session.scalars(stmt.where(AuditEntry.object_id == user.id).limit(limit)))


def _count_users(unit: Unit, *, only_active: bool) -> int:
    stmt = sa.select(sa.func.count()).select_from(User).where(User.unit_id == unit.id)
    if only_active:
        stmt = stmt.where(User.active.is_(True))
    return db.session.scalar(stmt) or 0


def create_unit(origin: Origin, *, name: str, kind: UnitKind, parent_id: int | None,
                sort_order: int = 0) -> Unit:
    """Platform administrators only; the tree rules are org.create_unit's."""
    require_platform_admin(origin.actor)
    unit = org.create_unit(name=name, kind=kind, parent_id=parent_id, sort_order=sort_order)
    record(origin, "unit.create", "unit", unit.id,
           f"新建单位 {unit.name}（{org.KIND_LABELS[kind]}）", unit_path=unit.path)
    return unit


def rename_unit(origin: Origin, unit: Unit, name: str, sort_order: int | None = None) -> Unit:
    """Platform administrators only; a change of name or sort order is audited."""
    require_platform_admin(origin.actor)
    old, old_order = unit.name, unit.sort_order
    org.rename_unit(unit, name, sort_order=sort_order)
    if old != unit.name:
        record(origin, "unit.rename", "unit", unit.id, f"单位 {old} 更名为 {unit.name}",
               unit_path=unit.path, details={"from": old, "to": unit.name})
    if old_order != unit.sort_order:
        record(origin, "unit.reorder", "unit", unit.id,
               f"单位 {unit.name} 排序由 {old_order} 改为 {unit.sort_order}",
               unit_path=unit.path, details={"from": old_order, "to": unit.sort_order})
    return unit


def move_unit(origin: Origin, unit: Unit, new_parent_id: int) -> Unit:
    """Platform administrators only; the whole subtree moves (org.move_unit's rules)."""
    require_platform_admin(origin.actor)
    old_parent = unit.parent.name if unit.parent else ""
    new_parent = org.get_unit(new_parent_id)
    unit = org.move_unit(unit, new_parent)
    record(origin, "unit.move", "unit", unit.id, f"单位 {unit.name} 从 {old_parent} 移至 {new_parent.name}",
           unit_path=unit.path, details={"from": old_parent, "to": new_parent.name})
    return unit


def set_unit_active(origin: Origin, unit: Unit, active: bool) -> Unit:
    """Deactivate a unit only when it has no active sub-units and no active members."""
    require_platform_admin(origin.actor)
    if unit.active == active:
        return unit
    if not active:
        members = _count_users(unit, only_active=True)
        if members:
            raise Conflict("unit_has_active_members", count=members)
    org.set_unit_active(unit, active)
    record(origin, "unit.activate" if active else "unit.deactivate", "unit", unit.id,
           f"{'启用' if active else '停用'}单位 {unit.name}", unit_path=unit.path)
    return unit


def delete_unit(origin: Origin, unit: Unit) -> None:
    """Delete a unit created by mistake: never one with members, sub-units or role grants."""
    require_platform_admin(origin.actor)
    has_history = _count_users(unit, only_active=False) or db.session.scalar(
        sa.select(sa.func.count()).select_from(RoleGrant).where(RoleGrant.unit_id == unit.id))
    if has_history:
        raise Conflict("unit_not_deletable")
    name, unit_id, path = unit.name, unit.id, unit.path
    try:
        # Anything else still pointing at the unit (an import batch, later course audiences)
        # makes the database refuse; that is the same answer, not a server error.
        with db.session.begin_nested():
            org.delete_empty_unit(unit)
    except sa.exc.IntegrityError:
        raise Conflict("unit_not_deletable") from None
    record(origin, "unit.delete", "unit", unit_id, f"删除单位 {name}", unit_path=path)


def create_platform_admin(*, username: str, name: str, phone: str | None, password: str,
                          now: datetime) -> User:
    """First administrator, from the command line: at the district federation (区总工会)."""
    root = db.session.scalar(sa.select(Unit).where(Unit.kind == UnitKind.DISTRICT))
    if root is None:
        root = org.create_unit(name="滨海新区总工会", kind=UnitKind.DISTRICT, parent_id=None)
    username, phone = clean_username(username), clean_phone(phone)
    if not username:
        raise ValidationFailed("username_invalid")
    _check_unique(phone, username)
    check_password_strength(password)
    user = User(name=clean_name(name), username=username, phone=phone, unit=root, active=True,
                password_hash=hash_password(password), must_change_password=False)
    user.role_grants.append(RoleGrant(role=Role.PLATFORM_ADMIN, granted_at=now))
    user.profile = CadreProfile(cadre_type=CadreType.FULL_TIME,
                                enterprise_type=EnterpriseType.PUBLIC_SECTOR)
    db.session.add(user)
    db.session.flush()
    return user
