"""Media assets: storing files under random names, processing them (probe, transcode, poster),
their state for people, and the paths the serving layer needs.

Layout of MEDIA_DIR (outside static/; nothing in it is reachable by URL):
  uploads/<random>      growing tus uploads (lms.media.uploads)
  originals/<random>    an asset's original file; removed once its renditions exist (kept for
                        PDFs and attachments, which are served as they are)
  renditions/<random>.mp4|.m4a|.jpg   renditions and posters
  tmp/<random>.*.part   ffmpeg's outputs while it writes them; renamed into renditions/ only
                        when complete, so a half-written file is never published
"""
from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Iterable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event
from sqlalchemy.engine import Engine

from lms import jobs
from lms.accounts.models import User
from lms.accounts.permissions import is_admin
from lms.db import write_intent
from lms.errors import NotFound
from lms.extensions import db
from lms.jobs import Job, JobStatus
from lms.media.models import AssetKind, AssetStatus, MediaAsset, Rendition
from lms.media.probe import (MediaRefused, ProbeResult, attachment_type, check_pdf, find_tools,
                             probe_media, refuse_unless_media, sniff)
from lms.media.transcode import TranscodeFailed, Transcoded, transcode
from lms.messages import render

ORIGINALS, RENDITIONS, UPLOADS, TMP = "originals", "renditions", "uploads", "tmp"
PROCESS_JOB = "media.process"
STATUS_CODES = {
    AssetStatus.UPLOADING: "media_status_uploading",
    AssetStatus.QUEUED: "media_status_queued",
    AssetStatus.PROCESSING: "media_status_processing",
    AssetStatus.READY: "media_status_ready",
    AssetStatus.FAILED: "media_status_failed",
}
MEDIA_KINDS = frozenset({AssetKind.VIDEO, AssetKind.AUDIO})
#: refusals that are the server's doing: the original is kept for another try
KEEP_ORIGINAL_ON = frozenset({"media_transcode_timeout", "media_ffmpeg_missing"})
#: temporary and unreferenced files older than this are removed by the housekeeping job
ORPHAN_AGE = timedelta(days=1)

Progress = Callable[[int, int], None]


def status_label(status: AssetStatus) -> str:
    """排队中, 处理中, 已就绪, 失败 ..."""
    return render(STATUS_CODES[status])


# ---------------------------------------------------------------- files

def media_root() -> Path:
    return Path(current_app.config["MEDIA_DIR"]).resolve()


def media_folder(name: str) -> Path:
    folder = media_root() / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def new_name(suffix: str = "") -> str:
    """A random, unguessable file name."""
    return secrets.token_hex(16) + suffix


def rendition_for(asset: MediaAsset, label: str) -> Rendition | None:
    """The asset's rendition with this label ("720p", "360p", "audio"), or None."""
    return next((r for r in asset.renditions if r.label == label), None)


def rendition_path(rendition: Rendition) -> str:
    """Path of a rendition relative to MEDIA_DIR, for send_media."""
    return f"{RENDITIONS}/{rendition.stored_name}"


def poster_path(asset: MediaAsset) -> str | None:
    return f"{RENDITIONS}/{asset.poster_name}" if asset.poster_name else None


def original_path(asset: MediaAsset) -> str | None:
    """The original as stored (PDFs and attachments are served from it); None once removed."""
    return f"{ORIGINALS}/{asset.stored_name}" if asset.stored_name else None


def _original_file(asset: MediaAsset) -> Path | None:
    return media_root() / ORIGINALS / asset.stored_name if asset.stored_name else None


