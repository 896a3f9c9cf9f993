"""The tus 1.0.0 endpoint through the Flask test client: creation, resume, offsets, checksums,
limits, ownership, roles, CSRF, expiry, termination, and the purpose hooks."""
from __future__ import annotations

import base64
import re
import hashlib
from datetime import timedelta

import pytest

from lms.accounts.models import Role
from lms.errors import NotFound, PermissionDenied
from lms.jobs import Job
from lms.media import services, uploads
from lms.media.models import AssetKind, AssetStatus, MediaAsset, Upload
from tests.conftest import csrf_token, login
from tests.factories import PASSWORD, make_user
from tests.media.conftest import needs_ffmpeg

COMPLETED: list[tuple[int, int, dict]] = []


def _authorize(actor, meta):
    if meta.get("lesson_id") == "404":
        raise NotFound("not_found")
    if meta.get("lesson_id") == "403":
        raise PermissionDenied("forbidden")


def _on_complete(actor, asset, meta):
    COMPLETED.append((actor.id, asset.id, meta))


uploads.register_upload_purpose("test_lesson_media", authorize=_authorize,
                                on_complete=_on_complete,
                                kinds=(AssetKind.VIDEO, AssetKind.AUDIO, AssetKind.PDF))
uploads.register_upload_purpose("test_attachment", authorize=_authorize, on_complete=_on_complete,
                                kinds=(AssetKind.FILE,))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def sha1(data: bytes) -> str:
    return "sha1 " + base64.b64encode(hashlib.sha1(data).digest()).decode()


class Tus:
    """A tiny tus client over the Flask test client."""

    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token

    def headers(self, **extra) -> dict:
        base = {"Tus-Resumable": "1.0.0", "X-CSRFToken": self.token}
        base.update({k.replace("_", "-"): v for k, v in extra.items()})
        return base

    def create(self, length: int, *, filename="讲座.mp4", purpose="test_lesson_media",
               meta=None, **extra):
        pairs = {"filename": filename, "purpose": purpose, **(meta or {"lesson_id": "12"})}
        metadata = ",".join(f"{k} {b64(v)}" for k, v in pairs.items())
        return self.client.post("/media/uploads/", headers=self.headers(
            Upload_Length=str(length), Upload_Metadata=metadata, **extra))

    def head(self, url):
        return self.client.head(url, headers=self.headers())

    def patch(self, url, offset: int, data: bytes, *, checksum: str | None = "auto", **extra):
        headers = self.headers(Upload_Offset=str(offset), **extra)
        headers["Content-Type"] = extra.pop("content_type", "application/offset+octet-stream")
        if checksum == "auto":
            headers["Upload-Checksum"] = sha1(data)
        elif checksum:
            headers["Upload-Checksum"] = checksum
        return self.client.patch(url, data=data, headers=headers)

    def upload(self, data: bytes, *, chunk: int = 1 << 20, **kwargs):
        created = self.create(len(data), **kwargs)
        assert created.status_code == 201, created.get_data(as_text=True)
        url = created.headers["Location"]
        response = None
        for offset in range(0, len(data), chunk):
            response = self.patch(url, offset, data[offset:offset + chunk])
            assert response.status_code == 204, response.get_data(as_text=True)
        return url, response


@pytest.fixture
def instructor(db):
    return make_user(roles=(Role.INSTRUCTOR,))


@pytest.fixture
def tus(client, instructor):
    login(client, instructor.phone, PASSWORD)
    return Tus(client, csrf_token(client, "/"))


@pytest.fixture(autouse=True)
def clear_completed():
    COMPLETED.clear()


def test_options_advertises_the_protocol(client):
    response = client.options("/media/uploads/")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation", "termination", "checksum", "expiration"}
    assert response.headers["Tus-Checksum-Algorithm"] == "sha1"
    assert int(response.headers["Tus-Max-Size"]) > 0


