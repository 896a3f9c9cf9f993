"""Course packages: content/<folder>/course.yaml plus lessons in Markdown plus media.

A package is identified by its folder name (Course.source_key): importing it again updates the
same course, its chapters and lessons in place (matched by their order), and makes media only
when what the yaml asks for changed. Demo videos (``video: {generate: {...}}``) are made with
ffmpeg at import time (no video files in git) and processed synchronously by media, so every
duration is known when the import ends.

course.yaml::

    title: 《中华人民共和国工会法》精讲
    module: theory                # theory / party / capability / update (or 理论知识 ...)
    topic: 工会法
    teaching_form: lecture        # lecture / case / seminar / experiential / simulation (or 讲授式 ...)
    instructor: instructor        # an instructor's username, or:
    instructor_name: 王明远        # a guest lecturer's name
    nominal_hours: 2
    publish: true                 # default true: lessons and the course are published
    summary: |
      Markdown ...
    audiences:                    # optional: required (必修) for ...
      - {year: current, cadre_type: full_time, unit: 泰达..., position: 工会主席}
    chapters:
      - title: 第一章 ...
        lessons:
          - title: ...
            kind: video           # video / audio / document / pdf
            video: {generate: {seconds: 12, title_text: 工会法的立法宗旨}}
            file: notes.md        # Markdown: the text of a document lesson, notes under a video
          - {title: ..., kind: audio, audio: {generate: {seconds: 10}}}
          - {title: ..., kind: video, media: lecture.mp4}      # a real file in the folder
          - {title: ..., kind: pdf, media: slides.pdf}
            attachments: [{file: 要点.txt, title: 条文摘编}]
"""
from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

import sqlalchemy as sa
import yaml
from flask import current_app

from lms.accounts.models import CadreType, Role, RoleGrant, User
from lms.courses import services
from lms.courses.models import (Course, CourseAudience, CourseModule, CourseStatus, Lesson,
                                LessonKind, TeachingForm)
from lms.errors import DomainError, ValidationFailed
from lms.extensions import db
from lms.media import services as media
from lms.media.models import AssetKind, AssetStatus
from lms.media.probe import find_tools
from lms.org.models import Unit

PACKAGE_FILE = "course.yaml"
#: demo media are cached here (under the instance folder) by what they show, so a second
#: import (or `lms demo` on a fresh database) does not run ffmpeg to make them again
CACHE_FOLDER = "content-cache"
GENERATOR_VERSION = "demo-v1"
MAX_GENERATED_SECONDS = 120
DEMO_SIZE = "640x360"
DEMO_COLORS = {LessonKind.VIDEO: "0x8c1820", LessonKind.AUDIO: "0x1f4e79"}
FONT_CANDIDATES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
                   "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
                   "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
GENERATE_TIMEOUT = 120

_MODULE_NAMES = {**{m.value: m for m in CourseModule},
                 **{label: m for m, label in services.MODULE_LABELS.items()}}
_FORM_NAMES = {**{f.value: f for f in TeachingForm},
               **{label: f for f, label in services.TEACHING_FORM_LABELS.items()}}
_CADRE_NAMES = {"full_time": CadreType.FULL_TIME, "part_time": CadreType.PART_TIME,
                "专职": CadreType.FULL_TIME, "兼职": CadreType.PART_TIME}


@dataclass
class Imported:
    folder: str
    course: Course
    created: bool
    lessons: int
    published_lessons: int
    media_made: int
    seconds: float


class PackageError(ValidationFailed):
    """A package that cannot be loaded, with the folder and what is wrong in Chinese."""

    def __init__(self, folder: str, detail: str) -> None:
        super().__init__("content_package_invalid", folder=folder, detail=detail)


def find_packages(root: Path) -> list[Path]:
    """Package folders under root (each with a course.yaml), by name; root may be one package."""
    root = Path(root)
    if not root.is_dir():
        raise ValidationFailed("content_folder_missing", path=str(root))
    if (root / PACKAGE_FILE).is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and (p / PACKAGE_FILE).is_file())


# ---------------------------------------------------------------- reading the package

def _detail(code: str, **params) -> str:
    return ValidationFailed(code, **params).message


