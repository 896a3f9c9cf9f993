"""Pages for importing cadres from Excel and exporting them."""
from __future__ import annotations

from flask import Blueprint, abort

from lms.web.auth import admin_required

bp = Blueprint("imports", __name__, url_prefix="/admin/imports", template_folder="templates")


@bp.get("/")
@admin_required
def index():
    abort(404)
