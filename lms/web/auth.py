"""Page-side authentication helpers: decorators, the request's Origin, client address."""
from __future__ import annotations

from functools import wraps

from flask import abort, request
from flask_login import current_user, login_required

from lms.accounts.audit import Origin
from lms.accounts.permissions import is_admin, is_platform_admin
from lms.db import utcnow


def client_ip() -> str | None:
    return (request.remote_addr or "")[:45] or None


def origin() -> Origin:
    """Who acts, from where, and when: the explicit arguments administrative services take."""
    return Origin(actor=current_user._get_current_object(), ip=client_ip(), now=utcnow())


def admin_required(view):
    """Platform or unit administrators only (403 for others)."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not is_admin(current_user):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def platform_admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not is_platform_admin(current_user):
            abort(403)
        return view(*args, **kwargs)
    return wrapped
