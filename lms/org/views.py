"""Unit tree administration pages."""
from __future__ import annotations

from flask import Blueprint, abort

from lms.web.auth import admin_required

bp = Blueprint("org", __name__, url_prefix="/admin/units", template_folder="templates")


@bp.get("/")
@admin_required
def units():
    abort(404)
