"""Judging an uploaded file by its content, never by its name: magic bytes first, then ffprobe
(or, when only an ffmpeg binary exists, ffmpeg's own description of its input).

No database here. Every refusal is a MediaRefused carrying a message code, so the reason can be
stored on the asset in Chinese.

Safety rules for anything handed to ffprobe/ffmpeg:
  * the magic bytes are checked first: playlists (HLS, DASH, ffconcat ...), text, HTML and
    images never reach ffprobe;
  * the input is a path inside the media folder given as ``file:<absolute path>``, never a URL;
  * ``-protocol_whitelist file`` and ``-format_whitelist`` (demuxers of ordinary audio/video
    containers only: no hls, dash, concat, image or text demuxers) are always passed;
  * argument lists, no shell, and a timeout.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lms.errors import ValidationFailed

try:  # not a dependency: its binary is the last resort (it has no ffprobe)
    import imageio_ffmpeg
except ImportError:  # pragma: no cover - depends on the environment
    imageio_ffmpeg = None

#: demuxers ffprobe/ffmpeg may use on an upload (ffmpeg matches any comma-separated name of a
#: demuxer against this list, so "mov" admits "mov,mp4,m4a,3gp,3g2,mj2")
FORMAT_WHITELIST = ("mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi,wav,mp3,aac,ogg,flac,flv,"
                    "mpegts,mpeg,asf,amr,aiff,caf")
ALLOWED_FORMATS = frozenset(FORMAT_WHITELIST.split(","))
#: a side longer than this is absurd for a lecture recording, whatever the pixel limit says
MAX_SIDE = 16384
PROBE_TIMEOUT = 60
HEAD_BYTES = 8192


class MediaRefused(ValidationFailed):
    """A file the platform will not process, for a reason worth telling its uploader."""


# ---------------------------------------------------------------- binaries

@dataclass(frozen=True)
class Tools:
    ffmpeg: str | None
    ffprobe: str | None


def find_tools(configured: str | None) -> Tools:
    """The ffmpeg binary: the configured one (LMS_FFMPEG), else ffmpeg on PATH, else
    imageio-ffmpeg's if that package is installed. ffprobe: next to a configured binary, on
    PATH beside PATH's ffmpeg; imageio-ffmpeg ships none (then ffmpeg's output is parsed)."""
    if configured:
        ffmpeg = shutil.which(configured) or (configured if Path(configured).is_file() else None)
        if ffmpeg is None:
            return Tools(None, None)
        sibling = Path(ffmpeg).with_name("ffprobe")
        return Tools(ffmpeg, str(sibling) if sibling.is_file() else None)
    on_path = shutil.which("ffmpeg")
    if on_path:
        return Tools(on_path, shutil.which("ffprobe"))
    if imageio_ffmpeg is not None:
        try:
            return Tools(imageio_ffmpeg.get_ffmpeg_exe(), None)
        except RuntimeError:  # pragma: no cover - package without its binary
            pass
    return Tools(None, None)


def input_url(path: Path | str) -> str:
    """An absolute local path as ffmpeg input/output: the file protocol, never a URL."""
    return "file:" + str(Path(path).resolve())


# ---------------------------------------------------------------- magic bytes

@dataclass(frozen=True)
class Sniffed:
    """What the first bytes say: category is one of media, pdf, image, text, playlist, zip,
    ooxml, ole, empty, unknown; content_type a MIME type when known; detail e.g. "HLS"."""
    category: str
    content_type: str | None = None
    detail: str = ""


_IMAGE_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
                 b"avif", b"avis"}
_BMFF_BOXES = {b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot"}


def _text_kind(head: bytes) -> Sniffed | None:
    """Playlists and other text (UTF-8, or UTF-16 with a byte-order mark); None for binary."""
    charset = "utf-8"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        charset = "utf-16"
        sample = head[2:len(head) - len(head) % 2].decode(
            "utf-16-le" if head.startswith(b"\xff\xfe") else "utf-16-be", "replace")
    else:
        sample_bytes = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
        if b"\x00" in sample_bytes:
            return None
        try:
            sample = sample_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a multi-byte character cut at the end of the sample is still text
            if exc.reason != "unexpected end of data" or exc.start < len(sample_bytes) - 4:
                return None
            sample = sample_bytes[:exc.start].decode("utf-8")
    stripped = sample.lstrip().lower()
    playlists = (("#extm3u", "HLS/M3U"), ("#extinf", "M3U"), ("ffconcat version", "ffconcat"),
                 ("[playlist]", "PLS"), ("<asx", "ASX"), ("<smil", "SMIL"))
    for magic, name in playlists:
        if stripped.startswith(magic):
            return Sniffed("playlist", None, name)
    if "<mpd" in stripped or "urn:mpeg:dash" in stripped:
        return Sniffed("playlist", None, "DASH MPD")
    if stripped.startswith(("<!doctype html", "<html", "<?xml", "<svg", "<!--")):
        return Sniffed("text", "text/html", "HTML/XML")
    return Sniffed("text", f"text/plain; charset={charset}")


def sniff_bytes(head: bytes) -> Sniffed:
    """Classify a file by its first bytes (HEAD_BYTES of them). Playlists are recognised
    before anything else; weak signatures (bare MP4 boxes, MPEG-TS, MP3 frame sync) count only
    for data that is not text."""
    if not head:
        return Sniffed("empty")
    text = _text_kind(head)
    if text is not None and text.category == "playlist":
        return text
    if head.startswith(b"%PDF-"):
        return Sniffed("pdf", "application/pdf")
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed("image", "image/jpeg", "JPEG")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed("image", "image/png", "PNG")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return Sniffed("image", "image/gif", "GIF")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return Sniffed("image", "image/webp", "WebP")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return Sniffed("image", "image/tiff", "TIFF")
    if head.startswith(b"PK\x03\x04"):
        return Sniffed("zip", "application/zip")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return Sniffed("ole", "application/x-ole-storage")
    if head[4:8] == b"ftyp" and 8 <= int.from_bytes(head[:4], "big") <= 4096:
        if head[8:12] in _IMAGE_BRANDS:
            return Sniffed("image", "image/heic", "HEIF/AVIF")
        return Sniffed("media", "video/mp4", "MP4/MOV")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Sniffed("media", "video/x-matroska", "Matroska/WebM")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return Sniffed("media", "video/x-msvideo", "AVI")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Sniffed("media", "audio/wav", "WAV")
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed("media", "audio/aiff", "AIFF")
    if head.startswith(b"ID3") and len(head) > 4 and head[3] in (2, 3, 4):
        return Sniffed("media", "audio/mpeg", "MP3")
    if head.startswith(b"OggS\x00"):
        return Sniffed("media", "audio/ogg", "Ogg")
    if head.startswith(b"fLaC"):
        return Sniffed("media", "audio/flac", "FLAC")
    if head.startswith(b"caff\x00\x01"):
        return Sniffed("media", "audio/x-caf", "CAF")
    if head.startswith(b"#!AMR"):
        return Sniffed("media", "audio/amr", "AMR")
    if head.startswith(b"FLV\x01"):
        return Sniffed("media", "video/x-flv", "FLV")
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return Sniffed("media", "video/x-ms-asf", "ASF/WMV")
    if head.startswith(b"\x00\x00\x01\xba"):
        return Sniffed("media", "video/mpeg", "MPEG-PS")
    if head.startswith(b"BM") and len(head) > 14 and head[6:10] == b"\x00\x00\x00\x00":
        return Sniffed("image", "image/bmp", "BMP")
    if text is not None:
        return text
    if head[4:8] in _BMFF_BOXES:
        return Sniffed("media", "video/mp4", "MP4/MOV")
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return Sniffed("media", "video/mp2t", "MPEG-TS")
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return Sniffed("media", "audio/aac", "AAC")
    if len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return Sniffed("media", "audio/mpeg", "MP3")
    return Sniffed("unknown")


def read_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(HEAD_BYTES)


def sniff(path: Path) -> Sniffed:
    return sniff_bytes(read_head(path))


# ---------------------------------------------------------------- attachments

#: OOXML part folders and the type they make
_OOXML = (("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
          ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
          ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"))
_OLE_TYPES = {".doc": "application/msword", ".xls": "application/vnd.ms-excel",
              ".ppt": "application/vnd.ms-powerpoint"}


def attachment_type(path: Path, original_name: str) -> str:
    """The content type of an allowed attachment, judged by content: PDF, Office documents
    (OOXML zip or legacy OLE), plain UTF-8 text, zip, JPEG, PNG. Anything else is refused."""
    sniffed = sniff(path)
    if sniffed.category == "empty":
        raise MediaRefused("media_empty")
    if sniffed.category == "pdf" or (sniffed.category == "image"
                                     and sniffed.content_type in ("image/jpeg", "image/png")):
        return sniffed.content_type
    if sniffed.category == "zip":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError):
            raise MediaRefused("media_damaged") from None
        if "[Content_Types].xml" in names:
            for folder, content_type in _OOXML:
                if any(name.startswith(folder) for name in names):
                    return content_type
        return "application/zip"
    if sniffed.category == "ole":
        return _OLE_TYPES.get(Path(original_name).suffix.lower(), "application/octet-stream")
    if sniffed.category == "text" and sniffed.content_type.startswith("text/plain"):
        return sniffed.content_type
    raise MediaRefused("media_attachment_type")


def check_pdf(path: Path) -> None:
    sniffed = sniff(path)
    if sniffed.category == "empty":
        raise MediaRefused("media_empty")
    if sniffed.category != "pdf":
        raise MediaRefused("media_not_pdf")


# ---------------------------------------------------------------- probing

@dataclass
class ProbeResult:
    format_name: str
    duration: float | None
    has_video: bool = False
    has_audio: bool = False
    #: stream indexes of the first real video stream (not cover art) and audio stream
    video_index: int | None = None
    audio_index: int | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    #: coded size of the video stream, before rotation and pixel aspect
    coded_width: int = 0
    coded_height: int = 0
    #: sample (pixel) aspect ratio as a fraction, 1.0 for square pixels
    sar: float = 1.0
    #: degrees from the display matrix / rotate tag, normalised to 0, 90, 180 or 270
    rotation: int = 0

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown: pixel aspect applied, then the rotation."""
        width = round(self.coded_width * self.sar) if self.sar > 0 else self.coded_width
        height = self.coded_height
        if self.rotation in (90, 270):
            width, height = height, width
        return width, height


