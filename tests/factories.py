"""Factory functions for tests: make_unit(...), make_user(unit=..., roles=...)."""
from __future__ import annotations

import itertools

from lms.accounts.models import (CadreProfile, CadreType, EnterpriseType, Role, RoleGrant, User)
from lms.accounts.services import CHEAP_HASHER
from lms.extensions import db
from lms.org.models import Unit, UnitKind
from lms.org.services import create_unit

PASSWORD = "Test@2026pass"
_HASH = CHEAP_HASHER.hash(PASSWORD)  # argon2 at its lowest cost: the rules are under test
_seq = itertools.count(1)


def make_district() -> Unit:
    existing = db.session.query(Unit).filter_by(kind=UnitKind.DISTRICT).first()
    return existing or create_unit(name="滨海新区总工会", kind=UnitKind.DISTRICT, parent_id=None)


def make_unit(name: str | None = None, kind: UnitKind = UnitKind.ZONE, parent: Unit | None = None) -> Unit:
    if parent is None and kind is not UnitKind.DISTRICT:
        parent = make_district()
    return create_unit(name=name or f"测试单位{next(_seq)}", kind=kind,
                       parent_id=parent.id if parent else None)


def make_two_zone_tree() -> dict[str, Unit]:
    """区总工会 → 开发区总工会 (→ 甲公司工会), 保税区总工会 (→ 乙公司工会): a subtree and a
    neighbour, for scoping rules."""
    root = make_district()
    zone = make_unit(name="开发区总工会", kind=UnitKind.ZONE)
    other_zone = make_unit(name="保税区总工会", kind=UnitKind.ZONE)
    return {"root": root, "zone": zone, "other_zone": other_zone,
            "grassroots": make_unit(name="甲公司工会", kind=UnitKind.GRASSROOTS, parent=zone),
            "other_grassroots": make_unit(name="乙公司工会", kind=UnitKind.GRASSROOTS,
                                          parent=other_zone)}


def make_user(*, unit: Unit | None = None, roles=(Role.LEARNER,), name: str | None = None,
              phone: str | None = None, username: str | None = None, admin_of: Unit | None = None,
              must_change_password: bool = False, active: bool = True,
              cadre_type: CadreType = CadreType.PART_TIME) -> User:
    n = next(_seq)
    unit = unit or make_unit(kind=UnitKind.GRASSROOTS)
    user = User(name=name or f"测试用户{n}", phone=phone or f"137{n:08d}",
                username=username, unit=unit, password_hash=_HASH, active=active,
                must_change_password=must_change_password)
    user.profile = CadreProfile(position="工会主席", cadre_type=cadre_type,
                                enterprise_type=EnterpriseType.NON_PUBLIC)
    for role in roles:
        user.role_grants.append(RoleGrant(
            role=role, unit=(admin_of or unit) if role is Role.UNIT_ADMIN else None))
    db.session.add(user)
    db.session.flush()
    return user


# ---------------------------------------------------------------- courses (make_course, make_lesson)
# (imported here, beside the factories that use them: this section is the courses')
from datetime import datetime, timezone  # noqa: E402
from decimal import Decimal  # noqa: E402

from lms.courses.models import (Chapter, Course, CourseModule, CourseStatus, Lesson,  # noqa: E402
                                LessonKind, TeachingForm)
from lms.media.models import AssetKind, AssetStatus, MediaAsset  # noqa: E402


def make_course(*, owner: User | None = None, title: str | None = None, module=None, topic: str | None = None,
                teaching_form=None, published: bool = True, instructor: User | None = None,
                instructor_name: str | None = None, nominal_hours: str = "1.0",
                duration_seconds: int = 600, summary_html: str = "<p>课程简介</p>"):
    """A course with one empty chapter, published (with published_at) unless told otherwise.
    Rows only: no search change is recorded (use lms.courses.services for that)."""
    n = next(_seq)
    course = Course(
        title=title or f"测试课程{n}", module=module or CourseModule.THEORY, topic=topic,
        teaching_form=teaching_form or TeachingForm.LECTURE, owner_id=owner.id if owner else None,
        instructor_id=instructor.id if instructor else None,
        instructor_name=instructor.name if instructor else (instructor_name or "测试讲师"),
        status=CourseStatus.PUBLISHED if published else CourseStatus.DRAFT,
        published_at=datetime(2026, 11, 1, tzinfo=timezone.utc) if published else None,
        nominal_hours=Decimal(nominal_hours), duration_seconds=duration_seconds,
        summary_html=summary_html)
    course.chapters.append(Chapter(title="第一章", position=0))
    db.session.add(course)
    db.session.flush()
    return course


def make_asset(*, kind=None, status=None, duration: float | None = 12.0, owner: User | None = None,
               name: str = "lecture.mp4"):
    """A media asset row without files (for rules that only read its state)."""
    asset = MediaAsset(kind=kind or AssetKind.VIDEO, status=status or AssetStatus.READY,
                       original_name=name, owner_id=owner.id if owner else None,
                       duration_seconds=duration, size=1000)
    db.session.add(asset)
    db.session.flush()
    return asset


def make_lesson(course, *, kind=None, title: str | None = None, published: bool = True,
                body_html: str = "<p>正文</p>", asset=None, duration_seconds: int = 0, chapter=None):
    """A lesson at the end of the course's first chapter (or `chapter`)."""
    chapter = chapter or course.chapters[0]
    lesson = Lesson(course_id=course.id, chapter=chapter, title=title or f"测试课时{next(_seq)}",
                    kind=kind or LessonKind.DOCUMENT, position=len(chapter.lessons),
                    body_html=body_html, body_source="正文", media_asset=asset,
                    duration_seconds=duration_seconds, published=published)
    db.session.add(lesson)
    db.session.flush()
    return lesson
