"""Processing with real ffmpeg on real files made by ffmpeg: renditions, poster, rotation,
variable frame rate, HEVC, no audio, audio only, crashes, retries and timeouts."""
from __future__ import annotations

import os
import signal
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from lms.jobs import Job, JobStatus, run_pending
from lms.jobs.services import RETRY_DELAY
from lms.media import services
from lms.media.models import AssetKind, AssetStatus, MediaAsset
from lms.media.transcode import TranscodeFailed
from tests.media.conftest import ffprobe_json, has_encoder, needs_ffmpeg

pytestmark = needs_ffmpeg


def streams(path: Path) -> dict[str, dict]:
    data = ffprobe_json(path)
    return {s["codec_type"]: s for s in data["streams"]}


def moov_before_mdat(path: Path) -> bool:
    head = path.read_bytes()
    return 0 <= head.find(b"moov") < head.find(b"mdat")


def rendition_file(media_dir: Path, rendition) -> Path:
    return media_dir / services.rendition_path(rendition)


def test_720p_source_makes_720p_and_360p_with_poster(db, now, samples, store, media_dir):
    source = samples.video("hd.mp4", size="1280x720", seconds=2)
    asset = store(source)
    assert asset.status is AssetStatus.QUEUED and asset.kind is AssetKind.VIDEO
    original = media_dir / services.original_path(asset)
    assert original.is_file()
    seen = []

    services.process_asset(asset.id, now, progress=lambda done, total: seen.append((done, total)))
    db.session.commit()

    assert asset.status is AssetStatus.READY, asset.error
    assert [r.label for r in asset.renditions] == ["720p", "360p"]
    assert [(r.width, r.height) for r in asset.renditions] == [(1280, 720), (640, 360)]
    for rendition in asset.renditions:
        path = rendition_file(media_dir, rendition)
        info = streams(path)
        assert info["video"]["codec_name"] == "h264"
        assert info["video"]["pix_fmt"] == "yuv420p"
        assert (info["video"]["width"], info["video"]["height"]) == (rendition.width, rendition.height)
        assert info["audio"]["codec_name"] == "aac"
        assert moov_before_mdat(path), "faststart: the index comes first"
        assert rendition.size == path.stat().st_size
        assert rendition.content_type == "video/mp4"
    poster = media_dir / services.poster_path(asset)
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
    assert asset.duration_seconds == pytest.approx(2.0, abs=0.2)
    assert (asset.width, asset.height) == (1280, 720)
    assert asset.has_video and asset.has_audio
    # the original goes once the renditions are committed
    assert asset.stored_name is None and not original.exists()
    assert seen[0] == (0, 100) and seen[-1] == (100, 100)
    assert not list((media_dir / "tmp").iterdir())


def test_360p_source_is_never_upscaled(db, now, samples, store, media_dir):
    asset = store(samples.video("sd.mp4", size="640x360"))
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY
    assert [(r.label, r.width, r.height) for r in asset.renditions] == [("360p", 640, 360)]


def test_small_odd_source_keeps_its_size_with_even_dimensions(db, now, samples, store, media_dir):
    asset = store(samples.video("tiny.mkv", size="175x99", audio=False, pix_fmt="yuv444p"))
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    [rendition] = asset.renditions
    assert (rendition.width, rendition.height) == (176, 100)
    assert rendition.label == "360p"


