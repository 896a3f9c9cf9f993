"""Courses: the catalogue, authoring (courses, chapters, lessons, attachments), publishing,
audiences (必修), visits. Services take explicit arguments, raise lms.errors.*, and flush.

Every change to a course that a learner could find (create, edit, publish, unpublish, delete,
and a lesson's publication, whose title is part of the course's search document) appends to
the search change log in the same transaction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from markupsafe import escape
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import defer, selectinload

from lms import search
from lms.accounts.models import CadreType, Role, RoleGrant, User
from lms.accounts.permissions import is_platform_admin
from lms.courses.models import (Attachment, Chapter, Course, CourseAudience, CourseModule,
                                CourseStatus, CourseVisit, Lesson, LessonKind, TeachingForm)
from lms.courses.permissions import (can_edit_course, can_view_lesson, require_author,
                                     require_edit_course, require_set_audiences)
from lms.db import Paged
from lms.errors import Conflict, NotFound, ValidationFailed
from lms.extensions import db
from lms.media import uploads as media_uploads
from lms.media.models import AssetKind, AssetStatus, MediaAsset
from lms.org.models import Unit
from lms.richtext import plain_text, render_markdown

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

MODULE_LABELS = {
    CourseModule.THEORY: "理论知识",
    CourseModule.PARTY: "党性教育",
    CourseModule.CAPABILITY: "能力提升",
    CourseModule.UPDATE: "知识更新",
}
#: topics suggested per module on the authoring form (the catalogue lists those in use)
MODULE_TOPICS = {
    CourseModule.THEORY: ["工会法", "工会章程", "劳动法律法规", "工会基本理论"],
    CourseModule.PARTY: ["党的二十大精神", "党史学习教育", "理想信念", "党风廉政建设"],
    CourseModule.CAPABILITY: ["集体协商", "劳动争议调解", "职工代表大会", "会员发展", "经费管理",
                              "群众工作方法"],
    CourseModule.UPDATE: ["新就业形态", "安全生产", "数字工会", "政策解读"],
}
TEACHING_FORM_LABELS = {
    TeachingForm.LECTURE: "讲授式",
    TeachingForm.CASE: "案例式",
    TeachingForm.SEMINAR: "研讨式",
    TeachingForm.EXPERIENTIAL: "体验式",
    TeachingForm.SIMULATION: "模拟式",
}
LESSON_KIND_LABELS = {
    LessonKind.VIDEO: "视频",
    LessonKind.AUDIO: "音频",
    LessonKind.DOCUMENT: "图文",
    LessonKind.PDF: "PDF",
}
COURSE_STATUS_LABELS = {
    CourseStatus.DRAFT: "草稿",
    CourseStatus.PUBLISHED: "已发布",
    CourseStatus.UNPUBLISHED: "已下架",
}
ASSET_STATUS_LABELS = {
    AssetStatus.UPLOADING: "上传中",
    AssetStatus.QUEUED: "排队中",
    AssetStatus.PROCESSING: "处理中",
    AssetStatus.READY: "已就绪",
    AssetStatus.FAILED: "失败",
}
#: the catalogue's length filter: key -> (label, from seconds, below seconds or None)
LENGTHS = {
    "short": ("30 分钟以内", 0, 30 * 60),
    "medium": ("30–60 分钟", 30 * 60, 60 * 60 + 1),
    "long": ("60 分钟以上", 60 * 60 + 1, None),
}
#: the asset kind each media lesson kind plays
MEDIA_KINDS = {LessonKind.VIDEO: AssetKind.VIDEO, LessonKind.AUDIO: AssetKind.AUDIO,
               LessonKind.PDF: AssetKind.PDF}
ASSET_KIND_LABELS = {AssetKind.VIDEO: "视频", AssetKind.AUDIO: "音频", AssetKind.PDF: "PDF",
                     AssetKind.FILE: "文件"}

TITLE_MAX = 120
TOPIC_MAX = 50
NAME_MAX = 50
POSITION_MAX = 50
SOURCE_MAX = 50_000
MAX_NOMINAL_HOURS = Decimal("100")
#: at most this many keyword hits are considered (then filtered and paged in the database)
MAX_SEARCH_HITS = 500
SEARCH_PAGE = 100
#: a repeated visit within this time is not written again
VISIT_REFRESH = timedelta(minutes=10)
DOC_TYPE = "course"


def local_year(now: datetime) -> int:
    """The calendar year in Beijing time: audiences (必修) are per year."""
    return now.astimezone(LOCAL_TZ).year


def format_duration(seconds: int | float | None) -> str:
    """Human length: "12 秒", "8 分钟", "1 小时 5 分钟"."""
    seconds = int(round(seconds or 0))
    if seconds <= 0:
        return "—"
    if seconds < 60:
        return f"{seconds} 秒"
    minutes = math.ceil(seconds / 60) if seconds < 3600 else round(seconds / 60)
    if minutes < 60:
        return f"{minutes} 分钟"
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")


def format_hours(hours) -> str:
    """学时 without a useless ".0": "2", "1.5"."""
    value = Decimal(str(hours or 0)).quantize(Decimal("0.1"))
    return str(value.to_integral_value()) if value == value.to_integral_value() else str(value)


def format_clock(seconds: int | float | None) -> str:
    """A lesson's length as on a player: "0:12", "12:05", "1:02:03"."""
    seconds = int(round(seconds or 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# ---------------------------------------------------------------- lookups

def _get(model, row_id: int, missing: str):
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound(missing)
    return row


def get_course(course_id: int) -> Course:
    return _get(Course, course_id, "course_not_found")


def get_chapter(chapter_id: int) -> Chapter:
    return _get(Chapter, chapter_id, "chapter_not_found")


def get_lesson(lesson_id: int) -> Lesson:
    return _get(Lesson, lesson_id, "lesson_not_found")


def get_attachment(attachment_id: int) -> Attachment:
    return _get(Attachment, attachment_id, "attachment_not_found")


def get_audience(audience_id: int) -> CourseAudience:
    return _get(CourseAudience, audience_id, "audience_not_found")


def instructor_accounts() -> list[User]:
    """Active accounts holding the instructor role, by name (the course form's choices)."""
    stmt = (sa.select(User).join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.role == Role.INSTRUCTOR, User.active.is_(True))
            .order_by(User.name, User.id).distinct())
    return list(db.session.scalars(stmt))


# ---------------------------------------------------------------- courses

@dataclass
class CourseData:
    title: str
    module: CourseModule | None
    teaching_form: TeachingForm | None = TeachingForm.LECTURE
    topic: str | None = None
    summary_source: str = ""
    #: an account with the instructor role; else instructor_name is a guest lecturer's name
    instructor_id: int | None = None
    instructor_name: str | None = None
    nominal_hours: Decimal | float | str | None = Decimal("1.0")


def _clean_text(value: str | None, *, limit: int, required_code: str | None = None,
                too_long_code: str) -> str:
    text = " ".join((value or "").split())
    if required_code and not text:
        raise ValidationFailed(required_code)
    if len(text) > limit:
        raise ValidationFailed(too_long_code, max=limit)
    return text


def _clean_source(source: str | None) -> str:
    source = (source or "").replace("\r\n", "\n").strip()
    if len(source) > SOURCE_MAX:
        raise ValidationFailed("text_too_long", max=SOURCE_MAX)
    return source


def _clean_hours(value) -> Decimal:
    try:
        hours = Decimal(str(value if value not in (None, "") else "")).quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise ValidationFailed("nominal_hours_invalid", max=MAX_NOMINAL_HOURS) from None
    if not (Decimal("0") < hours <= MAX_NOMINAL_HOURS):
        raise ValidationFailed("nominal_hours_invalid", max=MAX_NOMINAL_HOURS)
    return hours


def _instructor(actor: User, data: CourseData, current: Course | None) -> tuple[int | None, str]:
    """(instructor_id, shown name): an instructor account, or a guest lecturer's name; an
    instructor who names no one teaches the course themselves."""
    name = _clean_text(data.instructor_name, limit=NAME_MAX, too_long_code="instructor_name_too_long")
    if data.instructor_id:
        if current is not None and data.instructor_id == current.instructor_id and current.instructor:
            return current.instructor_id, current.instructor.name
        user = db.session.get(User, data.instructor_id)
        if user is None or not user.active or not user.has_role(Role.INSTRUCTOR):
            raise ValidationFailed("instructor_invalid")
        return user.id, user.name
    if name:
        return None, name
    if actor.has_role(Role.INSTRUCTOR):
        return actor.id, actor.name
    raise ValidationFailed("instructor_required")


def _apply_course(actor: User, course: Course, data: CourseData, *, new: bool) -> None:
    if data.module is None:
        raise ValidationFailed("course_module_required")
    course.title = _clean_text(data.title, limit=TITLE_MAX, required_code="course_title_required",
                               too_long_code="course_title_too_long")
    course.module = data.module
    course.teaching_form = data.teaching_form or TeachingForm.LECTURE
    course.topic = _clean_text(data.topic, limit=TOPIC_MAX, too_long_code="topic_too_long") or None
    course.summary_source = _clean_source(data.summary_source)
    course.summary_html = render_markdown(course.summary_source)
    course.nominal_hours = _clean_hours(data.nominal_hours)
    course.instructor_id, course.instructor_name = _instructor(actor, data, None if new else course)


def create_course(actor: User, data: CourseData, *, now: datetime,
                  source_key: str | None = None) -> Course:
    """Instructors and platform admins create courses; the creator owns the course (a draft)."""
    require_author(actor)
    course = Course(owner_id=actor.id, status=CourseStatus.DRAFT, duration_seconds=0,
                    source_key=source_key)
    _apply_course(actor, course, data, new=True)
    db.session.add(course)
    db.session.flush()
    search.record_change(DOC_TYPE, course.id, now=now)
    return course


def update_course(actor: User, course: Course, data: CourseData, *, now: datetime) -> Course:
    """The owner, the course's instructor or a platform admin edits the course's details."""
    require_edit_course(actor, course)
    _apply_course(actor, course, data, new=False)
    db.session.flush()
    search.record_change(DOC_TYPE, course.id, now=now)
    return course


def delete_course(actor: User, course: Course, *, now: datetime) -> None:
    """Only a course that is not published may be deleted (with its chapters and lessons)."""
    require_edit_course(actor, course)
    if course.status is CourseStatus.PUBLISHED:
        raise Conflict("course_delete_published")
    course_id = course.id
    db.session.delete(course)
    db.session.flush()
    search.record_change(DOC_TYPE, course_id, now=now, deleted=True)


def published_lesson_count(course: Course) -> int:
    return db.session.scalar(sa.select(sa.func.count(Lesson.id))
                             .where(Lesson.course_id == course.id, Lesson.published.is_(True))) or 0


def recompute_duration(course: Course) -> None:
    """course.duration_seconds = the sum of its published lessons' durations."""
    db.session.flush()
    course.duration_seconds = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Lesson.duration_seconds), 0))
        .where(Lesson.course_id == course.id, Lesson.published.is_(True))) or 0