def unlink_quietly(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def after_commit(*, unlink: Iterable[Path] = (), unlink_on_rollback: Iterable[Path] = ()) -> None:
    """Remove files once the current transaction's fate is known: `unlink` when it commits
    (an original whose renditions are now recorded), `unlink_on_rollback` when it rolls back
    (renditions published for rows that were never stored)."""
    on_commit, on_rollback = list(unlink), list(unlink_on_rollback)
    session = db.session()
    state = {"done": False}

    def committed(_session):
        if not state["done"]:
            state["done"] = True
            unlink_quietly(on_commit)

    def rolled_back(_session, previous):
        if previous.nested or previous.parent is not None:  # a savepoint: not yet decided
            event.listen(session, "after_soft_rollback", rolled_back, once=True)
            return
        if not state["done"]:
            state["done"] = True
            unlink_quietly(on_rollback)

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_soft_rollback", rolled_back, once=True)


# ---------------------------------------------------------------- permissions and state

def can_view_asset_status(actor: User | None, asset: MediaAsset) -> bool:
    """The processing state of an asset is shown to its owner and to administrators."""
    if actor is None or not actor.active:
        return False
    return asset.owner_id == actor.id or is_admin(actor)


def get_asset(asset_id: int) -> MediaAsset:
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None:
        raise NotFound("media_not_found")
    return asset


def get_asset_for_status(actor: User | None, asset_id: int) -> MediaAsset:
    """An asset whose state the actor may see; others' assets are as if missing (404)."""
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None or not can_view_asset_status(actor, asset):
        raise NotFound("media_not_found")
    return asset


@dataclass(frozen=True)
class AssetState:
    status: AssetStatus
    error: str | None
    #: percent done of the processing job
    progress: int

    @property
    def label(self) -> str:
        return status_label(self.status)

    @property
    def finished(self) -> bool:
        return self.status in (AssetStatus.READY, AssetStatus.FAILED)

    def as_json(self) -> dict:
        return {"status": self.status.value, "label": self.label, "error": self.error,
                "progress": self.progress, "finished": self.finished}


def asset_state(asset: MediaAsset) -> AssetState:
    """What to show about an asset: its status with the job's progress; a job that stopped
    failing (its worker crashed on the last attempt) shows as a failure even if the asset row
    could not be updated."""
    status, error, progress = asset.status, asset.error, 0
    job = db.session.get(Job, asset.job_id) if asset.job_id else None
    if status in (AssetStatus.QUEUED, AssetStatus.PROCESSING) and job is not None:
        if job.status is JobStatus.FAILED:
            status, error = AssetStatus.FAILED, error or render("media_processing_failed")
        elif job.status is JobStatus.RUNNING:
            status = AssetStatus.PROCESSING
        if job.progress_total:
            progress = max(0, min(99, job.progress_done * 100 // job.progress_total))
    if status is AssetStatus.READY:
        progress = 100
    return AssetState(status=status, error=error, progress=progress)


# ---------------------------------------------------------------- creating assets

@dataclass(frozen=True)
class Classified:
    kind: AssetKind
    content_type: str | None
    refusal: MediaRefused | None = None


def classify(path: Path, original_name: str, kinds: Iterable[AssetKind]) -> Classified:
    """What a stored file becomes, judged by its content for the kinds a purpose accepts:
    an attachment (allowlisted document types), a PDF (%PDF- header), or audio/video (whose
    kind the probe settles later: VIDEO until then). A refusal comes with the kind asked."""
    kinds = set(kinds)
    max_bytes = current_app.config["MEDIA_MAX_BYTES"]
    size = path.stat().st_size
    if AssetKind.FILE in kinds:
        try:
            if size > max_bytes:
                raise MediaRefused("media_too_large", max_mb=max_bytes // (1024 * 1024))
            return Classified(AssetKind.FILE, attachment_type(path, original_name))
        except MediaRefused as exc:
            return Classified(AssetKind.FILE, None, exc)
    sniffed = sniff(path)
    if sniffed.category == "pdf" and AssetKind.PDF in kinds:
        if size > max_bytes:
            return Classified(AssetKind.PDF, None, MediaRefused(
                "media_too_large", max_mb=max_bytes // (1024 * 1024)))
        return Classified(AssetKind.PDF, "application/pdf")
    if kinds & MEDIA_KINDS:
        kind = AssetKind.VIDEO if AssetKind.VIDEO in kinds else AssetKind.AUDIO
        try:
            refuse_unless_media(sniffed)
        except MediaRefused as exc:
            return Classified(kind, None, exc)
        return Classified(kind, sniffed.content_type)
    return Classified(AssetKind.PDF, None, MediaRefused(
        "media_empty" if sniffed.category == "empty" else "media_not_pdf"))


def _safe_display_name(name: str) -> str:
    """The uploader's file name for display and downloads only (never a path)."""
    cleaned = "".join(ch for ch in (name or "") if ch.isprintable() and ch not in "/\\")
    return cleaned.strip()[:255] or "file"


def add_stored_file(stored: Path, *, original_name: str, owner_id: int | None,
                    kinds: Iterable[AssetKind], now: datetime) -> MediaAsset:
    """Record a file already placed in MEDIA_DIR/originals as an asset, judged by content:
    PDFs and attachments are ready at once; audio/video is QUEUED for processing; a refused
    file is FAILED with the reason (and removed once that is committed)."""
    classified = classify(stored, original_name, kinds)
    asset = MediaAsset(owner_id=owner_id, kind=classified.kind, original_name=_safe_display_name(original_name),
                       stored_name=stored.name, size=stored.stat().st_size,
                       content_type=classified.content_type, created_at=now, updated_at=now)
    if classified.refusal is not None:
        asset.status, asset.error = AssetStatus.FAILED, classified.refusal.message[:500]
        asset.stored_name = None
        db.session.add(asset)
        db.session.flush()
        after_commit(unlink=[stored])
        return asset
    asset.status = (AssetStatus.QUEUED if classified.kind in MEDIA_KINDS else AssetStatus.READY)
    db.session.add(asset)
    db.session.flush()
    return asset


def import_file(source: Path | str, *, original_name: str | None = None, owner_id: int | None = None,
                kinds: Iterable[AssetKind] = (AssetKind.VIDEO, AssetKind.AUDIO, AssetKind.PDF),
                now: datetime) -> MediaAsset:
    """Copy a local file (e.g. a demo video made at import time) into the media folder as an
    asset. Audio/video is left QUEUED: call process_asset(asset.id, now) to process it now, or
    enqueue_processing(asset, now=now) to leave it to the worker."""
    source = Path(source)
    stored = media_folder(ORIGINALS) / new_name()
    shutil.copyfile(source, stored)
    try:
        return add_stored_file(stored, original_name=original_name or source.name,
                               owner_id=owner_id, kinds=kinds, now=now)
    except BaseException:
        stored.unlink(missing_ok=True)
        raise


def enqueue_processing(asset: MediaAsset, *, now: datetime) -> Job | None:
    """Queue the worker's processing of a QUEUED audio/video asset (none for other kinds)."""
    if asset.status is not AssetStatus.QUEUED or asset.kind not in MEDIA_KINDS:
        return None
    job = jobs.enqueue(PROCESS_JOB, {"asset_id": asset.id}, now=now)
    asset.job_id = job.id
    db.session.flush()
    return job


def reprocess_asset(asset: MediaAsset, *, now: datetime) -> Job | None:
    """Try a FAILED audio/video asset again, while its original is still there."""
    original = _original_file(asset)
    if (asset.status is not AssetStatus.FAILED or asset.kind not in MEDIA_KINDS
            or original is None or not original.is_file()):
        return None
    asset.status, asset.error = AssetStatus.QUEUED, None
    return enqueue_processing(asset, now=now)


def delete_asset(asset: MediaAsset) -> None:
    """Delete an asset's row, and its files once that is committed."""
    root = media_root()
    files = [root / rendition_path(r) for r in asset.renditions]
    for relative in (poster_path(asset), original_path(asset)):
        if relative:
            files.append(root / relative)
    db.session.delete(asset)
    db.session.flush()
    after_commit(unlink=files)


# ---------------------------------------------------------------- processing

@dataclass(frozen=True)
class _Settings:
    media_dir: Path
    max_bytes: int
    max_seconds: float
    max_pixels: int
    timeout: float
    ffmpeg: str | None


def _settings() -> _Settings:
    config = current_app.config
    return _Settings(media_dir=media_root(), max_bytes=config["MEDIA_MAX_BYTES"],
                     max_seconds=config["MEDIA_MAX_SECONDS"],
                     max_pixels=config["MEDIA_MAX_PIXELS"],
                     timeout=config["TRANSCODE_TIMEOUT"], ffmpeg=config.get("FFMPEG"))


@dataclass
class _Checked:
    """A PDF or attachment that passed its check again: served from the original."""
    content_type: str


def _run(kind: AssetKind, original: Path | None, original_name: str, settings: _Settings,
         progress: Progress | None, started: Callable | None) -> Transcoded | _Checked:
    """Judge and transcode (no database): MediaRefused for what is refused."""
    if original is None or not original.is_file():
        raise MediaRefused("media_original_missing")
    if kind is AssetKind.PDF:
        check_pdf(original)
        return _Checked("application/pdf")
    if kind is AssetKind.FILE:
        return _Checked(attachment_type(original, original_name))
    tools = find_tools(settings.ffmpeg)
    probe: ProbeResult = probe_media(original, tools, max_bytes=settings.max_bytes,
                                     max_seconds=settings.max_seconds,
                                     max_pixels=settings.max_pixels)
    return transcode(original, probe, settings.media_dir / TMP, tools,
                     timeout=settings.timeout, progress=progress, started=started)


def _write_detached(stmt) -> None:
    """One statement in its own short committed transaction, visible to pages at once (the
    way JobContext.progress writes). A session bound to one connection (the tests) has no
    other connection: there the statement is committed in the session, which holds no other
    change at the two places this is called (after a commit and after a rollback)."""
    bind = db.session.get_bind()
    if not isinstance(bind, Engine):
        db.session.execute(stmt)
        db.session.commit()
        return
    with write_intent(True), bind.begin() as conn:
        conn.execute(stmt)


def _publish(asset: MediaAsset, result: Transcoded | _Checked, settings: _Settings) -> None:
    """Rename the finished outputs into renditions/ and record them; the original goes once
    this is committed. Nothing half-written is ever published: outputs were complete files."""
    if isinstance(result, _Checked):
        asset.content_type = result.content_type
        asset.status, asset.error = AssetStatus.READY, None
        db.session.flush()
        return
    folder = settings.media_dir / RENDITIONS
    folder.mkdir(parents=True, exist_ok=True)
    published: list[Path] = []
    renditions = []
    try:
        for output in result.outputs:
            name = new_name(".m4a" if output.label == "audio" else ".mp4")
            size = output.size
            os.replace(output.path, folder / name)
            published.append(folder / name)
            renditions.append(Rendition(label=output.label, stored_name=name,
                                        content_type=output.content_type, width=output.width,
                                        height=output.height, size=size))
        poster = new_name(".jpg")
        os.replace(result.poster, folder / poster)
        published.append(folder / poster)
    except BaseException:
        unlink_quietly(published)
        result.discard()
        raise
    root = settings.media_dir
    replaced = [root / rendition_path(r) for r in asset.renditions]
    if asset.poster_name:
        replaced.append(root / RENDITIONS / asset.poster_name)
    original = _original_file(asset)
    asset.renditions = renditions
    asset.kind = AssetKind.VIDEO if result.has_video else AssetKind.AUDIO
    asset.duration_seconds = round(result.duration, 3)
    asset.width, asset.height = result.width, result.height
    asset.has_video, asset.has_audio = result.has_video, result.has_audio
    asset.poster_name = poster
    asset.stored_name = None
    asset.status, asset.error = AssetStatus.READY, None
    db.session.flush()
    after_commit(unlink=[*replaced, *([original] if original else [])],
                 unlink_on_rollback=published)


def _refuse(asset: MediaAsset, refusal: MediaRefused) -> None:
    """A refused file: FAILED with the reason. Its original is of no further use, unless the
    refusal was the server's (a time limit, no ffmpeg): then it stays for reprocess_asset."""
    asset.status, asset.error = AssetStatus.FAILED, refusal.message[:500]
    original = _original_file(asset)
    if original is not None and refusal.code not in KEEP_ORIGINAL_ON:
        asset.stored_name = None
        after_commit(unlink=[original])
    db.session.flush()


def process_asset(asset_id: int, now: datetime, progress: Progress | None = None, *,
                  detached: bool = False, started: Callable | None = None) -> MediaAsset | None:
    """Probe and transcode an asset: QUEUED → PROCESSING → READY (renditions, poster,
    duration and size stored, original removed once committed) or FAILED with the reason for a
    refused file. Errors worth a retry (ffmpeg crashed or was killed) are raised.

    Called synchronously (e.g. by `lms content import`) it works in the caller's transaction
    and only flushes. With `detached=True` (the worker) no transaction is held while ffmpeg
    runs: the read transaction ends first, PROCESSING is written in its own short transaction,
    and the final state is written in a new one that the job commits. An asset already READY
    or FAILED is left alone (a job run twice, e.g. after a worker was presumed dead).
    `progress(done, total)` receives percent done."""
    asset = db.session.get(MediaAsset, asset_id)
    if asset is None:
        return None
    if asset.status in (AssetStatus.READY, AssetStatus.FAILED):
        return asset
    settings = _settings()
    kind, original, name = asset.kind, _original_file(asset), asset.original_name
    if detached:
        db.session.commit()  # ends the read transaction; nothing was written
        _write_detached(sa.update(MediaAsset)
                        .where(MediaAsset.id == asset_id,
                               MediaAsset.status.in_([AssetStatus.QUEUED, AssetStatus.PROCESSING]))
                        .values(status=AssetStatus.PROCESSING, error=None, updated_at=now))
    else:
        asset.status, asset.error = AssetStatus.PROCESSING, None
        db.session.flush()
    if progress:
        progress(0, 100)
    try:
        result: Transcoded | _Checked | MediaRefused = _run(kind, original, name, settings,
                                                             progress, started)
    except MediaRefused as exc:
        result = exc
    if detached:
        jobs.begin_writes()
        asset = db.session.get(MediaAsset, asset_id, with_for_update=True, populate_existing=True)
        if asset is None or asset.status is AssetStatus.READY:  # deleted, or done by another run
            if isinstance(result, Transcoded):
                result.discard()
            return asset
    asset.updated_at = now
    if isinstance(result, MediaRefused):
        _refuse(asset, result)
    else:
        _publish(asset, result, settings)
    if progress and not detached:
        progress(100, 100)
    return asset


def failure_message(exc: BaseException) -> str:
    if isinstance(exc, MediaRefused):
        return exc.message
    if isinstance(exc, TranscodeFailed):
        return render("media_transcode_failed", detail=exc.detail)
    return render("media_transcode_failed", detail=f"{type(exc).__name__}: {exc}")


def record_failure(asset_id: int, exc: BaseException, *, final: bool, now: datetime) -> None:
    """After a processing run failed (the job's transaction is rolled back): the reason goes
    on the asset in its own transaction; FAILED when no retry is left, else QUEUED again."""
    message = failure_message(exc)[:500]
    if final:
        message = render("media_failed_after_retries", detail=message)[:500]
    _write_detached(sa.update(MediaAsset)
                    .where(MediaAsset.id == asset_id,
                           MediaAsset.status.in_([AssetStatus.QUEUED, AssetStatus.PROCESSING]))
                    .values(status=AssetStatus.FAILED if final else AssetStatus.QUEUED,
                            error=message, updated_at=now))


# ---------------------------------------------------------------- housekeeping

def _old_files(folder: Path, before: datetime) -> list[Path]:
    if not folder.is_dir():
        return []
    cutoff = before.timestamp()
    found = []
    for entry in os.scandir(folder):
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                found.append(Path(entry.path))
        except OSError:
            continue
    return found


def sweep_orphans(now: datetime) -> int:
    """Remove temporary outputs of dead runs (older than the transcode limit) and files in
    originals/ and renditions/ that no row names (a transaction that failed after publishing),
    older than a day. Returns how many files were removed."""
    root = media_root()
    timeout = timedelta(seconds=current_app.config["TRANSCODE_TIMEOUT"]) + timedelta(hours=1)
    stale_tmp = _old_files(root / TMP, now - timeout)
    candidates = (_old_files(root / ORIGINALS, now - ORPHAN_AGE)
                  + _old_files(root / RENDITIONS, now - ORPHAN_AGE))
    removed = len(stale_tmp)
    unlink_quietly(stale_tmp)
    if candidates:
        names = set(db.session.scalars(sa.select(Rendition.stored_name)))
        names.update(n for n in db.session.scalars(sa.select(MediaAsset.stored_name)) if n)
        names.update(n for n in db.session.scalars(sa.select(MediaAsset.poster_name)) if n)
        orphans = [path for path in candidates if path.name not in names]
        unlink_quietly(orphans)
        removed += len(orphans)
    return removed
