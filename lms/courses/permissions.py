"""Who may see and change courses. One function per object kind; every path (pages, API, media
routes, uploads) asks these. What a viewer may not see is answered as if it did not exist (404).

- Learners (every signed-in, active account) see published courses and their published lessons.
- Instructors create courses (they own them) and edit the courses they own or teach.
- Platform administrators see and edit every course, unpublish any, set audiences, see numbers.
"""
from __future__ import annotations

from lms.accounts.models import Role, User
from lms.accounts.permissions import is_platform_admin
from lms.courses.models import Attachment, Course, CourseStatus, Lesson
from lms.errors import NotFound, PermissionDenied


def _active(actor: User | None) -> bool:
    return bool(actor is not None and getattr(actor, "is_authenticated", False) and actor.active)


def can_author(actor: User | None) -> bool:
    """May open the authoring pages and create courses: instructors and platform admins."""
    return _active(actor) and (actor.has_role(Role.INSTRUCTOR) or is_platform_admin(actor))


def can_edit_course(actor: User | None, course: Course) -> bool:
    """Platform admins edit every course; an instructor edits the courses they own or teach."""
    if not _active(actor):
        return False
    if is_platform_admin(actor):
        return True
    return actor.has_role(Role.INSTRUCTOR) and actor.id in (course.owner_id, course.instructor_id)


def can_view_course(actor: User | None, course: Course) -> bool:
    """Published courses for every signed-in user; drafts and unpublished ones for editors."""
    if not _active(actor):
        return False
    return course.status is CourseStatus.PUBLISHED or can_edit_course(actor, course)


def can_view_lesson(actor: User | None, lesson: Lesson, course: Course | None = None) -> bool:
    """A published lesson of a published course; any lesson of a course the actor edits.
    The lesson's media and attachments follow the same rule."""
    course = course or lesson.chapter.course
    if not _active(actor):
        return False
    if can_edit_course(actor, course):
        return True
    return course.status is CourseStatus.PUBLISHED and lesson.published


def can_view_attachment(actor: User | None, attachment: Attachment) -> bool:
    return can_view_lesson(actor, attachment.lesson)


def can_set_audiences(actor: User | None) -> bool:
    """Making a course required (必修) for cadres is the district federation's decision."""
    return is_platform_admin(actor)


def can_see_course_numbers(actor: User | None) -> bool:
    """Per-course numbers (learners started, completed) across all courses."""
    return is_platform_admin(actor)


def require_author(actor: User | None) -> None:
    if not can_author(actor):
        raise PermissionDenied("forbidden")


def require_view_course(actor: User | None, course: Course | None) -> Course:
    if course is None or not can_view_course(actor, course):
        raise NotFound("course_not_found")
    return course


def require_edit_course(actor: User | None, course: Course | None) -> Course:
    """A course the actor may not even see is a 404; one they see but may not edit a 403."""
    require_view_course(actor, course)
    if not can_edit_course(actor, course):
        raise PermissionDenied("course_not_editable")
    return course


def require_view_lesson(actor: User | None, lesson: Lesson | None) -> Lesson:
    if lesson is None or not can_view_lesson(actor, lesson):
        raise NotFound("lesson_not_found")
    return lesson


def require_view_attachment(actor: User | None, attachment: Attachment | None) -> Attachment:
    if attachment is None or not can_view_attachment(actor, attachment):
        raise NotFound("attachment_not_found")
    return attachment


def require_set_audiences(actor: User | None) -> None:
    if not can_set_audiences(actor):
        raise PermissionDenied("audience_forbidden")