def publish_course(actor: User, course: Course, *, now: datetime) -> Course:
    """A course is published only with at least one published lesson."""
    require_edit_course(actor, course)
    if published_lesson_count(course) == 0:
        raise Conflict("course_needs_published_lesson")
    course.status = CourseStatus.PUBLISHED
    course.published_at = now
    recompute_duration(course)
    db.session.flush()
    search.record_change(DOC_TYPE, course.id, now=now)
    return course


def unpublish_course(actor: User, course: Course, *, now: datetime) -> Course:
    """Take a course off the catalogue (已下架): platform admins any, editors their own."""
    require_edit_course(actor, course)
    if course.status is not CourseStatus.PUBLISHED:
        raise Conflict("course_not_published")
    course.status = CourseStatus.UNPUBLISHED
    db.session.flush()
    search.record_change(DOC_TYPE, course.id, now=now)
    return course


# ---------------------------------------------------------------- chapters

def clean_chapter_title(title: str | None) -> str:
    return _clean_text(title, limit=TITLE_MAX, required_code="chapter_title_required",
                       too_long_code="chapter_title_too_long")


def add_chapter(actor: User, course: Course, title: str) -> Chapter:
    require_edit_course(actor, course)
    last = db.session.scalar(sa.select(sa.func.max(Chapter.position))
                             .where(Chapter.course_id == course.id))
    chapter = Chapter(course=course, title=clean_chapter_title(title),
                      position=(last + 1) if last is not None else 0)
    db.session.add(chapter)
    db.session.flush()
    return chapter


