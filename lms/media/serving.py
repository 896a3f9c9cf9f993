"""Serving media files with HTTP range requests, or through nginx with X-Accel-Redirect.

Nothing here checks who may see a file: the caller (e.g. the courses domain) checks access to
the lesson first and then calls send_media with a path from rendition_path / poster_path /
original_path.

Behind nginx, set LMS_X_ACCEL_PREFIX (e.g. /_media) and give nginx an internal location that
maps it onto LMS_MEDIA_DIR:

    location /_media/ { internal; alias /srv/lms/media/; }

nginx then serves the bytes (ranges, If-Range, sendfile) and the application only decides.
"""
from __future__ import annotations

import unicodedata
from pathlib import Path
from urllib.parse import quote

from flask import Response, current_app, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header
from werkzeug.utils import send_file

from lms.errors import NotFound

#: only these folders of MEDIA_DIR are ever served (never uploads/ or tmp/)
SERVED_FOLDERS = ("renditions", "originals")
#: browsers may keep a copy for the signed-in user, revalidated each time (ETag)
CACHE_CONTROL = "private, no-cache"
#: a media file runs nothing; the platform's own pages may frame it (a PDF shown inline)
MEDIA_CSP = "default-src 'none'; frame-ancestors 'self'"
#: gunicorn sends a file_wrapper's bytes with sendfile(2), up to Content-Length from the
#: file's position: used for partial responses; other servers get a seek-and-read iterator
SENDFILE_SERVERS = ("gunicorn",)


def resolve_media_path(relative_path: str) -> Path:
    """The file for a path relative to MEDIA_DIR; anything escaping the served folders of the
    media folder, or missing, is NotFound."""
    if (not relative_path or "\x00" in relative_path or "\\" in relative_path
            or relative_path.startswith("/")):
        raise NotFound("media_not_found")
    root = Path(current_app.config["MEDIA_DIR"]).resolve()
    path = (root / relative_path).resolve()
    try:
        inside = path.relative_to(root)
    except ValueError:
        raise NotFound("media_not_found") from None
    if len(inside.parts) < 2 or inside.parts[0] not in SERVED_FOLDERS or not path.is_file():
        raise NotFound("media_not_found")
    return path


def _disposition(headers: Headers, download_name: str | None, as_attachment: bool) -> None:
    """Content-Disposition with an ASCII filename and a UTF-8 filename* (RFC 6266)."""
    if not as_attachment and not download_name:
        return
    kind = "attachment" if as_attachment else "inline"
    if not download_name:
        headers.set("Content-Disposition", kind)
        return
    name = "".join(ch for ch in download_name if ch.isprintable()).replace("/", "_")
    name = name.replace("\\", "_").strip() or "download"
    try:
        name.encode("ascii")
        headers.set("Content-Disposition", kind, filename=name)
    except UnicodeEncodeError:
        def ascii_only(text: str) -> str:
            return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
        stem, suffix = ascii_only(Path(name).stem).strip(" ."), ascii_only(Path(name).suffix)
        simple = (stem or "download") + suffix
        headers.set("Content-Disposition", kind, filename=simple,
                    **{"filename*": "UTF-8''" + quote(name, safe="!#$&+^`|~")})


def _environ_for_ranges() -> dict:
    """The request environ, minus a Range header werkzeug would refuse though HTTP lets a
    server ignore it: several ranges at once (no browser player sends those) are answered
    with the whole file (200) rather than 416."""
    environ = request.environ
    header = environ.get("HTTP_RANGE")
    if header:
        parsed = parse_range_header(header)
        if parsed is not None and len(parsed.ranges) > 1:
            environ = dict(environ)
            environ.pop("HTTP_RANGE")
    return environ


class _FileRange:
    """The bytes [start, start + length) of a file, read in blocks from a seek (werkzeug's own
    range wrapper reads and discards everything before the start when the server's
    wsgi.file_wrapper cannot seek, as gunicorn's cannot)."""

    def __init__(self, path: Path, start: int, length: int, block: int = 1 << 16) -> None:
        self.fh = open(path, "rb")
        self.fh.seek(start)
        self.left, self.block = length, block

    def __iter__(self):
        return self

    def __next__(self) -> bytes:
        if self.left <= 0:
            raise StopIteration
        data = self.fh.read(min(self.block, self.left))
        if not data:
            raise StopIteration
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.fh.close()


def _serve_range_from_seek(response: Response, path: Path, environ: dict) -> None:
    """A 206 body that starts at the range by seeking: under gunicorn its file_wrapper over the
    file positioned at the start, which gunicorn sends with sendfile(2) up to Content-Length;
    elsewhere a plain seek-and-read iterator."""
    if response.status_code != 206 or response.content_range is None:
        return
    start, stop = response.content_range.start, response.content_range.stop
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None and environ.get("SERVER_SOFTWARE", "").startswith(SENDFILE_SERVERS):
        fh = open(path, "rb")
        fh.seek(start)
        body = wrapper(fh, 1 << 16)
    else:
        body = _FileRange(path, start, stop - start)
    old = response.response
    response.response = body
    if hasattr(old, "close"):
        old.close()


def send_media(relative_path: str, *, content_type: str, download_name: str | None = None,
               as_attachment: bool = False) -> Response:
    """A response for a media file (a path relative to MEDIA_DIR): ranges (206 with
    Content-Range, 416 when unsatisfiable, If-Range with the ETag or Last-Modified),
    Accept-Ranges, conditional GET (304), nosniff, a CSP that lets nothing run and only the
    platform's own pages frame it (a PDF shown inline), Content-Disposition for downloads; with
    X_ACCEL_PREFIX configured, an empty response naming the file for nginx instead."""
    path = resolve_media_path(relative_path)
    prefix = current_app.config.get("X_ACCEL_PREFIX")
    if prefix:
        relative = path.relative_to(Path(current_app.config["MEDIA_DIR"]).resolve()).as_posix()
        response = Response(b"", status=200, mimetype=None, content_type=content_type)
        response.headers["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(relative)
    else:
        environ = _environ_for_ranges()
        try:
            response = send_file(str(path), environ, mimetype=content_type, conditional=True,
                                 etag=True, max_age=None,
                                 response_class=current_app.response_class)
        except RequestedRangeNotSatisfiable:
            size = path.stat().st_size
            response = Response(b"", status=416, content_type=content_type)
            response.headers["Content-Range"] = f"bytes */{size}"
            response.headers["Accept-Ranges"] = "bytes"
        else:
            _serve_range_from_seek(response, path, environ)
        # the Content-Type as given (with its charset), and no disposition naming the stored file
        response.headers["Content-Type"] = content_type
        response.headers.pop("Content-Disposition", None)
    _disposition(response.headers, download_name, as_attachment)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Content-Security-Policy"] = MEDIA_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
