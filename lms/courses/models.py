from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import CadreType, User
from lms.db import TimestampMixin, UTCDateTime, enum_column
from lms.extensions import db
from lms.media.models import MediaAsset
from lms.org.models import Unit


class CourseModule(enum.Enum):
    THEORY = "theory"            # 理论知识
    PARTY = "party"              # 党性教育
    CAPABILITY = "capability"    # 能力提升
    UPDATE = "update"            # 知识更新


class TeachingForm(enum.Enum):
    LECTURE = "lecture"          # 讲授式
    CASE = "case"                # 案例式
    SEMINAR = "seminar"          # 研讨式
    EXPERIENTIAL = "experiential"  # 体验式
    SIMULATION = "simulation"    # 模拟式


class CourseStatus(enum.Enum):
    DRAFT = "draft"              # 草稿
    PUBLISHED = "published"      # 已发布
    UNPUBLISHED = "unpublished"  # 已下架


class LessonKind(enum.Enum):
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"        # rich text
    PDF = "pdf"


class Course(TimestampMixin, db.Model):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    #: sanitised HTML
    summary_html: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: what the author typed (Markdown with a safe subset of HTML); summary_html is made from it
    summary_source: Mapped[str] = mapped_column(sa.Text, nullable=False, default="",
                                                server_default="")
    module: Mapped[CourseModule] = mapped_column(enum_column(CourseModule, name="course_module"),
                                                 nullable=False, index=True)
    #: a topic within the module, e.g. 工会法, 集体协商
    topic: Mapped[str | None] = mapped_column(sa.String(50), nullable=True, index=True)
    teaching_form: Mapped[TeachingForm] = mapped_column(
        enum_column(TeachingForm, name="teaching_form"), nullable=False, default=TeachingForm.LECTURE)
    #: the instructor shown to learners (an account, or only a name for a guest lecturer)
    instructor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), nullable=True, index=True)
    instructor_name: Mapped[str] = mapped_column(sa.String(50), nullable=False, default="")
    #: who created it and may edit it (besides platform admins)
    owner_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), nullable=True, index=True)
    status: Mapped[CourseStatus] = mapped_column(enum_column(CourseStatus, name="course_status"),
                                                 nullable=False, default=CourseStatus.DRAFT, index=True)
    #: nominal 学时 of the whole course
    nominal_hours: Mapped[Decimal] = mapped_column(sa.Numeric(5, 1), nullable=False, default=Decimal("1.0"))
    #: sum of the published lessons' durations, kept up to date by the services
    duration_seconds: Mapped[int] = mapped_column(nullable=False, default=0)
    cover_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id"), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    #: identity of a course loaded from content/ (its folder name): re-imports update it
    source_key: Mapped[str | None] = mapped_column(sa.String(100), nullable=True, unique=True)

    instructor: Mapped[User | None] = relationship(foreign_keys=[instructor_id])
    chapters: Mapped[list[Chapter]] = relationship(
        back_populates="course", cascade="all, delete-orphan", order_by="Chapter.position")
    audiences: Mapped[list[CourseAudience]] = relationship(
        back_populates="course", cascade="all, delete-orphan")


class Chapter(db.Model):
    __tablename__ = "chapters"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"),
                                           nullable=False, index=True)
    title: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    position: Mapped[int] = mapped_column(nullable=False, default=0)

    course: Mapped[Course] = relationship(back_populates="chapters")
    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="chapter", cascade="all, delete-orphan", order_by="Lesson.position")


class Lesson(TimestampMixin, db.Model):
    __tablename__ = "lessons"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"),
                                           nullable=False, index=True)
    chapter_id: Mapped[int] = mapped_column(sa.ForeignKey("chapters.id", ondelete="CASCADE"),
                                            nullable=False, index=True)
    title: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    kind: Mapped[LessonKind] = mapped_column(enum_column(LessonKind, name="lesson_kind"), nullable=False)
    position: Mapped[int] = mapped_column(nullable=False, default=0)
    #: sanitised HTML: the text of a document lesson, notes under a video
    body_html: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    #: what the author typed (Markdown with a safe subset of HTML); body_html is made from it
    body_source: Mapped[str] = mapped_column(sa.Text, nullable=False, default="",
                                             server_default="")
    #: the video, audio or PDF shown by this lesson
    media_asset_id: Mapped[int | None] = mapped_column(sa.ForeignKey("media_assets.id"), nullable=True)
    duration_seconds: Mapped[int] = mapped_column(nullable=False, default=0)
    #: longest reading time credited for a document lesson (study hours)
    max_reading_seconds: Mapped[int] = mapped_column(nullable=False, default=600)
    published: Mapped[bool] = mapped_column(nullable=False, default=False)

    chapter: Mapped[Chapter] = relationship(back_populates="lessons")
    #: the lesson's course (course_id is kept equal to chapter.course_id by the services)
    course: Mapped[Course] = relationship(foreign_keys=[course_id])
    media_asset: Mapped[MediaAsset | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="lesson", cascade="all, delete-orphan", order_by="Attachment.id")


class Attachment(db.Model):
    """A file to download beside a lesson (slides, a policy text)."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    lesson_id: Mapped[int] = mapped_column(sa.ForeignKey("lessons.id", ondelete="CASCADE"),
                                           nullable=False, index=True)
    asset_id: Mapped[int] = mapped_column(sa.ForeignKey("media_assets.id"), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(255), nullable=False)

    lesson: Mapped[Lesson] = relationship(back_populates="attachments")
    asset: Mapped[MediaAsset] = relationship()


class CourseAudience(db.Model):
    """A course made required (必修) for the cadres matching every given condition in a year."""

    __tablename__ = "course_audiences"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"),
                                           nullable=False, index=True)
    year: Mapped[int] = mapped_column(nullable=False, index=True)
    #: None: every cadre type
    cadre_type: Mapped[CadreType | None] = mapped_column(
        enum_column(CadreType, name="audience_cadre_type"), nullable=True)
    #: None: the whole district; else this unit's subtree
    unit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("units.id"), nullable=True)
    #: None: every position; else the exact position (职务), e.g. 工会主席
    position: Mapped[str | None] = mapped_column(sa.String(50), nullable=True)

    course: Mapped[Course] = relationship(back_populates="audiences")
    unit: Mapped[Unit | None] = relationship()


class CourseVisit(db.Model):
    """A learner opened a lesson page of a published course: "started" counts these rows
    (one per learner and course) until play sessions (progress) take over."""

    __tablename__ = "course_visits"
    __table_args__ = (sa.UniqueConstraint("user_id", "course_id", name="uq_course_visits_user_id_course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("courses.id", ondelete="CASCADE"),
                                           nullable=False, index=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
