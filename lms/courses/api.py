"""/api/v1/courses: the catalogue and one course's outline (chapters → lessons)."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint

from lms.api import SECURITY, token_required
from lms.courses import services
from lms.courses.models import Course, CourseModule, TeachingForm
from lms.courses.permissions import require_view_course
from lms.courses.schemas import CourseDetail, CourseListArgs, CoursePage
from lms.db import utcnow
from lms.extensions import db

blp = Blueprint("courses_api", __name__, url_prefix="/api/v1", description="课程")


def course_item(course: Course, required: bool) -> dict:
    return {"id": course.id, "title": course.title, "module": course.module.value,
            "module_label": services.MODULE_LABELS[course.module], "topic": course.topic,
            "teaching_form": course.teaching_form.value,
            "teaching_form_label": services.TEACHING_FORM_LABELS[course.teaching_form],
            "instructor": course.instructor_name, "nominal_hours": float(course.nominal_hours),
            "duration": course.duration_seconds, "required": required}


@blp.get("/courses")
@blp.doc(security=SECURITY)
@blp.arguments(CourseListArgs, location="query")
@blp.response(200, CoursePage)
@blp.alt_response(422, description="参数有误（如 per_page 超过 100）")
@token_required
def list_courses(args):
    """Published courses, newest first (by relevance with `q`), filtered and paged."""
    flt = services.CatalogueFilter(
        module=CourseModule(args["module"]) if args.get("module") else None,
        topic=args.get("topic") or None,
        teaching_form=TeachingForm(args["teaching_form"]) if args.get("teaching_form") else None,
        required=args.get("required"), instructor=args.get("instructor") or None,
        length=args.get("length"), q=args.get("q") or None)
    page = services.catalogue(g.api_user, flt, page=args["page"], per_page=args["per_page"],
                              now=utcnow())
    return {"items": [course_item(c, c.id in page.required_ids) for c in page.items],
            "total": page.total, "page": page.page, "per_page": page.per_page}


@blp.get("/courses/<int:course_id>")
@blp.doc(security=SECURITY)
@blp.response(200, CourseDetail)
@blp.alt_response(404, description="课程不存在或未发布")
@token_required
def get_course(course_id: int):
    """One course with its chapters and the lessons the caller may open."""
    viewer = g.api_user
    course = require_view_course(viewer, db.session.get(Course, course_id))
    outline = services.course_outline(viewer, course)
    required = services.is_required(viewer, course, services.local_year(utcnow()))
    return {**course_item(course, required), "status": course.status.value,
            "summary_html": course.summary_html,
            "chapters": [{"id": chapter.id, "title": chapter.title,
                          "lessons": [{"id": lesson.id, "kind": lesson.kind.value,
                                       "title": lesson.title, "duration": lesson.duration_seconds,
                                       "published": lesson.published} for lesson in lessons]}
                         for chapter, lessons in outline]}
