"""Media of lessons, served by permission: a real small video made by ffmpeg and processed by
media's pipeline is served with ranges to those who may see the lesson, and is a 404 for
everyone else whatever the URL."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from lms.accounts.models import Role
from lms.courses import services
from lms.courses.models import CourseStatus, LessonKind
from lms.extensions import db as ext_db
from lms.media import services as media
from lms.media.models import AssetKind, AssetStatus
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_course, make_district, make_lesson, make_user

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(not (FFMPEG and shutil.which("ffprobe")),
                                  reason="ffmpeg/ffprobe not installed")


@pytest.fixture(scope="module")
def small_video(tmp_path_factory):
    out = tmp_path_factory.mktemp("courses-media") / "lesson.mp4"
    subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y",
                    "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=15:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=2",
                    "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-c:a", "aac", "-shortest", str(out)], check=True, timeout=120)
    return out


@pytest.fixture
def people(db):
    district = make_district()
    return {"learner": make_user(), "instructor": make_user(unit=district, roles=(Role.INSTRUCTOR,)),
            "other": make_user(unit=district, roles=(Role.INSTRUCTOR,))}


def sign_in(client, user) -> None:
    assert login(client, user.phone, PASSWORD).status_code == 302
    csrf_token(client, "/")


@needs_ffmpeg
def test_video_is_served_with_ranges_only_to_those_who_may_see_it(client, people, now, small_video):
    me = people["instructor"]
    asset = media.import_file(small_video, original_name="第一讲.mp4", owner_id=me.id, now=now)
    asset = media.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    course = make_course(owner=me, instructor=me, published=False, duration_seconds=0)
    lesson = make_lesson(course, kind=LessonKind.VIDEO, published=False, asset=asset)
    services.publish_lesson(me, lesson, now=now)
    assert lesson.duration_seconds == 2
    labels = {r.label for r in asset.renditions}
    assert "360p" in labels and "720p" not in labels  # never upscaled
    ext_db.session.commit()

    base = f"/courses/lessons/{lesson.id}"
    sign_in(client, people["learner"])
    # the course is still a draft: the learner gets 404 for the page, the media, the poster
    for url in (base, f"{base}/media/360p", f"{base}/poster"):
        assert client.get(url).status_code == 404, url

    services.publish_course(me, course, now=now)
    ext_db.session.commit()
    page = client.get(base).get_data(as_text=True)
    assert f'src="{base}/media/360p"' in page and f'poster="{base}/poster"' in page
    assert "playsinline" in page and 'preload="metadata"' in page

    whole = client.get(f"{base}/media/360p")
    assert whole.status_code == 200 and whole.headers["Content-Type"].startswith("video/mp4")
    size = int(whole.headers["Content-Length"])
    assert size > 1000 and whole.headers.get("Accept-Ranges") == "bytes"
    part = client.get(f"{base}/media/360p", headers={"Range": "bytes=100-299"})
    assert part.status_code == 206 and len(part.data) == 200
    assert part.headers["Content-Range"] == f"bytes 100-299/{size}"
    assert part.data == whole.data[100:300]
    assert client.get(f"{base}/media/720p").status_code == 404
    assert client.get(f"{base}/media/..%2F..%2Fetc%2Fpasswd").status_code == 404
    poster = client.get(f"{base}/poster")
    assert poster.status_code == 200 and poster.headers["Content-Type"] == "image/jpeg"

    # unpublishing the lesson (another lesson keeps the course up) hides its media again
    make_lesson(course)
    services.unpublish_lesson(me, lesson, now=now)
    ext_db.session.commit()
    assert client.get(f"{base}/media/360p").status_code == 404
    services.publish_lesson(me, lesson, now=now)
    course.status = CourseStatus.UNPUBLISHED
    ext_db.session.commit()
    assert client.get(f"{base}/media/360p").status_code == 404


def test_pdf_inline_may_be_framed_by_this_site_only_and_attachments_download(client, people, now,
                                                                             tmp_path):
    me = people["instructor"]
    pdf = tmp_path / "slides.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    asset = media.import_file(pdf, original_name="课件.pdf", owner_id=me.id,
                              kinds=(AssetKind.PDF,), now=now)
    asset = media.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY and asset.kind is AssetKind.PDF
    notes = tmp_path / "notes.txt"
    notes.write_text("工会法条文摘编", encoding="utf-8")
    file_asset = media.import_file(notes, original_name="条文摘编.txt", owner_id=me.id,
                                   kinds=(AssetKind.FILE,), now=now)
    course = make_course(owner=me, instructor=me)
    lesson = make_lesson(course, kind=LessonKind.PDF, asset=asset, title="工会法课件")
    attachment = services.add_attachment(me, lesson, file_asset, title="条文摘编.txt")
    hidden = make_lesson(course, published=False)
    hidden_attachment = services.add_attachment(me, hidden, file_asset, title="未发布的附件.txt")
    ext_db.session.commit()

    sign_in(client, people["learner"])
    page = client.get(f"/courses/lessons/{lesson.id}").get_data(as_text=True)
    assert "<iframe" in page and "下载 PDF" in page and "条文摘编.txt" in page
    inline = client.get(f"/courses/lessons/{lesson.id}/media/pdf")
    assert inline.status_code == 200 and inline.headers["Content-Type"] == "application/pdf"
    assert inline.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in inline.headers["Content-Security-Policy"]
    assert inline.headers["Content-Disposition"].startswith("inline")
    download = client.get(f"/courses/lessons/{lesson.id}/media/pdf?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    # the pages themselves keep refusing to be framed
    assert client.get(f"/courses/lessons/{lesson.id}").headers["X-Frame-Options"] == "DENY"
    got = client.get(f"/courses/attachments/{attachment.id}")
    assert got.status_code == 200 and got.data.decode("utf-8") == "工会法条文摘编"
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert client.get(f"/courses/attachments/{hidden_attachment.id}").status_code == 404
    assert client.get("/courses/attachments/999999").status_code == 404


def test_media_needs_sign_in(client, people):
    course = make_course()
    lesson = make_lesson(course, kind=LessonKind.VIDEO)
    ext_db.session.commit()
    resp = client.get(f"/courses/lessons/{lesson.id}/media/360p")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
