"""Unit tree administration pages.

Every administrator sees the tree of their own subtree (read-only for unit administrators);
only platform administrators change it: every change route answers 403 to anyone else, also to
a hand-made POST. A refused change re-renders the unit's page with the service's message and
its 4xx status, so the request rolls back.
"""
from __future__ import annotations

from math import ceil

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lms.accounts import services
from lms.accounts.permissions import is_platform_admin
from lms.errors import DomainError
from lms.extensions import db
from lms.messages import render as message
from lms.org.forms import UnitCreateForm, UnitMoveForm, UnitRenameForm, unit_choices
from lms.org import services as unit_tree
from lms.org.models import ALLOWED_PARENTS, Unit
from lms.web.auth import admin_required, origin, platform_admin_required

bp = Blueprint("org", __name__, url_prefix="/admin/units", template_folder="templates")

UNITS_PER_PAGE = 100


class ListPage:
    """One page of an already ordered list (the tree is ordered depth-first in Python), with
    the attributes the `pager` macro reads."""

    def __init__(self, items: list, page: int, per_page: int) -> None:
        self.total = len(items)
        self.per_page = per_page
        self.pages = max(ceil(self.total / per_page), 1)
        self.page = min(max(page, 1), self.pages)
        start = (self.page - 1) * per_page
        self.items = items[start:start + per_page]
        self.has_prev, self.has_next = self.page > 1, self.page < self.pages
        self.prev_num = self.page - 1 if self.has_prev else None
        self.next_num = self.page + 1 if self.has_next else None


def _actor():
    return current_user._get_current_object()


def _parent_choices(units: list[Unit]):
    return unit_choices(units, blank="请选择上级单位", with_kind=True)


@bp.get("/")
@admin_required
def units():
    units_list = services.units_in_scope(_actor())
    page = ListPage(units_list, request.args.get("page", 1, type=int) or 1, UNITS_PER_PAGE)
    counts = services.member_counts(u.id for u in page.items)
    base_depth = min((u.depth for u in units_list), default=0)
    return render_template("org/units.html", page=page, counts=counts, base_depth=base_depth,
                           editable=is_platform_admin(_actor()))


@bp.route("/new", methods=["GET", "POST"])
@platform_admin_required
def create():
    form = UnitCreateForm()
    if request.method == "GET":
        form.parent_id.data = request.args.get("parent", type=int)
    form.parent_id.choices = _parent_choices(unit_tree.parent_candidates())
    status = 200
    if form.validate_on_submit():
        try:
            unit = services.create_unit(origin(), name=form.name.data, kind=form.kind.data,
                                        parent_id=form.parent_id.data,
                                        sort_order=form.sort_order.data or 0)
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = exc.http_status
        else:
            flash(message("unit_created", name=unit.name), "success")
            return redirect(url_for(".unit", unit_id=unit.id))
    elif request.method == "POST":
        status = 422
    allowed = {kind.value: sorted(p.value for p in parents)
               for kind, parents in ALLOWED_PARENTS.items()}
    return render_template("org/unit_new.html", form=form, allowed_parents=allowed), status


def _unit_page(unit: Unit, *, rename_form=None, move_form=None, error: str | None = None,
               status: int = 200):
    editable = is_platform_admin(_actor())
    if editable:
        rename_form = rename_form or UnitRenameForm(
            formdata=None, data={"name": unit.name, "sort_order": unit.sort_order})
        move_form = move_form or UnitMoveForm(formdata=None, data={"parent_id": unit.parent_id})
        move_form.parent_id.choices = _parent_choices(
            unit_tree.parent_candidates(unit.kind, exclude=unit))
    counts = services.member_counts([unit.id]).get(unit.id, (0, 0))
    return render_template("org/unit.html", unit=unit, editable=editable, counts=counts,
                           rename_form=rename_form, move_form=move_form, error=error,
                           children=unit_tree.count_children(unit)), status


def _refused(unit_id: int, exc: DomainError, **forms):
    db.session.rollback()
    return _unit_page(unit_tree.get_unit(unit_id), error=exc.message, status=exc.http_status, **forms)


@bp.get("/<int:unit_id>")
@admin_required
def unit(unit_id: int):
    return _unit_page(services.visible_unit(_actor(), unit_id))


@bp.post("/<int:unit_id>/rename")
@platform_admin_required
def rename(unit_id: int):
    unit = unit_tree.get_unit(unit_id)
    form = UnitRenameForm()
    if not form.validate():
        return _unit_page(unit, rename_form=form, status=422)
    try:
        services.rename_unit(origin(), unit, form.name.data, form.sort_order.data or 0)
    except DomainError as exc:
        return _refused(unit_id, exc, rename_form=form)
    flash(message("unit_saved", name=unit.name), "success")
    return redirect(url_for(".unit", unit_id=unit.id))


@bp.post("/<int:unit_id>/move")
@platform_admin_required
def move(unit_id: int):
    unit = unit_tree.get_unit(unit_id)
    form = UnitMoveForm()
    if not form.validate():
        return _unit_page(unit, move_form=form, status=422)
    try:
        unit = services.move_unit(origin(), unit, form.parent_id.data)
    except DomainError as exc:
        return _refused(unit_id, exc, move_form=form)
    flash(message("unit_moved", name=unit.name, parent=unit.parent.name), "success")
    return redirect(url_for(".unit", unit_id=unit.id))


def _set_active(unit_id: int, active: bool):
    unit = unit_tree.get_unit(unit_id)
    try:
        services.set_unit_active(origin(), unit, active)
    except DomainError as exc:
        return _refused(unit_id, exc)
    flash(message("unit_activated" if active else "unit_deactivated", name=unit.name), "success")
    return redirect(url_for(".unit", unit_id=unit.id))


@bp.post("/<int:unit_id>/deactivate")
@platform_admin_required
def deactivate(unit_id: int):
    return _set_active(unit_id, False)


@bp.post("/<int:unit_id>/activate")
@platform_admin_required
def activate(unit_id: int):
    return _set_active(unit_id, True)


@bp.post("/<int:unit_id>/delete")
@platform_admin_required
def delete(unit_id: int):
    unit = unit_tree.get_unit(unit_id)
    name = unit.name
    try:
        services.delete_unit(origin(), unit)
    except DomainError as exc:
        return _refused(unit_id, exc)
    flash(message("unit_deleted", name=name), "success")
    return redirect(url_for(".units"))