def test_phone_video_with_rotation_comes_out_upright(db, now, samples, store, media_dir):
    landscape = samples.video("phone-raw.mp4", size="640x360")
    rotated = samples.path("phone.mp4")
    if not rotated.exists():
        from tests.media.conftest import ffmpeg
        ffmpeg("-i", str(landscape), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    side = streams(rotated)["video"].get("side_data_list", [])
    assert any(abs(s.get("rotation", 0)) == 90 for s in side), "the test file carries a rotation"

    asset = store(rotated)
    services.process_asset(asset.id, now)

    assert asset.status is AssetStatus.READY, asset.error
    assert (asset.width, asset.height) == (360, 640)
    [rendition] = asset.renditions  # short side 360: only 360p
    info = streams(rendition_file(media_dir, rendition))["video"]
    assert (info["width"], info["height"]) == (360, 640)
    assert not any(s.get("rotation") for s in info.get("side_data_list", []))
    assert "rotate" not in info.get("tags", {})


def test_video_without_audio_has_no_audio_stream(db, now, samples, store, media_dir):
    asset = store(samples.video("silent.mp4", size="640x360", audio=False))
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY
    assert asset.has_video and not asset.has_audio
    info = streams(rendition_file(media_dir, asset.renditions[0]))
    assert "audio" not in info and "video" in info


def test_audio_only_mp3_becomes_an_audio_asset_with_a_poster(db, now, samples, store, media_dir):
    asset = store(samples.mp3())
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    assert asset.kind is AssetKind.AUDIO
    assert not asset.has_video and asset.has_audio
    [rendition] = asset.renditions
    assert rendition.label == "audio" and rendition.content_type == "audio/mp4"
    path = rendition_file(media_dir, rendition)
    assert path.suffix == ".m4a"
    info = streams(path)
    assert set(info) == {"audio"} and info["audio"]["codec_name"] == "aac"
    poster = media_dir / services.poster_path(asset)
    assert poster.read_bytes()[:3] == b"\xff\xd8\xff"
    assert asset.width is None and asset.duration_seconds == pytest.approx(2.0, abs=0.2)


def test_mp3_with_cover_art_is_audio(db, now, samples, store, media_dir):
    cover = samples.path("cover.png")
    tagged = samples.path("tagged.mp3")
    if not tagged.exists():
        from tests.media.conftest import ffmpeg
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:duration=1", "-frames:v", "1", str(cover))
        ffmpeg("-i", str(samples.mp3()), "-i", str(cover), "-map", "0", "-map", "1", "-c:a", "copy",
               "-c:v", "png", "-disposition:v", "attached_pic", "-id3v2_version", "3", str(tagged))
    asset = store(tagged)
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    assert asset.kind is AssetKind.AUDIO and not asset.has_video


def test_variable_frame_rate_keeps_every_frame_once(db, now, samples, store, media_dir):
    vfr = samples.path("vfr.mkv")
    if not vfr.exists():
        from tests.media.conftest import ffmpeg
        # 20 frames at 10 fps, then 30 frames at 30 fps: 50 frames over 3 s
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x180:rate=30", "-frames:v", "50",
               "-vf", "setpts='if(lt(N,20),N/10,2+(N-20)/30)/TB'", "-fps_mode", "vfr",
               "-c:v", "libx264", "-preset", "ultrafast", str(vfr))
    count = lambda path: int(ffprobe_json(path, "-count_frames", "-select_streams", "v:0")
                             ["streams"][0]["nb_read_frames"])
    assert count(vfr) == 50
    asset = store(vfr)
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    assert count(rendition_file(media_dir, asset.renditions[0])) == 50
    assert asset.duration_seconds == pytest.approx(3.0, abs=0.3)


@pytest.mark.skipif(not has_encoder("libx265"), reason="this ffmpeg has no libx265 encoder")
def test_hevc_input_becomes_h264(db, now, samples, store, media_dir):
    hevc = samples.video("hevc.mp4", size="640x360", audio=False, vcodec="libx265",
                         extra=("-preset", "ultrafast", "-x265-params", "log-level=error",
                                "-tag:v", "hvc1"))
    assert streams(hevc)["video"]["codec_name"] == "hevc"
    asset = store(hevc)
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    assert streams(rendition_file(media_dir, asset.renditions[0]))["video"]["codec_name"] == "h264"


# ---------------------------------------------------------------- through the job queue

def run_jobs(now):
    return run_pending(lambda: now)


def job_of(db, asset) -> Job:
    return db.session.get(Job, asset.job_id)


def test_job_processes_an_asset(db, now, samples, store, media_dir):
    asset = store(samples.video("sd.mp4", size="640x360"))
    services.enqueue_processing(asset, now=now)
    db.session.commit()
    assert run_jobs(now) == 1
    db.session.refresh(asset)
    job = job_of(db, asset)
    assert job.status is JobStatus.DONE
    assert asset.status is AssetStatus.READY
    assert job.progress_done == job.progress_total == 100 or job.progress_total == 100
    state = services.asset_state(asset)
    assert state.as_json()["label"] == "已就绪" and state.progress == 100


