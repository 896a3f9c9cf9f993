"""`lms content ...`: course packages from content/."""
from __future__ import annotations

from flask.cli import AppGroup

content_cli = AppGroup("content", help="Course packages (content/).")
