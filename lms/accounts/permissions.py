"""Who may do what. One function per object kind; unit scoping is a subtree (path prefix) check."""
from __future__ import annotations

import sqlalchemy as sa

from lms.accounts.models import Role, RoleGrant, User
from lms.errors import NotFound, PermissionDenied
from lms.org.models import Unit
from lms.org.services import subtree_condition

ADMIN_ROLES = {Role.PLATFORM_ADMIN, Role.UNIT_ADMIN}
#: roles a unit administrator may hand out inside their subtree
UNIT_ADMIN_GRANTABLE = {Role.LEARNER, Role.UNIT_ADMIN}


def is_platform_admin(actor: User | None) -> bool:
    return bool(actor and actor.active and actor.has_role(Role.PLATFORM_ADMIN))


def is_admin(actor: User | None) -> bool:
    return bool(actor and actor.active and (actor.roles() & ADMIN_ROLES))


def admin_scope_paths(actor: User | None) -> list[str] | None:
    """Unit paths the actor administers: None means everything (platform administrator)."""
    if is_platform_admin(actor):
        return None
    if not actor or not actor.active:
        return []
    return sorted({g.unit.path for g in actor.role_grants
                   if g.role is Role.UNIT_ADMIN and g.unit is not None})


def path_in_scope(path: str, scope: list[str] | None) -> bool:
    return scope is None or any(path.startswith(p) for p in scope)


def scope_condition(column, scope: list[str] | None):
    """SQL condition on a unit-path column for the scope (True for everything)."""
    if scope is None:
        return sa.true()
    if not scope:
        return sa.false()
    return sa.or_(*(column.startswith(p, autoescape=True) for p in scope))


def unit_scope_condition(scope: list[str] | None):
    return scope_condition(Unit.path, scope)


def require_admin(actor: User | None) -> None:
    if not is_admin(actor):
        raise PermissionDenied("forbidden")


def require_platform_admin(actor: User | None) -> None:
    if not is_platform_admin(actor):
        raise PermissionDenied("forbidden")


def can_view_unit(actor: User | None, unit: Unit) -> bool:
    return is_admin(actor) and path_in_scope(unit.path, admin_scope_paths(actor))


def require_unit_in_scope(actor: User | None, unit: Unit) -> None:
    """Refuse a unit outside the actor's subtree as if it did not exist."""
    if not can_view_unit(actor, unit):
        raise NotFound("unit_not_found")


def can_manage_user(actor: User | None, user: User) -> bool:
    """Platform admins manage everyone; a unit admin manages the users of their subtree, except
    platform admins and unit admins whose own scope reaches outside that subtree."""
    if is_platform_admin(actor):
        return True
    scope = admin_scope_paths(actor)
    if not scope or not path_in_scope(user.unit.path, scope):
        return False
    for grant in user.role_grants:
        if grant.role is Role.PLATFORM_ADMIN:
            return False
        if grant.role is Role.UNIT_ADMIN and not path_in_scope(grant.unit.path, scope):
            return False
    return True


def require_manage_user(actor: User | None, user: User) -> None:
    """Refuse a user outside the actor's subtree as if they did not exist (404), and a user
    in it whom the actor may not manage with 403."""
    require_admin(actor)
    if not path_in_scope(user.unit.path, admin_scope_paths(actor)):
        raise NotFound("user_not_found")
    if not can_manage_user(actor, user):
        raise PermissionDenied("forbidden")


def can_see_full_phone(viewer: User | None, user: User) -> bool:
    """A phone number is shown in full to its owner and to administrators of the owner's unit."""
    if viewer is None:
        return False
    if viewer.id == user.id:
        return True
    return is_admin(viewer) and path_in_scope(user.unit.path, admin_scope_paths(viewer))


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "****"


def visible_phone(viewer: User | None, user: User) -> str:
    return (user.phone or "") if can_see_full_phone(viewer, user) else mask_phone(user.phone)


def grantable_roles(actor: User | None) -> set[Role]:
    if is_platform_admin(actor):
        return set(Role)
    if is_admin(actor):
        return set(UNIT_ADMIN_GRANTABLE)
    return set()


def unit_admin_grants_query(user_id: int):
    return sa.select(RoleGrant).where(RoleGrant.user_id == user_id, RoleGrant.role == Role.UNIT_ADMIN)


__all__ = ["admin_scope_paths", "can_manage_user", "can_see_full_phone", "can_view_unit",
           "grantable_roles", "is_admin", "is_platform_admin", "mask_phone", "path_in_scope",
           "require_admin", "require_manage_user", "require_platform_admin",
           "require_unit_in_scope", "scope_condition", "subtree_condition",
           "unit_scope_condition", "visible_phone"]
