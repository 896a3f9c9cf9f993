"""/api/v1: tokens, the caller, and (for administrators) users and units of their subtree."""
from __future__ import annotations

from flask import current_app, g
from flask_smorest import Blueprint

from lms.accounts import services
from lms.accounts.models import Role, User
from lms.accounts.permissions import require_admin, require_manage_user, visible_phone
from lms.accounts.schemas import (MeResponse, TokenRequest, TokenResponse, UnitList, UserListArgs,
                                  UserOut, UserPage)
from lms.api import SECURITY, bearer_token, token_required
from lms.db import utcnow
from lms.errors import NotFound
from lms.extensions import db
from lms.web.auth import client_ip

blp = Blueprint("accounts_api", __name__, url_prefix="/api/v1", description="账号与单位")


def _roles(user: User) -> list[str]:
    return sorted({g.role.value for g in user.role_grants})


def _unit(unit) -> dict:
    return {"id": unit.id, "name": unit.name, "kind": unit.kind.value}


def _profile(user: User) -> dict | None:
    p = user.profile
    if p is None:
        return None
    return {"position": p.position, "cadre_type": p.cadre_type.value,
            "enterprise_type": p.enterprise_type.value,
            "gender": p.gender.value if p.gender else None}


def user_out(viewer: User, user: User) -> dict:
    return {"id": user.id, "name": user.name, "username": user.username,
            "phone": visible_phone(viewer, user), "active": user.active, "unit": _unit(user.unit),
            "roles": _roles(user), "cadre_profile": _profile(user)}


@blp.post("/auth/token")
@blp.arguments(TokenRequest)
@blp.response(200, TokenResponse)
@blp.alt_response(401, description="账号或密码错误")
@blp.alt_response(429, description="失败次数过多，稍后再试")
def issue_token(body):
    """Sign in with phone number or username and password; the same throttle as the page."""
    g.commit_on_error = True  # keep the failure count of a refused sign-in
    user = services.authenticate(body["login"], body["password"], ip=client_ip(), now=utcnow())
    raw, token = services.issue_token(user, now=utcnow(), ttl=current_app.config["TOKEN_TTL"])
    return {"token": raw, "expires_at": token.expires_at,
            "user": {"id": user.id, "name": user.name, "roles": _roles(user)}}


@blp.delete("/auth/token")
@blp.doc(security=SECURITY)
@blp.response(204)
@token_required
def revoke_token():
    """Revoke the caller's own token."""
    services.revoke_token(bearer_token(), now=utcnow())


@blp.get("/me")
@blp.doc(security=SECURITY)
@blp.response(200, MeResponse)
@token_required
def me():
    user = g.api_user
    return {**user_out(user, user), "must_change_password": user.must_change_password}


@blp.get("/users")
@blp.doc(security=SECURITY)
@blp.arguments(UserListArgs, location="query")
@blp.response(200, UserPage)
@token_required
def list_users(args):
    """Users of the caller's subtree (administrators only)."""
    viewer = g.api_user
    flt = services.UserFilter(q=args.get("q"), unit_id=args.get("unit_id"),
                              role=Role(args["role"]) if args.get("role") else None,
                              active=args.get("active"))
    page = db.paginate(services.users_query(viewer, flt), page=args["page"],
                       per_page=args["per_page"], error_out=False)
    return {"items": [user_out(viewer, u) for u in page.items], "total": page.total,
            "page": page.page, "per_page": page.per_page}


@blp.get("/users/<int:user_id>")
@blp.doc(security=SECURITY)
@blp.response(200, UserOut)
@token_required
def get_user(user_id: int):
    viewer = g.api_user
    require_admin(viewer)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("user_not_found")
    require_manage_user(viewer, user)
    return user_out(viewer, user)


@blp.get("/units")
@blp.doc(security=SECURITY)
@blp.response(200, UnitList)
@token_required
def list_units():
    """The unit tree of the caller's subtree, depth-first."""
    units = services.units_in_scope(g.api_user)
    return {"items": [{"id": u.id, "name": u.name, "kind": u.kind.value, "parent_id": u.parent_id,
                       "depth": u.depth, "active": u.active} for u in units]}
