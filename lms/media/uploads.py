"""Resumable uploads (the tus 1.0.0 protocol's state; the HTTP side is in views.py) and the
registry of upload purposes, so that media never imports the domains it serves.

An upload's bytes grow in MEDIA_DIR/uploads/<random>; the database row holds the offset, which
only a conditional UPDATE advances, and a PATCH writes only while it holds an exclusive lock on
the file, so two PATCHes of one upload can never interleave their bytes.
"""
from __future__ import annotations

import base64
import binascii
import fcntl
import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Callable, Iterable

import sqlalchemy as sa
from flask import current_app

from lms.accounts.models import Role, User
from lms.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from lms.extensions import db
from lms.media.models import AssetKind, MediaAsset, Upload
from lms.media.services import (ORIGINALS, UPLOADS, add_stored_file, after_commit,
                                enqueue_processing, media_folder, media_root, new_name,
                                unlink_quietly)

UPLOAD_ROLES = frozenset({Role.INSTRUCTOR, Role.UNIT_ADMIN, Role.PLATFORM_ADMIN})
#: Upload-Metadata keys the protocol uses itself; the others are the purpose's meta
RESERVED_META = frozenset({"filename", "filetype", "purpose", "name", "type"})
MAX_META_ITEMS = 10
MAX_META_VALUE = 200
#: unfinished uploads one person may have at once
MAX_OPEN_UPLOADS = 20
BLOCK = 1 << 16


class UploadBadRequest(DomainError):
    """A request the protocol calls malformed (400): bad metadata, an unsupported checksum."""
    http_status = 400


class UploadGone(DomainError):
    http_status = 410


class UploadLocked(DomainError):
    http_status = 423


class UploadTooLarge(DomainError):
    http_status = 413


class ChecksumMismatch(DomainError):
    #: tus checksum extension: "460 Checksum Mismatch"
    http_status = 460


class TooManyUploads(DomainError):
    http_status = 429


# ---------------------------------------------------------------- purposes

@dataclass(frozen=True)
class UploadPurpose:
    name: str
    #: authorize(actor, meta) raises PermissionDenied/NotFound when the actor may not upload
    #: for this meta (e.g. {"lesson_id": "12"}); called at creation and at completion
    authorize: Callable[[User, dict], None]
    #: on_complete(actor, asset, meta) links the new asset (e.g. to the lesson)
    on_complete: Callable[[User, MediaAsset, dict], None]
    #: what the finished file may become
    kinds: frozenset[AssetKind]


_PURPOSES: dict[str, UploadPurpose] = {}


def register_upload_purpose(name: str, *, authorize: Callable[[User, dict], None],
                            on_complete: Callable[[User, MediaAsset, dict], None],
                            kinds: Iterable[AssetKind]) -> UploadPurpose:
    """Domains that take uploads register what an upload is for (e.g. "lesson_media")."""
    purpose = UploadPurpose(name=name, authorize=authorize, on_complete=on_complete,
                            kinds=frozenset(kinds))
    if not purpose.kinds:
        raise ValueError("an upload purpose needs at least one asset kind")
    _PURPOSES[name] = purpose
    return purpose


def upload_purpose(name: str | None) -> UploadPurpose:
    purpose = _PURPOSES.get(name or "")
    if purpose is None:
        raise ValidationFailed("upload_purpose_unknown")
    return purpose


def registered_purposes() -> list[str]:
    return sorted(_PURPOSES)


# ---------------------------------------------------------------- rules

def can_upload(actor: User | None) -> bool:
    """Instructors and administrators upload; learners and organisers do not."""
    return bool(actor and actor.active and actor.roles() & UPLOAD_ROLES)


def require_uploader(actor: User | None) -> None:
    if not can_upload(actor):
        raise PermissionDenied("upload_role_required")


def parse_metadata(header: str | None) -> dict[str, str]:
    """tus Upload-Metadata: comma-separated "key base64value" pairs (value optional)."""
    result: dict[str, str] = {}
    if not header:
        return result
    for item in header.split(","):
        item = item.strip()
        if not item:
            continue
        key, _, value = item.partition(" ")
        if not key or not key.isascii() or " " in key or key in result:
            raise UploadBadRequest("upload_bad_metadata")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8") if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise UploadBadRequest("upload_bad_metadata") from None
        if len(decoded) > 255 or any(ch in decoded for ch in "\x00\r\n"):
            raise UploadBadRequest("upload_bad_metadata")
        result[key] = decoded
    return result


