"""send_media: range requests (206, 416, If-Range), downloads, nosniff, X-Accel-Redirect, and
paths that try to leave the media folder."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask, request

from lms.errors import NotFound
from lms.media.serving import send_media

BODY = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def folder(tmp_path) -> Path:
    media = tmp_path / "media"
    (media / "renditions").mkdir(parents=True)
    (media / "originals").mkdir()
    (media / "uploads").mkdir()
    (media / "renditions" / "abc.mp4").write_bytes(BODY)
    (media / "originals" / "doc").write_bytes(b"%PDF-1.4\n")
    (media / "uploads" / "partial").write_bytes(b"secret partial upload")
    (tmp_path / "outside.txt").write_bytes(b"outside the media folder")
    return media


@pytest.fixture
def serve(folder):
    """A tiny app whose one route serves ?path= with send_media (as the courses views do after
    checking access)."""
    app = Flask(__name__)
    app.config.update(MEDIA_DIR=folder, X_ACCEL_PREFIX=None, TESTING=True)

    @app.route("/m")
    def media():
        try:
            return send_media(request.args["path"], content_type=request.args.get("type", "video/mp4"),
                              download_name=request.args.get("name"),
                              as_attachment="download" in request.args)
        except NotFound:
            return "not found", 404

    return app


def get(app, path="renditions/abc.mp4", headers=None, **args):
    with app.test_client() as client:
        response = client.get("/m", query_string={"path": path, **args}, headers=headers or {})
        response.direct_passthrough = False
        return response


def test_whole_file(serve):
    response = get(serve)
    assert response.status_code == 200
    assert response.get_data() == BODY
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert "private" in response.headers["Cache-Control"]
    assert "Content-Disposition" not in response.headers
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'self'"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


@pytest.mark.parametrize("header, start, end", [
    ("bytes=0-99", 0, 99),
    ("bytes=100-", 100, len(BODY) - 1),
    ("bytes=-500", len(BODY) - 500, len(BODY) - 1),
    ("bytes=10000-20000", 10000, len(BODY) - 1),   # end past the file: clipped
    ("bytes=10239-10239", 10239, 10239),
])
def test_ranges_are_206(serve, header, start, end):
    response = get(serve, headers={"Range": header})
    assert response.status_code == 206
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(BODY)}"
    assert response.get_data() == BODY[start:end + 1]
    assert int(response.headers["Content-Length"]) == end - start + 1


@pytest.mark.parametrize("header", ["bytes=10240-", "bytes=20000-30000"])
def test_unsatisfiable_range_is_416(serve, header):
    response = get(serve, headers={"Range": header})
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(BODY)}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "bytes=5-3", "bytes=abc", "items=0-5",
                                    "bytes=--1", "bytes=0-99999999999999999999999", "bytes="])
def test_odd_or_multiple_ranges_do_not_crash(serve, header):
    response = get(serve, headers={"Range": header})
    assert response.status_code in (200, 206, 416)
    if response.status_code == 200:
        assert response.get_data() == BODY


def test_if_range(serve):
    first = get(serve)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    same = get(serve, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.get_data() == BODY[:10]
    by_date = get(serve, headers={"Range": "bytes=0-9", "If-Range": modified})
    assert by_date.status_code == 206
    changed = get(serve, headers={"Range": "bytes=0-9", "If-Range": '"another-version"'})
    assert changed.status_code == 200 and changed.get_data() == BODY
    old = get(serve, headers={"Range": "bytes=0-9", "If-Range": "Tue, 01 Jan 2002 00:00:00 GMT"})
    assert old.status_code == 200


def test_conditional_get(serve):
    etag = get(serve).headers["ETag"]
    assert get(serve, headers={"If-None-Match": etag}).status_code == 304


def test_download_with_a_chinese_name(serve):
    response = get(serve, path="originals/doc", type="application/pdf", name="工会法讲义.pdf",
                   download=1)
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''%E5%B7%A5%E4%BC%9A%E6%B3%95%E8%AE%B2%E4%B9%89.pdf" in disposition
    assert 'filename="download.pdf"' in disposition or "filename=download.pdf" in disposition
    inline = get(serve, path="originals/doc", type="application/pdf", name="slides.pdf")
    assert inline.headers["Content-Disposition"] == "inline; filename=slides.pdf"
    evil = get(serve, path="originals/doc", type="application/pdf", name='a"\r\nX-Evil: 1.pdf',
               download=1)
    assert "X-Evil" not in evil.headers


@pytest.mark.parametrize("path", ["../outside.txt", "renditions/../../outside.txt", "/etc/passwd",
                                  "uploads/partial", "renditions", "renditions/missing.mp4",
                                  "renditions/abc.mp4\x00", "", "originals/../uploads/partial",
                                  "renditions\\..\\..\\outside.txt"])
def test_paths_outside_the_served_folders_are_not_found(serve, path):
    assert get(serve, path=path).status_code == 404


def test_symlink_out_of_the_media_folder_is_not_found(serve, folder):
    os.symlink("/etc/passwd", folder / "renditions" / "link.mp4")
    assert get(serve, path="renditions/link.mp4").status_code == 404


def test_x_accel_redirect(serve):
    serve.config["X_ACCEL_PREFIX"] = "/_media/"
    response = get(serve, headers={"Range": "bytes=0-9"})
    assert response.status_code == 200
    assert response.headers["X-Accel-Redirect"] == "/_media/renditions/abc.mp4"
    assert response.get_data() == b""
    assert response.headers["Content-Type"] == "video/mp4"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    download = get(serve, path="originals/doc", type="application/pdf", name="讲义.pdf", download=1)
    assert download.headers["X-Accel-Redirect"] == "/_media/originals/doc"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert get(serve, path="../outside.txt").status_code == 404
