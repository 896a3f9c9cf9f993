"""Course services and permissions: who sees and edits what, the publishing rules, ordering,
audiences (必修), visits."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from lms import search
from lms.accounts.models import CadreType, Role
from lms.courses import permissions, services
from lms.courses.models import (Course, CourseModule, CourseStatus, CourseVisit, LessonKind,
                                TeachingForm)
from lms.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from lms.media import uploads
from lms.media.models import AssetKind, AssetStatus
from lms.org.models import UnitKind
from tests.factories import (make_asset, make_course, make_district, make_lesson, make_unit,
                             make_user)


@pytest.fixture
def people(db):
    district = make_district()
    zone = make_unit(name="开发区总工会", kind=UnitKind.ZONE)
    company = make_unit(name="甲公司工会", kind=UnitKind.GRASSROOTS, parent=zone)
    return {
        "zone": zone, "company": company,
        "learner": make_user(unit=company),
        "instructor": make_user(unit=district, roles=(Role.INSTRUCTOR,), name="刘芳"),
        "other_instructor": make_user(unit=district, roles=(Role.INSTRUCTOR,), name="赵立新"),
        "admin": make_user(unit=district, roles=(Role.PLATFORM_ADMIN,)),
        "unit_admin": make_user(unit=zone, roles=(Role.UNIT_ADMIN,)),
    }


def course_data(**overrides) -> services.CourseData:
    data = dict(title="集体协商实务", module=CourseModule.CAPABILITY, topic="集体协商",
                teaching_form=TeachingForm.SIMULATION, summary_source="**协商**流程",
                nominal_hours="2")
    data.update(overrides)
    return services.CourseData(**data)


def changes_for(course_id: int) -> int:
    return search.SearchChange.query.filter_by(doc_type="course", doc_id=course_id).count()


# ---------------------------------------------------------------- creating and editing

def test_instructor_creates_a_draft_they_own_and_teach(people, now):
    me = people["instructor"]
    course = services.create_course(me, course_data(), now=now)
    assert course.owner_id == me.id and course.instructor_id == me.id
    assert course.instructor_name == "刘芳" and course.status is CourseStatus.DRAFT
    assert course.summary_html == "<p><strong>协商</strong>流程</p>"
    assert course.nominal_hours == Decimal("2.0")
    assert changes_for(course.id) == 1  # in the same transaction as the course


def test_learners_and_unit_admins_cannot_author(people, now):
    for who in ("learner", "unit_admin"):
        with pytest.raises(PermissionDenied):
            services.create_course(people[who], course_data(), now=now)


def test_guest_lecturer_by_name_and_refused_instructor_accounts(people, now):
    admin = people["admin"]
    course = services.create_course(admin, course_data(instructor_name="王明远"), now=now)
    assert course.instructor_id is None and course.instructor_name == "王明远"
    with pytest.raises(ValidationFailed) as info:  # an admin must name someone
        services.create_course(admin, course_data(), now=now)
    assert info.value.code == "instructor_required"
    with pytest.raises(ValidationFailed) as info:  # a learner is no instructor
        services.create_course(admin, course_data(instructor_id=people["learner"].id), now=now)
    assert info.value.code == "instructor_invalid"
    other = services.create_course(admin, course_data(instructor_id=people["other_instructor"].id),
                                   now=now)
    assert other.instructor_name == "赵立新"


@pytest.mark.parametrize("field,value,code", [
    ("title", "  ", "course_title_required"),
    ("title", "长" * 121, "course_title_too_long"),
    ("module", None, "course_module_required"),
    ("nominal_hours", "0", "nominal_hours_invalid"),
    ("nominal_hours", "abc", "nominal_hours_invalid"),
    ("nominal_hours", "101", "nominal_hours_invalid"),
    ("topic", "题" * 51, "topic_too_long"),
])
def test_course_validation(people, now, field, value, code):
    with pytest.raises(ValidationFailed) as info:
        services.create_course(people["instructor"], course_data(**{field: value}), now=now)
    assert info.value.code == code


def test_instructor_cannot_edit_another_instructors_course(people, now):
    course = services.create_course(people["instructor"], course_data(), now=now)
    other = people["other_instructor"]
    assert not permissions.can_edit_course(other, course)
    with pytest.raises(NotFound):  # a draft they cannot see is not there at all
        services.update_course(other, course, course_data(title="改"), now=now)
    course.status = CourseStatus.PUBLISHED
    with pytest.raises(PermissionDenied):  # a published one they see, but may not change
        services.update_course(other, course, course_data(title="改"), now=now)
    admin = people["admin"]
    services.update_course(admin, course, course_data(title="平台管理员改的",
                                                      instructor_id=course.instructor_id), now=now)
    assert course.title == "平台管理员改的"


def test_assigned_instructor_may_edit(people, now):
    course = services.create_course(people["admin"], course_data(
        instructor_id=people["other_instructor"].id), now=now)
    assert permissions.can_edit_course(people["other_instructor"], course)
    assert not permissions.can_edit_course(people["instructor"], course)


def test_summary_is_sanitised(people, now):
    course = services.create_course(people["instructor"], course_data(
        summary_source='<script>alert(1)</script><p onclick="x()">简介</p>'
                       '[链接](javascript:alert(1))'), now=now)
    assert "script" not in course.summary_html and "onclick" not in course.summary_html
    assert "javascript" not in course.summary_html and "简介" in course.summary_html


# ---------------------------------------------------------------- visibility

def test_drafts_are_invisible_to_learners(people, now):
    learner, me = people["learner"], people["instructor"]
    draft = make_course(owner=me, instructor=me, published=False)
    lesson = make_lesson(draft)
    assert not permissions.can_view_course(learner, draft)
    assert not permissions.can_view_lesson(learner, lesson)
    assert permissions.can_view_course(me, draft) and permissions.can_view_lesson(me, lesson)
    assert permissions.can_view_course(people["admin"], draft)
    with pytest.raises(NotFound):
        permissions.require_view_course(learner, draft)
    published = make_course()
    hidden = make_lesson(published, published=False)
    shown = make_lesson(published)
    assert permissions.can_view_course(learner, published)
    assert permissions.can_view_lesson(learner, shown) and not permissions.can_view_lesson(learner, hidden)
    outline = services.course_outline(learner, published)
    assert [lesson.id for _c, lessons in outline for lesson in lessons] == [shown.id]


def test_inactive_or_anonymous_see_nothing(people):
    course = make_course()
    people["learner"].active = False
    assert not permissions.can_view_course(people["learner"], course)
    assert not permissions.can_view_course(None, course)


# ---------------------------------------------------------------- publishing

def test_publishing_a_video_lesson_needs_ready_media_and_copies_its_duration(people, now):
    me = people["instructor"]
    course = services.create_course(me, course_data(), now=now)
    chapter = services.add_chapter(me, course, "第一章")
    lesson = services.add_lesson(me, chapter, services.LessonData("协商的流程", LessonKind.VIDEO), now=now)
    with pytest.raises(Conflict) as info:
        services.publish_lesson(me, lesson, now=now)
    assert info.value.code == "lesson_media_missing"
    asset = make_asset(status=AssetStatus.PROCESSING, duration=None)
    services.attach_lesson_media(me, lesson, asset)
    with pytest.raises(Conflict) as info:
        services.publish_lesson(me, lesson, now=now)
    assert info.value.code == "lesson_media_not_ready" and "处理中" in info.value.message
    asset.status, asset.duration_seconds = AssetStatus.READY, 754.6
    services.publish_lesson(me, lesson, now=now)
    assert lesson.published and lesson.duration_seconds == 755
    assert course.duration_seconds == 755


def test_media_of_the_wrong_kind_is_refused(people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me, published=False)
    lesson = make_lesson(course, kind=LessonKind.VIDEO, published=False,
                         asset=make_asset(kind=AssetKind.AUDIO))
    with pytest.raises(Conflict) as info:
        services.publish_lesson(me, lesson, now=now)
    assert info.value.code == "lesson_media_wrong_kind"
    assert "视频" in info.value.message and "音频" in info.value.message


def test_document_lesson_needs_text(people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me, published=False)
    chapter = course.chapters[0]
    lesson = services.add_lesson(me, chapter, services.LessonData("空", LessonKind.DOCUMENT, ""), now=now)
    with pytest.raises(Conflict) as info:
        services.publish_lesson(me, lesson, now=now)
    assert info.value.code == "lesson_body_empty"
    services.update_lesson(me, lesson, services.LessonData("有字", LessonKind.DOCUMENT, "正文"), now=now)
    services.publish_lesson(me, lesson, now=now)
    assert lesson.published and lesson.duration_seconds == 0


def test_course_publishing_needs_a_published_lesson_and_sums_durations(people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me, published=False, duration_seconds=0)
    with pytest.raises(Conflict) as info:
        services.publish_course(me, course, now=now)
    assert info.value.code == "course_needs_published_lesson"
    make_lesson(course, kind=LessonKind.VIDEO, asset=make_asset(duration=100.2), published=False)
    second = make_lesson(course, kind=LessonKind.VIDEO, asset=make_asset(duration=50), published=False)
    make_lesson(course, kind=LessonKind.VIDEO, asset=make_asset(duration=999), published=False)
    for lesson in course.chapters[0].lessons[:2]:
        services.publish_lesson(me, lesson, now=now)
    services.publish_course(me, course, now=now)
    assert course.status is CourseStatus.PUBLISHED and course.published_at == now
    assert course.duration_seconds == 150  # the unpublished third lesson does not count
    with pytest.raises(Conflict):  # the kind of a published lesson is fixed
        services.update_lesson(me, second, services.LessonData("x", LessonKind.DOCUMENT, "字"), now=now)
    with pytest.raises(Conflict) as info:  # and so is its media
        services.attach_lesson_media(me, second, make_asset())
    assert info.value.code == "lesson_media_locked"
    services.unpublish_lesson(me, second, now=now)
    assert course.duration_seconds == 100
    with pytest.raises(Conflict) as info:
        services.unpublish_lesson(me, course.chapters[0].lessons[0], now=now)
    assert info.value.code == "last_published_lesson"


def test_admin_unpublishes_any_course_and_it_leaves_the_catalogue(people, now):
    course = make_course(owner=people["instructor"], instructor=people["instructor"])
    make_lesson(course)
    with pytest.raises(PermissionDenied):
        services.unpublish_course(people["other_instructor"], course, now=now)
    services.unpublish_course(people["admin"], course, now=now)
    assert course.status is CourseStatus.UNPUBLISHED
    assert changes_for(course.id) == 1
    assert not permissions.can_view_course(people["learner"], course)
    page = services.catalogue(people["learner"], services.CatalogueFilter(), page=1, per_page=10, now=now)
    assert course not in page.items
    with pytest.raises(Conflict):
        services.unpublish_course(people["admin"], course, now=now)


def test_published_course_cannot_be_deleted(people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me)
    with pytest.raises(Conflict):
        services.delete_course(me, course, now=now)
    course.status = CourseStatus.UNPUBLISHED
    course_id = course.id
    services.delete_course(me, course, now=now)
    assert services.db.session.get(Course, course_id) is None
    change = search.SearchChange.query.filter_by(doc_id=course_id).one()
    assert change.op is search.ChangeOp.DELETE


# ---------------------------------------------------------------- ordering

def test_chapters_and_lessons_move_up_and_down(people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me, published=False)
    first = course.chapters[0]
    second = services.add_chapter(me, course, "第二章")
    third = services.add_chapter(me, course, "第三章")
    assert services.move_chapter(me, third, "up")
    assert [c.title for c in sorted(course.chapters, key=lambda c: c.position)] == ["第一章", "第三章", "第二章"]
    assert not services.move_chapter(me, first, "up")  # already first
    a = services.add_lesson(me, first, services.LessonData("甲", LessonKind.DOCUMENT, "字"), now=now)
    b = services.add_lesson(me, first, services.LessonData("乙", LessonKind.DOCUMENT, "字"), now=now)
    services.move_lesson(me, b, "up")
    assert (b.position, a.position) == (0, 1)
    with pytest.raises(ValidationFailed):
        services.move_lesson(me, b, "sideways")
    with pytest.raises(Conflict):
        services.delete_chapter(me, first)  # it has lessons
    services.delete_chapter(me, second)
    with pytest.raises(NotFound):
        services.move_chapter(people["other_instructor"], third, "down")


# ---------------------------------------------------------------- audiences (必修)

def test_audiences_make_courses_required(people, now):
    learner, admin = people["learner"], people["admin"]
    year = services.local_year(now)
    everyone = make_course(title="全员必修")
    chairs = make_course(title="工会主席必修")
    zone_only = make_course(title="开发区必修")
    full_time = make_course(title="专职必修")
    elective = make_course(title="选修课")
    last_year = make_course(title="去年必修")
    services.add_audience(admin, everyone, services.AudienceData(year=year))
    services.add_audience(admin, chairs, services.AudienceData(year=year, position="工会主席"))
    services.add_audience(admin, zone_only, services.AudienceData(year=year, unit_id=people["zone"].id))
    services.add_audience(admin, full_time, services.AudienceData(year=year, cadre_type=CadreType.FULL_TIME))
    services.add_audience(admin, last_year, services.AudienceData(year=year - 1))
    required = services.required_course_ids(learner, year)
    assert required == {everyone.id, chairs.id, zone_only.id}  # a part-time 工会主席 in the zone
    assert services.is_required(learner, everyone, year) and not services.is_required(learner, elective, year)
    flt = services.CatalogueFilter(required=True)
    page = services.catalogue(learner, flt, page=1, per_page=50, now=now)
    assert {c.id for c in page.items} == required and page.required_ids == required
    page = services.catalogue(learner, services.CatalogueFilter(required=False), page=1, per_page=50, now=now)
    assert {c.id for c in page.items} >= {elective.id, full_time.id, last_year.id}
    assert not ({c.id for c in page.items} & required)
    outsider = make_user(unit=make_unit(name="保税区总工会", kind=UnitKind.ZONE))
    assert services.required_course_ids(outsider, year) == {everyone.id, chairs.id}


def test_only_platform_admins_set_audiences(people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me)
    with pytest.raises(PermissionDenied):
        services.add_audience(me, course, services.AudienceData(year=2026))
    admin = people["admin"]
    audience = services.add_audience(admin, course, services.AudienceData(year=2026, position=" 工会主席 "))
    assert audience.position == "工会主席"
    with pytest.raises(Conflict):
        services.add_audience(admin, course, services.AudienceData(year=2026, position="工会主席"))
    with pytest.raises(ValidationFailed):
        services.add_audience(admin, course, services.AudienceData(year=1999))
    with pytest.raises(NotFound):
        services.add_audience(admin, course, services.AudienceData(year=2026, unit_id=999999))
    services.remove_audience(admin, audience)
    assert course.audiences == []


# ---------------------------------------------------------------- the catalogue

def test_catalogue_filters_and_pages(people, now):
    learner = people["learner"]
    me = people["instructor"]
    for i in range(5):
        make_course(title=f"理论{i}", module=CourseModule.THEORY, topic="工会法", duration_seconds=600)
    make_course(title="长课", module=CourseModule.PARTY, topic="党史", duration_seconds=2 * 3600,
                teaching_form=TeachingForm.CASE, instructor=me)
    make_course(title="中课", module=CourseModule.UPDATE, duration_seconds=45 * 60)
    make_course(title="草稿", published=False)

    def titles(**kw):
        page = services.catalogue(learner, services.CatalogueFilter(**kw), page=1, per_page=50, now=now)
        return {c.title for c in page.items}

    assert "草稿" not in titles()
    assert titles(module=CourseModule.THEORY) == {f"理论{i}" for i in range(5)}
    assert titles(topic="党史") == {"长课"}
    assert titles(teaching_form=TeachingForm.CASE) == {"长课"}
    assert titles(instructor="刘芳") == {"长课"}
    assert titles(length="long") == {"长课"}
    assert titles(length="medium") == {"中课"}
    assert "长课" not in titles(length="short") and "理论0" in titles(length="short")
    first = services.catalogue(learner, services.CatalogueFilter(module=CourseModule.THEORY), page=1,
                               per_page=2, now=now)
    third = services.catalogue(learner, services.CatalogueFilter(module=CourseModule.THEORY), page=3,
                               per_page=2, now=now)
    assert first.total == 5 and first.pages == 3 and len(first.items) == 2 and first.has_next
    assert len(third.items) == 1 and not third.has_next
    assert "工会法" in services.catalogue_topics(CourseModule.THEORY)
    assert "刘芳" in services.catalogue_instructors()


# ---------------------------------------------------------------- visits

def test_visits_count_learners_once_per_course(people, now):
    course = make_course()
    lesson = make_lesson(course)
    learner = people["learner"]
    assert services.visit_needs_recording(learner, lesson, now=now)
    services.record_visit(learner.id, course.id, now=now)
    assert not services.visit_needs_recording(learner, lesson, now=now + timedelta(minutes=1))
    later = now + timedelta(hours=1)
    assert services.visit_needs_recording(learner, lesson, now=later)
    services.record_visit(learner.id, course.id, now=later)  # an upsert, not a second row
    services.record_visit(people["admin"].id, course.id, now=later)
    visit = services.db.session.scalar(sa.select(CourseVisit).where(CourseVisit.user_id == learner.id))
    assert visit.first_at == now and visit.last_at == later
    assert services.started_counts([course.id]) == {course.id: 2}
    assert services.continue_course(learner).id == course.id
    draft_lesson = make_lesson(make_course(published=False))
    assert not services.visit_needs_recording(learner, draft_lesson, now=now)
    assert not services.visit_needs_recording(people["admin"], lesson, now=later)  # an editor


# ---------------------------------------------------------------- upload purposes

def test_upload_purposes_check_the_lesson(people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me, published=False)
    video = make_lesson(course, kind=LessonKind.VIDEO, published=False)
    document = make_lesson(course, kind=LessonKind.DOCUMENT, published=False)
    purpose = uploads.upload_purpose("lesson_media")
    purpose.authorize(me, {"lesson_id": str(video.id)})
    with pytest.raises(NotFound):
        purpose.authorize(people["other_instructor"], {"lesson_id": str(video.id)})
    with pytest.raises(NotFound):
        purpose.authorize(me, {"lesson_id": "not-a-number"})
    with pytest.raises(NotFound):
        purpose.authorize(me, {})
    with pytest.raises(Conflict):
        purpose.authorize(me, {"lesson_id": str(document.id)})
    asset = make_asset(status=AssetStatus.QUEUED, owner=me)
    purpose.on_complete(me, asset, {"lesson_id": str(video.id)})
    assert video.media_asset is asset
    attachment = uploads.upload_purpose("attachment")
    attachment.authorize(me, {"lesson_id": str(document.id)})
    file_asset = make_asset(kind=AssetKind.FILE, owner=me, name="讲义.pdf")
    attachment.on_complete(me, file_asset, {"lesson_id": str(document.id)})
    assert [a.title for a in document.attachments] == ["讲义.pdf"]
