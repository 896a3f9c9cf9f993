"""Media test helpers: small real files made by ffmpeg (lavfi testsrc/sine), cached for the
session, and a way to store one as an asset."""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from lms.media import services
from lms.media.models import AssetKind

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
PASSWD = Path("/etc/passwd")

needs_ffmpeg = pytest.mark.skipif(not (FFMPEG and FFPROBE), reason="ffmpeg/ffprobe not installed")


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y", *args], check=True,
                   timeout=120)


def ffprobe_json(path: Path, *extra: str) -> dict:
    import json
    done = subprocess.run([FFPROBE, "-v", "error", "-print_format", "json", "-show_format",
                           "-show_streams", *extra, str(path)], capture_output=True, check=True,
                          timeout=60)
    return json.loads(done.stdout)


def has_encoder(name: str) -> bool:
    if not FFMPEG:
        return False
    done = subprocess.run([FFMPEG, "-hide_banner", "-encoders"], capture_output=True, timeout=30)
    return f" {name} " in done.stdout.decode()


class Samples:
    """Files made once per session: samples.get("name") builds it on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, name: str) -> Path:
        return self.folder / name

    def video(self, name: str, *, size: str = "320x180", seconds: float = 2, rate: int = 25,
              audio: bool = True, vcodec: str = "libx264", pix_fmt: str = "yuv420p", extra: tuple = (),
              container_args: tuple = ()) -> Path:
        out = self.folder / name
        if out.exists():
            return out
        args = ["-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}:duration={seconds}"]
        if audio:
            args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
        args += ["-c:v", vcodec, "-pix_fmt", pix_fmt]
        if vcodec == "libx264":
            args += ["-preset", "ultrafast"]
        if audio:
            args += ["-c:a", "aac", "-b:a", "64k"]
        args += [*extra, *container_args, str(out)]
        ffmpeg(*args)
        return out

    def mp3(self, name: str = "lecture.mp3", seconds: float = 2) -> Path:
        out = self.folder / name
        if not out.exists():
            ffmpeg("-f", "lavfi", "-i", f"sine=frequency=300:sample_rate=44100:duration={seconds}",
                   "-c:a", "libmp3lame", "-b:a", "64k", str(out))
        return out

    def write(self, name: str, data: bytes) -> Path:
        out = self.folder / name
        out.write_bytes(data)
        return out


@pytest.fixture(scope="session")
def samples():
    folder = Path(tempfile.mkdtemp(prefix="lms-media-samples-"))
    yield Samples(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def media_dir(app, tmp_path, monkeypatch) -> Path:
    """A media folder of the test's own, so that assertions about its files see only these."""
    folder = tmp_path / "media"
    folder.mkdir()
    monkeypatch.setitem(app.config, "MEDIA_DIR", folder)
    return folder


@pytest.fixture
def store(db, now):
    """store(path, kinds=...) → a QUEUED (or READY/FAILED) asset of a copy of the file."""
    def _store(path: Path, *, kinds=(AssetKind.VIDEO, AssetKind.AUDIO, AssetKind.PDF),
               owner_id=None, name=None):
        return services.import_file(path, original_name=name or path.name, owner_id=owner_id,
                                    kinds=kinds, now=now)
    return _store


def all_bytes_under(folder: Path) -> bytes:
    """Every file's content under a folder, concatenated (to look for leaked content)."""
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
