from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import TimestampMixin, UTCDateTime, enum_column, utcnow
from lms.extensions import db


class AssetKind(enum.Enum):
    VIDEO = "video"
    AUDIO = "audio"
    PDF = "pdf"
    FILE = "file"        # an attachment served as a download


class AssetStatus(enum.Enum):
    UPLOADING = "uploading"    # 上传中
    QUEUED = "queued"          # 排队中
    PROCESSING = "processing"  # 处理中
    READY = "ready"            # 已就绪
    FAILED = "failed"          # 失败


class Upload(db.Model):
    """A resumable (tus) upload in progress; its bytes grow in a file under the media folder."""

    __tablename__ = "uploads"

    #: the tus upload id: random, unguessable, part of the upload URL
    id: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    owner_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), nullable=False, index=True)
    filename: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    length: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)
    offset: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    #: random name of the partial file under MEDIA_DIR/uploads
    stored_name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    #: what the finished file becomes: "lesson_media", "attachment"
    purpose: Mapped[str] = mapped_column(sa.String(32), nullable=False)
    #: tus Upload-Metadata, decoded (e.g. lesson id)
    meta: Mapped[dict] = mapped_column(sa.JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id"), nullable=True)


class MediaAsset(TimestampMixin, db.Model):
    """An uploaded file: kept under a random name outside static/, probed and transcoded."""

    __tablename__ = "media_assets"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), nullable=True, index=True)
    kind: Mapped[AssetKind] = mapped_column(enum_column(AssetKind, name="asset_kind"), nullable=False)
    status: Mapped[AssetStatus] = mapped_column(enum_column(AssetStatus, name="asset_status"),
                                                nullable=False, default=AssetStatus.QUEUED)
    #: the name the uploader gave (shown, never used as a path)
    original_name: Mapped[str] = mapped_column(sa.String(255), nullable=False)
    #: random name of the original under MEDIA_DIR/originals; removed once renditions exist
    stored_name: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False, default=0)
    content_type: Mapped[str | None] = mapped_column(sa.String(100), nullable=True)
    duration_seconds: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    width: Mapped[int | None] = mapped_column(nullable=True)
    height: Mapped[int | None] = mapped_column(nullable=True)
    has_video: Mapped[bool] = mapped_column(nullable=False, default=False)
    has_audio: Mapped[bool] = mapped_column(nullable=False, default=False)
    #: random name of the poster JPEG under MEDIA_DIR/renditions
    poster_name: Mapped[str | None] = mapped_column(sa.String(64), nullable=True)
    #: why processing failed, for people
    error: Mapped[str | None] = mapped_column(sa.String(500), nullable=True)
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("jobs.id"), nullable=True)

    renditions: Mapped[list[Rendition]] = relationship(
        back_populates="asset", cascade="all, delete-orphan", order_by="Rendition.height.desc()")


class Rendition(db.Model):
    """A playable output of an asset: H.264/AAC MP4 at one height, or AAC audio."""

    __tablename__ = "renditions"
    __table_args__ = (sa.UniqueConstraint("asset_id", "label", name="uq_renditions_asset_id_label"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("media_assets.id", ondelete="CASCADE"),
                                          nullable=False)
    #: "720p", "360p" or "audio"
    label: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    stored_name: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    content_type: Mapped[str] = mapped_column(sa.String(50), nullable=False)
    width: Mapped[int | None] = mapped_column(nullable=True)
    height: Mapped[int | None] = mapped_column(nullable=True)
    size: Mapped[int] = mapped_column(sa.BigInteger, nullable=False)

    asset: Mapped[MediaAsset] = relationship(back_populates="renditions")
