"""Keyword search in the catalogue, through the search index fed by the change log."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from lms import search
from lms.accounts.models import Role
from lms.courses import services
from lms.courses.models import Course, CourseModule, LessonKind, TeachingForm
from lms.extensions import db as ext_db
from tests.conftest import login
from tests.factories import PASSWORD, make_district, make_user


@pytest.fixture
def index_dir(app, tmp_path, monkeypatch):
    """A fresh index for this test (the database is rolled back after each test; the index
    on disk would otherwise remember other tests' courses)."""
    monkeypatch.setitem(app.config, "INDEX_DIR", tmp_path / "index")
    return tmp_path / "index"


@pytest.fixture
def people(db):
    district = make_district()
    return {"learner": make_user(),
            "instructor": make_user(unit=district, roles=(Role.INSTRUCTOR,), name="刘芳"),
            "admin": make_user(unit=district, roles=(Role.PLATFORM_ADMIN,))}


def publish(me, now, title, *, module=CourseModule.CAPABILITY, summary="", lesson_title="第一课",
            teaching_form=TeachingForm.LECTURE, published=True):
    course = services.create_course(me, services.CourseData(
        title=title, module=module, summary_source=summary, teaching_form=teaching_form,
        nominal_hours="1"), now=now)
    chapter = services.add_chapter(me, course, "第一章")
    lesson = services.add_lesson(me, chapter, services.LessonData(lesson_title, LessonKind.DOCUMENT,
                                                                  "正文"), now=now)
    if published:
        services.publish_lesson(me, lesson, now=now)
        services.publish_course(me, course, now=now)
    return course


def found(viewer, now, q, **kw) -> list[str]:
    page = services.catalogue(viewer, services.CatalogueFilter(q=q, **kw), page=1, per_page=50, now=now)
    return [c.title for c in page.items]


def test_keyword_search_finds_published_courses_by_title_summary_and_lessons(people, now, index_dir):
    me, learner = people["instructor"], people["learner"]
    publish(me, now, "集体协商实务", summary="工资集体协商的要约与程序")
    publish(me, now, "劳动争议调解", summary="企业调解委员会", lesson_title="加班费争议案例")
    publish(me, now, "工会法精讲", module=CourseModule.THEORY, summary="工会的性质与职责")
    draft = publish(me, now, "协商草稿", published=False)
    assert search.tail(now) > 0

    assert found(learner, now, "集体协商") == ["集体协商实务"]
    assert found(learner, now, "加班费") == ["劳动争议调解"]
    assert "协商草稿" not in found(learner, now, "协商")
    assert found(learner, now, "协商", module=CourseModule.THEORY) == []
    assert found(learner, now, "工会", module=CourseModule.THEORY) == ["工会法精讲"]
    assert found(learner, now, "调") == ["劳动争议调解"]  # one character, by n-grams
    assert found(learner, now, "不存在的词语") == []
    page = services.catalogue(learner, services.CatalogueFilter(q="协商"), page=1, per_page=10, now=now)
    [highlight] = page.highlights.values()
    assert "<mark>" in highlight and "协商" in highlight

    # publishing the draft and unpublishing a course reach the index through the change log
    chapter_lesson = draft.chapters[0].lessons[0]
    services.publish_lesson(me, chapter_lesson, now=now)
    services.publish_course(me, draft, now=now)
    law = ext_db.session.scalar(sa.select(Course).where(Course.title == "工会法精讲"))
    services.unpublish_course(people["admin"], law, now=now)
    search.tail(now)
    assert "协商草稿" in found(learner, now, "协商")
    assert found(learner, now, "工会法") == []


def test_search_page_highlights_and_is_safe(client, people, now, index_dir):
    me = people["instructor"]
    publish(me, now, "新就业形态劳动者权益保障", module=CourseModule.UPDATE)
    search.tail(now)
    ext_db.session.commit()
    assert login(client, people["learner"].phone, PASSWORD).status_code == 302
    html = client.get("/courses/?q=新就业形态").get_data(as_text=True)
    assert "<mark>" in html and "权益保障" in html
    html = client.get("/courses/?q=<script>alert(1)</script>").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "没有找到" in html
    for q in ['"', "AND OR NOT", "((", "*", "x" * 50]:
        assert client.get("/courses/", query_string={"q": q}).status_code == 200


def test_titles_are_marked_and_escaped():
    assert services.mark_terms("集体协商实务", "协商") == "集体<mark>协商</mark>实务"
    assert services.mark_terms("<b>协商</b> & 调解", "协商 调解") == \
        "&lt;b&gt;<mark>协商</mark>&lt;/b&gt; &amp; <mark>调解</mark>"
    assert services.mark_terms("Union LAW", "law") == "Union <mark>LAW</mark>"
    assert services.mark_terms("工会法", "协商") is None
