"""Media pages and endpoints: the tus resumable upload endpoint, processing status."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("media", __name__, url_prefix="/media", template_folder="templates")
