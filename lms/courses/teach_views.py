"""Authoring pages for instructors and administrators: courses, chapters, lessons, uploads.

Every route needs an author (an instructor or a platform admin: 403 for others); each object is
loaded and then checked with the courses' permission functions, so a course the actor may not
see is a 404 and one they see but may not edit a 403, before anything is shown or changed.
A refused form re-renders with the service's message and its 4xx status (the request rolls
back); a refused button (publish, move, delete ...) rolls back and redirects with the message.
"""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from lms.accounts.models import User
from lms.accounts.services import units_in_scope
from lms.courses import services
from lms.courses.forms import AudienceForm, ChapterForm, CourseForm, LessonForm, TeachFilterForm
from lms.courses.models import Attachment, Chapter, Course, CourseAudience, Lesson
from lms.courses.permissions import (can_author, can_see_course_numbers, can_set_audiences,
                                     require_edit_course)
from lms.db import utcnow
from lms.errors import DomainError, NotFound
from lms.extensions import db
from lms.messages import render as message
from lms.org.forms import choices, unit_choices

bp = Blueprint("teach", __name__, url_prefix="/teach", template_folder="templates")

PER_PAGE = 20


def _actor() -> User:
    return current_user._get_current_object()


def author_required(view):
    """Instructors and platform admins only (403 for others)."""
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not can_author(current_user):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _valid(field):
    if field.errors or field.data in ("", None):
        return None
    return field.data.strip() if isinstance(field.data, str) else field.data


def _load(model, object_id: int, code: str):
    obj = db.session.get(model, object_id)
    if obj is None:
        raise NotFound(code)
    return obj


def _course(course_id: int) -> Course:
    return require_edit_course(_actor(), _load(Course, course_id, "course_not_found"))


def _chapter(chapter_id: int) -> Chapter:
    chapter = _load(Chapter, chapter_id, "chapter_not_found")
    require_edit_course(_actor(), chapter.course)
    return chapter


def _lesson(lesson_id: int) -> Lesson:
    lesson = _load(Lesson, lesson_id, "lesson_not_found")
    require_edit_course(_actor(), lesson.course)
    return lesson


def _refused(exc: DomainError, target: str):
    """A refused button: drop what the service flushed, flash its message, go back (303)."""
    db.session.rollback()
    flash(exc.message, "error")
    return redirect(target, code=303)


# ---------------------------------------------------------------- the list

@bp.get("/")
@author_required
def index():
    actor = _actor()
    form = TeachFilterForm(request.args)
    form.validate()
    admin_view = can_see_course_numbers(actor)
    flt = services.TeachFilter(status=_valid(form.status), module=_valid(form.module),
                               q=_valid(form.q), mine=not admin_view or request.args.get("mine") == "1")
    page = db.paginate(services.teach_query(actor, flt),
                       page=max(request.args.get("page", 1, type=int) or 1, 1),
                       per_page=PER_PAGE, error_out=False)
    ids = [c.id for c in page.items]
    return render_template(
        "teach/index.html", form=form, page=page, admin_view=admin_view, mine=flt.mine,
        started=services.started_counts(ids) if admin_view else {},
        lesson_counts=services.lesson_counts(ids),
        filtered=any(request.args.get(k) for k in ("q", "status", "module")))


# ---------------------------------------------------------------- courses

def _instructor_choices():
    return choices(((u.id, u.name) for u in services.instructor_accounts()), blank="（外请讲师，填写姓名）")


def _course_data(form: CourseForm) -> services.CourseData:
    return services.CourseData(
        title=form.title.data or "", module=form.module.data, teaching_form=form.teaching_form.data,
        topic=form.topic.data, summary_source=form.summary_source.data or "",
        instructor_id=form.instructor_id.data, instructor_name=form.instructor_name.data,
        nominal_hours=form.nominal_hours.data)


def _course_form_page(form: CourseForm, course: Course | None, status: int = 200):
    return render_template("teach/course_form.html", form=form, course=course,
                           topics=services.MODULE_TOPICS), status