def rename_chapter(actor: User, chapter: Chapter, title: str, *, now: datetime) -> Chapter:
    require_edit_course(actor, chapter.course)
    chapter.title = clean_chapter_title(title)
    db.session.flush()
    search.record_change(DOC_TYPE, chapter.course_id, now=now)
    return chapter


def delete_chapter(actor: User, chapter: Chapter) -> None:
    """Only an empty chapter is deleted (its lessons must be deleted or moved first)."""
    require_edit_course(actor, chapter.course)
    if chapter.lessons:
        raise Conflict("chapter_not_empty")
    chapter.course.chapters.remove(chapter)  # delete-orphan: the row goes at flush
    db.session.flush()


def _move(items: list, item, direction: str) -> bool:
    """Swap `item` with its neighbour in `items` (ordered), renumbering positions 0..n-1."""
    if direction not in ("up", "down"):
        raise ValidationFailed("bad_direction")
    index = items.index(item)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(items):
        return False
    items[index], items[other] = items[other], items[index]
    for position, each in enumerate(items):
        each.position = position
    return True


def move_chapter(actor: User, chapter: Chapter, direction: str) -> bool:
    """Move a chapter one place up or down; False when it is already first or last."""
    course = require_edit_course(actor, chapter.course)
    chapters = sorted(course.chapters, key=lambda c: (c.position, c.id))
    moved = _move(chapters, chapter, direction)
    db.session.flush()
    return moved


