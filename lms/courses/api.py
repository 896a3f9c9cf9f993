"""/api/v1/courses: the catalogue and one course's outline."""
from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("courses_api", __name__, url_prefix="/api/v1", description="课程")