def test_create_and_upload_in_chunks(db, tus, instructor, media_dir, samples):
    pdf = b"%PDF-1.4\n" + b"0" * 2_500_000 + b"\n%%EOF\n"
    created = tus.create(len(pdf), filename="课件.pdf")
    assert created.status_code == 201
    url = created.headers["Location"]
    assert url.startswith("/media/uploads/") and created.headers["Tus-Resumable"] == "1.0.0"
    assert created.headers["Upload-Expires"]
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    assert upload.owner_id == instructor.id and upload.meta == {"lesson_id": "12"}
    assert upload.filename == "课件.pdf" and upload.purpose == "test_lesson_media"
    stored = media_dir / "uploads" / upload.stored_name
    assert stored.exists() and stored.stat().st_size == 0

    head = tus.head(url)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Length"] == str(len(pdf))
    assert head.headers["Cache-Control"] == "no-store"

    first = tus.patch(url, 0, pdf[:1_000_000])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == "1000000"
    assert "Upload-Asset-Id" not in first.headers
    second = tus.patch(url, 1_000_000, pdf[1_000_000:])
    assert second.status_code == 204 and second.headers["Upload-Offset"] == str(len(pdf))

    asset = db.session.get(MediaAsset, int(second.headers["Upload-Asset-Id"]))
    assert asset.kind is AssetKind.PDF and asset.status is AssetStatus.READY
    assert asset.owner_id == instructor.id and asset.original_name == "课件.pdf"
    assert (media_dir / services.original_path(asset)).read_bytes() == pdf
    assert not stored.exists()  # moved to originals/ once committed
    assert COMPLETED == [(instructor.id, asset.id, {"lesson_id": "12"})]
    status = second.headers["Upload-Asset-Status"]
    state = tus.client.get(status).get_json()
    assert state["status"] == "ready" and state["label"] == "已就绪" and state["progress"] == 100
    # HEAD of a finished upload names the asset (a reloaded page can poll it)
    assert tus.head(url).headers["Upload-Asset-Id"] == str(asset.id)


@needs_ffmpeg
def test_video_upload_is_queued_for_the_worker(db, tus, samples, now):
    data = samples.video("sd.mp4", size="640x360").read_bytes()
    url, last = tus.upload(data, chunk=40_000)
    asset = db.session.get(MediaAsset, int(last.headers["Upload-Asset-Id"]))
    assert asset.status is AssetStatus.QUEUED and asset.kind is AssetKind.VIDEO
    job = db.session.get(Job, asset.job_id)
    assert job.kind == "media.process" and job.payload == {"asset_id": asset.id}
    state = tus.client.get(f"/media/assets/{asset.id}/status").get_json()
    assert state["label"] == "排队中" and state["finished"] is False

    from lms.db import utcnow
    from lms.jobs import run_pending
    run_pending(utcnow)  # the upload was stamped with the real clock
    state = tus.client.get(f"/media/assets/{asset.id}/status").get_json()
    assert state["status"] == "ready", state


def test_resume_after_a_partial_patch(db, tus, media_dir):
    data = b"%PDF-1.5\n" + bytes(range(256)) * 4000
    url = tus.create(len(data)).headers["Location"]
    assert tus.patch(url, 0, data[:300_000]).status_code == 204
    # the connection drops; after a reload the client asks where to go on
    offset = int(tus.head(url).headers["Upload-Offset"])
    assert offset == 300_000
    done = tus.patch(url, offset, data[offset:])
    assert done.status_code == 204
    asset = db.session.get(MediaAsset, int(done.headers["Upload-Asset-Id"]))
    assert (media_dir / services.original_path(asset)).read_bytes() == data


def test_an_interrupted_body_without_checksum_keeps_what_arrived(db, tus, app):
    data = b"%PDF-1.5\n" + b"x" * 1000
    url = tus.create(len(data)).headers["Location"]

    class Dropping:
        """A body whose connection drops after 400 bytes."""
        def __init__(self):
            self.sent = False

        def read(self, size):
            if self.sent:
                raise ConnectionResetError()
            self.sent = True
            return data[:400]

    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    path = uploads.upload_file(upload)
    with uploads.LockedFile(path) as fh:
        from lms.media.views import _read_body
        kept = uploads.receive_bytes(fh, 0, _read_body(Dropping()), limit=len(data), checksum=None)
    assert kept == 400
    with uploads.LockedFile(path) as fh:
        fh.write(b"garbage past the offset")
        assert uploads.receive_bytes(fh, 0, _read_body(Dropping()), limit=len(data),
                                     checksum=hashlib.sha1(b"other").digest()) == 0
        fh.seek(0, 2)
        assert fh.tell() == 0  # with a checksum a partial chunk is not kept


def test_offset_mismatch_is_409(db, tus):
    data = b"%PDF-1.5\n" + b"a" * 5000
    url = tus.create(len(data)).headers["Location"]
    assert tus.patch(url, 0, data[:1000]).status_code == 204
    replay = tus.patch(url, 0, data[:1000])
    assert replay.status_code == 409
    assert replay.headers["Upload-Offset"] == "1000"
    assert "1000" in replay.get_json()["error"]["message"]
    ahead = tus.patch(url, 2000, data[2000:3000])
    assert ahead.status_code == 409
    assert tus.head(url).headers["Upload-Offset"] == "1000"