def _read_yaml(folder: Path) -> dict:
    try:
        spec = yaml.safe_load((folder / PACKAGE_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PackageError(folder.name, f"{PACKAGE_FILE}: {exc}") from None
    if not isinstance(spec, dict):
        raise PackageError(folder.name, _detail("content_field_missing", field="title"))
    return spec


def _required(folder: Path, spec: dict, key: str):
    value = spec.get(key)
    if value in (None, "", []):
        raise PackageError(folder.name, _detail("content_field_missing", field=key))
    return value


def _choice(folder: Path, mapping: dict, key: str, value):
    try:
        return mapping[str(value).strip()]
    except KeyError:
        raise PackageError(folder.name, _detail("content_field_invalid", field=key,
                                                value=value)) from None


def _inside(folder: Path, name) -> Path:
    """A file named by the package, which must lie inside its folder."""
    path = (folder / str(name)).resolve()
    if not path.is_relative_to(folder.resolve()) or not path.is_file():
        raise PackageError(folder.name, _detail("content_file_missing", file=name))
    return path


def _text(folder: Path, lesson: dict) -> str:
    if lesson.get("file"):
        return _inside(folder, lesson["file"]).read_text(encoding="utf-8")
    return str(lesson.get("body") or "")


def _instructor(folder: Path, spec: dict) -> tuple[int | None, str | None]:
    username = spec.get("instructor")
    if username:
        user = db.session.scalar(sa.select(User).where(User.username == str(username)))
        if user is not None and user.active and user.has_role(Role.INSTRUCTOR):
            return user.id, None
        if not spec.get("instructor_name"):
            raise PackageError(folder.name, _detail("content_field_invalid", field="instructor",
                                                    value=username))
    return None, spec.get("instructor_name")


# ---------------------------------------------------------------- media

def _ffmpeg() -> str:
    tools = find_tools(current_app.config.get("FFMPEG"))
    if not tools.ffmpeg:
        raise ValidationFailed("content_ffmpeg_missing")
    return tools.ffmpeg


def _font() -> str | None:
    return next((f for f in FONT_CANDIDATES if Path(f).is_file()), None)


def _generate(kind: LessonKind, seconds: int, title_text: str, dest: Path) -> None:
    """A demo video (640x360, H.264/AAC: a coloured card with the title and a running clock,
    over a quiet tone) or audio (AAC tone) of `seconds`, written to dest."""
    ffmpeg = _ffmpeg()
    tmp_dir = dest.parent
    with tempfile.TemporaryDirectory(dir=tmp_dir) as work:
        work_dir = Path(work)
        out = work_dir / ("out.mp4" if kind is LessonKind.VIDEO else "out.m4a")
        audio = ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}"]
        if kind is LessonKind.AUDIO:
            args = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *audio,
                    "-af", "volume=0.2", "-c:a", "aac", "-b:a", "64k", str(out)]
            _run(args)
        else:
            video = ["-f", "lavfi", "-i",
                     f"color=c={DEMO_COLORS[kind]}:s={DEMO_SIZE}:r=15:d={seconds}"]
            encode = ["-af", "volume=0.2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "30",
                      "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-shortest",
                      "-movflags", "+faststart", str(out)]
            font = _font()
            base = [ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *video, *audio]
            if font:
                (work_dir / "title.txt").write_text(title_text, encoding="utf-8")
                (work_dir / "brand.txt").write_text("滨海新区工会干部教育培训在线学习平台 · 演示视频",
                                                    encoding="utf-8")
                text = (f"drawtext=fontfile={font}:textfile=title.txt:fontcolor=white:fontsize=34:"
                        "x=(w-text_w)/2:y=(h-text_h)/2-24,"
                        f"drawtext=fontfile={font}:textfile=brand.txt:fontcolor=white@0.8:fontsize=16:"
                        "x=(w-text_w)/2:y=h-48,"
                        f"drawtext=fontfile={font}:text='%{{pts\\:hms}}':fontcolor=white:fontsize=22:"
                        "x=(w-text_w)/2:y=(h/2)+30")
                try:
                    _run([*base, "-vf", text, *encode], cwd=work_dir)
                except ValidationFailed:
                    _run([*base, *encode], cwd=work_dir)  # an ffmpeg without drawtext
            else:
                _run([*base, *encode], cwd=work_dir)
        out.replace(dest)