@bp.route("/courses/new", methods=["GET", "POST"])
@author_required
def course_new():
    actor = _actor()
    form = CourseForm()
    form.instructor_id.choices = _instructor_choices()
    if request.method == "GET" and "instructor_id" not in request.args:
        form.instructor_id.data = actor.id if any(c.value == str(actor.id)
                                                  for c in form.instructor_id.choices) else None
    if form.validate_on_submit():
        try:
            course = services.create_course(actor, _course_data(form), now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            return _course_form_page(form, None, exc.http_status)
        flash(message("course_created", title=course.title), "success")
        return redirect(url_for(".course", course_id=course.id))
    return _course_form_page(form, None, 422 if request.method == "POST" else 200)


@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@author_required
def course_edit(course_id: int):
    actor = _actor()
    course = _course(course_id)
    form = CourseForm(obj=course)
    form.instructor_id.choices = _instructor_choices()
    if form.validate_on_submit():
        try:
            services.update_course(actor, course, _course_data(form), now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            return _course_form_page(form, course, exc.http_status)
        flash(message("course_saved", title=course.title), "success")
        return redirect(url_for(".course", course_id=course.id))
    if request.method == "GET" and course.instructor_id:
        form.instructor_name.data = ""
    return _course_form_page(form, course, 422 if request.method == "POST" else 200)


@bp.get("/courses/<int:course_id>")
@author_required
def course(course_id: int):
    actor = _actor()
    course = _course(course_id)
    audience_form = None
    if can_set_audiences(actor):
        audience_form = AudienceForm(formdata=None, data={"year": services.local_year(utcnow())})
        audience_form.unit_id.choices = unit_choices(units_in_scope(actor), blank="全区（不限单位）")
    counts = services.lesson_counts([course.id]).get(course.id, (0, 0))
    return render_template(
        "teach/course.html", course=course, outline=services.course_outline(actor, course),
        chapter_form=ChapterForm(formdata=None), audience_form=audience_form,
        lesson_total=counts[0], lesson_published=counts[1],
        started=services.started_counts([course.id]).get(course.id, 0)
        if can_see_course_numbers(actor) else None)


@bp.post("/courses/<int:course_id>/publish")
@author_required
def course_publish(course_id: int):
    course = _course(course_id)
    back = url_for(".course", course_id=course.id)
    try:
        services.publish_course(_actor(), course, now=utcnow())
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("course_published", title=course.title), "success")
    return redirect(back)


@bp.post("/courses/<int:course_id>/unpublish")
@author_required
def course_unpublish(course_id: int):
    course = _course(course_id)
    back = request.form.get("back") == "index" and url_for(".index") or url_for(".course", course_id=course.id)
    try:
        services.unpublish_course(_actor(), course, now=utcnow())
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("course_unpublished", title=course.title), "success")
    return redirect(back)


@bp.post("/courses/<int:course_id>/delete")
@author_required
def course_delete(course_id: int):
    course = _course(course_id)
    title = course.title
    try:
        services.delete_course(_actor(), course, now=utcnow())
    except DomainError as exc:
        return _refused(exc, url_for(".course", course_id=course_id))
    flash(message("course_deleted", title=title), "success")
    return redirect(url_for(".index"))


# ---------------------------------------------------------------- audiences

@bp.post("/courses/<int:course_id>/audiences")
@author_required
def audience_add(course_id: int):
    actor = _actor()
    course = _course(course_id)
    back = url_for(".course", course_id=course.id) + "#audiences"
    form = AudienceForm()
    form.unit_id.choices = unit_choices(units_in_scope(actor), blank="全区（不限单位）")
    if not form.validate_on_submit():
        flash("；".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(back, code=303)
    try:
        services.add_audience(actor, course, services.AudienceData(
            year=form.year.data, cadre_type=form.cadre_type.data, unit_id=form.unit_id.data,
            position=form.position.data))
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("audience_added"), "success")
    return redirect(back)


@bp.post("/audiences/<int:audience_id>/delete")
@author_required
def audience_delete(audience_id: int):
    audience = _load(CourseAudience, audience_id, "audience_not_found")
    course = require_edit_course(_actor(), audience.course)
    back = url_for(".course", course_id=course.id) + "#audiences"
    try:
        services.remove_audience(_actor(), audience)
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("audience_removed"), "success")
    return redirect(back)


# ---------------------------------------------------------------- chapters

@bp.post("/courses/<int:course_id>/chapters")
@author_required
def chapter_add(course_id: int):
    course = _course(course_id)
    back = url_for(".course", course_id=course.id)
    form = ChapterForm()
    if not form.validate_on_submit():
        flash("；".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(back, code=303)
    try:
        chapter = services.add_chapter(_actor(), course, form.title.data)
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("chapter_added", title=chapter.title), "success")
    return redirect(f"{back}#chapter-{chapter.id}")


@bp.post("/chapters/<int:chapter_id>/rename")
@author_required
def chapter_rename(chapter_id: int):
    chapter = _chapter(chapter_id)
    back = url_for(".course", course_id=chapter.course_id) + f"#chapter-{chapter.id}"
    form = ChapterForm()
    if not form.validate_on_submit():
        flash("；".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(back, code=303)
    try:
        services.rename_chapter(_actor(), chapter, form.title.data, now=utcnow())
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("chapter_saved", title=chapter.title), "success")
    return redirect(back)