def test_bad_checksum_is_460_and_keeps_nothing(db, tus, media_dir):
    data = b"%PDF-1.5\n" + b"b" * 5000
    url = tus.create(len(data)).headers["Location"]
    bad = tus.patch(url, 0, data[:1000], checksum=sha1(b"something else"))
    assert bad.status_code == 460
    assert tus.head(url).headers["Upload-Offset"] == "0"
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    assert (media_dir / "uploads" / upload.stored_name).stat().st_size == 0
    unsupported = tus.patch(url, 0, data[:1000], checksum="md5 " + b64("x"))
    assert unsupported.status_code == 400
    assert tus.patch(url, 0, data[:1000]).status_code == 204


def test_without_checksum_is_accepted(db, tus):
    data = b"%PDF-1.5\n" + b"c" * 100
    url = tus.create(len(data)).headers["Location"]
    assert tus.patch(url, 0, data, checksum=None).status_code == 204


def test_too_large_is_413(db, tus, app, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 10_000)
    refused = tus.create(10_001)
    assert refused.status_code == 413
    assert "最大" in refused.get_json()["error"]["message"]
    url = tus.create(100).headers["Location"]
    assert tus.patch(url, 0, b"%PDF-" + b"d" * 200).status_code == 413


def test_wrong_content_type_and_protocol_version(db, tus):
    url = tus.create(100).headers["Location"]
    assert tus.patch(url, 0, b"x" * 10, content_type="application/octet-stream").status_code == 415
    old = tus.client.head(url, headers={"Tus-Resumable": "0.2.2"})
    assert old.status_code == 412 and old.headers["Tus-Version"] == "1.0.0"
    assert tus.client.post("/media/uploads/", headers=tus.headers()).status_code == 400


def test_another_users_upload_is_404(db, client, tus):
    url = tus.create(100).headers["Location"]
    client.post("/logout", data={"csrf_token": tus.token})
    other = make_user(roles=(Role.INSTRUCTOR,))
    login(client, other.phone, PASSWORD)
    token = csrf_token(client, "/")
    stranger = Tus(client, token)
    assert stranger.head(url).status_code == 404
    assert stranger.patch(url, 0, b"%PDF-" * 2).status_code == 404
    assert client.delete(url, headers=stranger.headers()).status_code == 404


def test_learner_is_403_and_signed_out_is_401(db, client):
    assert client.post("/media/uploads/", headers={"Tus-Resumable": "1.0.0"}).status_code in (400, 401)
    learner = make_user(roles=(Role.LEARNER,))
    login(client, learner.phone, PASSWORD)
    response = Tus(client, csrf_token(client, "/")).create(100)
    assert response.status_code == 403
    assert "讲师和管理员" in response.get_json()["error"]["message"]


def test_missing_csrf_header_is_400(db, client, instructor):
    login(client, instructor.phone, PASSWORD)
    response = client.post("/media/uploads/", headers={
        "Tus-Resumable": "1.0.0", "Upload-Length": "100",
        "Upload-Metadata": f"filename {b64('a.mp4')},purpose {b64('test_lesson_media')}"})
    assert response.status_code == 400
    assert db.session.query(Upload).count() == 0


def test_purpose_authorization(db, tus):
    assert tus.create(100, meta={"lesson_id": "403"}).status_code == 403
    assert tus.create(100, meta={"lesson_id": "404"}).status_code == 404
    assert tus.create(100, purpose="no_such_purpose").status_code == 422


def test_attachment_purpose_accepts_documents_only(db, tus):
    url, last = tus.upload("学习材料：工会法第三章。\n".encode(), purpose="test_attachment",
                           filename="材料.txt")
    asset = db.session.get(MediaAsset, int(last.headers["Upload-Asset-Id"]))
    assert asset.kind is AssetKind.FILE and asset.status is AssetStatus.READY
    url, last = tus.upload(b"MZ\x90\x00" + b"\x00" * 100, purpose="test_attachment",
                           filename="setup.pdf")
    asset = db.session.get(MediaAsset, int(last.headers["Upload-Asset-Id"]))
    assert asset.status is AssetStatus.FAILED and "附件" in asset.error