def _run(args: list[str], cwd: Path | None = None) -> None:
    try:
        proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True,
                              timeout=GENERATE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValidationFailed("content_media_failed", file="(ffmpeg)", reason=str(exc)) from None
    if proc.returncode != 0:
        raise ValidationFailed("content_media_failed", file="(ffmpeg)",
                               reason=(proc.stderr or "").strip()[-300:])


def _cache_dir() -> Path:
    folder = Path(current_app.instance_path) / CACHE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class _MediaSpec:
    path: Path | None
    #: what the media is: kept as the asset's name, so an unchanged spec makes nothing new
    name: str
    generate: tuple[LessonKind, int, str] | None = None


def _media_spec(folder: Path, kind: LessonKind, lesson: dict) -> _MediaSpec | None:
    for key in ("video", "audio"):
        gen = (lesson.get(key) or {}).get("generate") if isinstance(lesson.get(key), dict) else None
        if gen is not None:
            try:
                seconds = max(1, min(int(gen.get("seconds", 12)), MAX_GENERATED_SECONDS))
            except (TypeError, ValueError):
                raise PackageError(folder.name, _detail("content_field_invalid", field="seconds",
                                                        value=gen.get("seconds"))) from None
            title_text = str(gen.get("title_text") or lesson.get("title") or "")[:40]
            gen_kind = LessonKind.VIDEO if key == "video" else LessonKind.AUDIO
            digest = hashlib.sha256(json.dumps(
                [GENERATOR_VERSION, gen_kind.value, seconds, title_text], ensure_ascii=False)
                .encode()).hexdigest()[:12]
            suffix = ".mp4" if gen_kind is LessonKind.VIDEO else ".m4a"
            return _MediaSpec(path=None, name=f"演示-{digest}{suffix}",
                              generate=(gen_kind, seconds, title_text))
    if lesson.get("media"):
        path = _inside(folder, lesson["media"])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        return _MediaSpec(path=path, name=f"{path.stem[:80]}-{digest}{path.suffix[:10]}")
    if kind in services.MEDIA_KINDS:
        raise PackageError(folder.name, _detail("content_field_missing", field="video/audio/media"))
    return None


def _ensure_media(folder: Path, lesson: Lesson, spec: _MediaSpec, owner: User,
                  now: datetime) -> bool:
    """Give the lesson the media the package names, unless it already has it (ready).
    Returns whether media was made."""
    current = lesson.media_asset
    if current is not None and current.original_name == spec.name \
            and current.status is AssetStatus.READY:
        return False
    path = spec.path
    if spec.generate is not None:
        gen_kind, seconds, title_text = spec.generate
        path = _cache_dir() / spec.name
        if not path.is_file():
            _generate(gen_kind, seconds, title_text, path)
    kinds = ((AssetKind.PDF,) if lesson.kind is LessonKind.PDF
             else (AssetKind.VIDEO, AssetKind.AUDIO))
    asset = media.import_file(path, original_name=spec.name, owner_id=owner.id, kinds=kinds, now=now)
    if asset.status is not AssetStatus.FAILED:
        asset = media.process_asset(asset.id, now)
    if asset is None or asset.status is not AssetStatus.READY:
        raise PackageError(folder.name, _detail(
            "content_media_failed", file=spec.path.name if spec.path else spec.name,
            reason=(asset.error if asset else "") or ""))
    lesson.media_asset = asset
    db.session.flush()
    return True


