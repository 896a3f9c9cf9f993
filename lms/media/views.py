"""Media pages and endpoints: the tus resumable upload endpoint, processing status.

tus 1.0.0 (https://tus.io/protocols/resumable-upload) with the creation, termination, checksum
(sha1) and expiration extensions, under /media/uploads/:
  OPTIONS /media/uploads/        capabilities
  POST    /media/uploads/        create (Upload-Length, Upload-Metadata with filename, purpose and
                                 the purpose's meta) → 201 Location
  HEAD    /media/uploads/<id>    Upload-Offset, Upload-Length
  PATCH   /media/uploads/<id>    bytes at Upload-Offset (application/offset+octet-stream),
                                 optional Upload-Checksum "sha1 <base64>" → 204 Upload-Offset
  DELETE  /media/uploads/<id>    termination
The signed-in session authenticates (instructors and administrators); POST, PATCH and DELETE
carry the CSRF token in the X-CSRFToken header like every other write of the site.
GET /media/assets/<id>/status  → JSON processing state, for the asset's owner and administrators.
Media files themselves are not served from here: see serving.send_media.
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from flask_login import current_user
from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import http_date

from lms.db import utcnow, write_intent
from lms.errors import DomainError
from lms.extensions import db
from lms.media import services, uploads
from lms.messages import render

bp = Blueprint("media", __name__, url_prefix="/media", template_folder="templates")

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum,expiration"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


def _error(status: int, code: str, **params) -> Response:
    response = jsonify({"error": {"code": code, "message": render(code, **params)}})
    response.status_code = status
    return response


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError):
    db.session.rollback()
    response = jsonify({"error": {"code": exc.code, "message": exc.message}})
    response.status_code = exc.http_status
    return response


@bp.after_request
def _tus_headers(response: Response) -> Response:
    if request.endpoint in ("media.tus_collection", "media.tus_upload"):
        response.headers["Tus-Resumable"] = TUS_VERSION
        response.headers["Cache-Control"] = "no-store"
    return response


def _actor():
    """The signed-in uploader, or an error response (401 signed out, 403 not an uploader)."""
    if not current_user.is_authenticated:
        return None, _error(401, "unauthorized")
    actor = current_user._get_current_object()
    if not uploads.can_upload(actor):
        return None, _error(403, "upload_role_required")
    return actor, None


def _tus_precondition() -> Response | None:
    if request.headers.get("Tus-Resumable") != TUS_VERSION:
        response = _error(412, "upload_tus_version")
        response.headers["Tus-Version"] = TUS_VERSION
        return response
    return None


def _expires(upload) -> str:
    return http_date(upload.expires_at)


def _asset_headers(response: Response, asset_id: int | None) -> None:
    if asset_id:
        response.headers["Upload-Asset-Id"] = str(asset_id)
        response.headers["Upload-Asset-Status"] = url_for("media.asset_status", asset_id=asset_id)


@bp.route("/uploads/", methods=["OPTIONS", "POST"], strict_slashes=False)
def tus_collection():
    if request.method == "OPTIONS":
        response = Response(status=204)
        response.headers["Tus-Version"] = TUS_VERSION
        response.headers["Tus-Extension"] = TUS_EXTENSIONS
        response.headers["Tus-Checksum-Algorithm"] = "sha1"
        response.headers["Tus-Max-Size"] = str(current_app.config["MEDIA_MAX_BYTES"])
        return response
    refused = _tus_precondition()
    if refused:
        return refused
    actor, refused = _actor()
    if refused:
        return refused
    if request.headers.get("Upload-Defer-Length"):
        return _error(400, "upload_length_required")
    raw_length = request.headers.get("Upload-Length", "")
    if not raw_length.isdigit():
        return _error(400, "upload_length_required")
    metadata = uploads.parse_metadata(request.headers.get("Upload-Metadata"))
    upload = uploads.create_upload(actor, length=int(raw_length), metadata=metadata, now=utcnow())
    response = Response(status=201)
    response.headers["Location"] = url_for("media.tus_upload", upload_id=upload.id)
    response.headers["Upload-Expires"] = _expires(upload)
    response.headers["Upload-Offset"] = "0"
    return response


def _read_body(stream):
    """The request body's read(n), with a dropped connection as EOFError."""
    def read(size: int) -> bytes:
        try:
            return stream.read(size)
        except (ClientDisconnected, ConnectionError, OSError):
            raise EOFError from None
    return read


@bp.route("/uploads/<upload_id>", methods=["HEAD", "PATCH", "DELETE"])
def tus_upload(upload_id: str):
    refused = _tus_precondition()
    if refused:
        return refused
    actor, refused = _actor()
    if refused:
        return refused
    now = utcnow()
    if request.method == "DELETE":
        uploads.delete_upload(actor, upload_id, now=now)
        return Response(status=204)
    upload = uploads.get_upload(actor, upload_id, now=now)
    if request.method == "HEAD":
        response = Response(status=200)
        response.headers["Upload-Offset"] = str(upload.offset)
        response.headers["Upload-Length"] = str(upload.length)
        response.headers["Upload-Expires"] = _expires(upload)
        _asset_headers(response, upload.asset_id)
        return response
    return _patch(actor, upload, now)


def _patch(actor, upload, now) -> Response:
    """Append one chunk. The bytes are written while holding the upload file's exclusive lock,
    and the new offset is committed before that lock is released, so the next PATCH of the
    same upload sees it; no database transaction is open while the body streams in."""
    if request.mimetype != OFFSET_CONTENT_TYPE:
        return _error(415, "upload_content_type")
    raw_offset = request.headers.get("Upload-Offset", "")
    if not raw_offset.isdigit():
        return _error(400, "upload_offset_required")
    offset = int(raw_offset)
    checksum = uploads.parse_checksum(request.headers.get("Upload-Checksum"))
    if upload.completed_at is not None or offset != upload.offset:
        return _offset_conflict(upload.offset)
    declared = request.content_length
    if declared is not None and offset + declared > upload.length:
        return _error(413, "upload_exceeds_length")
    limit = upload.length - offset
    upload_id, path = upload.id, uploads.upload_file(upload)
    # End the request's transaction (it only read) before waiting on the network.
    db.session.commit()
    with uploads.LockedFile(path) as fh:
        with write_intent(False):
            stored_offset = uploads.current_offset(upload_id)
            db.session.commit()
        if stored_offset != offset:
            return _offset_conflict(stored_offset or 0)
        received = uploads.receive_bytes(fh, offset, _read_body(request.stream), limit=limit,
                                         checksum=checksum)
        upload = uploads.get_upload(actor, upload_id, now=now)
        asset = uploads.advance(actor, upload, offset=offset, received=received, now=now)
        response = Response(status=204)
        response.headers["Upload-Offset"] = str(offset + received)
        response.headers["Upload-Expires"] = _expires(upload)
        _asset_headers(response, asset.id if asset else None)
        db.session.commit()  # before the lock is released (see the docstring)
    return response


def _offset_conflict(offset: int) -> Response:
    response = _error(409, "upload_offset_mismatch", offset=offset)
    response.headers["Upload-Offset"] = str(offset)
    return response


@bp.route("/assets/<int:asset_id>/status")
def asset_status(asset_id: int):
    """Processing state as JSON: status, label (Chinese), error, progress (percent)."""
    if not current_user.is_authenticated:
        return _error(401, "unauthorized")
    asset = services.get_asset_for_status(current_user._get_current_object(), asset_id)
    body = services.asset_state(asset).as_json()
    body.update(id=asset.id, kind=asset.kind.value, name=asset.original_name)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
