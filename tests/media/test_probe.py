"""Judging files by content: playlists, text, images, damaged, truncated and absurd files are
refused with a reason in Chinese, and nothing a playlist points at is ever read."""
from __future__ import annotations

import struct
import types
from pathlib import Path

import pytest

from lms.media import probe as probe_module
from lms.media import services
from lms.media.models import AssetKind, AssetStatus
from lms.media.probe import (MediaRefused, Tools, attachment_type, find_tools, parse_ffmpeg_stderr,
                             run_probe, sniff_bytes)
from tests.media.conftest import FFMPEG, FFPROBE, PASSWD, all_bytes_under, ffmpeg, needs_ffmpeg

PASSWD_LINE = PASSWD.read_bytes().splitlines()[0] if PASSWD.exists() else b"root:x:0:0"


# ---------------------------------------------------------------- magic bytes (no ffmpeg)

@pytest.mark.parametrize("head, category", [
    (b"", "empty"),
    (b"#EXTM3U\n#EXTINF:10,\nfile:///etc/passwd\n", "playlist"),
    (b"\xef\xbb\xbf  #extm3u\n", "playlist"),
    (b"ffconcat version 1.0\nfile '/etc/passwd'\n", "playlist"),
    (b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011">', "playlist"),
    (b"[playlist]\nFile1=http://example.invalid/a.mp3\n", "playlist"),
    (b"hello, this is only text pretending to be a video\n", "text"),
    ("工会法全文".encode(), "text"),
    (b"get free mp4 videos here", "text"),
    (b"<!DOCTYPE html><html><script>alert(1)</script>", "text"),
    (b"%PDF-1.7\n", "pdf"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "image"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2", "media"),
    (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00", "media"),
    (b"ID3\x03\x00\x00\x00\x00\x00\x00", "media"),
    (b"PK\x03\x04\x14\x00", "zip"),
    (b"\x00\x01\x02\x03\x04\x05\x06\x07", "unknown"),
])
def test_sniff(head, category):
    assert sniff_bytes(head).category == category


def test_ffmpeg_output_parsing_without_ffprobe():
    text = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'file:/m/originals/abc':
  Metadata:
    major_brand     : isom
  Duration: 00:01:02.50, start: 0.000000, bitrate: 286 kb/s
  Stream #0:0[0x1](und): Video: hevc (Main) (hvc1 / 0x31637668), yuv420p(tv), 1920x1080 [SAR 1:1 DAR 16:9], 207 kb/s, 29.97 fps, 30 tbr, 12800 tbn (default)
    Side data:
      displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 69 kb/s (default)
At least one output file must be specified
"""
    result = parse_ffmpeg_stderr(text)
    assert result.format_name == "mov,mp4,m4a,3gp,3g2,mj2"
    assert result.duration == pytest.approx(62.5)
    assert (result.video_codec, result.audio_codec) == ("hevc", "aac")
    assert (result.coded_width, result.coded_height, result.rotation) == (1920, 1080, 270)
    assert result.display_size == (1080, 1920)
    cover = parse_ffmpeg_stderr("""Input #0, mp3, from 'x':
  Duration: 00:00:03.03, start: 0.025057, bitrate: 67 kb/s
  Stream #0:0: Audio: mp3, 44100 Hz, mono, fltp, 64 kb/s
  Stream #0:1: Video: png, rgb24(pc), 64x64, 90k tbr, 90k tbn (attached pic)
""")
    assert cover.has_audio and not cover.has_video


def test_binary_resolution_order(monkeypatch, tmp_path):
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_tools(str(fake)) == Tools(str(fake), None)  # no ffprobe beside it
    (tmp_path / "ffprobe").write_text("#!/bin/sh\n")
    assert find_tools(str(fake)).ffprobe == str(tmp_path / "ffprobe")
    monkeypatch.setattr(probe_module.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert find_tools(None) == Tools("/opt/bin/ffmpeg", "/opt/bin/ffprobe")
    monkeypatch.setattr(probe_module.shutil, "which", lambda name: None)
    shipped = types.SimpleNamespace(get_ffmpeg_exe=lambda: "/venv/imageio_ffmpeg/ffmpeg-x86_64")
    monkeypatch.setattr(probe_module, "imageio_ffmpeg", shipped)
    assert find_tools(None) == Tools("/venv/imageio_ffmpeg/ffmpeg-x86_64", None)
    monkeypatch.setattr(probe_module, "imageio_ffmpeg", None)
    assert find_tools(None) == Tools(None, None)


def test_attachment_allowlist(samples, tmp_path):
    import zipfile
    docx = tmp_path / "讲义.docx"
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    assert attachment_type(docx, docx.name).endswith("wordprocessingml.document")
    ole = samples.write("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    assert attachment_type(ole, "旧版.doc") == "application/msword"
    html = samples.write("page.txt", b"<html><script>alert(1)</script></html>")
    with pytest.raises(MediaRefused):
        attachment_type(html, "page.txt")
    exe = samples.write("tool.pdf", b"MZ\x90\x00\x03\x00\x00\x00")
    with pytest.raises(MediaRefused) as refused:
        attachment_type(exe, "tool.pdf")
    assert "不支持该类型的附件" in refused.value.message


# ---------------------------------------------------------------- refusals through processing

def refused(db, now, store, path, **kwargs):
    asset = store(path, **kwargs)
    if asset.status is AssetStatus.QUEUED:
        services.process_asset(asset.id, now)
    db.session.commit()
    assert asset.status is AssetStatus.FAILED
    assert asset.renditions == []
    print(path.name, asset.error)
    return asset


def test_hls_playlist_renamed_mp4_pointing_at_passwd_is_never_read(db, now, samples, store, media_dir,
                                                                   capfd):
    playlist = samples.write("lecture.mp4", (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:10.0,\nfile://{PASSWD}\n#EXTINF:10.0,\n{PASSWD}\n"
        "#EXTINF:10.0,\n../../../../../../etc/passwd\n#EXT-X-ENDLIST\n").encode())
    asset = refused(db, now, store, playlist)
    assert "播放列表" in asset.error
    assert PASSWD_LINE not in asset.error.encode()
    assert PASSWD_LINE not in all_bytes_under(media_dir)
    out, err = capfd.readouterr()
    assert PASSWD_LINE.decode() not in out + err


@needs_ffmpeg
def test_even_if_sniffing_were_skipped_ffprobe_refuses_the_playlist(samples, capfd):
    """Defence in depth: the demuxer allowlist has no hls, and only file: is allowed."""
    playlist = samples.write("evil.mp4", f"#EXTM3U\n#EXTINF:10,\nfile://{PASSWD}\n#EXT-X-ENDLIST\n".encode())
    for tools in (Tools(FFMPEG, FFPROBE), Tools(FFMPEG, None)):
        with pytest.raises(MediaRefused):
            run_probe(playlist, tools)
    out, err = capfd.readouterr()
    assert PASSWD_LINE.decode() not in out + err


def test_concat_list_is_refused(db, now, samples, store):
    concat = samples.write("concat.mp4", f"ffconcat version 1.0\nfile '{PASSWD}'\n".encode())
    assert "播放列表" in refused(db, now, store, concat).error


def test_dash_manifest_is_refused(db, now, samples, store):
    mpd = samples.write("dash.mp4", b'<?xml version="1.0" encoding="UTF-8"?>\n'
                        b'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static">'
                        b'<Period><AdaptationSet><Representation><BaseURL>file:///etc/passwd'
                        b'</BaseURL></Representation></AdaptationSet></Period></MPD>')
    assert "播放列表" in refused(db, now, store, mpd).error


def test_text_renamed_mp4_is_refused(db, now, samples, store, media_dir):
    text = samples.write("notes.mp4", "这不是视频，只是一段文字。\n".encode())
    asset = refused(db, now, store, text)
    assert "文本文件" in asset.error
    assert asset.stored_name is None  # the refused file is not kept
    assert not list((media_dir / "originals").iterdir())


def test_zero_byte_file_is_refused(db, now, samples, store):
    assert "0 字节" in refused(db, now, store, samples.write("empty.mp4", b"")).error


def test_image_is_refused(db, now, samples, store):
    png = samples.path("photo.png")
    if not png.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:duration=1", "-frames:v", "1", str(png))
    renamed = samples.write("photo.mp4", png.read_bytes())
    assert "图片" in refused(db, now, store, renamed).error


@needs_ffmpeg
def test_truncated_mp4_without_its_index_is_refused(db, now, samples, store):
    whole = samples.video("whole.mp4", size="320x180", seconds=2)
    cut = samples.write("cut.mp4", whole.read_bytes()[: whole.stat().st_size // 2])
    assert "损坏或不完整" in refused(db, now, store, cut).error


@needs_ffmpeg
def test_truncated_faststart_mp4_is_refused(db, now, samples, store):
    whole = samples.video("faststart.mp4", size="320x180", seconds=4,
                          container_args=("-movflags", "+faststart"))
    cut = samples.write("faststart-cut.mp4", whole.read_bytes()[: whole.stat().st_size // 3])
    assert "不完整" in refused(db, now, store, cut).error


def _avi_with_size(samples, name, width, height) -> Path:
    tiny = samples.path("tiny-raw.avi")
    if not tiny.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=16x16:rate=5:duration=1", "-c:v", "rawvideo",
               "-pix_fmt", "yuv420p", str(tiny))
    data = bytearray(tiny.read_bytes())
    avih = data.find(b"avih") + 8
    struct.pack_into("<II", data, avih + 32, width, height)
    strf = data.find(b"strf") + 8
    struct.pack_into("<ii", data, strf + 4, width, height)
    return samples.write(name, bytes(data))


@needs_ffmpeg
def test_video_claiming_100000_by_100000_is_refused(db, now, samples, store):
    huge = _avi_with_size(samples, "huge.avi", 100000, 100000)
    assert "画面尺寸" in refused(db, now, store, huge).error


@needs_ffmpeg
def test_video_over_the_pixel_limit_is_refused(db, now, samples, store):
    big = _avi_with_size(samples, "big.avi", 12000, 12000)
    asset = refused(db, now, store, big)
    assert "12000×12000" in asset.error


@needs_ffmpeg
def test_too_long_is_refused(db, now, samples, store, app, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_SECONDS", 1)
    asset = refused(db, now, store, samples.video("sd.mp4", size="640x360"))
    assert "超过上限" in asset.error


@needs_ffmpeg
def test_too_large_is_refused(db, now, samples, store, app, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_BYTES", 1000)
    asset = refused(db, now, store, samples.video("sd.mp4", size="640x360"))
    assert "文件过大" in asset.error


@needs_ffmpeg
def test_fallback_probe_by_ffmpeg_output_matches_ffprobe(samples):
    rotated = samples.path("rot-probe.mp4")
    if not rotated.exists():
        ffmpeg("-i", str(samples.video("sd.mp4", size="640x360")), "-c", "copy",
               "-metadata:s:v:0", "rotate=90", str(rotated))
    for path in (rotated, samples.mp3(), samples.video("silent.mp4", size="640x360", audio=False)):
        a = run_probe(path, Tools(FFMPEG, FFPROBE))
        b = run_probe(path, Tools(FFMPEG, None))
        assert (a.has_video, a.has_audio, a.display_size, a.rotation) == \
               (b.has_video, b.has_audio, b.display_size, b.rotation)
        assert a.duration == pytest.approx(b.duration, abs=0.02)


@needs_ffmpeg
def test_processing_without_ffprobe(db, now, samples, store, app, monkeypatch, tmp_path):
    only_ffmpeg = tmp_path / "bin" / "ffmpeg"
    only_ffmpeg.parent.mkdir()
    only_ffmpeg.symlink_to(FFMPEG)
    monkeypatch.setitem(app.config, "FFMPEG", str(only_ffmpeg))
    assert find_tools(str(only_ffmpeg)).ffprobe is None
    asset = store(samples.video("sd.mp4", size="640x360"))
    services.process_asset(asset.id, now)
    assert asset.status is AssetStatus.READY, asset.error
    assert [r.label for r in asset.renditions] == ["360p"]


def test_pdf_lesson_needs_a_pdf_header(db, now, samples, store):
    fake = samples.write("fake.pdf", b"<html>not a pdf</html>")
    asset = store(fake, kinds=(AssetKind.PDF,))
    assert asset.status is AssetStatus.FAILED and "PDF" in asset.error
