"""Administration pages: users, roles, imports, the audit log."""
from __future__ import annotations

from flask import Blueprint, abort

from lms.web.auth import admin_required

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


@bp.get("/users")
@admin_required
def users():
    abort(404)


@bp.get("/audit")
@admin_required
def audit():
    abort(404)
