"""The course pages: catalogue, course, lesson; the authoring pages; who gets what status."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from lms.accounts.models import Role
from lms.courses import services
from lms.courses.models import Course, CourseModule, CourseStatus, CourseVisit, Lesson, LessonKind
from lms.extensions import db as ext_db
from lms.org.models import UnitKind
from tests.conftest import csrf_token, login
from tests.factories import (PASSWORD, make_asset, make_course, make_district, make_lesson,
                             make_unit, make_user)


@pytest.fixture
def people(db):
    district = make_district()
    company = make_unit(name="甲公司工会", kind=UnitKind.GRASSROOTS)
    return {
        "learner": make_user(unit=company, name="陈静"),
        "instructor": make_user(unit=district, roles=(Role.INSTRUCTOR,), name="刘芳"),
        "other_instructor": make_user(unit=district, roles=(Role.INSTRUCTOR,), name="赵立新"),
        "admin": make_user(unit=district, roles=(Role.PLATFORM_ADMIN,), name="王建华"),
        "unit_admin": make_user(unit=company, roles=(Role.UNIT_ADMIN,)),
    }


def sign_in(client, user) -> str:
    assert login(client, user.phone, PASSWORD).status_code == 302
    return csrf_token(client, "/")


def text(resp) -> str:
    return resp.get_data(as_text=True)


def assert_clean_page(html: str) -> None:
    """CSP: no inline script or style on any page."""
    assert '<html lang="zh-CN">' in html
    assert "<script>" not in html and "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"


# ---------------------------------------------------------------- the catalogue

def test_catalogue_needs_sign_in(client, people):
    resp = client.get("/courses/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_catalogue_lists_published_courses_with_modules_and_facts(client, people):
    make_course(title="工会法精讲", module=CourseModule.THEORY, topic="工会法", nominal_hours="2.0",
                duration_seconds=1500, instructor=people["instructor"])
    make_course(title="还在写的草稿", published=False)
    sign_in(client, people["learner"])
    resp = client.get("/courses/")
    html = text(resp)
    assert resp.status_code == 200
    assert_clean_page(html)
    for word in ["课程中心", "理论知识", "党性教育", "能力提升", "知识更新", "工会法精讲", "刘芳",
                 "25 分钟", "讲授式", "必修/选修", "教学形式", "时长"]:
        assert word in html, word
    assert "还在写的草稿" not in html
    assert "课程" in text(client.get("/")) and 'href="/courses/"' in text(client.get("/"))


def test_catalogue_filters_by_module_topic_and_required(client, people, now):
    year = services.local_year(now)
    law = make_course(title="工会法精讲", module=CourseModule.THEORY, topic="工会法")
    make_course(title="二十大精神", module=CourseModule.PARTY, topic="党的二十大精神")
    required = make_course(title="集体协商实务", module=CourseModule.CAPABILITY, topic="集体协商")
    services.add_audience(people["admin"], required, services.AudienceData(year=year))
    sign_in(client, people["learner"])
    html = text(client.get("/courses/?module=theory"))
    assert "工会法精讲" in html and "二十大精神" not in html
    assert 'aria-current="page">理论知识' in html
    assert "工会法精讲" in text(client.get("/courses/?topic=工会法"))
    html = text(client.get("/courses/?required=required"))
    assert "集体协商实务" in html and "工会法精讲" not in html and "必修" in html
    html = text(client.get("/courses/?required=elective"))
    assert "集体协商实务" not in html and "工会法精讲" in html
    # refused values are ignored rather than failing the page
    assert client.get("/courses/?module=nonsense&length=forever&page=-3").status_code == 200
    assert law.id


def test_catalogue_pages_and_empty_states(client, people):
    for i in range(15):
        make_course(title=f"课程{i:02d}", module=CourseModule.UPDATE)
    sign_in(client, people["learner"])
    first = text(client.get("/courses/?module=update"))
    assert "第 1 / 2 页" in first and "下一页" in first
    second = text(client.get("/courses/?module=update&page=2"))
    assert second.count('class="course-card"') == 3
    assert "没有符合条件的课程" in text(client.get("/courses/?module=party"))


def test_empty_catalogue_says_so(client, people):
    sign_in(client, people["learner"])
    assert "还没有发布的课程" in text(client.get("/courses/"))


# ---------------------------------------------------------------- course and lesson pages

def test_course_page_shows_chapters_lessons_and_required_badge(client, people, now):
    course = make_course(title="劳动争议调解", summary_html="<p>调解<strong>实务</strong></p>")
    video = make_lesson(course, kind=LessonKind.VIDEO, title="调解委员会", asset=make_asset(),
                        duration_seconds=754)
    make_lesson(course, title="调解程序")
    make_lesson(course, title="未发布的课时", published=False)
    services.add_audience(people["admin"], course, services.AudienceData(year=services.local_year(now)))
    sign_in(client, people["learner"])
    resp = client.get(f"/courses/{course.id}")
    html = text(resp)
    assert resp.status_code == 200
    assert_clean_page(html)
    for word in ["劳动争议调解", "调解<strong>实务</strong>", "课程目录", "第一章", "调解委员会",
                 "12:34", "调解程序", "视频", "图文", "必修", "开始学习"]:
        assert word in html, word
    assert "未发布的课时" not in html
    assert f'href="/courses/lessons/{video.id}"' in html


def test_learner_gets_404_for_drafts_and_unpublished_lessons(client, people):
    draft = make_course(published=False, owner=people["instructor"])
    draft_lesson = make_lesson(draft)
    course = make_course()
    hidden = make_lesson(course, published=False)
    sign_in(client, people["learner"])
    for url in [f"/courses/{draft.id}", f"/courses/lessons/{draft_lesson.id}",
                f"/courses/lessons/{hidden.id}", "/courses/999999", "/courses/lessons/999999"]:
        resp = client.get(url)
        assert resp.status_code == 404, url
        assert "不存在" in text(resp)


def test_owner_previews_a_draft(client, people):
    me = people["instructor"]
    draft = make_course(published=False, owner=me, instructor=me, title="我的草稿")
    lesson = make_lesson(draft, published=False, title="草稿课时")
    sign_in(client, me)
    html = text(client.get(f"/courses/{draft.id}"))
    assert "我的草稿" in html and "编辑课程" in html and "草稿" in html
    html = text(client.get(f"/courses/lessons/{lesson.id}"))
    assert "预览" in html and "草稿课时" in html


def test_lesson_pages_by_kind(client, people):
    course = make_course()
    document = make_lesson(course, title="图文课", body_html="<h2>要点</h2><p>协商</p>")
    video = make_lesson(course, kind=LessonKind.VIDEO, title="视频课", asset=make_asset(),
                        body_html="<p>观看提示</p>")
    pending = make_lesson(course, kind=LessonKind.VIDEO, title="处理中的视频",
                          asset=make_asset(status=services.AssetStatus.PROCESSING))
    sign_in(client, people["learner"])
    html = text(client.get(f"/courses/lessons/{document.id}"))
    assert_clean_page(html)
    assert "<h2>要点</h2>" in html and "下一课：视频课" in html
    html = text(client.get(f"/courses/lessons/{video.id}"))
    assert "观看提示" in html and "上一课：图文课" in html
    assert "js/player.js" in html
    html = text(client.get(f"/courses/lessons/{pending.id}"))
    assert "尚未就绪" in html and "处理中" in html and "<video" not in html


def test_opening_a_lesson_counts_the_learner_once(client, people):
    course = make_course()
    first = make_lesson(course)
    second = make_lesson(course)
    sign_in(client, people["learner"])
    assert client.get(f"/courses/lessons/{first.id}").status_code == 200
    assert client.get(f"/courses/lessons/{second.id}").status_code == 200
    rows = ext_db.session.scalars(sa.select(CourseVisit).where(CourseVisit.course_id == course.id)).all()
    assert len(rows) == 1 and rows[0].user_id == people["learner"].id
    home = text(client.get("/"))
    assert "继续学习" in home and course.title in home


# ---------------------------------------------------------------- authoring

def test_authoring_is_for_instructors_and_platform_admins(client, people):
    for who in ("learner", "unit_admin"):
        sign_in(client, people[who])
        assert client.get("/teach/").status_code == 403
        assert "我的授课" not in text(client.get("/"))
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    sign_in(client, people["instructor"])
    html = text(client.get("/teach/"))
    assert "我的授课" in html and "新建课程" in html


def test_instructor_builds_and_publishes_a_course(client, people):
    me = people["instructor"]
    token = sign_in(client, me)
    resp = client.post("/teach/courses/new", data={
        "csrf_token": token, "title": "职代会制度", "module": "capability", "topic": "职工代表大会",
        "teaching_form": "seminar", "instructor_id": "", "instructor_name": "", "nominal_hours": "1.5",
        "summary_source": "## 简介\n\n<script>alert(1)</script>职代会是**民主管理**的基本形式"})
    assert resp.status_code == 302, text(resp)
    course = ext_db.session.scalar(sa.select(Course).where(Course.title == "职代会制度"))
    assert course.owner_id == me.id and course.instructor_id == me.id
    assert "<script>" not in course.summary_html
    html = text(client.get(f"/teach/courses/{course.id}"))
    assert_clean_page(html)
    assert "章节与课时" in html and "必修范围由平台管理员设置" in html
    assert client.post(f"/teach/courses/{course.id}/chapters",
                       data={"csrf_token": token, "title": "第一章 职权"}).status_code == 302
    chapter = course.chapters[0]
    resp = client.post(f"/teach/chapters/{chapter.id}/lessons/new", data={
        "csrf_token": token, "title": "职权与程序", "kind": "document", "body_source": ""})
    lesson = ext_db.session.scalar(sa.select(Lesson).where(Lesson.title == "职权与程序"))
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/teach/lessons/{lesson.id}")
    # publishing an empty document is refused with the reason, nothing changes
    resp = client.post(f"/teach/lessons/{lesson.id}/publish", data={"csrf_token": token},
                       follow_redirects=True)
    assert "须有正文才能发布" in text(resp) and not lesson.published
    resp = client.post(f"/teach/lessons/{lesson.id}", data={
        "csrf_token": token, "title": "职权与程序", "kind": "document",
        "body_source": "职工代表大会**每年至少召开一次**。<img src=x onerror=alert(1)>"})
    assert resp.status_code == 302
    html = text(client.get(f"/teach/lessons/{lesson.id}"))
    preview = html.split("正文预览", 1)[1]  # the source stays in the textarea, escaped
    assert "<strong>每年至少召开一次</strong>" in preview and "onerror" not in preview
    client.post(f"/teach/lessons/{lesson.id}/publish", data={"csrf_token": token})
    resp = client.post(f"/teach/courses/{course.id}/publish", data={"csrf_token": token},
                       follow_redirects=True)
    assert "已发布" in text(resp)
    assert course.status is CourseStatus.PUBLISHED


def test_course_form_refusals_rerender_in_chinese(client, people):
    token = sign_in(client, people["instructor"])
    resp = client.post("/teach/courses/new", data={"csrf_token": token, "title": "", "module": "",
                                                   "nominal_hours": "0"})
    html = text(resp)
    assert resp.status_code == 422
    assert "请填写课程名称" in html and "请选择课程模块" in html
    resp = client.post("/teach/courses/new", data={"title": "无令牌", "module": "theory",
                                                   "nominal_hours": "1"})
    assert resp.status_code in (400, 422)


def test_instructor_cannot_touch_another_instructors_course(client, people):
    theirs = make_course(owner=people["other_instructor"], instructor=people["other_instructor"],
                         published=False)
    published = make_course(owner=people["other_instructor"], instructor=people["other_instructor"])
    lesson = make_lesson(published)
    token = sign_in(client, people["instructor"])
    assert client.get(f"/teach/courses/{theirs.id}").status_code == 404
    assert client.get(f"/teach/courses/{published.id}").status_code == 403
    assert client.get(f"/teach/lessons/{lesson.id}").status_code == 403
    resp = client.post(f"/teach/courses/{published.id}/unpublish", data={"csrf_token": token})
    assert resp.status_code == 403 and published.status is CourseStatus.PUBLISHED
    assert published.id not in {c.id for c in ext_db.session.scalars(
        services.teach_query(people["instructor"], services.TeachFilter()))}


def test_admin_sees_all_courses_with_numbers_and_unpublishes(client, people, now):
    course = make_course(title="安全生产", owner=people["instructor"], instructor=people["instructor"])
    make_lesson(course)
    services.record_visit(people["learner"].id, course.id, now=now)
    token = sign_in(client, people["admin"])
    html = text(client.get("/teach/"))
    assert_clean_page(html)
    assert "课程管理" in html and "安全生产" in html and "学员开始" in html
    assert "—（学时记录上线后统计）" in html
    assert re.search(r'data-label="学员开始">1<', html)
    resp = client.post(f"/teach/courses/{course.id}/unpublish",
                       data={"csrf_token": token, "back": "index"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/teach/")
    assert course.status is CourseStatus.UNPUBLISHED


def test_admin_sets_an_audience_on_the_page(client, people, now):
    course = make_course(owner=people["instructor"], instructor=people["instructor"])
    token = sign_in(client, people["admin"])
    html = text(client.get(f"/teach/courses/{course.id}"))
    assert "设为必修" in html
    resp = client.post(f"/teach/courses/{course.id}/audiences", data={
        "csrf_token": token, "year": str(services.local_year(now)), "cadre_type": "",
        "unit_id": "", "position": "工会主席"})
    assert resp.status_code == 302
    assert [a.position for a in course.audiences] == ["工会主席"]
    html = text(client.get(f"/teach/courses/{course.id}"))
    assert "职务为“工会主席”" in html


def test_reordering_and_renaming_on_the_course_page(client, people, now):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me, published=False)
    second = services.add_chapter(me, course, "第二章")
    token = sign_in(client, me)
    client.post(f"/teach/chapters/{second.id}/move", data={"csrf_token": token, "direction": "up"})
    assert second.position == 0
    client.post(f"/teach/chapters/{second.id}/rename", data={"csrf_token": token, "title": "第一章 总则"})
    assert second.title == "第一章 总则"
    resp = client.post(f"/teach/chapters/{second.id}/move", data={"csrf_token": token, "direction": "x"})
    assert resp.status_code == 303


def test_course_edit_and_lesson_editor_pages(client, people):
    me = people["instructor"]
    course = make_course(owner=me, instructor=me, published=False, title="旧名")
    failed = make_asset(status=services.AssetStatus.FAILED, owner=me)
    failed.error = "文件不是视频或音频"
    lesson = make_lesson(course, kind=LessonKind.VIDEO, published=False, asset=failed)
    queued = make_lesson(course, kind=LessonKind.VIDEO, published=False,
                         asset=make_asset(status=services.AssetStatus.QUEUED, owner=me))
    token = sign_in(client, me)
    html = text(client.get(f"/teach/courses/{course.id}/edit"))
    assert_clean_page(html)
    assert 'value="旧名"' in html and "Markdown" in html
    resp = client.post(f"/teach/courses/{course.id}/edit", data={
        "csrf_token": token, "title": "新名", "module": "theory", "teaching_form": "lecture",
        "instructor_id": str(me.id), "instructor_name": "", "nominal_hours": "2", "summary_source": ""})
    assert resp.status_code == 302 and course.title == "新名"
    html = text(client.get(f"/teach/lessons/{lesson.id}"))
    assert_clean_page(html)
    assert "失败" in html and "文件不是视频或音频" in html
    assert 'data-upload-purpose="lesson_media"' in html and 'data-upload-purpose="attachment"' in html
    assert "js/courses.js" in html
    html = text(client.get(f"/teach/lessons/{queued.id}"))
    assert "排队中" in html and f'data-asset-status="/media/assets/{queued.media_asset_id}/status"' in html
    html = text(client.get(f"/teach/chapters/{course.chapters[0].id}/lessons/new"))
    assert "添加课时" in html and "课时类型" in html
