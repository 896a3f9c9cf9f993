from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import UTCDateTime, enum_column, utcnow
from lms.extensions import db


class ChangeOp(enum.Enum):
    UPSERT = "upsert"
    DELETE = "delete"


class SearchChange(db.Model):
    """The change log: a searchable row changed, written in the same transaction as the change.
    The worker tails it into the index; the database stays the source of truth."""

    __tablename__ = "search_changes"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    #: registered document type, e.g. "course", "question"
    doc_type: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    doc_id: Mapped[int] = mapped_column(nullable=False)
    op: Mapped[ChangeOp] = mapped_column(enum_column(ChangeOp, name="change_op"), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)


class IndexCursor(db.Model):
    """How far one index (one per host at scale) has read the change log."""

    __tablename__ = "index_cursors"

    name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    last_change_id: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