def _sync_attachments(folder: Path, lesson: Lesson, items, owner: User, now: datetime) -> None:
    """Attachments as the package lists them (matched by title; files re-imported on change)."""
    wanted = []
    for item in items or []:
        item = item if isinstance(item, dict) else {"file": item}
        path = _inside(folder, _required(folder, item, "file"))
        title = str(item.get("title") or path.name)[:255]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        wanted.append((title, path, f"{path.stem[:80]}-{digest}{path.suffix[:10]}"))
    by_title = {a.title: a for a in lesson.attachments}
    keep = set()
    for title, path, name in wanted:
        existing = by_title.get(title)
        if existing is not None and existing.asset.original_name == name:
            keep.add(existing.id)
            continue
        if existing is not None:
            lesson.attachments.remove(existing)
        asset = media.import_file(path, original_name=name, owner_id=owner.id,
                                  kinds=(AssetKind.FILE,), now=now)
        if asset.status is not AssetStatus.READY:
            raise PackageError(folder.name, _detail("content_media_failed", file=path.name,
                                                    reason=asset.error or ""))
        db.session.flush()
        keep.add(services.add_attachment(owner, lesson, asset, title=title).id)
    for attachment in list(lesson.attachments):
        if attachment.id not in keep:
            lesson.attachments.remove(attachment)
    db.session.flush()


def _sync_audiences(folder: Path, course: Course, items, now: datetime) -> None:
    """The package's audiences replace the course's (content is loaded by an operator)."""
    wanted = set()
    for item in items or []:
        if not isinstance(item, dict):
            raise PackageError(folder.name, _detail("content_field_invalid", field="audiences",
                                                    value=item))
        year = item.get("year", "current")
        year = services.local_year(now) if year == "current" else year
        if not isinstance(year, int) or not 2000 <= year <= 2100:
            raise PackageError(folder.name, _detail("content_field_invalid", field="year", value=year))
        cadre_type = _choice(folder, _CADRE_NAMES, "cadre_type", item["cadre_type"]) \
            if item.get("cadre_type") else None
        unit_id = None
        if item.get("unit"):
            unit = db.session.scalar(sa.select(Unit).where(Unit.name == str(item["unit"])))
            if unit is None:
                raise PackageError(folder.name, _detail("content_field_invalid", field="unit",
                                                        value=item["unit"]))
            unit_id = unit.id
        position = str(item["position"]).strip()[:50] if item.get("position") else None
        wanted.add((year, cadre_type, unit_id, position))
    have = {(a.year, a.cadre_type, a.unit_id, a.position): a for a in course.audiences}
    for key, audience in have.items():
        if key not in wanted:
            course.audiences.remove(audience)
    for year, cadre_type, unit_id, position in wanted - set(have):
        db.session.add(CourseAudience(course=course, year=year, cadre_type=cadre_type,
                                      unit_id=unit_id, position=position))
    db.session.flush()


# ---------------------------------------------------------------- one package