# ---------------------------------------------------------------- lessons

@dataclass
class LessonData:
    title: str
    kind: LessonKind | None
    body_source: str = ""


def apply_lesson(lesson: Lesson, data: LessonData) -> None:
    if data.kind is None:
        raise ValidationFailed("lesson_kind_required")
    lesson.title = _clean_text(data.title, limit=TITLE_MAX, required_code="lesson_title_required",
                               too_long_code="lesson_title_too_long")
    lesson.body_source = _clean_source(data.body_source)
    lesson.body_html = render_markdown(lesson.body_source)


def add_lesson(actor: User, chapter: Chapter, data: LessonData, *, now: datetime) -> Lesson:
    """A new lesson (unpublished) at the end of the chapter."""
    require_edit_course(actor, chapter.course)
    last = db.session.scalar(sa.select(sa.func.max(Lesson.position))
                             .where(Lesson.chapter_id == chapter.id))
    lesson = Lesson(chapter=chapter, course_id=chapter.course_id, kind=data.kind,
                    position=(last + 1) if last is not None else 0, published=False,
                    duration_seconds=0)
    apply_lesson(lesson, data)
    db.session.add(lesson)
    db.session.flush()
    return lesson


def update_lesson(actor: User, lesson: Lesson, data: LessonData, *, now: datetime) -> Lesson:
    """Edit a lesson's title and text; its kind changes only while it is unpublished."""
    require_edit_course(actor, lesson.course)
    if data.kind is not None and data.kind is not lesson.kind:
        if lesson.published:
            raise Conflict("lesson_kind_locked")
        lesson.kind = data.kind
    apply_lesson(lesson, LessonData(title=data.title, kind=lesson.kind,
                                     body_source=data.body_source))
    if lesson.kind is LessonKind.DOCUMENT and lesson.published and not lesson.body_html:
        raise Conflict("lesson_body_empty")
    db.session.flush()
    if lesson.published:
        search.record_change(DOC_TYPE, lesson.course_id, now=now)
    return lesson


def delete_lesson(actor: User, lesson: Lesson) -> None:
    require_edit_course(actor, lesson.course)
    if lesson.published:
        raise Conflict("lesson_delete_published")
    lesson.chapter.lessons.remove(lesson)
    db.session.flush()


def move_lesson(actor: User, lesson: Lesson, direction: str) -> bool:
    """Move a lesson one place up or down within its chapter."""
    require_edit_course(actor, lesson.course)
    lessons = sorted(lesson.chapter.lessons, key=lambda x: (x.position, x.id))
    moved = _move(lessons, lesson, direction)
    db.session.flush()
    return moved


def publish_lesson(actor: User, lesson: Lesson, *, now: datetime) -> Lesson:
    """A video, audio or PDF lesson is published only when its media is ready (已就绪) and of
    its kind, and takes the media's duration; a document lesson needs its text."""
    require_edit_course(actor, lesson.course)
    expected = MEDIA_KINDS.get(lesson.kind)
    if expected is not None:
        asset = lesson.media_asset
        if asset is None:
            raise Conflict("lesson_media_missing")
        if asset.status is not AssetStatus.READY:
            raise Conflict("lesson_media_not_ready", status=ASSET_STATUS_LABELS[asset.status])
        if asset.kind is not expected:
            raise Conflict("lesson_media_wrong_kind", expected=ASSET_KIND_LABELS[expected],
                           actual=ASSET_KIND_LABELS.get(asset.kind, asset.kind.value))
        lesson.duration_seconds = (int(round(asset.duration_seconds or 0))
                                   if expected is not AssetKind.PDF else 0)
    elif not lesson.body_html:
        raise Conflict("lesson_body_empty")
    lesson.published = True
    recompute_duration(lesson.course)
    db.session.flush()
    search.record_change(DOC_TYPE, lesson.course_id, now=now)
    return lesson