def test_killed_ffmpeg_publishes_nothing_and_the_retry_succeeds(db, now, samples, store, media_dir,
                                                                monkeypatch):
    asset = store(samples.video("hd.mp4", size="1280x720"))
    services.enqueue_processing(asset, now=now)
    db.session.commit()
    original = media_dir / services.original_path(asset)

    real = services.transcode

    def kill_midway(*args, **kwargs):
        def started(proc):
            os.killpg(proc.pid, signal.SIGKILL)
        return real(*args, **dict(kwargs, started=started))

    monkeypatch.setattr(services, "transcode", kill_midway)
    run_jobs(now)
    db.session.refresh(asset)
    job = job_of(db, asset)
    assert job.status is JobStatus.PENDING and job.attempts == 1  # will be retried
    assert asset.status is AssetStatus.QUEUED
    assert "转码失败" in asset.error
    rendered = media_dir / "renditions"
    assert not rendered.exists() or not list(rendered.iterdir())
    assert not list((media_dir / "tmp").iterdir())
    assert original.is_file()

    monkeypatch.setattr(services, "transcode", real)
    run_jobs(now + RETRY_DELAY * 2)
    db.session.refresh(asset)
    assert job_of(db, asset).status is JobStatus.DONE
    assert asset.status is AssetStatus.READY and asset.error is None
    assert len(asset.renditions) == 2


def test_worker_dying_between_write_and_rename_publishes_nothing(db, now, samples, store, media_dir,
                                                                 monkeypatch):
    """The outputs are complete temporary files; the worker dies before they are renamed into
    place: nothing appears in renditions/, the asset is not READY, and a second run succeeds."""
    asset = store(samples.video("sd.mp4", size="640x360"))
    services.enqueue_processing(asset, now=now)
    db.session.commit()

    class WorkerDied(BaseException):
        pass

    def die(*args):
        raise WorkerDied()

    with monkeypatch.context() as patched, pytest.raises(WorkerDied):
        patched.setattr(services.os, "replace", die)
        run_jobs(now)
    db.session.rollback()
    db.session.expire_all()
    rendered = media_dir / "renditions"
    assert not rendered.exists() or not list(rendered.iterdir())
    assert db.session.get(MediaAsset, asset.id).status is not AssetStatus.READY
    job = job_of(db, asset)
    assert job.status is JobStatus.RUNNING  # as a dead worker leaves it

    # the queue's stale-job rule hands it to another worker
    from lms.jobs.services import STALE_AFTER
    run_jobs(now + STALE_AFTER + timedelta(minutes=1))
    asset = db.session.get(MediaAsset, asset.id)
    assert asset.status is AssetStatus.READY
    assert {p.name for p in rendered.iterdir()} == {
        *(r.stored_name for r in asset.renditions), asset.poster_name}


def test_a_job_failing_three_times_stops_and_the_asset_says_why(db, now, samples, store, media_dir,
                                                                monkeypatch, tmp_path):
    broken = tmp_path / "bin" / "ffmpeg"
    broken.parent.mkdir()
    broken.write_text("#!/bin/sh\necho 'simulated encoder crash' >&2\nexit 1\n")
    broken.chmod(0o755)
    (tmp_path / "bin" / "ffprobe").symlink_to(Path(__import__("shutil").which("ffprobe")))
    monkeypatch.setitem(services.current_app.config, "FFMPEG", str(broken))
    asset = store(samples.video("sd.mp4", size="640x360"))
    services.enqueue_processing(asset, now=now)
    db.session.commit()

    when = now
    for attempt in (1, 2, 3):
        assert run_jobs(when) == 1
        job = job_of(db, asset)
        db.session.refresh(job)
        assert job.attempts == attempt
        when = when + RETRY_DELAY * attempt + timedelta(seconds=1)
    assert run_jobs(when + timedelta(hours=1)) == 0
    db.session.refresh(asset)
    assert job.status is JobStatus.FAILED
    assert asset.status is AssetStatus.FAILED
    assert "已重试 3 次" in asset.error and "simulated encoder crash" in asset.error
    state = services.asset_state(asset).as_json()
    assert state["label"] == "失败" and "simulated encoder crash" in state["error"]
    assert (media_dir / services.original_path(asset)).is_file()  # kept for another try


