"""Learner pages: the catalogue, a course, a lesson (player, document), media by permission.

Every page needs a signed-in user. A course or lesson the viewer may not see, and its media,
are answered 404 whatever the URL asked for; media is then handed to media's send_media, which
serves HTTP ranges.
"""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import current_user, login_required

from lms.accounts.models import User
from lms.courses import services
from lms.courses.forms import CatalogueFilterForm
from lms.courses.models import Attachment, Course, Lesson, LessonKind
from lms.courses.permissions import (can_author, can_edit_course, require_view_attachment,
                                     require_view_course, require_view_lesson)
from lms.db import utcnow, write_intent
from lms.extensions import db
from lms.media.models import AssetStatus
from lms.media.serving import send_media
from lms.media.services import original_path, poster_path, rendition_for, rendition_path
from lms.org.forms import choices

bp = Blueprint("courses", __name__, url_prefix="/courses", template_folder="templates")

PER_PAGE = 12
#: the quality a page starts with (player.js picks 720p on wide screens)
DEFAULT_QUALITY = "360p"
#: the PDF of a lesson is framed by its own lesson page, so this response (only) may be framed
#: by the same site; everything else keeps frame-ancestors 'none' and X-Frame-Options DENY
PDF_CSP = "default-src 'none'; object-src 'self'; frame-ancestors 'self'"


def _viewer() -> User:
    return current_user._get_current_object()


def _page_number() -> int:
    return max(request.args.get("page", 1, type=int) or 1, 1)


def _valid(field):
    """A filter's value, or None when blank or refused (the filter is then ignored)."""
    if field.errors or field.data in ("", None):
        return None
    return field.data.strip() if isinstance(field.data, str) else field.data


@bp.app_template_filter("duration")
def _duration(seconds) -> str:
    return services.format_duration(seconds)


@bp.app_template_filter("hours")
def _hours(value) -> str:
    return services.format_hours(value)


@bp.app_template_filter("clock")
def _clock(seconds) -> str:
    return services.format_clock(seconds)


@bp.app_context_processor
def _course_helpers():
    return {"MODULE_LABELS": services.MODULE_LABELS,
            "TEACHING_FORM_LABELS": services.TEACHING_FORM_LABELS,
            "LESSON_KIND_LABELS": services.LESSON_KIND_LABELS,
            "COURSE_STATUS_LABELS": services.COURSE_STATUS_LABELS,
            "ASSET_STATUS_LABELS": services.ASSET_STATUS_LABELS,
            "can_author": can_author}


# ---------------------------------------------------------------- the catalogue

@bp.get("/")
@login_required
def catalogue():
    viewer = _viewer()
    form = CatalogueFilterForm(request.args)
    form.instructor.choices = choices(((n, n) for n in services.catalogue_instructors()),
                                      blank="全部讲师")
    form.validate()
    required = _valid(form.required)
    flt = services.CatalogueFilter(
        module=_valid(form.module), topic=_valid(form.topic),
        teaching_form=_valid(form.teaching_form),
        required=None if required is None else required == "required",
        instructor=_valid(form.instructor), length=_valid(form.length), q=_valid(form.q))
    page = services.catalogue(viewer, flt, page=_page_number(), per_page=PER_PAGE, now=utcnow())
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template("courses/catalogue.html", form=form, flt=flt, page=page, args=args,
                           topics=services.catalogue_topics(flt.module) if flt.module else [],
                           modules=list(services.MODULE_LABELS.items()))


# ---------------------------------------------------------------- a course, a lesson

@bp.get("/<int:course_id>")
@login_required
def course(course_id: int):
    viewer = _viewer()
    course = require_view_course(viewer, db.session.get(Course, course_id))
    outline = services.course_outline(viewer, course)
    first = next((lesson for _chapter, lessons in outline for lesson in lessons), None)
    return render_template(
        "courses/course.html", course=course, outline=outline, first=first,
        required=services.is_required(viewer, course, services.local_year(utcnow())),
        editor=can_edit_course(viewer, course))