def unpublish_lesson(actor: User, lesson: Lesson, *, now: datetime) -> Lesson:
    """A published course keeps at least one published lesson: unpublish the course first."""
    course = require_edit_course(actor, lesson.course)
    if not lesson.published:
        return lesson
    if course.status is CourseStatus.PUBLISHED and published_lesson_count(course) <= 1:
        raise Conflict("last_published_lesson")
    lesson.published = False
    recompute_duration(course)
    db.session.flush()
    search.record_change(DOC_TYPE, lesson.course_id, now=now)
    return lesson


# ---------------------------------------------------------------- media and attachments

def check_media_replaceable(actor: User, lesson: Lesson) -> None:
    """Whether new media may be uploaded for the lesson: by its editors, for a video, audio or
    PDF lesson that is not published (learners never meet a lesson whose media is missing)."""
    require_edit_course(actor, lesson.course)
    if lesson.kind not in MEDIA_KINDS:
        raise Conflict("lesson_kind_has_no_media")
    if lesson.published:
        raise Conflict("lesson_media_locked")


def attach_lesson_media(actor: User, lesson: Lesson, asset: MediaAsset) -> Lesson:
    """Link an uploaded asset as the lesson's media (replacing an earlier one)."""
    check_media_replaceable(actor, lesson)
    lesson.media_asset = asset
    lesson.duration_seconds = 0
    db.session.flush()
    return lesson


def check_attachment_allowed(actor: User, lesson: Lesson) -> None:
    require_edit_course(actor, lesson.course)


def add_attachment(actor: User, lesson: Lesson, asset: MediaAsset,
                   title: str | None = None) -> Attachment:
    """A file to download beside the lesson, named after the uploaded file unless titled."""
    check_attachment_allowed(actor, lesson)
    name = " ".join((title or asset.original_name or "").split())[:255] or "附件"
    attachment = Attachment(lesson=lesson, asset=asset, title=name)
    db.session.add(attachment)
    db.session.flush()
    return attachment


def delete_attachment(actor: User, attachment: Attachment) -> None:
    require_edit_course(actor, attachment.lesson.course)
    attachment.lesson.attachments.remove(attachment)
    db.session.flush()


def _lesson_from_meta(meta: dict) -> Lesson:
    try:
        lesson_id = int(str((meta or {}).get("lesson_id", "")).strip())
    except ValueError:
        raise NotFound("lesson_not_found") from None
    return get_lesson(lesson_id)


def _authorize_lesson_media(actor: User, meta: dict) -> None:
    check_media_replaceable(actor, _lesson_from_meta(meta))


def _complete_lesson_media(actor: User, asset: MediaAsset, meta: dict) -> None:
    attach_lesson_media(actor, _lesson_from_meta(meta), asset)


def _authorize_attachment(actor: User, meta: dict) -> None:
    check_attachment_allowed(actor, _lesson_from_meta(meta))


def _complete_attachment(actor: User, asset: MediaAsset, meta: dict) -> None:
    add_attachment(actor, _lesson_from_meta(meta), asset)


media_uploads.register_upload_purpose(
    "lesson_media", authorize=_authorize_lesson_media, on_complete=_complete_lesson_media,
    kinds={AssetKind.VIDEO, AssetKind.AUDIO, AssetKind.PDF})
media_uploads.register_upload_purpose(
    "attachment", authorize=_authorize_attachment, on_complete=_complete_attachment,
    kinds={AssetKind.FILE})


# ---------------------------------------------------------------- audiences (必修)

@dataclass
class AudienceData:
    year: int | None
    cadre_type: CadreType | None = None
    unit_id: int | None = None
    position: str | None = None


def add_audience(actor: User, course: Course, data: AudienceData) -> CourseAudience:
    """Make the course required in a year for the cadres matching every condition given
    (cadre type, a unit's subtree, an exact position); a condition left out matches all."""
    require_set_audiences(actor)
    if data.year is None or not 2000 <= data.year <= 2100:
        raise ValidationFailed("audience_year_invalid")
    unit = None
    if data.unit_id:
        unit = db.session.get(Unit, data.unit_id)
        if unit is None:
            raise NotFound("unit_not_found")
        if not unit.active:
            raise ValidationFailed("unit_inactive")
    position = _clean_text(data.position, limit=POSITION_MAX,
                           too_long_code="position_too_long") or None
    for existing in course.audiences:
        if (existing.year, existing.cadre_type, existing.unit_id, existing.position) == \
                (data.year, data.cadre_type, unit.id if unit else None, position):
            raise Conflict("audience_exists")
    audience = CourseAudience(course=course, year=data.year, cadre_type=data.cadre_type,
                              unit=unit, position=position)
    db.session.add(audience)
    db.session.flush()
    return audience


