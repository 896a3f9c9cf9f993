"""Journeys of the courses issue, on a phone-sized Chromium:
an instructor uploads a video made by ffmpeg, waits for 已就绪 and publishes it;
a learner finds the course by keyword, plays the lesson, reloads and resumes."""
from __future__ import annotations

import shutil
import subprocess

import pytest
import sqlalchemy as sa

from lms import media, search
from lms.accounts.models import Role
from lms.courses import services as courses
from lms.courses.models import Course, CourseModule, CourseStatus, Lesson, LessonKind
from lms.db import utcnow
from lms.org.models import UnitKind
from tests.factories import PASSWORD, make_course, make_lesson, make_unit, make_user

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not shutil.which("ffmpeg"), reason="needs Debian's ffmpeg")]


def make_video(path, seconds: int = 6) -> None:
    """A small H.264/AAC clip made by ffmpeg, as a phone would upload it."""
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
                    "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(path)], check=True)


def wait_for(page, script: str, arg=None, timeout: float = 20.0):
    """Poll a page expression (the CSP forbids eval, which page.wait_for_function uses)."""
    for _ in range(int(timeout * 5)):
        value = page.evaluate(script, arg)
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError(f"never true: {script}")


def sign_in(page, login: str) -> None:
    page.goto("/login")
    page.get_by_label("手机号或用户名").fill(login)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")


def test_instructor_uploads_a_video_and_publishes_it(committed, phone, worker, tmp_path):
    instructor = make_user(phone="13900000004", name="刘芳", roles=(Role.INSTRUCTOR,))
    course = make_course(owner=instructor, instructor=instructor, title="劳动争议调解实务",
                         published=False)
    lesson = make_lesson(course, kind=LessonKind.VIDEO, title="调解的程序", published=False)
    course_id, lesson_id = course.id, lesson.id
    committed.session.commit()  # from here on the test holds no transaction: the server writes
    video = tmp_path / "手机录像.mp4"
    make_video(video)

    sign_in(phone, "13900000004")
    phone.goto(f"/teach/lessons/{lesson_id}")
    phone.locator(f"#upload-lesson_media-{lesson_id} input[type=file]").set_input_files(str(video))
    # the upload goes up in chunks, then the worker transcodes: 排队中/处理中 → 已就绪
    phone.locator("[data-asset-status]", has_text="已就绪").or_(
        phone.locator(".upload-status", has_text="已就绪")).first.wait_for(timeout=60000)
    phone.reload()
    phone.get_by_role("button", name="发布课时").click()
    assert "已发布" in phone.locator("h1").inner_text()
    phone.goto(f"/teach/courses/{course_id}")
    phone.get_by_role("button", name="发布课程").click()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360

    committed.session.rollback()
    published = committed.session.get(Lesson, lesson_id)
    assert published.published and published.duration_seconds >= 5
    assert published.media_asset.status is media.AssetStatus.READY
    labels = {r.label for r in published.media_asset.renditions}
    assert labels == {"360p"}  # a 360p source is never upscaled
    assert committed.session.get(Course, course_id).status is CourseStatus.PUBLISHED
    committed.session.rollback()


def test_learner_finds_plays_reloads_and_resumes(committed, phone, worker, tmp_path, app):
    instructor = make_user(roles=(Role.INSTRUCTOR,))
    unit = make_unit(kind=UnitKind.GRASSROOTS, name="泰达智能装备有限公司工会")
    make_user(unit=unit, phone="13900000005", name="陈静")
    course = make_course(owner=instructor, instructor=instructor, published=False,
                         title="集体协商的基本程序", module=CourseModule.CAPABILITY, topic="集体协商")
    lesson = make_lesson(course, kind=LessonKind.VIDEO, title="要约与协商", published=False)
    video = tmp_path / "lecture.mp4"
    make_video(video, seconds=20)
    now = utcnow()
    asset = media.import_file(video, owner_id=instructor.id, now=now)
    media.process_asset(asset.id, now)
    courses.attach_lesson_media(instructor, committed.session.get(Lesson, lesson.id),
                                committed.session.get(media.MediaAsset, asset.id))
    courses.publish_lesson(instructor, committed.session.get(Lesson, lesson.id), now=now)
    courses.publish_course(instructor, committed.session.get(Course, course.id), now=now)
    committed.session.commit()
    committed.session.close()  # hold no transaction while the browser works
    search.tail(utcnow())  # the worker thread also tails; make the index current now
    committed.session.commit()

    sign_in(phone, "13900000005")
    phone.goto("/courses/")
    phone.get_by_role("searchbox").first.fill("协商")
    phone.get_by_role("searchbox").first.press("Enter")
    phone.get_by_role("link", name="集体协商的基本程序").first.click()
    phone.get_by_role("link", name="要约与协商").click()

    video_el = phone.locator("video")
    video_el.wait_for()
    phone.evaluate("() => { const v = document.querySelector('video'); v.muted = true; return v.play(); }")
    wait_for(phone, "() => document.querySelector('video').currentTime > 6")
    phone.evaluate("() => document.querySelector('video').pause()")
    stopped = phone.evaluate("document.querySelector('video').currentTime")

    phone.reload()
    phone.locator("video").wait_for()
    wait_for(phone, "(at) => Math.abs(document.querySelector('video').currentTime - at) < 2.5",
             stopped)
    assert "已从上次停止的位置" in phone.locator("[data-resume-note]").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