def _note_visit(viewer: User, lesson: Lesson) -> None:
    """Count the learner as having started the course (one row per learner and course).
    The page's reads end first, so that on SQLite the write starts its own BEGIN IMMEDIATE
    transaction rather than upgrading a read snapshot."""
    now = utcnow()
    if not services.visit_needs_recording(viewer, lesson, now=now):
        return
    user_id, course_id = viewer.id, lesson.course_id
    db.session.commit()  # nothing written yet: this only ends the reads
    with write_intent(True):
        services.record_visit(user_id, course_id, now=now)


@bp.get("/lessons/<int:lesson_id>")
@login_required
def lesson(lesson_id: int):
    viewer = _viewer()
    lesson = require_view_lesson(viewer, db.session.get(Lesson, lesson_id))
    _note_visit(viewer, lesson)
    course = lesson.course
    asset = lesson.media_asset
    ready = asset is not None and asset.status is AssetStatus.READY
    qualities = []
    if ready and lesson.kind is LessonKind.VIDEO:
        qualities = [r.label for r in sorted(asset.renditions, key=lambda r: r.height or 0)
                     if r.label.endswith("p")]
    default = DEFAULT_QUALITY if DEFAULT_QUALITY in qualities else (qualities[0] if qualities else None)
    audio_label = None
    if ready and lesson.kind is LessonKind.AUDIO:
        audio_label = next((r.label for r in asset.renditions), None)
    previous, following = services.neighbours(viewer, lesson)
    return render_template(
        "courses/lesson.html", lesson=lesson, course=course, asset=asset, ready=ready,
        qualities=qualities, default_quality=default, audio_label=audio_label,
        has_poster=bool(ready and asset.poster_name), previous=previous, following=following,
        editor=can_edit_course(viewer, course))


# ---------------------------------------------------------------- media, by permission

def _ready_asset(lesson: Lesson):
    asset = lesson.media_asset
    if asset is None or asset.status is not AssetStatus.READY:
        abort(404)
    return asset


@bp.get("/lessons/<int:lesson_id>/media/<label>")
@login_required
def lesson_media(lesson_id: int, label: str):
    """The lesson's video or audio in one quality (range requests), or its PDF inline."""
    lesson = require_view_lesson(_viewer(), db.session.get(Lesson, lesson_id))
    asset = _ready_asset(lesson)
    if lesson.kind is LessonKind.PDF:
        if label != "pdf":
            abort(404)
        download = request.args.get("download") == "1"
        path = original_path(asset) or abort(404)
        response = send_media(path, content_type="application/pdf",
                              download_name=_pdf_name(lesson), as_attachment=download)
        if not download:
            response.headers["X-Frame-Options"] = "SAMEORIGIN"
            response.headers["Content-Security-Policy"] = PDF_CSP
        return response
    rendition = rendition_for(asset, label)
    if rendition is None:
        abort(404)
    return send_media(rendition_path(rendition), content_type=rendition.content_type)


def _pdf_name(lesson: Lesson) -> str:
    name = lesson.title.replace("/", "_").replace("\\", "_")
    return name if name.lower().endswith(".pdf") else f"{name}.pdf"


@bp.get("/lessons/<int:lesson_id>/poster")
@login_required
def lesson_poster(lesson_id: int):
    lesson = require_view_lesson(_viewer(), db.session.get(Lesson, lesson_id))
    asset = _ready_asset(lesson)
    if not asset.poster_name:
        abort(404)
    return send_media(poster_path(asset), content_type="image/jpeg")


@bp.get("/attachments/<int:attachment_id>")
@login_required
def attachment(attachment_id: int):
    """An attachment, always as a download (never rendered by the browser)."""
    item = require_view_attachment(_viewer(), db.session.get(Attachment, attachment_id))
    asset = item.asset
    if asset is None or asset.status is not AssetStatus.READY:
        abort(404)
    path = original_path(asset) or abort(404)
    return send_media(path, content_type=asset.content_type or "application/octet-stream",
                      download_name=item.title, as_attachment=True)