def remove_audience(actor: User, audience: CourseAudience) -> None:
    require_set_audiences(actor)
    audience.course.audiences.remove(audience)
    db.session.flush()


def _unit_and_ancestor_ids(user: User) -> list[int]:
    return [int(part) for part in (user.unit.path or "").strip("/").split("/") if part]


def required_clause(user: User, year: int):
    """SQL: the course (Course.id) is required for `user` in `year`, i.e. one of its audience
    rows of that year matches the user's cadre type, a unit at or above theirs, and position."""
    profile = user.profile
    cadre_type = profile.cadre_type if profile else None
    position = (profile.position or "").strip() if profile else ""
    return sa.exists().where(
        CourseAudience.course_id == Course.id,
        CourseAudience.year == year,
        sa.or_(CourseAudience.cadre_type.is_(None),
               CourseAudience.cadre_type == cadre_type if cadre_type else sa.false()),
        sa.or_(CourseAudience.unit_id.is_(None),
               CourseAudience.unit_id.in_(_unit_and_ancestor_ids(user))),
        sa.or_(CourseAudience.position.is_(None),
               CourseAudience.position == position if position else sa.false()),
    )


def required_course_ids(user: User, year: int, course_ids=None) -> set[int]:
    """Which courses (of `course_ids`, or all) are required for the user in the year."""
    stmt = sa.select(Course.id).where(required_clause(user, year))
    if course_ids is not None:
        ids = list(course_ids)
        if not ids:
            return set()
        stmt = stmt.where(Course.id.in_(ids))
    return set(db.session.scalars(stmt))


def is_required(user: User, course: Course, year: int) -> bool:
    return course.id in required_course_ids(user, year, [course.id])


# ---------------------------------------------------------------- the catalogue

@dataclass
class CatalogueFilter:
    module: CourseModule | None = None
    topic: str | None = None
    teaching_form: TeachingForm | None = None
    #: True: required (必修) for the viewer this year; False: electives (选修)
    required: bool | None = None
    instructor: str | None = None
    #: a key of LENGTHS
    length: str | None = None
    q: str | None = None

    def active(self) -> bool:
        return any(v not in (None, "") for v in (self.topic, self.teaching_form, self.required,
                                                 self.instructor, self.length, self.q))


@dataclass
class CataloguePage(Paged):
    items: list[Course]
    total: int
    page: int
    per_page: int
    #: course id -> the title with the query's words in <mark> (escaped HTML), keyword searches
    highlights: dict[int, str] = field(default_factory=dict)
    required_ids: set[int] = field(default_factory=set)


def mark_terms(title: str, text: str) -> str | None:
    """The title as HTML with each occurrence of the query's terms in <mark> (everything else
    escaped); None when no term occurs in it (the match was in the summary or lessons)."""
    terms = [t for t in {t.strip().lower() for t in (text or "").split()} if t]
    lowered = title.lower()
    spans = []
    for term in terms:
        start = lowered.find(term)
        while start >= 0:
            spans.append((start, start + len(term)))
            start = lowered.find(term, start + len(term))
    if not spans:
        return None
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out, at = [], 0
    for start, end in merged:
        out.append(str(escape(title[at:start])))
        out.append(f"<mark>{escape(title[start:end])}</mark>")
        at = end
    out.append(str(escape(title[at:])))
    return "".join(out)


def _search_ids(text: str, filters: dict) -> list[int]:
    """Up to MAX_SEARCH_HITS course ids in relevance order (the index pages by SEARCH_PAGE;
    no highlighting there: only the titles shown are marked, by mark_terms)."""
    ids: list[int] = []
    page = 1
    while len(ids) < MAX_SEARCH_HITS:
        result = search.query(DOC_TYPE, text, filters=filters, page=page, per_page=SEARCH_PAGE,
                              highlight=False)
        ids.extend(hit.doc_id for hit in result.hits)
        if not result.hits or len(ids) >= result.total:
            break
        page += 1
    return ids[:MAX_SEARCH_HITS]


