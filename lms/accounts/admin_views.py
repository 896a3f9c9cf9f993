"""Administration pages: users, roles, the audit log (imports and exports: import_views).

Every route is for administrators (403 for others); a user is loaded through
services.managed_user, so an id outside the actor's subtree is a 404 and a user in it whom the
actor may not manage a 403, before anything is shown or changed. A refused change re-renders
the page with the service's message and its 4xx status, so the request rolls back.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.accounts import services
from lms.accounts.audit import AuditFilter, audit_query
from lms.accounts.forms import (AuditFilterForm, GrantRoleForm, UserCreateForm, UserFilterForm,
                                UserForm)
from lms.accounts.models import Role, User
from lms.accounts.permissions import can_manage_user, grantable_roles
from lms.errors import DomainError
from lms.extensions import db
from lms.messages import render as message
from lms.org.forms import choices, unit_choices
from lms.web import LOCAL_TZ
from lms.web.auth import admin_required, origin

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

USERS_PER_PAGE = 25
AUDIT_PER_PAGE = 50
USER_AUDIT_ENTRIES = 10
FILTER_ARGS = ("q", "unit_id", "role", "status", "cadre_type", "enterprise_type")
#: the user list's filters under the names the export (imports.export) reads
EXPORT_ARGS = {"q": "q", "unit_id": "unit_id", "role": "role", "status": "active",
               "cadre_type": "cadre_type", "enterprise_type": "enterprise_type"}


def _actor() -> User:
    return current_user._get_current_object()


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _valid(field):
    """A filter field's value, or None when blank or refused (the filter is then ignored)."""
    if field.errors or field.data in ("", None):
        return None
    return field.data.strip() if isinstance(field.data, str) else field.data


def _drop_refused_changes() -> None:
    """Drop whatever a refused service had flushed, so the page shows the database as it is
    (the request rolls back anyway: its status is 4xx)."""
    db.session.rollback()


def _roles_in_order(roles) -> list[Role]:
    return [r for r in services.ROLE_LABELS if r in roles]


def _role_choices(actor: User, blank: str | None = None):
    """Only the roles the actor may grant are offered."""
    return choices(((r.value, services.ROLE_LABELS[r])
                    for r in _roles_in_order(grantable_roles(actor))), blank=blank)


# ---------------------------------------------------------------- the user list

@bp.get("/users")
@admin_required
def users():
    actor = _actor()
    form = UserFilterForm(request.args)
    form.unit_id.choices = unit_choices(services.units_in_scope(actor), blank="全部单位")
    form.validate()
    status = _valid(form.status)
    flt = services.UserFilter(q=_valid(form.q), unit_id=_valid(form.unit_id), role=_valid(form.role),
                              active=None if status is None else status == "active",
                              cadre_type=_valid(form.cadre_type),
                              enterprise_type=_valid(form.enterprise_type))
    page = db.paginate(services.users_query(actor, flt), page=_page_number(),
                       per_page=USERS_PER_PAGE, error_out=False)
    has_export = "imports.export" in current_app.view_functions
    export_args = {EXPORT_ARGS[k]: v for k, v in request.args.items() if k in EXPORT_ARGS and v}
    return render_template("accounts/admin/users.html", form=form, page=page,
                           can_manage_user=can_manage_user, has_export=has_export,
                           export_args=export_args,
                           filtered=any(request.args.get(k) for k in FILTER_ARGS))


# ---------------------------------------------------------------- create and edit

def _user_data(form: UserForm) -> services.UserData:
    return services.UserData(
        name=form.name.data or "", unit_id=form.unit_id.data, phone=form.phone.data,
        username=form.username.data, position=form.position.data,
        cadre_type=form.cadre_type.data, enterprise_type=form.enterprise_type.data,
        gender=form.gender.data, email=form.email.data, ethnicity=form.ethnicity.data,
        education=form.education.data, political_status=form.political_status.data)


def _form_data(user: User) -> dict:
    p = user.profile
    data = {"name": user.name, "phone": user.phone, "username": user.username,
            "unit_id": user.unit_id}
    if p is not None:
        data.update(position=p.position, cadre_type=p.cadre_type,
                    enterprise_type=p.enterprise_type, gender=p.gender, email=p.email,
                    ethnicity=p.ethnicity, education=p.education,
                    political_status=p.political_status)
    return data


def _placeable_units(actor: User, current=None) -> list:
    """Units a user can be placed in: active ones of the scope (and the user's own)."""
    return [u for u in services.units_in_scope(actor) if u.active or u is current]


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new():
    actor = _actor()
    form = UserCreateForm()
    if request.method == "GET":  # "在此单位新建用户" from a unit's page
        form.unit_id.data = request.args.get("unit_id", type=int)
    form.unit_id.choices = unit_choices(_placeable_units(actor), blank="请选择单位")
    form.roles.choices = _role_choices(actor)
    status = 200
    if form.validate_on_submit():
        password = form.password.data or services.generate_initial_password()
        try:
            user = services.create_user(origin(), _user_data(form), password=password,
                                        roles=set(form.roles.data) or None)
        except DomainError as exc:
            _drop_refused_changes()
            form.form_errors.append(exc.message)
            status = exc.http_status
        else:
            # Shown once, on this response only: never in a URL or the (signed, readable)
            # session cookie.
            return render_template("accounts/admin/password.html", user=user, created=True,
                                   password=None if form.password.data else password)
    elif request.method == "POST":
        status = 422
    return render_template("accounts/admin/user_form.html", form=form, user=None), status