def test_refused_upload_shows_why(db, tus):
    url, last = tus.upload(b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n", filename="lecture.mp4")
    state = tus.client.get(last.headers["Upload-Asset-Status"]).get_json()
    assert state["status"] == "failed" and "播放列表" in state["error"]


def test_termination(db, tus, media_dir):
    url = tus.create(100).headers["Location"]
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    stored = media_dir / "uploads" / upload.stored_name
    assert tus.client.delete(url, headers=tus.headers()).status_code == 204
    assert tus.head(url).status_code == 404
    assert not stored.exists()


def test_expiry(db, tus, media_dir, now):
    url = tus.create(100).headers["Location"]
    upload_id = url.rsplit("/", 1)[1]
    upload = db.session.get(Upload, upload_id)
    stored = media_dir / "uploads" / upload.stored_name
    from lms.db import utcnow  # the upload was stamped with the real clock
    upload.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert tus.head(url).status_code == 410
    assert tus.patch(url, 0, b"%PDF-").status_code == 410
    removed = uploads.expire_uploads(utcnow())
    db.session.commit()
    assert removed == 1 and db.session.get(Upload, upload_id) is None
    assert not stored.exists()


def test_housekeeping_job(db, tus, now):
    from lms.db import utcnow
    from lms.jobs import enqueue, run_pending
    url = tus.create(100).headers["Location"]
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    upload.expires_at = utcnow() - timedelta(hours=1)
    enqueue("media.housekeeping", {}, now=utcnow())
    db.session.commit()
    run_pending(utcnow)
    assert tus.head(url).status_code == 404


def test_status_is_for_the_owner_and_administrators(db, client, tus, instructor):
    url, last = tus.upload(b"%PDF-1.4\nhello\n")
    status_url = last.headers["Upload-Asset-Status"]
    client.post("/logout", data={"csrf_token": tus.token})
    assert client.get(status_url).status_code == 401
    learner = make_user(roles=(Role.LEARNER,))
    login(client, learner.phone, PASSWORD)
    assert client.get(status_url).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    admin = make_user(roles=(Role.PLATFORM_ADMIN,))
    login(client, admin.phone, PASSWORD)
    assert client.get(status_url).get_json()["status"] == "ready"


def test_concurrent_patches_never_interleave(db, tus, media_dir):
    """Two PATCHes of one upload at the same offset: while one holds the file, the other is
    refused (423) or finds the offset moved (409); the stored bytes are one chunk, intact."""
    data = b"%PDF-1.5\n" + b"e" * 3000
    url = tus.create(len(data)).headers["Location"]
    upload = db.session.get(Upload, url.rsplit("/", 1)[1])
    path = media_dir / "uploads" / upload.stored_name
    with uploads.LockedFile(path):
        busy = tus.patch(url, 0, data[:1000])
    assert busy.status_code == 423
    assert tus.patch(url, 0, data[:1000]).status_code == 204
    assert tus.patch(url, 0, b"X" * 1000).status_code == 409
    assert path.read_bytes() == data[:1000]


def test_upload_widget_markup(app, db):
    from flask import render_template_string
    with app.test_request_context("/"):
        html = render_template_string(
            '{% from "media/upload_widget.html" import upload_widget %}'
            '{{ upload_widget("lesson_media", {"lesson_id": 12}, "video/*,audio/*") }}')
    assert 'data-upload-endpoint="/media/uploads/"' in html
    assert 'data-upload-purpose="lesson_media"' in html
    assert 'data-upload-meta="{&#34;lesson_id&#34;: 12}"' in html
    assert 'accept="video/*,audio/*"' in html and "<progress" in html
    assert 'class="upload-retry"' in html and 'role="status"' in html
    assert 'data-csrf="' in html
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, re.S)
    assert scripts == [""]  # only the external upload.js: no inline script (CSP)
    assert 'src="/static/js/upload.js"' in html


def test_a_failed_job_shows_as_failed_even_if_the_asset_row_was_not_updated(db, now, tus):
    from lms.jobs import JobStatus, enqueue
    asset = MediaAsset(kind=AssetKind.VIDEO, status=AssetStatus.PROCESSING, original_name="a.mp4",
                       size=1)
    db.session.add(asset)
    db.session.flush()
    job = enqueue("media.process", {"asset_id": asset.id}, now=now)
    job.status, job.progress_done, job.progress_total = JobStatus.FAILED, 40, 100
    asset.job_id = job.id
    db.session.flush()
    state = services.asset_state(asset)
    assert state.status is AssetStatus.FAILED and state.error and state.finished


def test_delete_asset_removes_its_files_after_commit(db, now, media_dir, samples):
    pdf = samples.write("del.pdf", b"%PDF-1.4\n%%EOF\n")
    asset = services.import_file(pdf, now=now, kinds=(AssetKind.PDF,))
    db.session.commit()
    stored = media_dir / services.original_path(asset)
    services.delete_asset(asset)
    assert stored.exists()  # not before the commit
    db.session.commit()
    assert not stored.exists()
