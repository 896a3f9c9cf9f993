"""`lms search ...`: the Whoosh index."""
from __future__ import annotations

from flask.cli import AppGroup

search_cli = AppGroup("search", help="The search index.")