@bp.route("/users/<int:user_id>/edit", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int):
    actor = _actor()
    user = services.managed_user(actor, user_id)
    form = UserForm(data=_form_data(user))
    form.unit_id.choices = unit_choices(_placeable_units(actor, user.unit), blank="请选择单位")
    status = 200
    if form.validate_on_submit():
        try:
            services.update_user(origin(), user, _user_data(form))
        except DomainError as exc:
            _drop_refused_changes()
            form.form_errors.append(exc.message)
            status = exc.http_status
        else:
            flash(message("user_updated", name=user.name), "success")
            return redirect(url_for(".user_detail", user_id=user.id))
    elif request.method == "POST":
        status = 422
    return render_template("accounts/admin/user_form.html", form=form, user=user), status


# ---------------------------------------------------------------- one user: detail and actions

def _detail(user: User, *, grant_form: GrantRoleForm | None = None, error: str | None = None,
            status: int = 200):
    actor = _actor()
    if grant_form is None:
        grant_form = GrantRoleForm(formdata=None, data={"unit_id": user.unit_id})
    grant_form.role.choices = _role_choices(actor, blank="请选择角色")
    grant_form.unit_id.choices = unit_choices(_placeable_units(actor), blank="请选择单位")
    entries = services.user_audit_entries(actor, user, limit=USER_AUDIT_ENTRIES)
    return render_template("accounts/admin/user_detail.html", user=user, grant_form=grant_form,
                           entries=entries, error=error,
                           revocable=_roles_in_order(grantable_roles(actor))), status


def _refused_detail(user: User, exc: DomainError, grant_form: GrantRoleForm | None = None):
    _drop_refused_changes()
    return _detail(user, grant_form=grant_form, error=exc.message, status=exc.http_status)


@bp.get("/users/<int:user_id>")
@admin_required
def user_detail(user_id: int):
    return _detail(services.managed_user(_actor(), user_id))


def _set_active(user_id: int, active: bool):
    user = services.managed_user(_actor(), user_id)
    try:
        services.set_user_active(origin(), user, active)
    except DomainError as exc:
        return _refused_detail(user, exc)
    flash(message("user_activated" if active else "user_deactivated", name=user.name), "success")
    return redirect(url_for(".user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/deactivate")
@admin_required
def user_deactivate(user_id: int):
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/activate")
@admin_required
def user_activate(user_id: int):
    return _set_active(user_id, True)


@bp.post("/users/<int:user_id>/reset-password")
@admin_required
def user_reset_password(user_id: int):
    user = services.managed_user(_actor(), user_id)
    try:
        password = services.reset_password(origin(), user)
    except DomainError as exc:
        return _refused_detail(user, exc)
    return render_template("accounts/admin/password.html", user=user, created=False,
                           password=password)


@bp.post("/users/<int:user_id>/roles")
@admin_required
def user_grant_role(user_id: int):
    user = services.managed_user(_actor(), user_id)
    form = GrantRoleForm()
    if not form.validate():
        return _detail(user, grant_form=form, status=422)
    role = form.role.data
    try:
        services.grant_role(origin(), user, role, form.unit_id.data)
    except DomainError as exc:
        return _refused_detail(user, exc, grant_form=form)
    flash(message("role_granted", name=user.name, role=services.ROLE_LABELS[role]), "success")
    return redirect(url_for(".user_detail", user_id=user.id))


@bp.post("/users/<int:user_id>/roles/<int:grant_id>/revoke")
@admin_required
def user_revoke_role(user_id: int, grant_id: int):
    user = services.managed_user(_actor(), user_id)
    try:
        role = services.revoke_role(origin(), user, grant_id)
    except DomainError as exc:
        return _refused_detail(user, exc)
    flash(message("role_revoked", name=user.name, role=services.ROLE_LABELS[role]), "success")
    return redirect(url_for(".user_detail", user_id=user.id))


# ---------------------------------------------------------------- the audit log (read-only)

def _local_day_start(day: date | None, *, plus_days: int = 0) -> datetime | None:
    """Midnight of a Beijing-time calendar day, in UTC (what the log stores)."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=plus_days), time.min,
                            tzinfo=LOCAL_TZ).astimezone(timezone.utc)


@bp.get("/audit")
@admin_required
def audit():
    form = AuditFilterForm(request.args)
    form.validate()
    flt = AuditFilter(actor=_valid(form.actor), action=_valid(form.action),
                      object_type=_valid(form.object_type),
                      since=_local_day_start(_valid(form.since)),
                      until=_local_day_start(_valid(form.until), plus_days=1),  # inclusive
                      q=_valid(form.q))
    page = db.paginate(audit_query(_actor(), flt), page=_page_number(), per_page=AUDIT_PER_PAGE,
                       error_out=False)
    return render_template("accounts/admin/audit.html", form=form, page=page,
                           filtered=any(v for k, v in request.args.items() if k != "page"))
