"""Home page and health check."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, render_template
from flask_login import current_user

from lms.courses.services import continue_course
from lms.extensions import db

bp = Blueprint("web", __name__)


@bp.get("/")
def home():
    if not current_user.is_authenticated:
        return render_template("home_public.html")
    user = current_user._get_current_object()
    return render_template("home.html", user=user, recent=continue_course(user))


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError:
        return {"status": "unavailable"}, 503
    return {"status": "ok"}
