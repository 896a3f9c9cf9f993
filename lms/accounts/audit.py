"""The audit log: append-only entries for every administrative change, browsed by admins."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from lms.accounts.models import AuditEntry, User
from lms.accounts.permissions import admin_scope_paths, require_admin, scope_condition
from lms.extensions import db


@dataclass(frozen=True)
class Origin:
    """Who acts and from where: passed by views to every administrative service."""
    actor: User
    ip: str | None
    now: datetime


def record(origin: Origin, action: str, object_type: str, object_id: int | None, summary: str,
           *, unit_path: str | None = None, details: dict | None = None) -> AuditEntry:
    entry = AuditEntry(at=origin.now, actor_id=origin.actor.id, actor_name=origin.actor.name,
                       ip=origin.ip, action=action, object_type=object_type, object_id=object_id,
                       unit_path=unit_path, summary=summary[:300], details=details or {})
    db.session.add(entry)
    db.session.flush()
    return entry


@dataclass
class AuditFilter:
    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str | None = None


def audit_query(actor: User, flt: AuditFilter):
    """Entries the actor may read, newest first: unit admins see their subtree's entries."""
    require_admin(actor)
    stmt = sa.select(AuditEntry).where(scope_condition(AuditEntry.unit_path, admin_scope_paths(actor)))
    if flt.actor:
        stmt = stmt.where(AuditEntry.actor_name.contains(flt.actor.strip(), autoescape=True))
    if flt.action:
        stmt = stmt.where(AuditEntry.action.startswith(flt.action.strip(), autoescape=True))
    if flt.object_type:
        stmt = stmt.where(AuditEntry.object_type == flt.object_type)
    if flt.since:
        stmt = stmt.where(AuditEntry.at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEntry.at < flt.until)
    if flt.q:
        stmt = stmt.where(AuditEntry.summary.contains(flt.q.strip(), autoescape=True))
    return stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