def _normalise_rotation(value) -> int:
    try:
        degrees = round(float(value))
    except (TypeError, ValueError):
        return 0
    return (degrees % 360 // 90 * 90) % 360 if degrees % 90 == 0 else 0


def _ratio(text) -> float:
    if not text or not isinstance(text, str) or ":" not in text:
        return 1.0
    num, _, den = text.partition(":")
    try:
        num_f, den_f = float(num), float(den)
    except ValueError:
        return 1.0
    return num_f / den_f if num_f > 0 and den_f > 0 else 1.0


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def parse_ffprobe_json(data: dict) -> ProbeResult:
    """ffprobe's -show_format -show_streams JSON as a ProbeResult."""
    fmt = data.get("format") or {}
    result = ProbeResult(format_name=str(fmt.get("format_name") or ""),
                         duration=_float(fmt.get("duration")))
    durations = []
    for stream in data.get("streams") or []:
        kind = stream.get("codec_type")
        disposition = stream.get("disposition") or {}
        if kind == "video" and not disposition.get("attached_pic") and not result.has_video:
            result.has_video = True
            result.video_index = int(stream.get("index", 0))
            result.video_codec = stream.get("codec_name")
            result.coded_width = int(stream.get("width") or 0)
            result.coded_height = int(stream.get("height") or 0)
            result.sar = _ratio(stream.get("sample_aspect_ratio"))
            rotation = (stream.get("tags") or {}).get("rotate")
            for side in stream.get("side_data_list") or []:
                if "rotation" in side:
                    rotation = side["rotation"]
            result.rotation = _normalise_rotation(rotation)
        elif kind == "audio" and not result.has_audio:
            result.has_audio = True
            result.audio_index = int(stream.get("index", 0))
            result.audio_codec = stream.get("codec_name")
        if kind in ("video", "audio") and not disposition.get("attached_pic"):
            stream_duration = _float(stream.get("duration"))
            if stream_duration:
                durations.append(stream_duration)
    if not result.duration and durations:
        result.duration = max(durations)
    return result


_INPUT_RE = re.compile(r"^Input #0, (?P<fmt>[^ ]+?), from ", re.M)
_DURATION_RE = re.compile(r"^\s*Duration: (?:(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)|N/A)", re.M)
_STREAM_RE = re.compile(r"^\s*Stream #0:(?P<index>\d+)[^:]*: (?P<kind>Video|Audio|Data|Subtitle|"
                        r"Attachment): (?P<rest>.*)$", re.M)
_SIZE_RE = re.compile(r",\s(\d+)x(\d+)(?=[\s,]|$)")
_SAR_RE = re.compile(r"\[SAR (\d+:\d+) DAR")
_ROTATION_RE = re.compile(r"(?:rotation of (-?\d+(?:\.\d+)?) degrees|rotate\s*:\s*(-?\d+))")


def parse_ffmpeg_stderr(text: str) -> ProbeResult:
    """What `ffmpeg -hide_banner -i FILE` prints about its input, as a ProbeResult (for when
    there is no ffprobe, e.g. imageio-ffmpeg's binary)."""
    match = _INPUT_RE.search(text)
    result = ProbeResult(format_name=match.group("fmt") if match else "", duration=None)
    duration = _DURATION_RE.search(text)
    if duration and duration.group("h") is not None:
        result.duration = (int(duration.group("h")) * 3600 + int(duration.group("m")) * 60
                           + float(duration.group("s")))
    streams = list(_STREAM_RE.finditer(text))
    for number, stream in enumerate(streams):
        end = streams[number + 1].start() if number + 1 < len(streams) else len(text)
        block = text[stream.end():end]
        rest = stream.group("rest")
        codec = rest.split(",")[0].split(" ")[0].strip() or None
        if stream.group("kind") == "Video" and "(attached pic)" not in rest and not result.has_video:
            result.has_video = True
            result.video_index = int(stream.group("index"))
            result.video_codec = codec
            size = _SIZE_RE.search(rest)
            if size:
                result.coded_width, result.coded_height = int(size.group(1)), int(size.group(2))
            sar = _SAR_RE.search(rest)
            result.sar = _ratio(sar.group(1)) if sar else 1.0
            rotation = _ROTATION_RE.search(block.split("Stream #")[0])
            if rotation:
                result.rotation = _normalise_rotation(rotation.group(1) or rotation.group(2))
        elif stream.group("kind") == "Audio" and not result.has_audio:
            result.has_audio = True
            result.audio_index = int(stream.group("index"))
            result.audio_codec = codec
    return result


_ADDRESS_RE = re.compile(r"\[[^\]\n]* @ 0x[0-9a-f]+\]\s*")
_FILE_URL_RE = re.compile(r"(?:file:)?/[^\s:]*")


def tail(text: str, lines: int = 3) -> str:
    """The last lines of ffmpeg's messages for people: no server paths, no addresses."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    cleaned = (_FILE_URL_RE.sub("文件", _ADDRESS_RE.sub("", line)) for line in kept)
    return " / ".join(cleaned)[:300]


def run_probe(path: Path, tools: Tools, *, timeout: float = PROBE_TIMEOUT) -> ProbeResult:
    """ffprobe (JSON) or, without it, ffmpeg's description of the input. Raises MediaRefused
    when neither can read the file. Call only after sniff() said "media"."""
    if tools.ffmpeg is None and tools.ffprobe is None:
        raise MediaRefused("media_ffmpeg_missing")
    url = input_url(path)
    guard = ["-protocol_whitelist", "file", "-format_whitelist", FORMAT_WHITELIST]
    if tools.ffprobe:
        args = [tools.ffprobe, "-hide_banner", "-v", "error", *guard, "-print_format", "json",
                "-show_format", "-show_streams", "-i", url]
    else:
        args = [tools.ffmpeg, "-hide_banner", "-nostdin", *guard, "-i", url]
    try:
        done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise MediaRefused("media_probe_timeout") from None
    stderr = done.stderr.decode("utf-8", "replace")
    if tools.ffprobe:
        if done.returncode != 0:
            raise MediaRefused("media_damaged_detail", detail=tail(stderr))
        try:
            result = parse_ffprobe_json(json.loads(done.stdout.decode("utf-8", "replace")))
        except ValueError:
            raise MediaRefused("media_damaged") from None
    else:
        result = parse_ffmpeg_stderr(stderr)
        if not result.format_name:
            raise MediaRefused("media_damaged_detail", detail=tail(stderr))
    if not set(result.format_name.split(",")) & ALLOWED_FORMATS:
        raise MediaRefused("media_unknown_format")
    return result


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def check_limits(result: ProbeResult, *, max_seconds: float, max_pixels: int) -> None:
    """Refuse what has no audio or video, an unknown or too long duration, invalid, absurd or
    too large dimensions."""
    if not result.has_video and not result.has_audio:
        raise MediaRefused("media_no_streams")
    if not result.duration or result.duration <= 0:
        raise MediaRefused("media_duration_unknown")
    if result.duration > max_seconds:
        raise MediaRefused("media_too_long", duration=_clock(result.duration),
                           max=_clock(max_seconds))
    if result.has_video:
        width, height = result.coded_width, result.coded_height
        if width <= 0 or height <= 0:
            raise MediaRefused("media_bad_dimensions")
        if width > MAX_SIDE or height > MAX_SIDE or width * height > max_pixels:
            raise MediaRefused("media_too_many_pixels", width=width, height=height,
                               max=max_pixels)
        display_w, display_h = result.display_size
        if display_w <= 0 or display_h <= 0 or max(display_w, display_h) > 4 * MAX_SIDE:
            raise MediaRefused("media_bad_dimensions")


def probe_media(path: Path, tools: Tools, *, max_bytes: int, max_seconds: float,
                max_pixels: int) -> ProbeResult:
    """The whole judgement of an audio/video upload: size, magic bytes, probe, limits."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRefused("media_empty")
    if size > max_bytes:
        raise MediaRefused("media_too_large", max_mb=max_bytes // (1024 * 1024))
    sniffed = sniff(path)
    refuse_unless_media(sniffed)
    result = run_probe(path, tools)
    check_limits(result, max_seconds=max_seconds, max_pixels=max_pixels)
    return result


def refuse_unless_media(sniffed: Sniffed) -> None:
    """Raise the reason a sniffed file is not audio/video (playlists, text, images ...)."""
    if sniffed.category == "media":
        return
    codes = {"empty": "media_empty", "playlist": "media_playlist", "text": "media_text",
             "image": "media_image", "pdf": "media_pdf_not_media", "zip": "media_document",
             "ole": "media_document"}
    code = codes.get(sniffed.category, "media_unknown_format")
    raise MediaRefused(code, detail=sniffed.detail)
