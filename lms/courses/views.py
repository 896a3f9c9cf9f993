"""Learner pages: the catalogue, a course, a lesson (player, document), media by permission."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("courses", __name__, url_prefix="/courses", template_folder="templates")