def encode_metadata(values: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode('utf-8')).decode('ascii')}"
                    for k, v in values.items())


def parse_checksum(header: str | None) -> bytes | None:
    """tus Upload-Checksum "sha1 <base64 digest>"; other algorithms are refused (400)."""
    if header is None:
        return None
    algorithm, _, value = header.strip().partition(" ")
    if algorithm.lower() != "sha1":
        raise UploadBadRequest("upload_checksum_algorithm")
    try:
        digest = base64.b64decode(value.strip(), validate=True)
    except binascii.Error:
        raise UploadBadRequest("upload_checksum_algorithm") from None
    if len(digest) != hashlib.sha1().digest_size:
        raise UploadBadRequest("upload_checksum_algorithm")
    return digest


def upload_file(upload: Upload) -> Path:
    return media_root() / UPLOADS / upload.stored_name


def expiry_delta() -> timedelta:
    return timedelta(hours=current_app.config["UPLOAD_EXPIRY_HOURS"])


def create_upload(actor: User, *, length: int, metadata: dict[str, str], now: datetime) -> Upload:
    """Start a resumable upload of `length` bytes for a registered purpose the actor may
    upload for; the purpose's meta are the metadata besides filename/filetype/purpose."""
    require_uploader(actor)
    max_bytes = current_app.config["MEDIA_MAX_BYTES"]
    if length > max_bytes:
        raise UploadTooLarge("upload_too_large", max_mb=max_bytes // (1024 * 1024))
    purpose = upload_purpose(metadata.get("purpose"))
    meta = {k: v for k, v in metadata.items() if k not in RESERVED_META}
    if len(meta) > MAX_META_ITEMS or any(len(v) > MAX_META_VALUE for v in meta.values()):
        raise UploadBadRequest("upload_bad_metadata")
    purpose.authorize(actor, dict(meta))
    open_uploads = db.session.scalar(
        sa.select(sa.func.count()).select_from(Upload)
        .where(Upload.owner_id == actor.id, Upload.completed_at.is_(None),
               Upload.expires_at > now))
    if open_uploads >= MAX_OPEN_UPLOADS:
        raise TooManyUploads("upload_too_many", max=MAX_OPEN_UPLOADS)
    filename = (metadata.get("filename") or metadata.get("name") or "").strip()
    upload = Upload(id=secrets.token_hex(16), owner_id=actor.id, filename=filename[:255] or "file",
                    length=length, offset=0, stored_name=new_name(), purpose=purpose.name,
                    meta=meta, created_at=now, expires_at=now + expiry_delta())
    path = media_folder(UPLOADS) / upload.stored_name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    db.session.add(upload)
    db.session.flush()
    after_commit(unlink_on_rollback=[path])
    return upload


def get_upload(actor: User, upload_id: str, *, now: datetime) -> Upload:
    """The actor's own upload; anybody else's is as if missing (404); an expired one is 410."""
    upload = db.session.get(Upload, upload_id) if len(upload_id) <= 32 else None
    if upload is None or actor is None or upload.owner_id != actor.id:
        raise NotFound("upload_not_found")
    if upload.completed_at is None and upload.expires_at <= now:
        raise UploadGone("upload_expired")
    return upload


def current_offset(upload_id: str) -> int | None:
    return db.session.scalar(sa.select(Upload.offset).where(Upload.id == upload_id))


class LockedFile:
    """The upload's file opened for writing under an exclusive, non-blocking lock."""

    def __init__(self, path: Path) -> None:
        try:
            self.fh: IO[bytes] = open(path, "r+b")
        except FileNotFoundError:
            raise UploadGone("upload_expired") from None
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.close()
            raise UploadLocked("upload_busy") from None

    def __enter__(self) -> IO[bytes]:
        return self.fh

    def __exit__(self, *exc) -> None:
        self.fh.close()  # closing releases the lock


def receive_bytes(fh: IO[bytes], offset: int, read: Callable[[int], bytes], *, limit: int,
                  checksum: bytes | None) -> int:
    """Write the request body at `offset` of the locked file; returns the bytes kept.

    Bytes past the offset (from an interrupted or refused PATCH) are discarded first. With a
    checksum the chunk is kept only whole and matching (else ChecksumMismatch, 460); without
    one, what arrived before a dropped connection is kept, as tus recommends. More than
    `limit` bytes (past Upload-Length) is refused."""
    fh.truncate(offset)
    fh.seek(offset)
    digest = hashlib.sha1()
    received = 0
    interrupted = False
    try:
        while True:
            block = read(BLOCK)
            if not block:
                break
            received += len(block)
            if received > limit:
                fh.truncate(offset)
                raise UploadTooLarge("upload_exceeds_length")
            fh.write(block)
            digest.update(block)
    except EOFError:
        interrupted = True
    if checksum is not None and (interrupted or digest.digest() != checksum):
        fh.truncate(offset)
        if interrupted:
            return 0
        raise ChecksumMismatch("upload_checksum_mismatch")
    fh.flush()
    os.fsync(fh.fileno())
    return received


def advance(actor: User, upload: Upload, *, offset: int, received: int,
            now: datetime) -> MediaAsset | None:
    """Move the offset on by the bytes received, only if nobody moved it meanwhile (409), and
    finish the upload when its last byte has arrived (returns the new asset then)."""
    new_offset = offset + received
    result = db.session.execute(
        sa.update(Upload).where(Upload.id == upload.id, Upload.offset == offset,
                                Upload.completed_at.is_(None))
        .values(offset=new_offset, expires_at=now + expiry_delta()))
    if result.rowcount != 1:
        raise Conflict("upload_offset_mismatch", offset=current_offset(upload.id) or 0)
    db.session.refresh(upload)
    if new_offset < upload.length:
        return None
    return finish_upload(actor, upload, now=now)


def finish_upload(actor: User, upload: Upload, *, now: datetime) -> MediaAsset:
    """The last byte arrived: check the size, make the asset from the file (moved to
    originals/, judged by content), queue its processing, and let the purpose link it."""
    purpose = upload_purpose(upload.purpose)
    meta = dict(upload.meta or {})
    purpose.authorize(actor, dict(meta))
    path = upload_file(upload)
    if path.stat().st_size != upload.length:
        raise Conflict("upload_offset_mismatch", offset=path.stat().st_size)
    original = media_folder(ORIGINALS) / new_name()
    os.link(path, original)  # the upload's name goes once this is committed
    try:
        asset = add_stored_file(original, original_name=upload.filename, owner_id=actor.id,
                                kinds=purpose.kinds, now=now)
    except BaseException:
        original.unlink(missing_ok=True)
        raise
    after_commit(unlink=[path], unlink_on_rollback=[original])
    enqueue_processing(asset, now=now)
    upload.completed_at, upload.asset_id = now, asset.id
    db.session.flush()
    purpose.on_complete(actor, asset, dict(meta))
    return asset


def delete_upload(actor: User, upload_id: str, *, now: datetime) -> None:
    """tus termination: the upload and its bytes go (a finished one's asset stays)."""
    upload = get_upload(actor, upload_id, now=now)
    path = upload_file(upload)
    db.session.delete(upload)
    db.session.flush()
    after_commit(unlink=[path])


def expire_uploads(now: datetime) -> int:
    """Delete unfinished uploads past their expiry, and the rows of finished ones as old, with
    their files. Returns how many rows went."""
    rows = db.session.execute(
        sa.select(Upload.id, Upload.stored_name)
        .where(sa.or_(sa.and_(Upload.completed_at.is_(None), Upload.expires_at <= now),
                      Upload.completed_at < now - expiry_delta()))).all()
    if not rows:
        return 0
    db.session.execute(sa.delete(Upload).where(Upload.id.in_([r.id for r in rows])))
    folder = media_root() / UPLOADS
    after_commit(unlink=[folder / r.stored_name for r in rows])
    return len(rows)


def sweep_upload_files(now: datetime) -> int:
    """Remove files in uploads/ that no upload row names (older than the expiry)."""
    folder = media_root() / UPLOADS
    if not folder.is_dir():
        return 0
    cutoff = (now - expiry_delta()).timestamp()
    names = set(db.session.scalars(sa.select(Upload.stored_name)))
    removed = []
    for entry in os.scandir(folder):
        try:
            if entry.name not in names and entry.stat().st_mtime < cutoff:
                removed.append(Path(entry.path))
        except OSError:
            continue
    unlink_quietly(removed)
    return len(removed)