def test_transcode_timeout_kills_ffmpeg_and_fails(db, now, samples, store, media_dir, monkeypatch):
    monkeypatch.setitem(services.current_app.config, "TRANSCODE_TIMEOUT", 0.3)
    asset = store(samples.video("hd8.mp4", size="1280x720", seconds=8))
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.FAILED
    assert "转码超时" in asset.error
    assert not list((media_dir / "tmp").iterdir())
    assert (media_dir / services.original_path(asset)).is_file()
    assert services.reprocess_asset(asset, now=now) is not None
    assert asset.status is AssetStatus.QUEUED


def test_transcode_failure_raises_for_synchronous_callers(db, now, samples, store, monkeypatch):
    asset = store(samples.video("sd.mp4", size="640x360"))

    def crash(*args, **kwargs):
        raise TranscodeFailed(1, "boom")

    monkeypatch.setattr(services, "transcode", crash)
    with pytest.raises(TranscodeFailed):
        services.process_asset(asset.id, now)


def test_pdf_and_attachments_are_ready_without_processing(db, now, samples, store, media_dir):
    pdf = samples.write("slides.pdf", b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    asset = store(pdf)
    assert asset.kind is AssetKind.PDF and asset.status is AssetStatus.READY
    assert asset.content_type == "application/pdf"
    assert services.enqueue_processing(asset, now=now) is None
    assert (media_dir / services.original_path(asset)).is_file()

    notes = samples.write("notes.txt", "工会法学习笔记\n".encode())
    attachment = store(notes, kinds=(AssetKind.FILE,))
    assert attachment.status is AssetStatus.READY and attachment.kind is AssetKind.FILE
    assert attachment.content_type.startswith("text/plain")


def test_housekeeping_removes_dead_temporary_files_and_orphans(db, now, media_dir, app):
    tmp = media_dir / "tmp"
    tmp.mkdir()
    (tmp / "dead.720p.mp4.part").write_bytes(b"x")
    renditions = media_dir / "renditions"
    renditions.mkdir()
    (renditions / "orphan.mp4").write_bytes(b"x")
    later = now + timedelta(days=30)
    removed = services.sweep_orphans(later)
    assert removed == 2
    assert not list(tmp.iterdir()) and not list(renditions.iterdir())


def test_job_with_real_transactions(committed, samples, media_dir):
    """The worker's way: no transaction held during the transcode, PROCESSING and progress
    written in their own transactions, the final state committed with the job."""
    from lms.db import utcnow
    seen = []
    asset = services.import_file(samples.video("hd.mp4", size="1280x720"), owner_id=None,
                                 now=utcnow())
    services.enqueue_processing(asset, now=utcnow())
    committed.session.commit()
    asset_id, original = asset.id, media_dir / services.original_path(asset)

    real = services.transcode

    def watching(*args, **kwargs):
        # while ffmpeg runs another connection sees PROCESSING, and no write lock is held
        with committed.engine.begin() as conn:
            seen.append(conn.execute(sa.select(MediaAsset.status).where(
                MediaAsset.id == asset_id)).scalar_one())
        return real(*args, **kwargs)

    services.transcode = watching
    try:
        assert run_pending(utcnow) == 1
    finally:
        services.transcode = real
    committed.session.expire_all()
    asset = committed.session.get(MediaAsset, asset_id)
    assert seen == [AssetStatus.PROCESSING]
    assert asset.status is AssetStatus.READY and len(asset.renditions) == 2
    assert committed.session.get(Job, asset.job_id).status is JobStatus.DONE
    assert not original.exists()


def test_poster_when_the_video_ends_before_its_tenth(db, now, samples, store, media_dir):
    """Half a second of picture and a minute of sound: the poster falls back to the first frame."""
    short_video = samples.path("short-picture.mp4")
    if not short_video.exists():
        from tests.media.conftest import ffmpeg
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x180:rate=25:duration=0.5",
               "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=60",
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
               "-b:a", "32k", str(short_video))
    asset = store(short_video)
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    assert (media_dir / services.poster_path(asset)).read_bytes()[:3] == b"\xff\xd8\xff"