def import_package(folder: Path, *, owner: User, now: datetime) -> Imported:
    """Create or update the course of one package folder (by folder name), in the caller's
    transaction: details, chapters and lessons in the package's order (extra ones removed),
    media made and processed, attachments, audiences; then lessons and the course published as
    the package says (`publish`, default true). Refused with PackageError naming the folder."""
    started = time.monotonic()
    folder = Path(folder)
    spec = _read_yaml(folder)
    key = folder.name[:100]
    instructor_id, instructor_name = _instructor(folder, spec)
    data = services.CourseData(
        title=str(_required(folder, spec, "title")),
        module=_choice(folder, _MODULE_NAMES, "module", _required(folder, spec, "module")),
        teaching_form=_choice(folder, _FORM_NAMES, "teaching_form",
                              spec.get("teaching_form") or "lecture"),
        topic=spec.get("topic"), summary_source=str(spec.get("summary") or ""),
        instructor_id=instructor_id, instructor_name=instructor_name,
        nominal_hours=spec.get("nominal_hours", 1))
    publish = spec.get("publish", True) is not False
    chapters_spec = _required(folder, spec, "chapters")
    if not isinstance(chapters_spec, list):
        raise PackageError(folder.name, _detail("content_field_invalid", field="chapters",
                                                value=type(chapters_spec).__name__))
    try:
        course = db.session.scalar(sa.select(Course).where(Course.source_key == key))
        created = course is None
        if created:
            course = services.create_course(owner, data, now=now, source_key=key)
        else:
            services.update_course(owner, course, data, now=now)
        made = 0
        wanted_published: list[Lesson] = []
        chapters = sorted(course.chapters, key=lambda c: (c.position, c.id))
        kept_chapters = []
        for ci, chapter_spec in enumerate(chapters_spec):
            if not isinstance(chapter_spec, dict):
                raise PackageError(folder.name, _detail("content_field_invalid", field="chapters",
                                                        value=chapter_spec))
            title = str(_required(folder, chapter_spec, "title"))
            chapter = chapters[ci] if ci < len(chapters) else services.add_chapter(owner, course, title)
            chapter.title, chapter.position = services.clean_chapter_title(title), ci
            kept_chapters.append(chapter)
            lessons = sorted(chapter.lessons, key=lambda x: (x.position, x.id))
            kept = []
            for li, lesson_spec in enumerate(chapter_spec.get("lessons") or []):
                if not isinstance(lesson_spec, dict):
                    raise PackageError(folder.name, _detail("content_field_invalid",
                                                            field="lessons", value=lesson_spec))
                kind = _choice(folder, {k.value: k for k in LessonKind}, "kind",
                               _required(folder, lesson_spec, "kind"))
                lesson_data = services.LessonData(title=str(_required(folder, lesson_spec, "title")),
                                                  kind=kind, body_source=_text(folder, lesson_spec))
                lesson = lessons[li] if li < len(lessons) else None
                if lesson is None:
                    lesson = services.add_lesson(owner, chapter, lesson_data, now=now)
                else:
                    if lesson.kind is not kind:
                        lesson.published, lesson.kind, lesson.media_asset = False, kind, None
                    services.apply_lesson(lesson, lesson_data)
                lesson.position = li
                kept.append(lesson)
                media_spec = _media_spec(folder, kind, lesson_spec)
                if media_spec is not None:
                    made += _ensure_media(folder, lesson, media_spec, owner, now)
                _sync_attachments(folder, lesson, lesson_spec.get("attachments"), owner, now)
                if lesson_spec.get("publish", publish) is not False:
                    wanted_published.append(lesson)
                else:
                    lesson.published = False
            for extra in lessons[len(kept):]:
                chapter.lessons.remove(extra)
        for extra in chapters[len(kept_chapters):]:
            course.chapters.remove(extra)
        db.session.flush()
        for lesson in wanted_published:
            services.publish_lesson(owner, lesson, now=now)
        _sync_audiences(folder, course, spec.get("audiences"), now)
        if publish:
            services.publish_course(owner, course, now=now)
        elif course.status is CourseStatus.PUBLISHED:
            services.unpublish_course(owner, course, now=now)
        services.recompute_duration(course)
        db.session.flush()
    except PackageError:
        raise
    except DomainError as exc:
        raise PackageError(folder.name, exc.message) from None
    db.session.expire(course, ["chapters"])
    lessons_total, lessons_published = services.lesson_counts([course.id]).get(course.id, (0, 0))
    return Imported(folder=folder.name, course=course, created=created, lessons=lessons_total,
                    published_lessons=lessons_published, media_made=made,
                    seconds=time.monotonic() - started)


def import_all(root: Path, *, owner: User, now: datetime,
               echo: Callable[[str], None] = print,
               after_each: Callable[[], None] | None = None) -> list[Imported]:
    """Every package under root, in folder order, one progress line each; `after_each` (e.g.
    a commit) runs after every package."""
    results = []
    packages = find_packages(root)
    for i, folder in enumerate(packages, 1):
        result = import_package(folder, owner=owner, now=now)
        if after_each:
            after_each()
        results.append(result)
        echo(progress_line(i, len(packages), result))
    return results


def progress_line(i: int, n: int, result: Imported) -> str:
    course = result.course
    state = services.COURSE_STATUS_LABELS[course.status]
    return (f"[{i}/{n}] {result.folder}：{'新建' if result.created else '更新'}“{course.title}”"
            f"（{services.MODULE_LABELS[course.module]}，{result.published_lessons}/{result.lessons} 课时已发布，"
            f"时长 {services.format_duration(course.duration_seconds)}，{state}；"
            f"新生成媒体 {result.media_made} 个，用时 {result.seconds:.1f} 秒）")


def default_owner() -> User | None:
    """Who owns imported courses when no --owner is given: the first active platform admin."""
    return db.session.scalar(
        sa.select(User).where(User.active.is_(True),
                              User.role_grants.any(RoleGrant.role == Role.PLATFORM_ADMIN))
        .order_by(User.id).limit(1))