def catalogue(viewer: User, flt: CatalogueFilter, *, page: int, per_page: int,
              now: datetime) -> CataloguePage:
    """Published courses matching the filter, newest first (by relevance for a keyword
    search through the search index, whose ids are then filtered here: the database decides
    what the viewer sees)."""
    year = local_year(now)
    stmt = (sa.select(Course).where(Course.status == CourseStatus.PUBLISHED)
            .options(defer(Course.summary_html), defer(Course.summary_source)))
    if flt.module is not None:
        stmt = stmt.where(Course.module == flt.module)
    if flt.topic:
        stmt = stmt.where(Course.topic == flt.topic)
    if flt.teaching_form is not None:
        stmt = stmt.where(Course.teaching_form == flt.teaching_form)
    if flt.instructor:
        stmt = stmt.where(Course.instructor_name == flt.instructor)
    if flt.length in LENGTHS:
        _label, low, high = LENGTHS[flt.length]
        stmt = stmt.where(Course.duration_seconds >= low)
        if high is not None:
            stmt = stmt.where(Course.duration_seconds < high)
    if flt.required is True:
        stmt = stmt.where(required_clause(viewer, year))
    elif flt.required is False:
        stmt = stmt.where(~required_clause(viewer, year))

    highlights: dict[int, str] = {}
    query_text = (flt.q or "").strip()
    if query_text:
        filters = {"status": CourseStatus.PUBLISHED.value}
        if flt.module is not None:
            filters["module"] = flt.module.value
        if flt.teaching_form is not None:
            filters["teaching_form"] = flt.teaching_form.value
        if flt.topic:
            filters["topic"] = flt.topic
        ids = _search_ids(query_text, filters)
        if not ids:
            return CataloguePage(items=[], total=0, page=page, per_page=per_page)
        rank = sa.case({doc_id: i for i, doc_id in enumerate(ids)}, value=Course.id)
        stmt = stmt.where(Course.id.in_(ids)).order_by(rank)
    else:
        stmt = stmt.order_by(Course.published_at.desc(), Course.id.desc())

    total = db.session.scalar(sa.select(sa.func.count()).select_from(
        stmt.order_by(None).with_only_columns(Course.id).subquery())) or 0
    items = list(db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page)))
    if query_text:
        highlights = {c.id: marked for c in items if (marked := mark_terms(c.title, query_text))}
    required_ids = required_course_ids(viewer, year, [c.id for c in items]) if items else set()
    return CataloguePage(items=items, total=total, page=page, per_page=per_page,
                         highlights=highlights, required_ids=required_ids)


def catalogue_topics(module: CourseModule | None) -> list[str]:
    """Topics of published courses (in a module), for the catalogue's topic chips."""
    stmt = (sa.select(Course.topic).where(Course.status == CourseStatus.PUBLISHED,
                                          Course.topic.is_not(None))
            .group_by(Course.topic).order_by(sa.func.count().desc(), Course.topic))
    if module is not None:
        stmt = stmt.where(Course.module == module)
    return [t for t in db.session.scalars(stmt) if t]


def catalogue_instructors() -> list[str]:
    """Instructors' names of published courses, for the catalogue's instructor filter."""
    stmt = (sa.select(Course.instructor_name).where(Course.status == CourseStatus.PUBLISHED,
                                                    Course.instructor_name != "")
            .group_by(Course.instructor_name).order_by(Course.instructor_name))
    return list(db.session.scalars(stmt))


def course_outline(viewer: User, course: Course) -> list[tuple[Chapter, list[Lesson]]]:
    """Chapters in order with the lessons the viewer may open (editors: all of them);
    chapters without such lessons are left out for learners."""
    chapters = db.session.scalars(
        sa.select(Chapter).where(Chapter.course_id == course.id)
        .options(selectinload(Chapter.lessons).selectinload(Lesson.media_asset))
        .order_by(Chapter.position, Chapter.id)).all()
    editor = can_edit_course(viewer, course)
    outline = []
    for chapter in chapters:
        lessons = [lesson for lesson in sorted(chapter.lessons, key=lambda x: (x.position, x.id))
                   if editor or can_view_lesson(viewer, lesson, course)]
        if lessons or editor:
            outline.append((chapter, lessons))
    return outline


def neighbours(viewer: User, lesson: Lesson) -> tuple[Lesson | None, Lesson | None]:
    """The previous and next lesson the viewer may open, in course order."""
    ordered = [each for _chapter, lessons in course_outline(viewer, lesson.course) for each in lessons]
    ids = [each.id for each in ordered]
    if lesson.id not in ids:
        return None, None
    i = ids.index(lesson.id)
    return (ordered[i - 1] if i > 0 else None), (ordered[i + 1] if i + 1 < len(ordered) else None)


# ---------------------------------------------------------------- visits and numbers

def visit_needs_recording(user: User, lesson: Lesson, *, now: datetime) -> bool:
    """Whether opening this lesson page should write a visit: the learner's first visit to the
    course, or the last one over VISIT_REFRESH ago, of a published lesson of a published course.
    The course's own editors previewing it are not learners of it."""
    course = lesson.course
    if course.status is not CourseStatus.PUBLISHED or not lesson.published:
        return False
    if can_edit_course(user, course):
        return False
    last = db.session.scalar(sa.select(CourseVisit.last_at).where(
        CourseVisit.user_id == user.id, CourseVisit.course_id == course.id))
    return last is None or now - last >= VISIT_REFRESH


