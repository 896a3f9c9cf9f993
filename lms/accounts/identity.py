"""Who is signed in, per request, cheaply: the hottest read path of every page and API call.

Each request checks the account with one small indexed query (active, session nonce, version),
so deactivation, password changes and revoked tokens take effect at once. The user with unit,
profile and role grants is kept per process as a detached snapshot for a short time and
merged into the request's session without SQL while its version (users.updated_at) holds;
every change that affects identity or permissions bumps that version (see `touch`).
"""
from __future__ import annotations

import secrets
import threading
import time
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload

from lms.accounts.models import ApiToken, RoleGrant, User
from lms.extensions import db

SNAPSHOT_TTL = 30.0       # seconds a snapshot is reused even while its version holds
SNAPSHOT_MAX = 10_000     # entries kept per process before the cache starts over

_USER_GRAPH = (joinedload(User.unit), joinedload(User.profile),
               selectinload(User.role_grants).joinedload(RoleGrant.unit))
_cache: dict[int, tuple[datetime, float, User]] = {}
_lock = threading.Lock()


def touch(user: User, now: datetime) -> None:
    """Mark a change of the user's identity, roles or profile: cached snapshots are stale."""
    user.updated_at = now
    forget(user.id)


def forget(user_id: int) -> None:
    with _lock:
        _cache.pop(user_id, None)


def forget_all() -> None:
    with _lock:
        _cache.clear()


def _snapshot(user: User) -> User:
    """A detached copy of the loaded user graph (no SQL: merge without load)."""
    holder = Session(expire_on_commit=False)
    copy = holder.merge(user, load=False)
    holder.expunge_all()
    return copy


def _current_user(user_id: int, version: datetime) -> User:
    """The user attached to this request's session, from the snapshot when still current."""
    with _lock:
        entry = _cache.get(user_id)
    if entry and entry[0] == version and time.monotonic() - entry[1] < SNAPSHOT_TTL:
        return db.session.merge(entry[2], load=False)
    user = db.session.execute(
        sa.select(User).options(*_USER_GRAPH).where(User.id == user_id)).unique().scalar_one()
    with _lock:
        if len(_cache) >= SNAPSHOT_MAX:
            _cache.clear()
        _cache[user_id] = (version, time.monotonic(), _snapshot(user))
    return user


def load_session_user(session_id: str) -> User | None:
    """Flask-Login's loader: "<id>:<nonce>"; a changed nonce or a deactivation ends it."""
    try:
        raw_id, nonce = session_id.split(":", 1)
        user_id = int(raw_id)
    except (ValueError, AttributeError):
        return None
    row = db.session.execute(
        sa.select(User.active, User.session_nonce, User.updated_at).where(User.id == user_id)
    ).first()
    if row is None or not row.active or not secrets.compare_digest(row.session_nonce, nonce):
        forget(user_id)
        return None
    return _current_user(user_id, row.updated_at)


def user_for_token(digest: str, *, now: datetime) -> User | None:
    """The active user behind an unexpired, unrevoked token (by its SHA-256 digest)."""
    row = db.session.execute(
        sa.select(ApiToken.user_id, ApiToken.expires_at, User.updated_at)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None),
               User.active.is_(True))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    return _current_user(row.user_id, row.updated_at)
