"""Course packages: `lms content import` on a tiny package made in a temporary folder, twice;
refused packages; the demo content itself is well-formed."""
from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
import yaml

from lms.accounts.models import Role
from lms.cli import main
from lms.courses import content
from lms.courses.models import Course, CourseModule, CourseStatus, Lesson, LessonKind
from lms.demo import CONTENT_DIR
from lms.errors import ValidationFailed
from lms.media.models import AssetStatus, MediaAsset
from tests.factories import make_district, make_user

needs_ffmpeg = pytest.mark.skipif(not (shutil.which("ffmpeg") and shutil.which("ffprobe")),
                                  reason="ffmpeg/ffprobe not installed")

PACKAGE = """\
title: 工会法入门
module: 理论知识
topic: 工会法
teaching_form: lecture
instructor: teacher1
nominal_hours: 1.5
summary: |
  **工会法**入门。<script>alert(1)</script>
audiences:
  - {year: current, position: 工会主席}
chapters:
  - title: 第一章 概述
    lessons:
      - title: 视频：工会的性质
        kind: video
        video: {generate: {seconds: 2, title_text: 工会的性质}}
      - title: 阅读：基本职责
        kind: document
        file: duties.md
        attachments: [{file: notes.txt, title: 条文摘编}]
"""


@pytest.fixture
def owner(db):
    return make_user(unit=make_district(), roles=(Role.INSTRUCTOR,), name="刘芳", username="teacher1")


@pytest.fixture
def package(tmp_path):
    folder = tmp_path / "content" / "law-basics"
    folder.mkdir(parents=True)
    (folder / "course.yaml").write_text(PACKAGE, encoding="utf-8")
    (folder / "duties.md").write_text("## 基本职责\n\n维护职工合法权益、竭诚服务职工群众。", encoding="utf-8")
    (folder / "notes.txt").write_text("条文摘编", encoding="utf-8")
    return folder


def counts(db) -> tuple[int, int, int]:
    return tuple(db.session.scalar(sa.select(sa.func.count()).select_from(model))
                 for model in (Course, Lesson, MediaAsset))


@needs_ffmpeg
def test_import_twice_gives_the_same_course(app, db, owner, package, now):
    root = package.parent
    [first] = content.import_all(root, owner=owner, now=now, echo=lambda _: None)
    course = first.course
    assert first.created and course.source_key == "law-basics"
    assert course.module is CourseModule.THEORY and course.status is CourseStatus.PUBLISHED
    assert course.instructor_id == owner.id and "<script>" not in course.summary_html
    video, document = course.chapters[0].lessons
    assert video.kind is LessonKind.VIDEO and video.published and video.duration_seconds == 2
    assert video.media_asset.status is AssetStatus.READY
    assert course.duration_seconds == 2
    assert "<h2>基本职责</h2>" in document.body_html and document.attachments[0].title == "条文摘编"
    assert [a.position for a in course.audiences] == ["工会主席"]
    before = counts(db)

    lines = []
    [second] = content.import_all(root, owner=owner, now=now, echo=lines.append)
    assert not second.created and second.course.id == course.id and second.media_made == 0
    assert counts(db) == before
    assert "law-basics" in lines[0] and "更新" in lines[0]

    # an edited package updates the same course in place: renamed lesson, a lesson removed
    spec = yaml.safe_load(PACKAGE)
    spec["title"] = "工会法入门（修订）"
    spec["chapters"][0]["lessons"] = spec["chapters"][0]["lessons"][:1]
    spec["chapters"][0]["lessons"][0]["title"] = "视频：工会是什么"
    (package / "course.yaml").write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    [third] = content.import_all(root, owner=owner, now=now, echo=lambda _: None)
    assert third.course.id == course.id and third.course.title == "工会法入门（修订）"
    assert [lesson.title for lesson in third.course.chapters[0].lessons] == ["视频：工会是什么"]
    assert third.media_made == 0  # the same video spec: no new media


@needs_ffmpeg
def test_cli_import_prints_a_line_per_course(app, db, owner, package):
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["content", "import", str(package.parent), "--owner", "teacher1"])
    assert result.exit_code == 0, result.output
    assert "[1/1] law-basics：新建“工会法入门”" in result.output and "共 1 个课程包" in result.output


@pytest.mark.parametrize("change,detail", [
    (lambda s: s.replace("module: 理论知识", "module: 哲学"), "module"),
    (lambda s: s.replace("title: 工会法入门\n", ""), "title"),
    (lambda s: s.replace("file: duties.md", "file: ../../etc/passwd"), "../../etc/passwd"),
    (lambda s: s.replace("kind: document", "kind: slides"), "kind"),
    (lambda s: "[not, a, mapping]", "title"),
    (lambda s: s + "\n  - oops: [unclosed", "course.yaml"),
])
def test_refused_packages_name_the_problem(db, owner, package, now, change, detail):
    path = package / "course.yaml"
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        content.import_package(package, owner=owner, now=now)
    assert "law-basics" in info.value.message and detail in info.value.message


def test_missing_folder(db, owner, tmp_path, now):
    with pytest.raises(ValidationFailed) as info:
        content.import_all(tmp_path / "nowhere", owner=owner, now=now)
    assert info.value.code == "content_folder_missing"


def test_demo_content_is_well_formed():
    """Every package in content/ parses, names its module and media, and covers the four
    modules with at least two courses each, each with a video and a document lesson."""
    folders = content.find_packages(CONTENT_DIR)
    modules: dict[str, int] = {}
    for folder in folders:
        spec = yaml.safe_load((folder / "course.yaml").read_text(encoding="utf-8"))
        module = content._MODULE_NAMES[spec["module"]]
        modules[module.value] = modules.get(module.value, 0) + 1
        kinds = [lesson["kind"] for ch in spec["chapters"] for lesson in ch["lessons"]]
        assert "video" in kinds and "document" in kinds, folder.name
        for chapter in spec["chapters"]:
            for lesson in chapter["lessons"]:
                if lesson.get("file"):
                    assert (folder / lesson["file"]).is_file(), (folder.name, lesson["file"])
                if lesson["kind"] in ("video", "audio"):
                    assert content._media_spec(folder, LessonKind(lesson["kind"]), lesson)
    assert len(folders) >= 8
    assert set(modules) == {m.value for m in CourseModule} and min(modules.values()) >= 2