@bp.post("/chapters/<int:chapter_id>/move")
@author_required
def chapter_move(chapter_id: int):
    chapter = _chapter(chapter_id)
    back = url_for(".course", course_id=chapter.course_id) + f"#chapter-{chapter.id}"
    try:
        services.move_chapter(_actor(), chapter, request.form.get("direction", ""))
    except DomainError as exc:
        return _refused(exc, back)
    return redirect(back)


@bp.post("/chapters/<int:chapter_id>/delete")
@author_required
def chapter_delete(chapter_id: int):
    chapter = _chapter(chapter_id)
    back = url_for(".course", course_id=chapter.course_id)
    title = chapter.title
    try:
        services.delete_chapter(_actor(), chapter)
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("chapter_deleted", title=title), "success")
    return redirect(back)


# ---------------------------------------------------------------- lessons

def _lesson_data(form: LessonForm) -> services.LessonData:
    return services.LessonData(title=form.title.data or "", kind=form.kind.data,
                               body_source=form.body_source.data or "")


@bp.route("/chapters/<int:chapter_id>/lessons/new", methods=["GET", "POST"])
@author_required
def lesson_new(chapter_id: int):
    chapter = _chapter(chapter_id)
    form = LessonForm()
    status = 200
    if form.validate_on_submit():
        try:
            lesson = services.add_lesson(_actor(), chapter, _lesson_data(form), now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            form.form_errors.append(exc.message)
            status = exc.http_status
        else:
            flash(message("lesson_created", title=lesson.title), "success")
            return redirect(url_for(".lesson", lesson_id=lesson.id))
    elif request.method == "POST":
        status = 422
    return render_template("teach/lesson_new.html", form=form, chapter=chapter,
                           course=chapter.course), status


@bp.route("/lessons/<int:lesson_id>", methods=["GET", "POST"])
@author_required
def lesson(lesson_id: int):
    lesson = _lesson(lesson_id)
    form = LessonForm(obj=lesson)
    status = 200
    if form.validate_on_submit():
        try:
            services.update_lesson(_actor(), lesson, _lesson_data(form), now=utcnow())
        except DomainError as exc:
            db.session.rollback()
            lesson = _lesson(lesson_id)
            form.form_errors.append(exc.message)
            status = exc.http_status
        else:
            flash(message("lesson_saved", title=lesson.title), "success")
            return redirect(url_for(".lesson", lesson_id=lesson.id))
    elif request.method == "POST":
        status = 422
    return render_template("teach/lesson.html", form=form, lesson=lesson, course=lesson.course,
                           media_kinds=services.MEDIA_KINDS), status


@bp.post("/lessons/<int:lesson_id>/publish")
@author_required
def lesson_publish(lesson_id: int):
    lesson = _lesson(lesson_id)
    back = request.form.get("back") == "course" and \
        url_for(".course", course_id=lesson.course_id) + f"#lesson-{lesson.id}" or \
        url_for(".lesson", lesson_id=lesson.id)
    try:
        services.publish_lesson(_actor(), lesson, now=utcnow())
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("lesson_published", title=lesson.title), "success")
    return redirect(back)


@bp.post("/lessons/<int:lesson_id>/unpublish")
@author_required
def lesson_unpublish(lesson_id: int):
    lesson = _lesson(lesson_id)
    back = url_for(".lesson", lesson_id=lesson.id)
    try:
        services.unpublish_lesson(_actor(), lesson, now=utcnow())
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("lesson_unpublished", title=lesson.title), "success")
    return redirect(back)


@bp.post("/lessons/<int:lesson_id>/move")
@author_required
def lesson_move(lesson_id: int):
    lesson = _lesson(lesson_id)
    back = url_for(".course", course_id=lesson.course_id) + f"#lesson-{lesson.id}"
    try:
        services.move_lesson(_actor(), lesson, request.form.get("direction", ""))
    except DomainError as exc:
        return _refused(exc, back)
    return redirect(back)


@bp.post("/lessons/<int:lesson_id>/delete")
@author_required
def lesson_delete(lesson_id: int):
    lesson = _lesson(lesson_id)
    course_id, title = lesson.course_id, lesson.title
    try:
        services.delete_lesson(_actor(), lesson)
    except DomainError as exc:
        return _refused(exc, url_for(".lesson", lesson_id=lesson_id))
    flash(message("lesson_deleted", title=title), "success")
    return redirect(url_for(".course", course_id=course_id))


@bp.post("/attachments/<int:attachment_id>/delete")
@author_required
def attachment_delete(attachment_id: int):
    item = _load(Attachment, attachment_id, "attachment_not_found")
    lesson = _lesson(item.lesson_id)
    title = item.title
    back = url_for(".lesson", lesson_id=lesson.id) + "#attachments"
    try:
        services.delete_attachment(_actor(), item)
    except DomainError as exc:
        return _refused(exc, back)
    flash(message("attachment_deleted", title=title), "success")
    return redirect(back)