def record_visit(user_id: int, course_id: int, *, now: datetime) -> None:
    """One row per learner and course (first and latest visit), written as one upsert."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(CourseVisit).values(user_id=user_id, course_id=course_id, first_at=now,
                                      last_at=now)
    stmt = stmt.on_conflict_do_update(index_elements=["user_id", "course_id"],
                                      set_={"last_at": now})
    db.session.execute(stmt)


def continue_course(user: User):
    """The published course whose lessons the user opened most recently (home's 继续学习):
    a row with id and title, or None (no ORM entity: this runs on every home page)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return db.session.execute(
        sa.select(Course.id, Course.title)
        .join(CourseVisit, CourseVisit.course_id == Course.id)
        .where(CourseVisit.user_id == user.id, Course.status == CourseStatus.PUBLISHED)
        .order_by(CourseVisit.last_at.desc()).limit(1)).first()


def started_counts(course_ids) -> dict[int, int]:
    """Learners who opened a lesson of each course (distinct: one visit row per learner)."""
    ids = list(course_ids)
    if not ids:
        return {}
    rows = db.session.execute(sa.select(CourseVisit.course_id, sa.func.count())
                              .where(CourseVisit.course_id.in_(ids))
                              .group_by(CourseVisit.course_id))
    return {course_id: count for course_id, count in rows}


# ---------------------------------------------------------------- authoring lists

@dataclass
class TeachFilter:
    status: CourseStatus | None = None
    module: CourseModule | None = None
    q: str | None = None
    #: platform admins: only the courses they own or teach
    mine: bool = False


def teach_query(actor: User, flt: TeachFilter):
    """Courses on the authoring list: an instructor's own (owned or taught); every course
    for platform admins (or their own with `mine`)."""
    require_author(actor)
    stmt = sa.select(Course)
    from_admin = not flt.mine and is_platform_admin(actor)
    if not from_admin:
        stmt = stmt.where(sa.or_(Course.owner_id == actor.id, Course.instructor_id == actor.id))
    if flt.status is not None:
        stmt = stmt.where(Course.status == flt.status)
    if flt.module is not None:
        stmt = stmt.where(Course.module == flt.module)
    if flt.q:
        stmt = stmt.where(Course.title.contains(flt.q.strip(), autoescape=True))
    return stmt.order_by(Course.updated_at.desc(), Course.id.desc())


def lesson_counts(course_ids) -> dict[int, tuple[int, int]]:
    """course id -> (lessons, published lessons), in one query."""
    ids = list(course_ids)
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(Lesson.course_id, sa.func.count(),
                  sa.func.sum(sa.case((Lesson.published.is_(True), 1), else_=0)))
        .where(Lesson.course_id.in_(ids)).group_by(Lesson.course_id))
    return {course_id: (total, int(published or 0)) for course_id, total, published in rows}


# ---------------------------------------------------------------- the search document

def _search_documents(ids) -> dict[int, search.Document | None]:
    """Course documents for the index: title; summary, topic, instructor and the titles of
    published lessons as body; filters for the catalogue. None for a deleted course."""
    ids = list(ids)
    out: dict[int, search.Document | None] = {doc_id: None for doc_id in ids}
    if not ids:
        return out
    courses = db.session.scalars(
        sa.select(Course).where(Course.id.in_(ids))
        .options(selectinload(Course.chapters).selectinload(Chapter.lessons)))
    for course in courses:
        lessons = [lesson.title for chapter in course.chapters for lesson in chapter.lessons
                   if lesson.published]
        body = " ".join([plain_text(course.summary_html), course.topic or "",
                         course.instructor_name or "", *lessons])
        tags = [t for t in (course.topic, MODULE_LABELS[course.module],
                            TEACHING_FORM_LABELS[course.teaching_form], course.instructor_name) if t]
        out[course.id] = search.Document(
            title=course.title, body=body, tags=tags,
            filters={"module": course.module.value, "status": course.status.value,
                     "teaching_form": course.teaching_form.value, "topic": course.topic or ""})
    return out


def _all_course_ids() -> list[int]:
    return list(db.session.scalars(sa.select(Course.id).order_by(Course.id)))


search.register_doc_type(search.DocType(
    name=DOC_TYPE, filter_fields=("module", "status", "teaching_form", "topic"),
    load=_search_documents, all_ids=_all_course_ids))
