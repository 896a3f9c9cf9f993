"""/api/v1 plumbing: bearer-token authentication, JSON errors, the OpenAPI document."""
from __future__ import annotations

from functools import wraps

from flask import Flask, g, request

from lms.accounts.services import user_for_token
from lms.db import utcnow
from lms.errors import Unauthenticated
from lms.extensions import api, csrf

BEARER = "Bearer "
SECURITY = [{"bearerAuth": []}]


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    return header[len(BEARER):].strip() or None if header.startswith(BEARER) else None


def token_required(view):
    """Authenticate the caller by bearer token (one indexed query); sets g.api_user."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        user = user_for_token(bearer_token() or "", now=utcnow())
        if user is None:
            raise Unauthenticated("token_invalid")
        g.api_user = user
        return view(*args, **kwargs)
    return wrapped


def init_api(app: Flask) -> None:
    """Document the bearer scheme; domains then add their blueprints."""
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer",
                       "description": "POST /api/v1/auth/token 取得的令牌"})


def register_api_blueprint(blueprint) -> None:
    """The API authenticates by bearer token, never by cookie, so it needs no CSRF token."""
    csrf.exempt(blueprint)
    api.register_blueprint(blueprint)
